# SPDX-License-Identifier: Apache-2.0
"""``renew_terminal_certificate``: a new certificate replaces an enrolment, never makes one."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from verifier.config import TlsConfig
from verifier.errors import ConfigError
from verifier.terminal_certs import renew_terminal_certificate
from verifier.tls import issue_terminal_certificate, write_issued


def test_renewal_replaces_the_files_and_names_the_previous_serial(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "ca")
    write_issued(issue_terminal_certificate(tls, "atm-01"), tmp_path, "atm-01")
    before = x509.load_pem_x509_certificate((tmp_path / "atm-01.pem").read_bytes())
    old_key = (tmp_path / "atm-01.key").read_bytes()
    renewal = renew_terminal_certificate(tls, "atm-01", tmp_path)
    after = x509.load_pem_x509_certificate((tmp_path / "atm-01.pem").read_bytes())
    assert renewal.previous_serial == before.serial_number
    assert renewal.serial == after.serial_number != before.serial_number
    assert after.subject == before.subject
    assert (tmp_path / "atm-01.key").read_bytes() != old_key
    assert (tmp_path / "atm-01.key").stat().st_mode & 0o777 == 0o600


def test_renewal_needs_an_enrolment_of_that_terminal(tmp_path: Path) -> None:
    tls = TlsConfig(directory=tmp_path / "ca")
    with pytest.raises(ConfigError, match="issue-terminal-cert"):
        renew_terminal_certificate(tls, "atm-01", tmp_path)
    write_issued(issue_terminal_certificate(tls, "atm-02"), tmp_path, "atm-02")
    (tmp_path / "atm-01.pem").write_bytes((tmp_path / "atm-02.pem").read_bytes())
    with pytest.raises(ConfigError, match="not a PEM certificate for atm-01"):
        renew_terminal_certificate(tls, "atm-01", tmp_path)
    assert not (tmp_path / "atm-01.key").exists()
