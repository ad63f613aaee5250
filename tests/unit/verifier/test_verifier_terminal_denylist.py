# SPDX-License-Identifier: Apache-2.0
"""The terminal deny-list: its file format, reload on change, fail-closed, ``revoke``."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from verifier.errors import ConfigError, RequestError, UnauthenticatedError
from verifier.terminal_denylist import TerminalDenyList, parse_denylist, revoke


def test_format() -> None:
    listed = parse_denylist("# c\n\nserial 0A1b  # why\nterminal atm-01\n")
    assert listed.serials == frozenset({0x0A1B})
    assert listed.terminals == frozenset({"atm-01"})
    assert listed.denies("atm-01", None)
    assert listed.denies("atm-02", 0x0A1B)
    assert not listed.denies("atm-02", 0x0A1C)


@pytest.mark.parametrize(
    "line", ["serial", "serial xyz", "serial " + "f" * 41, "terminal a b", "terminal a/b", "x 1"]
)
def test_bad_lines_are_refused_by_number(line: str) -> None:
    with pytest.raises(ConfigError, match="line 2"):
        parse_denylist(f"serial 01\n{line}\n")


def test_reloaded_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "revoked-terminals.txt"
    denylist = TerminalDenyList(path)  # missing file: nobody is denied
    denylist.check("atm-01", None)
    revoke(path, terminal_id="atm-01", note="stolen\nline two")
    with pytest.raises(UnauthenticatedError) as refused:
        denylist.check("atm-01", None)
    assert refused.value.reason == "TERMINAL_REVOKED"
    assert "line two" not in path.read_text().splitlines()[-1].split("#")[0]
    assert len(path.read_text().splitlines()) == 2  # the header and one entry
    path.unlink()
    denylist.check("atm-01", None)  # un-revoked by removing the file


def test_a_file_gone_bad_refuses_everyone_until_fixed(tmp_path: Path) -> None:
    path = tmp_path / "revoked-terminals.txt"
    path.write_text("terminal atm-09\n")
    denylist = TerminalDenyList(path)
    path.write_text("terminal atm-09\nnonsense\n")
    os.utime(path, ns=(1, 1))  # a different stamp whatever the clock's resolution
    with pytest.raises(RequestError) as refused:
        denylist.check("atm-01", None)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    path.write_text("terminal atm-09\n")
    denylist.check("atm-01", None)


def test_a_bad_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "revoked-terminals.txt"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="deny-list"):
        TerminalDenyList(path)


def test_revoke_arguments(tmp_path: Path) -> None:
    path = tmp_path / "revoked-terminals.txt"
    with pytest.raises(ValueError, match="exactly one"):
        revoke(path)
    with pytest.raises(ValueError, match="exactly one"):
        revoke(path, serial=1, terminal_id="a")
    with pytest.raises(ValueError, match="serial"):
        revoke(path, serial=0)
    assert revoke(path, serial=0xABC).startswith("serial abc")
    assert (path.stat().st_mode & 0o777) == 0o644
