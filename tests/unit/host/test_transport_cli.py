# SPDX-License-Identifier: Apache-2.0
"""host.transport.cli: the readers listing over every transport, and its command output.

The backends below are faked at the module's two probes (``_pcsc``,
``_libnfc``); the real listing against pcscd and the PN532 emulator is in
tests/integration/test_reader_cli.py.
"""

from __future__ import annotations

import argparse
import json

import pytest

from host.errors import BackendUnavailableError
from host.transport import cli as readers
from host.transport.cli import ReaderEntry


def test_every_transport_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        readers, "_pcsc", lambda: [ReaderEntry("pcsc", "pcsc://R%201", "R 1", True)]
    )
    monkeypatch.setattr(
        readers, "_libnfc", lambda: [ReaderEntry("libnfc", "libnfc://pn532_uart:/dev/x", "x", None)]
    )
    entries = readers.list_all()
    assert [e.transport for e in entries] == ["sim", "pcsc", "libnfc"]


def test_a_backend_that_cannot_run_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def down() -> list[ReaderEntry]:
        raise BackendUnavailableError("the PC/SC service (pcscd) is not running")

    monkeypatch.setattr(readers, "_pcsc", down)
    monkeypatch.setattr(readers, "_libnfc", list)
    assert readers.run_readers(argparse.Namespace(json=False)) == 0
    out = capsys.readouterr().out
    assert "sim     sim://default" in out
    assert "pcsc    unavailable: the PC/SC service (pcscd) is not running" in out
    assert readers.run_readers(argparse.Namespace(json=True)) == 0
    document = json.loads(capsys.readouterr().out)
    assert document[1]["error"].startswith("the PC/SC service")


def test_text_output_marks_cards(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        readers,
        "_pcsc",
        lambda: [
            ReaderEntry("pcsc", "pcsc://A", "A", True),
            ReaderEntry("pcsc", "pcsc://B", "B", False),
        ],
    )
    monkeypatch.setattr(readers, "_libnfc", list)
    readers.run_readers(argparse.Namespace(json=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["pcsc", "pcsc://A", "card"]
    assert lines[2].split() == ["pcsc", "pcsc://B", "no", "card"]


def test_libnfc_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> object:
        raise ImportError("no pynfc")

    monkeypatch.setattr(readers.nfc_binding, "load", missing)
    (entry,) = readers._libnfc()
    assert entry.error == "pynfc/libnfc unavailable: no pynfc"


def test_parser_registration() -> None:
    parser = argparse.ArgumentParser()
    readers.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["readers", "--json"])
    assert args.json
    assert args.handler is readers.run_readers
