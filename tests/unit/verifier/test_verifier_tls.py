# SPDX-License-Identifier: Apache-2.0
"""Terminal CA, server certificate and terminal certificates."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.config import TlsConfig
from verifier.errors import ConfigError, InvalidRequestError
from verifier.tls import ensure_tls_material, issue_terminal_certificate, write_issued


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
