# SPDX-License-Identifier: Apache-2.0
"""Release keys, packing a firmware folder, signing and verifying images (ECDSA P-256).

Why P-256 and not Ed25519: the board verifies in plain MicroPython, which
has SHA-256 in C on every port but no SHA-512 (Ed25519's hash); P-256 with
SHA-256 is also one of MCUboot's image-signing choices. The host side uses
the ``cryptography`` library; signatures travel as fixed-size r || s (the
board has no DER parser) and the public key as a SEC1 uncompressed point.
The signing key is a PKCS#8 PEM file the operator keeps offline,
optionally encrypted with a passphrase.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from host.firmware.errors import (
    FirmwareSourceError,
    ImageRejectedError,
    ImageSignatureError,
    RejectReason,
    SigningKeyError,
)
from host.firmware.image import UNSIGNED, FileEntry, FirmwareImage, Manifest
from host.private_files import write_private

__all__ = [
    "DEFAULT_BOARD",
    "build_image",
    "generate_key",
    "key_id",
    "load_public_point",
    "load_signing_key",
    "public_point",
    "sign_image",
    "verify_image",
]

#: The board family of the controller (firmware/myna_boot/trust.py BOARD_TYPE).
DEFAULT_BOARD = "myna-pinpad-1"

_VERSION = re.compile(r"FIRMWARE_VERSION\s*=\s*\((\d+),\s*(\d+),\s*(\d+)\)")


def generate_key(path: Path, *, passphrase: bytes | None = None) -> bytes:
    """Write a new P-256 signing key to ``path`` (mode 0600); return its public point.

    The file goes through :func:`host.private_files.write_private`: mode 0600
    whatever the umask, never through a planted link, and only into a folder
    that no other user can write.

    Raises:
        SigningKeyError: ``path`` exists already (never overwrite a release key).
        UnsafePathError: the folder is writable by another user.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    if path.exists() or path.is_symlink():
        raise SigningKeyError(f"{path} exists; refusing to overwrite a key")
    # Owner-only (0600), in a folder no other user can write, written atomically.
    write_private(path, pem)
    return public_point(key.public_key())


def load_signing_key(path: Path, *, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in a PEM file.

    Raises:
        SigningKeyError: unreadable, wrong passphrase, or not a P-256 key.
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot load a signing key from {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError(f"{path} does not hold an ECDSA P-256 key")
    return key


def load_public_point(path: Path, *, passphrase: bytes | None = None) -> bytes:
    """The public point from a PEM file holding a public *or* a private P-256 key.

    Raises:
        SigningKeyError: unreadable or not P-256.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read {path}: {exc}") from exc
    if b"PRIVATE KEY" in data:
        return public_point(load_signing_key(path, passphrase=passphrase).public_key())
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError(f"{path} holds no PEM key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError(f"{path} does not hold an ECDSA P-256 key")
    return public_point(key)


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """SEC1 uncompressed point (65 bytes), the form the board stores."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def key_id(point: bytes) -> bytes:
    """First 8 bytes of SHA-256 of the public point: names the key in the manifest."""
    return hashlib.sha256(point).digest()[:8]


def build_image(
    source: Path,
    *,
    security_counter: int,
    signer_point: bytes,
    board: str = DEFAULT_BOARD,
    build_id: bytes | None = None,
) -> FirmwareImage:
    """Pack ``source/myna_fw/**.py|.mpy`` into an unsigned image.

    The version is read from ``myna_fw/version.py`` (one source of truth: the
    board reports that same tuple in its handshake). ``signer_point`` names
    the key that will sign it (``key_id`` in the manifest).

    Raises:
        FirmwareSourceError: no package, no version, or a file name an image cannot carry.
        ManifestError: a field out of range.
    """
    package = source / "myna_fw"
    try:
        text = (package / "version.py").read_text()
    except OSError as exc:
        raise FirmwareSourceError(f"no {package}/version.py: {exc}") from exc
    found = _VERSION.search(text)
    if found is None:
        raise FirmwareSourceError("myna_fw/version.py has no FIRMWARE_VERSION = (x, y, z)")
    version = (int(found[1]), int(found[2]), int(found[3]))
    paths = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and p.suffix in (".py", ".mpy") and "__pycache__" not in p.parts
    )
    entries: list[FileEntry] = []
    payload = bytearray()
    for path in paths:
        content = path.read_bytes()
        rel = path.relative_to(source).as_posix()
        entries.append(FileEntry(rel, len(content), hashlib.sha256(content).digest()))
        payload += content
    if not entries:
        raise FirmwareSourceError(f"no firmware files under {package}")
    manifest = Manifest(
        board=board,
        version=version,
        security_counter=security_counter,
        build_id=build_id if build_id is not None else hashlib.sha256(bytes(payload)).digest()[:16],
        key_id=key_id(signer_point),
        files=tuple(entries),
    )
    manifest.encode()  # checks every field now, not at signing time
    return FirmwareImage(manifest, UNSIGNED, bytes(payload))


def sign_image(image: FirmwareImage, key: ec.EllipticCurvePrivateKey) -> FirmwareImage:
    """The image signed by ``key`` (whose key id it must already carry).

    Raises:
        SigningKeyError: the image names another key.
    """
    if image.manifest.key_id != key_id(public_point(key.public_key())):
        raise SigningKeyError("the image was built for another key (key id differs)")
    der = key.sign(image.signed_bytes, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return image.with_signature(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def verify_image(
    image: FirmwareImage,
    point: bytes,
    *,
    board: str | None = None,
    min_counter: int | None = None,
) -> None:
    """Check what the board checks: signature by ``point``, then board type and counter.

    Raises:
        ImageSignatureError: unsigned, another key, or a signature that does not verify.
        ImageRejectedError: wrong board type, or counter below ``min_counter``.
    """
    if not image.signed:
        raise ImageSignatureError("the image is not signed")
    if image.manifest.key_id != key_id(point):
        raise ImageSignatureError("the image is signed by another key")
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        r = int.from_bytes(image.signature[:32], "big")
        s = int.from_bytes(image.signature[32:], "big")
        public.verify(encode_dss_signature(r, s), image.signed_bytes, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise ImageSignatureError("the image signature does not verify") from exc
    if board is not None and image.manifest.board != board:
        raise ImageRejectedError(
            RejectReason.WRONG_BOARD, f"image for {image.manifest.board!r}, not {board!r}"
        )
    if min_counter is not None and image.manifest.security_counter < min_counter:
        raise ImageRejectedError(
            RejectReason.DOWNGRADE,
            f"security counter {image.manifest.security_counter} is below {min_counter}",
        )
