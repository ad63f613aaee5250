# SPDX-License-Identifier: Apache-2.0
"""The test PKI's on-disk cache: atomic writes, one lock, PEM and JSON files.

RSA-2048 key generation is slow, so the PKI keeps what it generates on disk,
and several processes (a sim card, a verifier, a test runner) may open the
same folder at once. Two rules keep the folder whole: every file is written
to a temporary name and renamed over the target (readers see the old file or
the new one, never half of one), and whoever creates or changes something
holds an exclusive ``flock`` on ``.lock`` while it re-checks and writes. The
lock is advisory and POSIX-only, as the simulator is. The folder holds the
CA keys, so it must be one no other user can write (``UnsafePathError``),
and neither the lock nor a key is ever opened through a symbolic link
(``host.private_files``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.private_files import open_private
from hw_sim import files

__all__ = [
    "LOCK_NAME",
    "PkiCacheError",
    "atomic_write",
    "certificate_pem",
    "load_certificate",
    "load_private_key",
    "locked",
    "private_key_pem",
    "public_key_pem",
    "read_json",
    "write_json",
]

#: The lock file inside the cache folder.
LOCK_NAME = ".lock"


class PkiCacheError(ValueError):
    """A cache file is missing, unreadable or inconsistent.

    Everything in the folder is regenerable test material: delete the folder
    to start again.
    """


def atomic_write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``hw_sim.files.atomic_write``).

    Args:
        path: the target file; its folder must exist.
        data: the whole new content.
        private: make the file readable by its owner only (private keys);
            otherwise it is world-readable, as public material may be.
    """
    files.atomic_write(path, data, mode=0o600 if private else 0o644)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the folder's exclusive lock for the ``with`` block.

    ``flock`` locks belong to an open file description, so this also
    serialises threads of one process that each enter the block.
    """
    fd = open_private(directory / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``.

    Raises:
        PkiCacheError: the file is missing or not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PkiCacheError(f"cannot read {path.name}") from exc
    if not isinstance(data, dict):
        raise PkiCacheError(f"{path.name} is not a JSON object")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically, sorted and indented for diffing."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Return ``key`` as unencrypted PKCS#8 PEM (test material, see module doc)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: rsa.RSAPublicKey) -> bytes:
    """Return ``key`` as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_pem(certificate: x509.Certificate) -> bytes:
    """Return ``certificate`` as PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Load an RSA private key from a PEM file (cached while the file is unchanged).

    Why the cache: every card opened from the catalogue opens its PKI, and
    loading an RSA key checks it (about 70 ms here); a registry of the whole
    catalogue loaded the same CA keys 58 times. The cache is keyed by the
    file's identity and change time, so a regenerated PKI is read afresh.

    Raises:
        PkiCacheError: the file is missing, not PEM, or not an RSA key.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise PkiCacheError(f"cannot load the key {path.name}") from exc
    return _load_key(str(path.resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _load_key(path: str, inode: int, mtime_ns: int, size: int) -> rsa.RSAPrivateKey:
    del inode, mtime_ns, size  # the cache key: a changed file is loaded again
    name = Path(path).name
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiCacheError(f"cannot load the key {name}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiCacheError(f"{name} is not an RSA key")
    return key


def load_certificate(path: Path) -> x509.Certificate:
    """Load a PEM certificate.

    Raises:
        PkiCacheError: the file is missing or not a PEM certificate.
    """
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiCacheError(f"cannot load the certificate {path.name}") from exc
