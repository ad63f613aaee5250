# SPDX-License-Identifier: Apache-2.0
"""``hw_sim.readers.slot`` and ``myna-edge sim reader``: a card put on a reader from outside."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hw_sim.errors import SlotStateError, UnknownProfileError
from hw_sim.readers.slot import insert_card, parse_slot, read_slot, remove_card, slot_path
from myna_edge.cli import main


def test_insert_read_remove(tmp_path: Path) -> None:
    assert read_slot("atm-01", home=tmp_path) is None
    first = insert_card("atm-01", "minor", home=tmp_path)
    assert read_slot("atm-01", home=tmp_path) == first
    again = insert_card("atm-01", "minor", home=tmp_path)
    assert again.insertion != first.insertion  # a reader tells a re-insertion apart
    assert remove_card("atm-01", home=tmp_path)
    assert not remove_card("atm-01", home=tmp_path)
    assert read_slot("atm-01", home=tmp_path) is None


@pytest.mark.parametrize("name", ["", "..", "a/b", "x" * 65, "sp ace"])
def test_bad_slot_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(SlotStateError):
        slot_path(name, home=tmp_path)


def test_unknown_profile_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(UnknownProfileError):
        insert_card("atm-01", "no-such-card", home=tmp_path)
    assert read_slot("atm-01", home=tmp_path) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"default\n", b"default 0123\n", b"default 0123456789ABCDEF\n", b"\xff\n",
     b".. 0123456789abcdef\n", b"default 0123456789abcdef\nextra", b"x" * 200],
)  # fmt: skip
def test_damaged_files(data: bytes) -> None:
    with pytest.raises(SlotStateError):
        parse_slot(data)


@given(st.binary(max_size=140))
def test_parse_is_total(data: bytes) -> None:
    try:
        state = parse_slot(data)
    except SlotStateError:
        return
    assert data.rstrip(b"\n") == f"{state.profile} {state.insertion}".encode()


def test_cli_insert_show_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path)
    assert main(["sim", "reader", "insert", "k1", "--profile", "revoked", "--home", home]) == 0
    assert main(["sim", "reader", "show", "k1", "--home", home]) == 0
    assert "card 'revoked'" in capsys.readouterr().out
    assert main(["sim", "reader", "remove", "k1", "--home", home]) == 0
    assert main(["sim", "reader", "show", "k1", "--home", home]) == 0
    assert capsys.readouterr().out.strip().endswith("empty")
    assert main(["sim", "reader", "insert", "bad/name", "--home", home]) == 2
    assert main(["sim", "reader", "insert", "k1", "--profile", "nope", "--home", home]) == 2
    assert "nope" in capsys.readouterr().err
