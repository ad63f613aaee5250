# SPDX-License-Identifier: Apache-2.0
"""Terminal and server certificates for mTLS: the terminal CA and what it issues.

Why the verifier package issues terminal certificates: for development and
the demo, ``myna-edge verifier issue-terminal-cert`` must give a terminal an
identity in one step. The terminal id is the certificate's CN, and the
service trusts only certificates chaining to the configured terminal CA.
The service itself never creates the CA key (issue 22): the CA is made by
``issue-terminal-cert`` where its key is to live (the offline CA host in
production; see verifier/README.md), and the service needs only the CA
certificate. Stolen terminals are shut out by ``verifier.terminal_denylist``.
Keys are ECDSA P-256: fast handshakes, small certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.config import TlsConfig
from verifier.errors import ConfigError
from verifier.secret_files import write_secret
from verifier.validation import check_terminal_id

__all__ = [
    "IssuedCertificate",
    "ensure_server_certificate",
    "ensure_terminal_ca",
    "ensure_tls_material",
    "issue_from_csr",
    "issue_terminal_certificate",
    "service_material",
    "write_certificate",
    "write_issued",
]

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
    # Random temporary name, O_EXCL|O_NOFOLLOW, explicit mode, safe folder (issue 22).
    write_secret(path, data, mode=0o600 if private else 0o644)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey | None,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    client: bool = False,
    hosts: tuple[str, ...] = (),
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None,
) -> x509.Certificate:
    if public_key is None:
        assert key is not None
        public_key = key.public_key()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer[0].subject)
        .public_key(public_key)
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
    assert signer is not None
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


def ensure_terminal_ca(tls: TlsConfig) -> None:
    """Create the terminal CA (certificate and 0600 key) where neither exists.

    Run where the CA key is to live: a development host, or the offline CA
    host of a production set-up (the verifier then holds only the
    certificate). Never called by the service itself.
    """
    if not tls.path("terminal_ca").exists() and not tls.path("terminal_ca_key").exists():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue("myna-edge terminal CA", key, None)
        _write(tls.path("terminal_ca_key"), _key_pem(key), private=True)
        _write(tls.path("terminal_ca"), cert.public_bytes(serialization.Encoding.PEM))
        _log.warning("created a new terminal CA in %s", tls.path("terminal_ca").parent)


def ensure_tls_material(
    tls: TlsConfig, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> None:
    """Create a terminal CA and a server certificate where none exist yet (development).

    Only missing files are created, so configured production material is
    never touched. Raises ConfigError when the files exist but do not load.
    """
    ensure_terminal_ca(tls)
    ensure_server_certificate(tls, hosts)


def ensure_server_certificate(
    tls: TlsConfig, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> None:
    """Issue the server certificate from the terminal CA key when it is missing.

    Raises:
        ConfigError: the server certificate is missing and no terminal CA key
            is here to issue one (production: install one from the bank's CA).
    """
    if tls.path("server_cert").exists() or tls.path("server_key").exists():
        return
    if not tls.path("terminal_ca_key").exists():
        raise ConfigError(
            f"no server certificate at {tls.path('server_cert')}: install one (and its key "
            f"at {tls.path('server_key')}), or issue it where the terminal CA key is"
        )
    ca = _load_ca(tls)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue("myna-edge verifier", key, ca, hosts=hosts)
    _write(tls.path("server_key"), _key_pem(key), private=True)
    _write(tls.path("server_cert"), cert.public_bytes(serialization.Encoding.PEM))


def service_material(tls: TlsConfig) -> tuple[bytes, bytes, bytes]:
    """(server key, server certificate, terminal CA certificate) for the service.

    The service never creates a terminal CA key (issue 22): without the CA
    certificate it refuses to start and says where the CA is made. A
    missing server certificate is issued only when the CA key is already
    here (a development host).

    Raises:
        ConfigError: the material is missing or unreadable.
    """
    if not tls.path("terminal_ca").exists():
        raise ConfigError(
            f"no terminal CA certificate at {tls.path('terminal_ca')}: create the terminal CA "
            "where its key is to live (`myna-edge verifier issue-terminal-cert --config "
            "CA-HOST.toml ...` creates it) and copy only the certificate here"
        )
    ensure_server_certificate(tls)
    try:
        return (
            tls.path("server_key").read_bytes(),
            tls.path("server_cert").read_bytes(),
            tls.path("terminal_ca").read_bytes(),
        )
    except OSError as exc:
        raise ConfigError(f"cannot read TLS material: {exc}") from exc


def issue_terminal_certificate(tls: TlsConfig, terminal_id: str) -> IssuedCertificate:
    """Issue a client certificate with CN = ``terminal_id`` from the terminal CA.

    Raises:
        InvalidRequestError: ``terminal_id`` is not 1-64 of ``[A-Za-z0-9._-]``.
        ConfigError: the terminal CA cannot be loaded.
    """
    check_terminal_id(terminal_id)
    ensure_terminal_ca(tls)
    ca_cert, ca_key = _load_ca(tls)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(terminal_id, key, (ca_cert, ca_key), client=True)
    return IssuedCertificate(
        cert.public_bytes(serialization.Encoding.PEM),
        _key_pem(key),
        ca_cert.public_bytes(serialization.Encoding.PEM),
    )


def issue_from_csr(tls: TlsConfig, csr_pem: bytes, terminal_id: str) -> tuple[bytes, bytes]:
    """Sign a terminal's CSR: (certificate PEM, CA certificate PEM).

    The production enrolment: the terminal makes its key and the CSR, and
    the key never leaves it. The CSR must be self-signed, name CN =
    ``terminal_id`` and carry an EC P-256/P-384 or RSA >= 2048 key.

    Raises:
        InvalidRequestError: ``terminal_id`` is not 1-64 of ``[A-Za-z0-9._-]``.
        ConfigError: the CSR is unusable (the message says why), or the
            terminal CA cannot be loaded.
    """
    check_terminal_id(terminal_id)
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise ConfigError("the CSR is not a PEM certificate request") from exc
    if not csr.is_signature_valid:
        raise ConfigError("the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [n.value for n in names] != [terminal_id]:
        raise ConfigError(f"the CSR must name exactly CN={terminal_id}")
    key = csr.public_key()
    strong = (
        isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1)
    ) or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048)
    if not strong or not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ConfigError("the CSR's key must be EC P-256/P-384 or RSA of 2048 bits or more")
    ensure_terminal_ca(tls)
    ca_cert, ca_key = _load_ca(tls)
    cert = _issue(terminal_id, None, (ca_cert, ca_key), client=True, public_key=key)
    encoding = serialization.Encoding.PEM
    return cert.public_bytes(encoding), ca_cert.public_bytes(encoding)


def write_certificate(
    certificate_pem: bytes, ca_pem: bytes, out: Path, terminal_id: str
) -> list[Path]:
    """Write ``<id>.pem`` and ``ca.pem`` into ``out`` (a CSR enrolment: no key)."""
    paths = [out / f"{terminal_id}.pem", out / "ca.pem"]
    _write(paths[0], certificate_pem)
    _write(paths[1], ca_pem)
    return paths


def write_issued(issued: IssuedCertificate, out: Path, terminal_id: str) -> list[Path]:
    """Write ``<id>.pem``, ``<id>.key`` (0600) and ``ca.pem`` into ``out``."""
    paths = [out / f"{terminal_id}.pem", out / f"{terminal_id}.key", out / "ca.pem"]
    _write(paths[0], issued.certificate_pem)
    _write(paths[1], issued.key_pem, private=True)
    _write(paths[2], issued.ca_pem)
    return paths
