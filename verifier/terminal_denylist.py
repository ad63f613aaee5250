# SPDX-License-Identifier: Apache-2.0
"""The terminal deny-list: revoked terminal certificates, shut out at the next call.

Why a deny-list and not a CRL: a CRL must be signed by the terminal CA, whose
key stays off the verifier host (issue 22); a deny-list is written on the
verifier host by ``myna-edge verifier revoke-terminal`` and needs no key.
Why checked per call and reloaded on change: a stolen terminal keeps its
open connection, so a handshake-time check is not enough; the file's
(mtime, size, inode) is compared on every call (one ``stat``) and the list
reloaded when it changed, so revocation takes effect at once, without a
restart.

File format (UTF-8 text, one entry a line, ``#`` starts a comment)::

    serial 5d2c0e...        # one certificate, by its serial number (hex)
    terminal atm-01         # every certificate whose CN is atm-01

A missing file is an empty list. A file that does not parse is refused at
start (``ConfigError``) and, if it goes bad later, every terminal is refused
(UNAVAILABLE, ``TERMINAL_DENYLIST_INVALID``) until it is fixed: failing
open would readmit a revoked terminal.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grpc
from cryptography import x509

from verifier.codes import ErrorReason
from verifier.errors import ConfigError, RequestError, UnauthenticatedError
from verifier.secret_files import write_secret
from verifier.validation import check_terminal_id

__all__ = ["DenyList", "TerminalDenyList", "parse_denylist", "revoke", "serial_of_pem"]

_log = logging.getLogger(__name__)

_SERIAL: Final = re.compile(r"[0-9a-f]{1,40}")
_MAX_BYTES: Final = 4 * 1024 * 1024
_PEM_CACHE_LIMIT: Final = 4096


@dataclass(frozen=True)
class DenyList:
    """Revoked certificate serials and terminal ids."""

    serials: frozenset[int] = frozenset()
    terminals: frozenset[str] = frozenset()

    def denies(self, terminal_id: str, serial: int | None) -> bool:
        """Whether a caller with this CN and certificate serial is revoked."""
        return terminal_id in self.terminals or (serial is not None and serial in self.serials)


def parse_denylist(text: str) -> DenyList:
    """Parse the file format of the module doc.

    Raises:
        ConfigError: a line is neither ``serial HEX`` nor ``terminal ID``
            (the message names the line number, never echoes the line).
    """
    serials: set[int] = set()
    terminals: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) == 2 and words[0] == "serial" and _SERIAL.fullmatch(words[1].lower()):
            serials.add(int(words[1], 16))
            continue
        if len(words) == 2 and words[0] == "terminal":
            try:
                check_terminal_id(words[1])
            except RequestError:
                pass
            else:
                terminals.add(words[1])
                continue
        raise ConfigError(
            f"terminal deny-list line {number}: expected 'serial HEX' (1-40 hex digits) "
            "or 'terminal ID' (1-64 of [A-Za-z0-9._-])"
        )
    return DenyList(frozenset(serials), frozenset(terminals))


def serial_of_pem(pem: bytes) -> int | None:
    """The serial number of a PEM certificate, or None when it does not parse."""
    try:
        return x509.load_pem_x509_certificate(pem).serial_number
    except ValueError:
        return None


class TerminalDenyList:
    """The deny-list file, reloaded when it changes; ``check`` on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._list = DenyList()
        self._broken = False
        self._serials: dict[bytes, int | None] = {}
        self._reload(strict=True)

    def _read_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, -1, -1)  # unreadable: the reload reports it
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload(self, *, strict: bool) -> None:
        stamp = self._read_stamp()
        if stamp == self._stamp and not strict:
            return
        try:
            if stamp is None:
                loaded = DenyList()
            else:
                with open(self.path, "rb") as handle:
                    data = handle.read(_MAX_BYTES + 1)
                if len(data) > _MAX_BYTES:
                    raise ConfigError("the terminal deny-list is larger than 4 MiB")
                loaded = parse_denylist(data.decode("utf-8"))
        except (ConfigError, OSError, UnicodeDecodeError) as exc:
            if strict:
                raise ConfigError(f"cannot load the terminal deny-list {self.path}: {exc}") from exc
            if not self._broken:
                _log.error(
                    "terminal deny-list %s is invalid; refusing every terminal: %s", self.path, exc
                )
            self._broken, self._stamp = True, stamp
            return
        if loaded != self._list or self._broken:
            counts = len(loaded.serials), len(loaded.terminals)
            _log.warning("terminal deny-list loaded: %d serials, %d terminal ids", *counts)
        self._list, self._broken, self._stamp = loaded, False, stamp

    def current(self) -> DenyList:
        """The list as the file says now (reloaded first when the file changed).

        Raises:
            RequestError: the file went bad (UNAVAILABLE, TERMINAL_DENYLIST_INVALID).
        """
        with self._lock:
            self._reload(strict=False)
            if self._broken:
                error = RequestError(
                    ErrorReason.TERMINAL_DENYLIST_INVALID,
                    "the terminal deny-list is invalid: every terminal is refused until fixed",
                )
                error.code = grpc.StatusCode.UNAVAILABLE
                raise error
            return self._list

    def check(self, terminal_id: str, certificate_pem: bytes | None) -> None:
        """Refuse a revoked terminal.

        Raises:
            UnauthenticatedError: TERMINAL_REVOKED (its certificate or its id is denied).
            RequestError: the deny-list went bad (see ``current``).
        """
        listed = self.current()
        serial = None
        if certificate_pem is not None and listed.serials:
            serial = self._serial(certificate_pem)
        if listed.denies(terminal_id, serial):
            _log.warning("refused a call from revoked terminal %s", terminal_id)
            raise UnauthenticatedError(
                ErrorReason.TERMINAL_REVOKED,
                "this terminal's certificate is revoked (terminal deny-list); "
                "enrol the terminal again",
            )

    def _serial(self, pem: bytes) -> int | None:
        try:
            return self._serials[pem]
        except KeyError:
            pass
        serial = serial_of_pem(pem)
        if len(self._serials) >= _PEM_CACHE_LIMIT:
            self._serials.clear()
        self._serials[pem] = serial
        return serial


def revoke(
    path: Path, *, serial: int | None = None, terminal_id: str | None = None, note: str = ""
) -> str:
    """Add one entry to the deny-list file ``path`` (atomically); returns the line added.

    A running verifier refuses the terminal at its next call.

    Raises:
        ValueError: neither or both of ``serial`` and ``terminal_id``, or a bad one.
        ConfigError: the existing file does not parse (fix it first), or the
            folder is unsafe (``UnsafeFolderError``).
        OSError: the file cannot be written.
    """
    if (serial is None) == (terminal_id is None):
        raise ValueError("give exactly one of serial and terminal_id")
    if serial is not None:
        if not 0 < serial < 1 << 160:
            raise ValueError("a certificate serial is 1 to 20 bytes")
        entry = f"serial {serial:x}"
    else:
        assert terminal_id is not None
        check_terminal_id(terminal_id)
        entry = f"terminal {terminal_id}"
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = "# myna-edge terminal deny-list: 'serial HEX' or 'terminal ID' per line\n"
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the terminal deny-list {path}: {exc}") from exc
    parse_denylist(existing)  # never append to a file the service would refuse
    clean = "".join(c for c in note if c.isprintable())[:200]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{entry}  # revoked {stamp}{' ' + clean if clean else ''}"
    if existing and not existing.endswith("\n"):
        existing += "\n"
    write_secret(path, (existing + line + "\n").encode("utf-8"), mode=0o644)
    return line
