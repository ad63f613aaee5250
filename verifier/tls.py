# SPDX-License-Identifier: Apache-2.0
"""Terminal and server certificates for mTLS: the terminal CA and what it issues.

Why the verifier issues terminal certificates itself: for development and
the demo, ``myna-edge verifier issue-terminal-cert`` must give a terminal an
identity in one step. The terminal id is the certificate's CN, and the
service trusts only certificates chaining to the configured terminal CA.
Production enrolment is different (the CA key stays offline; terminals send
a CSR, see verifier/README.md), but the service side is the same: a CA
certificate file. Keys are ECDSA P-256: fast handshakes, small certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.config import TlsConfig
from verifier.errors import ConfigError
from verifier.validation import check_terminal_id

__all__ = ["IssuedCertificate", "ensure_tls_material", "issue_terminal_certificate", "write_issued"]

_log = logging.getLogger(__name__)
_TERMINAL_VALIDITY = dt.timedelta(days=397)
_CA_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class IssuedCertificate:
    """A PEM certificate, its PEM private key and the issuing CA's PEM certificate."""

    certificate_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:
        return "IssuedCertificate(<pem>)"


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    client: bool = False,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + (_CA_VALIDITY if issuer is None else _TERMINAL_VALIDITY))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = key if issuer is None else issuer[1]
    return builder.sign(signer, hashes.SHA256())


def _load_ca(tls: TlsConfig) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(tls.path("terminal_ca").read_bytes())
        key = serialization.load_pem_private_key(tls.path("terminal_ca_key").read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the terminal CA: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("the terminal CA key must be an EC key")
    return cert, key


def ensure_tls_material(
    tls: TlsConfig, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> None:
    """Create a terminal CA and a server certificate where none exist yet.

    Only missing files are created, so configured production material is
    never touched. Raises ConfigError when the files exist but do not load.
    """
    if not tls.path("terminal_ca").exists() and not tls.path("terminal_ca_key").exists():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue("myna-edge terminal CA", key, None)
        _write(tls.path("terminal_ca_key"), _key_pem(key), private=True)
        _write(tls.path("terminal_ca"), cert.public_bytes(serialization.Encoding.PEM))
        _log.warning("created a new terminal CA in %s", tls.path("terminal_ca").parent)
    if not tls.path("server_cert").exists() and not tls.path("server_key").exists():
        ca = _load_ca(tls)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue("myna-edge verifier", key, ca, hosts=hosts)
        _write(tls.path("server_key"), _key_pem(key), private=True)
        _write(tls.path("server_cert"), cert.public_bytes(serialization.Encoding.PEM))


def issue_terminal_certificate(tls: TlsConfig, terminal_id: str) -> IssuedCertificate:
    """Issue a client certificate with CN = ``terminal_id`` from the terminal CA.

    Raises:
        InvalidRequestError: ``terminal_id`` is not 1-64 of ``[A-Za-z0-9._-]``.
        ConfigError: the terminal CA cannot be loaded.
    """
    check_terminal_id(terminal_id)
    ensure_tls_material(tls)
    ca_cert, ca_key = _load_ca(tls)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(terminal_id, key, (ca_cert, ca_key), client=True)
    return IssuedCertificate(
        cert.public_bytes(serialization.Encoding.PEM),
        _key_pem(key),
        ca_cert.public_bytes(serialization.Encoding.PEM),
    )


def write_issued(issued: IssuedCertificate, out: Path, terminal_id: str) -> list[Path]:
    """Write ``<id>.pem``, ``<id>.key`` (0600) and ``ca.pem`` into ``out``."""
    paths = [out / f"{terminal_id}.pem", out / f"{terminal_id}.key", out / "ca.pem"]
    _write(paths[0], issued.certificate_pem)
    _write(paths[1], issued.key_pem, private=True)
    _write(paths[2], issued.ca_pem)
    return paths
