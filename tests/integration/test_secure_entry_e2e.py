# SPDX-License-Identifier: Apache-2.0
"""Secure PIN entry end to end: keypad on the real firmware -> host -> virtual card.

The user types on the simulated board; the host only sees "a key was
pressed" events and an encrypted PIN block; the block is opened at the
moment the VERIFY command is built, and the PIN verifies on the virtual
card through host.card.MynaCard over sim://. Replayed and altered blocks,
tamper during entry, cancel and timeout all end in typed errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from host.card import MynaCard, PinKind
from host.errors import (
    BoardTamperedError,
    EntryCancelledError,
    EntryTimeoutError,
    InvalidPinBlockError,
    WrongPinError,
)
from host.peripherals import BoardKey, Controller, EncryptedPin, EntryAction, EntryKey, EntryKind
from host.transport import TRACE, open_transport
from hw_sim.card import get_profile
from hw_sim.devices import SimController
from tests.integration.controller_support import in_background, running_sim

PROFILE = get_profile("default")


@pytest.fixture
def board() -> Iterator[tuple[SimController, Controller]]:
    with running_sim() as sim, Controller(sim.url, key=BoardKey.generate()) as controller:
        assert controller.key is not None
        controller.inject_key(controller.key)
        yield sim, controller


@pytest.fixture
def card() -> Iterator[MynaCard]:
    with open_transport("sim://default?persist=0") as transport:
        yield MynaCard(transport)


def typing_after_prompt(
    sim: SimController, prompt: str, typed: str, mark: int, *, password: bool = False
) -> None:
    """A user waits for the board's prompt (shown after ``mark``), then types."""
    sim.wait_display(0, prompt, timeout=15.0, since=mark)
    if password:
        sim.enter_password(typed)
    else:
        sim.enter_pin(typed)


def _after_prompt(sim: SimController, mark: int, *keys: str) -> None:
    sim.wait_display(0, "ENTER PIN", timeout=15.0, since=mark)
    sim.press(*keys)


def _enter(
    sim: SimController, controller: Controller, typed: str, kind: EntryKind = EntryKind.NUMERIC
) -> tuple[EncryptedPin, list[EntryKey]]:
    events: list[EntryKey] = []
    mark = sim.display_mark()
    if kind is EntryKind.NUMERIC:
        limits = {"min_length": 4, "max_length": 4}
        action = lambda: typing_after_prompt(sim, "ENTER PIN", typed, mark)  # noqa: E731
    else:
        limits = {"min_length": 6, "max_length": 16}
        action = lambda: typing_after_prompt(  # noqa: E731
            sim, "ENTER PASSWORD", typed, mark, password=True
        )
    with in_background(action):
        encrypted = controller.secure_entry(kind, entry_timeout=10, on_key=events.append, **limits)
    return encrypted, events


def test_pin_verifies_on_card_and_host_never_sees_digits(
    board: tuple[SimController, Controller], card: MynaCard, caplog: pytest.LogCaptureFixture
) -> None:
    sim, controller = board
    caplog.set_level(TRACE)
    encrypted, events = _enter(sim, controller, PROFILE.auth_pin)
    assert [e.action for e in events] == [EntryAction.PRESSED] * 4
    assert [e.length for e in events] == [1, 2, 3, 4]
    assert "<-" in caplog.text  # the wire trace was captured...
    wire_pin = PROFILE.auth_pin.encode().hex(" ")
    assert wire_pin not in caplog.text  # ...and never carries the digits
    assert PROFILE.auth_pin not in repr(encrypted) + repr(events)
    assert "bytes redacted" in caplog.text  # the PIN block is not logged either
    assert encrypted.block[5:21].hex(" ") not in caplog.text
    with encrypted.decrypted() as secret:
        card.verify(PinKind.AUTH, secret)
    assert secret.wiped
    assert PROFILE.auth_pin not in caplog.text


def test_password_by_multitap_verifies(
    board: tuple[SimController, Controller], card: MynaCard
) -> None:
    sim, controller = board
    encrypted, events = _enter(sim, controller, PROFILE.sign_password, EntryKind.ALNUM)
    assert {e.action for e in events} == {EntryAction.PRESSED}
    assert encrypted.kind is EntryKind.ALNUM
    with encrypted.decrypted() as secret:
        card.verify(PinKind.SIGN, secret)


def test_wrong_pin_is_the_cards_answer(
    board: tuple[SimController, Controller], card: MynaCard
) -> None:
    sim, controller = board
    encrypted, _ = _enter(sim, controller, "9999")
    with pytest.raises(WrongPinError) as wrong, encrypted.decrypted() as secret:
        card.verify(PinKind.AUTH, secret)
    assert "9999" not in str(wrong.value)
    assert wrong.value.tries_left == 2


def test_replayed_and_altered_blocks_rejected_before_the_card(
    board: tuple[SimController, Controller], card: MynaCard
) -> None:
    sim, controller = board
    first, _ = _enter(sim, controller, PROFILE.auth_pin)
    recorded = first.block
    with first.decrypted() as secret:
        card.verify(PinKind.AUTH, secret)
    second, _ = _enter(sim, controller, PROFILE.auth_pin)
    assert controller.key is not None
    # The old block offered as the answer to the new request: binding fails.
    replayed = EncryptedPin(recorded, second.request_id, controller.key, controller.guard)
    with pytest.raises(InvalidPinBlockError, match="MAC"), replayed.decrypted():
        pass
    # The old block with its own request id: the counter was already used.
    stale = EncryptedPin(recorded, first.request_id, controller.key, controller.guard)
    with pytest.raises(InvalidPinBlockError, match="replayed"), stale.decrypted():
        pass
    altered = bytearray(second.block)
    altered[40] ^= 0x01
    forged = EncryptedPin(bytes(altered), second.request_id, controller.key, controller.guard)
    with pytest.raises(InvalidPinBlockError, match="MAC"), forged.decrypted():
        pass
    # None of that reached the card: it still has all its tries.
    assert card.tries_left(PinKind.AUTH) == 3
    with second.decrypted() as secret:
        card.verify(PinKind.AUTH, secret)


def test_tamper_during_entry(board: tuple[SimController, Controller]) -> None:
    sim, controller = board
    mark = sim.display_mark()

    def type_then_tamper() -> None:
        _after_prompt(sim, mark, "1", "2")
        sim.set_tamper(True)

    with pytest.raises(BoardTamperedError), in_background(type_then_tamper):
        controller.secure_entry(EntryKind.NUMERIC, entry_timeout=10)
    sim.wait_display(0, "TAMPERED")
    assert not controller.status().commissioned


def test_cancel_key_and_host_cancel(board: tuple[SimController, Controller]) -> None:
    sim, controller = board
    mark = sim.display_mark()
    with (
        pytest.raises(EntryCancelledError),
        in_background(lambda: _after_prompt(sim, mark, "1", "CANCEL")),
    ):
        controller.secure_entry(EntryKind.NUMERIC, entry_timeout=10)
    with pytest.raises(EntryCancelledError):
        controller.secure_entry(EntryKind.NUMERIC, entry_timeout=10, cancel=lambda: True)
    sim.wait_display(0, "READY")


def test_clear_and_timeout(board: tuple[SimController, Controller]) -> None:
    sim, controller = board
    events: list[EntryKey] = []
    mark = sim.display_mark()
    with (
        pytest.raises(EntryTimeoutError),
        in_background(lambda: _after_prompt(sim, mark, "1", "2", "CLEAR")),
    ):
        controller.secure_entry(EntryKind.NUMERIC, entry_timeout=4.0, on_key=events.append)
    assert [e.action for e in events] == [
        EntryAction.PRESSED,
        EntryAction.PRESSED,
        EntryAction.DELETED,
    ]
    assert events[-1].length == 1


def test_entry_messages_never_carry_values(
    board: tuple[SimController, Controller], caplog: pytest.LogCaptureFixture
) -> None:
    sim, controller = board
    caplog.set_level(logging.DEBUG)
    encrypted, events = _enter(sim, controller, "8642")
    assert all(set(vars(e)) == {"request_id", "action", "length"} for e in events)
    assert "8642" not in caplog.text + repr(encrypted)
    assert sim.display() == ("READY", "")
