# SPDX-License-Identifier: Apache-2.0
"""Faults on the real reader paths: typed errors in bounded time, then recovery.

Card pulled mid-command and pcscd restarted (pcsc://); corrupted, truncated
and dropped PN532 frames and a card leaving the field (libnfc://). After
each fault the next operation works, and no PIN try is spent by a retry.
"""

from __future__ import annotations

import pytest

from host import errors
from host.card import MynaCard, PinKind
from host.secret import Secret
from host.transport import open_transport
from host.transport.pcsc import card_events
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_READER, PCSC_URL, pcsc_stack, pn532_stack

__all__ = ["pcsc_stack", "pn532_stack"]

WRONG = "0001"


def verifies(card: object) -> int:
    entries = card.apdu_log.entries  # type: ignore[attr-defined]
    return sum(1 for e in entries if e.command[1:2] == b"\x20" and e.command_length > 4)


def test_pcsc_card_pulled_mid_verify_spends_no_try(pcsc_stack: PcscRig) -> None:
    with pcsc_stack.card() as card:
        assert pcsc_stack.bridge is not None
        with open_transport(PCSC_URL) as transport:
            driver = MynaCard(transport)
            assert driver.tries_left(PinKind.AUTH) == 3
            pcsc_stack.bridge.fail_next_command()
            with pytest.raises(errors.CardRemovedError):
                driver.verify(PinKind.AUTH, Secret.from_text(WRONG))
            with pytest.raises(errors.CardRemovedError):
                driver.tries_left(PinKind.AUTH)  # the transport stays failed
        assert verifies(card) == 0  # the VERIFY never reached the card, and was not resent
        pcsc_stack.wait_present(False)
        pcsc_stack.bridge.insert()
        pcsc_stack.wait_present(True)
        with open_transport(PCSC_URL) as transport:
            assert MynaCard(transport).tries_left(PinKind.AUTH) == 3


def test_pcsc_no_card_and_unknown_reader(pcsc_stack: PcscRig) -> None:
    with pytest.raises(errors.NoCardError):
        open_transport("pcsc://Virtual%20PCD%2000%2000")
    with pytest.raises(errors.ReaderNotFoundError):
        open_transport("pcsc://No%20Such%20Reader")


def test_pcsc_exclusive_access_gives_sharing_violation(pcsc_stack: PcscRig) -> None:
    with pcsc_stack.card(), open_transport(PCSC_URL) as first:
        assert first.atr == bytes.fromhex("3BE000FF8131FE4514")
        with pytest.raises(errors.ReaderBusyError):
            open_transport(PCSC_URL)


def test_pcsc_pcscd_restart_then_recovers(pcsc_stack: PcscRig) -> None:
    with pcsc_stack.card():
        with open_transport(PCSC_URL) as transport:
            MynaCard(transport).token_label()
            pcsc_stack.pcscd.stop()  # the service goes away mid-session
            with pytest.raises(errors.TransportError):
                MynaCard(transport).token_label()
        with pytest.raises(errors.BackendUnavailableError, match="pcscd"):
            open_transport(PCSC_URL)
        bridge = pcsc_stack.bridge
        assert bridge is not None
        links = bridge.connections
        pcsc_stack.restart_pcscd()
        pcsc_stack.wait_present(True)
        assert bridge is pcsc_stack.bridge  # the same bridge redialled the new pcscd
        assert bridge.connections > links
        assert bridge.dial_failures > 0  # it backed off while pcscd was down
        pcsc_stack.wait_present(True)
        with open_transport(PCSC_URL) as transport:
            assert MynaCard(transport).token_label() == "JPKIAPICCTOKEN2"


@pytest.mark.parametrize("fault", ["corrupt", "truncate", "drop"])
def test_pn532_bad_frames_give_typed_errors_then_recover(pn532_stack: Pn532Rig, fault: str) -> None:
    url = pn532_stack.url + "?timeout=0.3"
    with pn532_stack.card() as card:
        with open_transport(url) as transport:
            driver = MynaCard(transport)
            getattr(pn532_stack.pty, f"{fault}_next_response")()
            with pytest.raises(errors.TransportError):
                driver.verify(PinKind.AUTH, Secret.from_text(WRONG))
            before = verifies(card)
        with open_transport(url) as transport:
            tries = MynaCard(transport).tries_left(PinKind.AUTH)
        assert verifies(card) == before  # nothing was resent behind our back
        assert tries == 3 - before


def test_pn532_card_leaves_the_field(pn532_stack: Pn532Rig) -> None:
    with pn532_stack.card() as card, open_transport(pn532_stack.url) as transport:
        driver = MynaCard(transport)
        driver.tries_left(PinKind.AUTH)
        card.power_off()  # the card leaves the field mid-session
        with pytest.raises(errors.CardRemovedError):
            driver.tries_left(PinKind.AUTH)
    with pytest.raises(errors.NoCardError):
        open_transport(pn532_stack.url)


def test_pcsc_card_events_report_insertion_and_removal(pcsc_stack: PcscRig) -> None:
    bridge = pcsc_stack.bridge
    assert bridge is not None
    seen: list[tuple[str, bool]] = []
    with card_events(timeout=10) as events:
        with pcsc_stack.card():
            seen.append(next(events))
        seen.append(next(events))
    assert seen == [(PCSC_READER, True), (PCSC_READER, False)]
    assert list(events) == []  # closed: iteration ends
