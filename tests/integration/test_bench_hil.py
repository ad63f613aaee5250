# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench --reader/--controller/--printer`` and ``bench calibrate`` as if on hardware.

The simulator's card is presented through pcscd + vpcd and the PN532
emulator, the controller is the real firmware under the MicroPython unix
port on a pty, and the printer is the ESC/POS emulator on a pty: the run
sees device URLs only. What is checked is what can fail without timing the
machine: the devices named in the report, hardware and simulator figures
apart, and the safety rules, read from the virtual card's own APDU log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import get_profile
from hw_sim.card.timing_profile import load_profile
from hw_sim.devices import SimController, SimPrinter
from hw_sim.readers.stack import PcscRig, Pn532Rig
from myna_edge.cli import main
from tests.integration.controller_support import running_sim
from tests.integration.reader_stack import PCSC_READER, PCSC_URL, pcsc_stack, pn532_stack

__all__ = ["pcsc_stack", "pn532_stack"]

ROUNDS = "2"
EMPTY_VERIFY_LENGTH = 4


@pytest.fixture(scope="module")
def board() -> Iterator[SimController]:
    with running_sim() as sim:
        yield sim


@pytest.fixture(scope="module")
def printer() -> Iterator[SimPrinter]:
    with SimPrinter() as sim:
        yield sim


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(["bench", "--rounds", ROUNDS, "--json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def pin_commands(entries: list[object]) -> list[object]:
    return [
        e
        for e in entries
        if e.command[1] in (0x24, 0x2C, 0x2A)  # type: ignore[attr-defined]
        or (e.command[1] == 0x20 and e.command_length > EMPTY_VERIFY_LENGTH)  # type: ignore[attr-defined]
    ]


def test_pcsc_reader_board_and_printer(
    pcsc_stack: PcscRig,
    board: SimController,
    printer: SimPrinter,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with pcsc_stack.card() as card:
        code, report, err = bench(
            capsys,
            "--reader", PCSC_URL, "--controller", board.url, "--printer", printer.url,
            "--out", str(tmp_path),
        )  # fmt: skip
        entries = card.apdu_log.entries
    assert code == 0, err
    assert err.index("Plan: controller") < err.index("Plan: printer") < err.index("wrote")
    assert "Plan: the card will receive exactly" in err
    devices = report["devices"]
    assert isinstance(devices, dict)
    assert devices["reader"]["name"] == PCSC_READER
    assert devices["reader"]["kind"] == "hardware"
    assert devices["reader"]["atr"] == card.atr.hex().upper()
    assert devices["controller"]["firmware"].count(".") == 2
    assert devices["controller"]["serial"] == "SIM-00000001"
    assert devices["printer"]["model_id"] == "not reported"  # the emulator ignores GS I
    assert devices["printer"]["status"] == "ready"
    hardware = report["measured_on_hardware"]
    assert isinstance(hardware, dict)
    assert set(hardware) == {"card", "controller", "printer"}
    assert report["measured_on_simulator"] == {}
    # An extended read through vpcd: SELECT EF + READ BINARY; the JPKI AP stays
    # selected from round to round, so the driver does not SELECT it again
    # (host/card/selection.py).
    assert hardware["card"]["auth_certificate"]["apdus"] == 2
    assert "auth_sign" not in hardware["card"]
    assert report["modelled_by_simulator"]["card"]["auth_certificate"]["model_ms"] > 0  # type: ignore[index]
    assert not pin_commands(entries)  # no --pin-env: no PIN, no signature, no change
    assert printer.receipts == []
    assert "Measured on hardware" in (tmp_path / "hil.md").read_text(encoding="utf-8")


def test_a_counter_below_its_maximum_stops_the_pcsc_run(
    pcsc_stack: PcscRig, capsys: pytest.CaptureFixture[str]
) -> None:
    with pcsc_stack.card("auth-last-try") as card:
        code, report, err = bench(capsys, "--reader", PCSC_URL)
        entries = card.apdu_log.entries
    assert code == 1
    assert "STOPPED" in err
    assert "1/3" in str(report["stopped"])
    assert {e.command[1] for e in entries} == {0xA4, 0x20}  # counter reads only
    assert all(e.command_length == EMPTY_VERIFY_LENGTH for e in entries if e.command[1] == 0x20)


def test_pin_suite_runs_only_with_pin_env(
    pcsc_stack: PcscRig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIL_AUTH_PIN", get_profile("default").auth_pin)
    with pcsc_stack.card() as card:
        code, report, err = bench(capsys, "--reader", PCSC_URL, "--pin-env", "HIL_AUTH_PIN")
        entries = card.apdu_log.entries
    assert code == 0, err
    # Figures are numbers that may contain any digits; the plan and messages may not.
    assert get_profile("default").auth_pin not in err + json.dumps(report["plan"])
    figures = report["measured_on_hardware"]["card"]  # type: ignore[index]
    assert figures["auth_sign"]["apdus"] == 5  # the AP stays selected between rounds
    assert figures["counters"] == {"auth": "3/3", "sign": "5/5", "text": "3/3"}
    signs = [e for e in entries if e.command[1] == 0x2A]
    assert len(signs) == int(ROUNDS)
    assert not [e for e in entries if e.command[1] in (0x24, 0x2C)]


def test_calibrate_through_pcsc_writes_a_loadable_profile(
    pcsc_stack: PcscRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "vpcd.json"
    with pcsc_stack.card() as card:
        code, summary, err = bench(
            capsys, "calibrate", "--reader", PCSC_URL, "--profile-out", str(out)
        )
        entries = card.apdu_log.entries
    assert code == 0, err
    assert "Plan:" in err
    profile = load_profile(out)
    assert profile.measured["kind"] == "hardware"
    assert profile.measured["clock"] == "wall"
    assert {0x20, 0x2A} <= profile.unconfirmed
    assert summary["fit_max_abs_error_ms"] >= summary["fit_rms_error_ms"]  # type: ignore[operator]
    assert not pin_commands(entries)


def test_libnfc_reader_reads_in_chunks(
    pn532_stack: Pn532Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    with pn532_stack.card() as card:
        code, report, err = bench(capsys, "--reader", pn532_stack.url)
        entries = card.apdu_log.entries
    assert code == 0, err
    reader = report["devices"]["reader"]  # type: ignore[index]
    assert reader["kind"] == "hardware"
    assert reader["atr"].startswith("3B")
    figures = report["measured_on_hardware"]["card"]  # type: ignore[index]
    assert figures["read_strategy"] == "chunked"
    assert figures["auth_certificate"]["apdus"] > 3
    assert not pin_commands(entries)
