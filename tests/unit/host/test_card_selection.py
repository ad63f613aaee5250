# SPDX-License-Identifier: Apache-2.0
"""host.card.selection: a SELECT of the application already selected is skipped, safely.

The tracker learns what is selected from the transport's APDUs, whoever
sent them; in doubt (a refusal, another kind of SELECT, another logical
channel, a transport failure) it forgets, and the next SELECT is sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from host.card import CredentialKind, KeyKind, MynaCard, PinKind, files
from host.card.detection import detect_credential
from host.card.selection import tracker_for
from host.channel import ApduChannel
from host.errors import FileNotFoundOnCardError, TransportError
from host.transport import open_transport
from host.transport.sim import SimTransport
from tests.unit.host.host_fakes import OK, FakeTransport

JPKI = bytes.fromhex("D392F000260100000001")
TEXT = bytes.fromhex("D3921000310001010408")
NOT_FOUND = bytes.fromhex("6A82")


def select(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid


class Card:
    """A card that knows JPKI and TEXT (6A82 for others); can fail the transport once."""

    def __init__(self) -> None:
        self.fail_next = False

    def __call__(self, command: bytes) -> bytes:
        if self.fail_next:
            self.fail_next = False
            raise TransportError("the card left")
        if command[1] == 0xA4 and command[2] == 0x04:
            return OK if command[5:] in (JPKI, TEXT) else NOT_FOUND
        return OK


def selects(transport: FakeTransport) -> list[bytes]:
    return [c[5:] for c in transport.sent if c[1] == 0xA4 and c[2] == 0x04]


def test_the_same_application_is_selected_once_and_another_one_again() -> None:
    with FakeTransport(Card()) as transport:
        channel = ApduChannel(transport)
        files.select_application(channel, JPKI)
        files.select_file(channel, 0x0008)  # an EF of the current DF keeps it
        files.select_application(channel, JPKI)
        files.select_application(channel, TEXT)
        files.select_application(channel, JPKI)
        assert selects(transport) == [JPKI, TEXT, JPKI]


@pytest.mark.parametrize(
    "other",
    [
        bytes.fromhex("00A4000C023F00"),  # the MF by file id
        bytes.fromhex("00A4030C"),  # the parent DF
        bytes.fromhex("00A4080C020001"),  # by path
        bytes([0x01]) + select(JPKI)[1:],  # the same SELECT on logical channel 1
        bytes.fromhex("0070000001"),  # MANAGE CHANNEL
    ],
)
def test_anything_else_that_may_move_the_selection_forgets_it(other: bytes) -> None:
    with FakeTransport(Card()) as transport:
        channel = ApduChannel(transport)
        files.select_application(channel, JPKI)
        transport.transmit(other)  # sent by someone else, around the driver
        files.select_application(channel, JPKI)
        # the driver's SELECT is sent again (plus the raw one, when it named JPKI)
        assert selects(transport).count(JPKI) == 2 + (other[1:3] == b"\xa4\x04")


def test_a_refused_select_and_a_failed_transport_forget() -> None:
    card = Card()
    with FakeTransport(card) as transport:
        channel = ApduChannel(transport)
        files.select_application(channel, JPKI)
        with pytest.raises(FileNotFoundOnCardError):
            files.select_application(channel, bytes.fromhex("D392F000260100000031"))
        assert tracker_for(transport).selected is None
        files.select_application(channel, JPKI)
        card.fail_next = True
        with pytest.raises(TransportError):
            channel.send(files.commands.select_aid(TEXT))
        assert tracker_for(transport).selected is None  # no answer: not known
        files.select_application(channel, JPKI)
        card.fail_next = True
        with pytest.raises(TransportError):
            files.read_prefix(channel, 3)  # any command left unanswered
        assert tracker_for(transport).selected is None
        files.select_application(channel, JPKI)
        assert selects(transport).count(JPKI) == 4


def test_a_new_transport_starts_with_nothing_selected(sim_home_dir: Path) -> None:
    url = f"sim://default?home={sim_home_dir}&persist=0"
    for _ in range(2):
        with open_transport(url) as transport:
            assert isinstance(transport, SimTransport)
            card = MynaCard(transport)
            card.tries_left(PinKind.SIGN)
            sent = [e.command for e in transport.virtual_card.apdu_log.entries]
            assert sent[0][:4] == bytes.fromhex("00A4040C")  # the AP's SELECT was sent


def test_detection_leaves_the_jpki_ap_selected_and_the_cross_check_stays(
    sim_home_dir: Path,
) -> None:
    url = f"sim://iphone-default?home={sim_home_dir}&persist=0"
    with open_transport(url) as transport:
        assert isinstance(transport, SimTransport)
        card = MynaCard(transport)
        assert card.detect().kind is CredentialKind.IPHONE
        log = transport.virtual_card.apdu_log
        # both phone DF names are still asked (the label/AID cross-check), the AP last
        named = [e.command[5:] for e in log.entries if e.command[1:3] == b"\xa4\x04"]
        assert named[-1] == JPKI
        assert len(named) == 3
        mark = len(log)
        assert card.has_certificate(KeyKind.SIGN)
        after = [e.command[1:3] for e in log.entries[mark:]]
        assert after == [b"\xa4\x02", b"\xb0\x00"]  # no SELECT of the AP again


def test_detection_over_a_raw_transport_is_watched_too() -> None:
    def card(command: bytes) -> bytes:
        if command[1] == 0xA4 and command[2] == 0x04:
            return OK if command[5:] == JPKI else NOT_FOUND
        if command[1] == 0xB0:
            return b"JPKIAPICCTOKEN2".ljust(32) + OK
        return OK

    with FakeTransport(card) as transport:
        assert detect_credential(transport).kind is CredentialKind.CARD
        assert tracker_for(transport).selected == JPKI
