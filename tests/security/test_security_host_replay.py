# SPDX-License-Identifier: Apache-2.0
"""A recorded PIN block replayed after an agent restart (issue 22, finding 5).

The board is the real firmware on the MicroPython unix port behind a pty.
An attacker on the serial line records a genuine PIN block; the agent
restarts (a new ``Controller`` with a new replay guard); the recorded block
is offered again as the answer to the request id it was made for. The guard
must refuse it: the agent keeps each board's last counter in its state
folder (``CounterStore``), and also starts above the board's own counter.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.errors import InvalidPinBlockError, PeripheralError
from host.peripherals import BoardKey, Controller, CounterStore, EncryptedPin, EntryKind
from hw_sim.devices import SimController
from tests.integration.controller_support import in_background, running_sim

PIN = "1234"


@pytest.fixture
def sim() -> Iterator[SimController]:
    with running_sim() as board:
        yield board


def _enter(sim: SimController, controller: Controller) -> EncryptedPin:
    mark = sim.display_mark()

    def user() -> None:
        sim.wait_display(0, "ENTER PIN", timeout=15.0, since=mark)
        sim.enter_pin(PIN)

    with in_background(user):
        return controller.secure_entry(EntryKind.NUMERIC, entry_timeout=10)


def _record_one_block(sim: SimController, key: BoardKey, store: CounterStore) -> EncryptedPin:
    """Commission, let the user type once, let the agent use the block."""
    with Controller(sim.url, key=key, counters=store) as controller:
        controller.inject_key(key)
        genuine = _enter(sim, controller)
        recorded = EncryptedPin(genuine.block, genuine.request_id, key, controller.guard)
        with genuine.decrypted() as secret:
            assert secret.wiped is False
    return recorded


def test_block_replayed_after_restart_is_refused(sim: SimController, tmp_path: Path) -> None:
    key = BoardKey.generate()
    store = CounterStore(tmp_path / "state" / "pin-counters.json")
    recorded = _record_one_block(sim, key, store)
    # The agent restarts: a new process, a new guard, the same state folder.
    with Controller(sim.url, key=key, counters=CounterStore(store.path)) as restarted:
        replay = EncryptedPin(recorded.block, recorded.request_id, key, restarted.guard)
        with pytest.raises(InvalidPinBlockError, match="replayed"), replay.decrypted():
            pass
        # A genuine new entry still opens, and its counter is stored.
        fresh = _enter(sim, restarted)
        with fresh.decrypted() as secret:
            assert len(secret) == len(PIN)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert list(json.loads(store.path.read_text())["boards"].values()) == [2]


def test_lost_state_file_still_refuses_through_the_boards_counter(
    sim: SimController, tmp_path: Path
) -> None:
    key = BoardKey.generate()
    store = CounterStore(tmp_path / "pin-counters.json")
    recorded = _record_one_block(sim, key, store)
    os.unlink(store.path)
    with Controller(sim.url, key=key, counters=store) as restarted:
        replay = EncryptedPin(recorded.block, recorded.request_id, key, restarted.guard)
        with pytest.raises(InvalidPinBlockError, match="replayed"), replay.decrypted():
            pass


def test_damaged_state_file_is_not_taken_for_zero(tmp_path: Path) -> None:
    path = tmp_path / "pin-counters.json"
    path.write_text('{"boards": {"B": "many"}}')
    with pytest.raises(PeripheralError, match="damaged"):
        CounterStore(path).guard("B")


def test_block_whose_counter_cannot_be_stored_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # another user could swap the file: nothing is stored
    guard = CounterStore(shared / "pin-counters.json").guard("B")
    with pytest.raises(InvalidPinBlockError, match="could not be stored"):
        guard.accept(5)
    assert guard.last_counter == 0
