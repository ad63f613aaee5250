# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.storage`` and ``open_card``/``reset_card`` persistence.

A card remembers its PIN counters and changed PINs between ``open_card``
calls on the same folder (jpki-card.md §5), and refuses damaged state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import open_card, reset_card
from hw_sim.errors import CardStateError, UnknownProfileError
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, sw, with_shared_pki

AUTH_PIN_NAME = "D392F000260100000001/0018"


@pytest.fixture(scope="module")
def module_home(sim_home_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this module's own, with a copy of the shared PKI (no new keys)."""
    return with_shared_pki(sim_home_dir, tmp_path_factory.mktemp("storage-home"))


@pytest.fixture
def private_home(module_home: Path) -> Iterator[Path]:
    """``module_home`` with every card back at issue state after the test."""
    yield module_home
    for folder in (module_home / "cards").glob("*"):
        target = folder / "state.json"
        if target.is_dir():
            target.rmdir()
        else:
            target.unlink(missing_ok=True)


def session(
    home: Path, *commands: str, persist: bool = True, profile: str = "default"
) -> list[int]:
    with open_card(profile, home=home, persist=persist) as card:
        card.power_on()
        return [sw(card, command) for command in commands]


def state_file(home: Path, profile: str = "default") -> Path:
    return home / "cards" / profile / "state.json"


def test_counters_survive_between_runs(private_home: Path) -> None:
    assert session(private_home, SELECT_JPKI, "00 20 00 98 04 39 39 39 39") == [0x9000, 0x63C2]
    assert session(private_home, SELECT_JPKI, "00 20 00 98") == [0x9000, 0x63C2]
    assert session(private_home, SELECT_JPKI, "00 20 00 98 04 31 32 33 34")[1] == 0x9000
    assert session(private_home, SELECT_JPKI, "00 20 00 98") == [0x9000, 0x63C3]


def test_blocked_stays_blocked(private_home: Path) -> None:
    wrong = "00 20 00 98 04 39 39 39 39"
    assert session(private_home, SELECT_JPKI, wrong, wrong, wrong)[-1] == 0x63C0
    assert session(private_home, SELECT_JPKI, "00 20 00 98 04 31 32 33 34")[1] == 0x6984
    reset_card("default", home=private_home)
    assert session(private_home, SELECT_JPKI, "00 20 00 98 04 31 32 33 34")[1] == 0x9000


def test_changed_pin_survives(private_home: Path) -> None:
    assert session(
        private_home, SELECT_JPKI, "00 20 00 98 04 31 32 33 34", "00 24 01 98 04 38 36 34 32"
    ) == [0x9000, 0x9000, 0x9000]
    assert session(private_home, SELECT_JPKI, "00 20 00 98 04 38 36 34 32")[1] == 0x9000
    text = state_file(private_home).read_text(encoding="utf-8")
    assert "8642" not in text
    assert b"8642".hex() not in text
    document = json.loads(text)
    assert document["pins"][AUTH_PIN_NAME]["version"] == 1


def test_state_file_is_written_only_on_change(private_home: Path) -> None:
    session(private_home, SELECT_JPKI, "00 20 00 98", "00 B0 8A 00 04")
    assert not state_file(private_home).exists()
    session(private_home, SELECT_JPKI, "00 20 00 98 04 31 32 33 34")
    assert not state_file(private_home).exists()  # counter was full: nothing changed


def test_persist_false_neither_reads_nor_writes(private_home: Path) -> None:
    session(private_home, SELECT_JPKI, "00 20 00 98 04 39 39 39 39", persist=False)
    assert not state_file(private_home).exists()
    session(private_home, SELECT_JPKI, "00 20 00 98 04 39 39 39 39")
    assert session(private_home, SELECT_JPKI, "00 20 00 98", persist=False)[1] == 0x63C3


def test_issue_state_of_locked_profiles_persists(private_home: Path) -> None:
    assert session(private_home, SELECT_JPKI, "00 20 00 9B", profile="sign-locked")[1] == 0x63C0
    reset_card("sign-locked", home=private_home)  # back to issue state: still locked
    assert session(private_home, SELECT_JPKI, "00 20 00 9B", profile="sign-locked")[1] == 0x63C0


def test_reset_card(private_home: Path) -> None:
    reset_card("default", home=private_home)  # nothing saved: harmless
    session(private_home, SELECT_JPKI, "00 20 00 98 04 39 39 39 39")
    assert state_file(private_home).exists()
    reset_card("default", home=private_home)
    assert not state_file(private_home).exists()
    assert (private_home / "cards" / "default" / "auth-cert.der").exists()  # certs kept
    with pytest.raises(UnknownProfileError):
        reset_card("nobody", home=private_home)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": 2}',
        '{"format": 1, "profile": "minor", "salt": "00", "pins": {}}',
        '{"format": 1, "profile": "default", "salt": "zz", "pins": {}}',
        '{"format": 1, "profile": "default", "salt": "' + "00" * 16 + '"}',
        '{"format": 1, "profile": "default", "salt": "' + "00" * 16 + '", "pins": {"X/0001": {}}}',
        '{"format": 1, "profile": "default", "salt": "'
        + "00" * 16
        + '", "pins": {"'
        + AUTH_PIN_NAME
        + '": {"tries_left": 9, "verifier": null, "version": 0}}}',
        '{"format": 1, "profile": "default", "salt": "'
        + "00" * 16
        + '", "pins": {"'
        + AUTH_PIN_NAME
        + '": {"tries_left": 1, "verifier": "00", "version": 0}}}',
        '{"format": 1, "profile": "default", "salt": "'
        + "00" * 16
        + '", "pins": {"'
        + AUTH_PIN_NAME
        + '": {"tries_left": true, "verifier": null, "version": 0}}}',
        '{"format": 1, "profile": "default", "salt": "'
        + "00" * 16
        + '", "pins": {"'
        + AUTH_PIN_NAME
        + '": {"tries_left": 1, "verifier": null, "version": -1}}}',
        '{"format": 1, "profile": "default", "salt": "'
        + "00" * 16
        + '", "pins": {"'
        + AUTH_PIN_NAME
        + '": 3}}',
    ],
)
def test_damaged_state_is_refused(private_home: Path, content: str) -> None:
    path = state_file(private_home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CardStateError) as caught:
        open_card("default", home=private_home)
    assert isinstance(caught.value, ValueError)
    assert caught.value.path == str(path)


def test_save_failure_keeps_the_session_going(
    private_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_card("default", home=private_home) as card:
        card.power_on()
        path = state_file(private_home)
        path.mkdir(parents=True)  # a folder where the file should go: saving fails
        with caplog.at_level(logging.WARNING, logger="hw_sim.card.virtual_card"):
            assert sw(card, SELECT_JPKI) == 0x9000
            assert sw(card, "00 20 00 98 04 39 39 39 39") == 0x63C2
            assert sw(card, "00 20 00 98") == 0x63C2  # the in-memory card is right
        assert any("cannot save" in record.getMessage() for record in caplog.records)
