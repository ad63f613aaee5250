# SPDX-License-Identifier: Apache-2.0
"""Renewing a terminal's certificate: a new one beside the old, the agent switches alone.

Why renewal is its own step and not "issue again": a terminal in service
must never be left without a working identity. ``renew`` issues a new
certificate with the same CN (a new key, or the terminal's own CSR), writes
it over the terminal's files (each file replaced atomically; the agent
checks that the key matches the certificate before using them, so the
moment between the two renames is harmless), and reports the previous
serial. The previous certificate stays valid until it expires or until the
operator revokes its serial (``revoke-terminal --serial``), once the agent
has switched: ``host.client.channel.CredentialWatch`` picks the new files up
at the next call, without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from verifier.config import TlsConfig
from verifier.errors import ConfigError
from verifier.terminal_denylist import serial_of_pem
from verifier.tls import (
    issue_from_csr,
    issue_terminal_certificate,
    write_certificate,
    write_issued,
)
from verifier.validation import check_terminal_id

__all__ = ["Renewal", "renew_terminal_certificate"]


def _common_name(pem: bytes) -> str | None:
    names = x509.load_pem_x509_certificate(pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if len(names) == 1 else None


@dataclass(frozen=True)
class Renewal:
    """What a renewal wrote: the files, the new serial and the one it replaces."""

    paths: tuple[Path, ...]
    serial: int
    previous_serial: int | None


def renew_terminal_certificate(
    tls: TlsConfig, terminal_id: str, out: Path, *, csr_pem: bytes | None = None
) -> Renewal:
    """Issue a new certificate for ``terminal_id`` over ``out/<id>.pem`` (and ``.key``).

    Without ``csr_pem`` a new key is made and written (0600) first, then
    the certificate; with it, only the certificate (the key stays on the
    terminal). ``ca.pem`` is rewritten too.

    Raises:
        InvalidRequestError: ``terminal_id`` is not 1-64 of ``[A-Za-z0-9._-]``.
        ConfigError: ``out/<id>.pem`` is missing or is not a certificate for
            ``terminal_id`` (renewal replaces an enrolment, it does not make
            one: use ``issue-terminal-cert``), the CSR is unusable, or the
            terminal CA cannot be loaded.
        OSError: a file cannot be written.
    """
    check_terminal_id(terminal_id)
    current = out / f"{terminal_id}.pem"
    try:
        previous_pem = current.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no certificate at {current}: enrol the terminal with issue-terminal-cert first"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {current}: {exc}") from exc
    previous = serial_of_pem(previous_pem)
    if previous is None or _common_name(previous_pem) != terminal_id:
        raise ConfigError(f"{current} is not a PEM certificate for {terminal_id}")
    if csr_pem is not None:
        certificate, ca = issue_from_csr(tls, csr_pem, terminal_id)
        paths = write_certificate(certificate, ca, out, terminal_id)
    else:
        issued = issue_terminal_certificate(tls, terminal_id)
        certificate = issued.certificate_pem
        paths = write_issued(issued, out, terminal_id)
    serial = serial_of_pem(certificate)
    assert serial is not None  # we just made it
    return Renewal(tuple(paths), serial, previous)
