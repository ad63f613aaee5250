# SPDX-License-Identifier: Apache-2.0
"""Host driver <-> real firmware (MicroPython unix port) over ptys.

Handshake, status, display/LEDs/buzzer, plain keys, heartbeat, key
injection and rotation with check values, tamper and re-commissioning,
and flash that survives a board restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.errors import BoardNotCommissionedError, BoardRefusedError, BoardTamperedError
from host.peripherals import BoardKey, Controller, EntryKind, Heartbeat, KeyPressed, Tamper
from host.transport import TRACE
from hw_sim.devices import SimController
from tests.integration.controller_support import running_sim


@pytest.fixture
def sim() -> Iterator[SimController]:
    with running_sim() as simulator:
        yield simulator


def test_handshake_reports_identity(sim: SimController) -> None:
    with Controller(sim.url) as board:
        assert board.info is not None
        assert board.info.serial == "SIM-00000001"
        assert board.info.protocol_version == 1
        assert board.info.firmware_version == (1, 0, 0)
        assert not board.info.commissioned
        status = board.status()
        assert (status.flags, status.kcv, status.counter) == (0, bytes(3), 0)


def test_second_session_handshakes_again(sim: SimController) -> None:
    with Controller(sim.url) as board:
        board.leds(1)
    with Controller(sim.url) as board:
        assert board.echo(b"again") == b"again"


def test_display_leds_buzzer(sim: SimController) -> None:
    with Controller(sim.url) as board:
        board.display(0, "WELCOME")
        board.display(1, "TAP CARD")
        board.leds(0b101)
        board.buzz(880, 50)
        sim.wait_until(lambda: sim.buzzes == 1)  # the buzzer is the last output
        assert sim.display() == ("WELCOME", "TAP CARD")
        assert sim.leds == 0b101
        assert sim.buzzes == 1
        with pytest.raises(BoardRefusedError):
            board.display(0, "X" * 21)


def test_plain_keys_are_typed_events(sim: SimController) -> None:
    with Controller(sim.url) as board:
        sim.press("F1", "*", "#", "7")
        events = [board.next_event(1.0) for _ in range(4)]
        assert events == [KeyPressed(0x81), KeyPressed(0x2A), KeyPressed(0x23), KeyPressed(0x37)]


def test_heartbeat(sim: SimController) -> None:
    with Controller(sim.url) as board:
        board.set_heartbeat(0.05)
        first = board.next_event(1.0)
        second = board.next_event(1.0)
        assert isinstance(first, Heartbeat)
        assert isinstance(second, Heartbeat)
        assert second.uptime_ms > first.uptime_ms
        board.set_heartbeat(0)


def test_inject_once_then_rotate_under_old_key(
    sim: SimController, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(TRACE)
    with (
        Controller(sim.url, key=BoardKey.generate()) as board,
        pytest.raises(BoardNotCommissionedError),
    ):
        board.secure_entry(EntryKind.NUMERIC, entry_timeout=1)
    key = BoardKey.generate()
    with Controller(sim.url) as board:
        assert board.inject_key(key) == key.kcv()
        assert board.status().kcv == key.kcv()
        with pytest.raises(BoardRefusedError) as again:
            board.inject_key(BoardKey.generate())
        assert again.value.status == 6
        new = BoardKey.generate()
        assert board.rotate_key(new) == new.kcv()
        assert board.status().kcv == new.kcv()
        assert "-> 30" in caplog.text  # INJECT_KEY was traced...
        for secret in (key, new):  # ...without the key material
            assert secret.material().hex(" ")[:47] not in caplog.text
        # A rotation wrapped under a key the board does not hold is refused.
        board.key = BoardKey.generate()
        with pytest.raises(BoardRefusedError) as forged:
            board.rotate_key(BoardKey.generate())
        assert forged.value.status == 7
        assert board.status().kcv == new.kcv()


def test_tamper_erases_and_refuses_until_recommissioned(sim: SimController) -> None:
    key = BoardKey.generate()
    with Controller(sim.url, key=key) as board:
        board.inject_key(key)
        sim.set_tamper(True)
        assert board.next_event(2.0) == Tamper(0x02)
        sim.wait_display(0, "TAMPERED")
        status = board.status()
        assert status.tampered
        assert not status.commissioned
        assert status.kcv == bytes(3)
        with pytest.raises(BoardTamperedError):
            board.secure_entry(EntryKind.NUMERIC, entry_timeout=1)
        with pytest.raises(BoardTamperedError):
            board.inject_key(key)  # the enclosure is still open
        sim.set_tamper(False)
        time.sleep(0.05)
        fresh = BoardKey.generate()
        board.inject_key(fresh)
        assert board.status().commissioned


def test_flash_survives_restart(tmp_path: Path) -> None:
    flash = tmp_path / "flash.bin"
    key = BoardKey.generate()
    with running_sim(flash=flash) as sim, Controller(sim.url) as board:
        board.inject_key(key)
    assert key.material() in flash.read_bytes()
    with running_sim(flash=flash) as sim, Controller(sim.url, key=key) as board:
        assert board.info is not None
        assert board.info.commissioned
        assert board.status().kcv == key.kcv()
        sim.set_tamper(True)
        assert isinstance(board.next_event(2.0), Tamper)
    assert key.material() not in flash.read_bytes()
    with running_sim(flash=flash) as sim, Controller(sim.url) as board:
        assert board.info is not None
        assert board.info.tampered
