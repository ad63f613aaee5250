# SPDX-License-Identifier: Apache-2.0
"""``host.peripherals.counters``: the PIN-block counters kept across restarts.

The replay after a restart against the real firmware is in
``tests/security/test_security_host_replay.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.errors import InvalidPinBlockError, PeripheralError
from host.peripherals import CounterStore


def test_counters_are_per_board_and_only_grow(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "c.json")
    assert store.last("A") == 0
    store.save("A", 5)
    store.save("B", 2)
    store.save("A", 3)  # never lowered
    assert (store.last("A"), store.last("B")) == (5, 2)
    assert json.loads(store.path.read_text()) == {"boards": {"A": 5, "B": 2}}


def test_guard_starts_above_stored_or_seed_and_writes_ahead(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "c.json")
    store.save("A", 5)
    assert store.guard("A", seed=3).last_counter == 5
    guard = store.guard("A", seed=9)
    assert guard.last_counter == 9
    with pytest.raises(InvalidPinBlockError, match="replayed"):
        guard.accept(9)
    guard.accept(10)
    assert CounterStore(store.path).last("A") == 10


@pytest.mark.parametrize(
    "text",
    [b"", b"[]", b'{"boards": []}', b'{"boards": {"A": -1}}', b'{"boards": {"A": true}}',
     b'{"boards": {"A": 4294967296}}', b"\xff", b"[" * 5000],
)  # fmt: skip
def test_damaged_file_is_an_error_never_zero(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(text)
    with pytest.raises(PeripheralError, match=r"damaged|cannot read"):
        CounterStore(path).last("A")
    assert path.read_bytes() == text


def test_repr_names_the_file(tmp_path: Path) -> None:
    assert "c.json" in repr(CounterStore(tmp_path / "c.json"))
