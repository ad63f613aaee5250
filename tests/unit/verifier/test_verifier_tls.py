# SPDX-License-Identifier: Apache-2.0
"""Terminal CA, server certificate and terminal certificates."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.config import TlsConfig
from verifier.errors import ConfigError, InvalidRequestError
from verifier.tls import (
    ensure_tls_material,
    issue_from_csr,
    issue_terminal_certificate,
    write_certificate,
    write_issued,
)


def test_material_is_created_once_and_never_replaced(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "tls")
    ensure_tls_material(tls)
    first = tls.path("terminal_ca").read_bytes()
    ensure_tls_material(tls)
    assert tls.path("terminal_ca").read_bytes() == first
    assert stat.S_IMODE(tls.path("terminal_ca_key").stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(tls.path("server_cert").read_bytes())
    ca = x509.load_pem_x509_certificate(first)
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_terminal_certificate(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "tls")
    issued = issue_terminal_certificate(tls, "atm-07")
    cert = x509.load_pem_x509_certificate(issued.certificate_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "atm-07"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(issued.ca_pem))
    assert "PRIVATE" not in repr(issued)
    paths = write_issued(issued, tmp_path / "out", "atm-07")
    assert [p.name for p in paths] == ["atm-07.pem", "atm-07.key", "ca.pem"]
    assert stat.S_IMODE(paths[1].stat().st_mode) == 0o600


def test_bad_terminal_id_and_damaged_ca(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "tls")
    with pytest.raises(InvalidRequestError):
        issue_terminal_certificate(tls, "atm 07")
    ensure_tls_material(tls)
    tls.path("terminal_ca_key").write_text("garbage")
    with pytest.raises(ConfigError):
        issue_terminal_certificate(tls, "atm-07")


def _csr(common_name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def test_a_csr_is_signed_and_the_key_stays_with_the_terminal(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "ca-host")
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem, ca_pem = issue_from_csr(tls, _csr("atm-09", key), "atm-09")
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "atm-09"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    paths = write_certificate(cert_pem, ca_pem, tmp_path / "out", "atm-09")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["atm-09.pem", "ca.pem"]
    assert paths[0].read_bytes() == cert_pem


@pytest.mark.parametrize(
    ("csr", "message"),
    [
        (lambda: _csr("atm-10", ec.generate_private_key(ec.SECP256R1())), "CN=atm-09"),
        (lambda: _csr("atm-09", rsa.generate_private_key(65537, 1024)), "2048"),
        (lambda: b"not a csr", "not a PEM"),
    ],
)
def test_unusable_csrs_are_refused(tmp_path: Path, csr: Callable[[], bytes], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        issue_from_csr(TlsConfig(directory=tmp_path / "ca-host"), csr(), "atm-09")
