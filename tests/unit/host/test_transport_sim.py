# SPDX-License-Identifier: Apache-2.0
"""host.transport.sim: URL grammar, opening the virtual card, error translation, trust dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from host import errors
from host.transport import open_transport, transport_for_url
from host.transport.sim import SimTransport, parse_sim_url, sim_trust_dir
from hw_sim.readers.slot import insert_card, remove_card, slot_path
from tests.unit.host.host_vectors import h

SELECT_JPKI = h("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")


@pytest.mark.parametrize(
    ("url", "profile", "home", "persist"),
    [
        ("sim://", "default", None, True),
        ("sim://default", "default", None, True),
        ("sim://sign-locked?persist=0", "sign-locked", None, False),
        ("sim://minor?home=/tmp/x&persist=1", "minor", Path("/tmp/x"), True),
        ("sim://?home=rel%20dir", "default", Path("rel dir"), True),
        ("sim:///", "default", None, True),
    ],
)
def test_url_grammar(url: str, profile: str, home: Path | None, persist: bool) -> None:
    parsed = parse_sim_url(url)
    assert (parsed.profile, parsed.home, parsed.persist) == (profile, home, persist)


@pytest.mark.parametrize(
    "url",
    [
        "pcsc://x",
        "sim://default/path",
        "sim://default?persist=2",
        "sim://default?persist=",
        "sim://default?colour=red",
        "sim://default?home=",
        "sim://default?home=a&home=b",
        "sim://bad%20name",
        "sim://user@default",
        "sim://default#frag",
        "sim://default?persist",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        parse_sim_url(url)


def test_bad_query_fails_when_building_the_transport() -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        transport_for_url("sim://default?persist=yes")


def test_unknown_profile_is_reader_not_found(sim_home_dir: Path) -> None:
    with pytest.raises(errors.ReaderNotFoundError, match="no-such-card"):
        open_transport(f"sim://no-such-card?home={sim_home_dir}&persist=0")


def test_open_transmit_close(sim_url: Callable[[str], str]) -> None:
    transport = open_transport(sim_url("default"))
    assert isinstance(transport, SimTransport)
    with transport:
        assert transport.atr[:1] == h("3B")
        assert transport.capabilities.extended_length
        assert transport.profile == "default"
        assert transport.transmit(SELECT_JPKI) == h("90 00")
        card = transport.virtual_card
        assert card.apdu_log.entries[-1].sw == 0x9000
    transport.close()  # twice is harmless
    with pytest.raises(errors.TransportClosedError):
        transport.transmit(SELECT_JPKI)
    with pytest.raises(errors.TransportClosedError):
        _ = transport.virtual_card


def test_powered_off_card_is_card_removed(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        assert isinstance(transport, SimTransport)
        transport.virtual_card.power_off()
        with pytest.raises(errors.CardRemovedError) as info:
            transport.transmit(SELECT_JPKI)
        assert info.value.__cause__ is not None


def test_closed_card_is_transport_closed(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        assert isinstance(transport, SimTransport)
        transport.virtual_card.close()
        with pytest.raises(errors.TransportClosedError) as info:
            transport.transmit(SELECT_JPKI)
        assert info.value.__cause__ is not None


def test_unknown_instruction_is_a_status_word(sim_url: Callable[[str], str]) -> None:
    with open_transport(sim_url("default")) as transport:
        response = transport.transmit(h("00 FE 00 00"))
        assert len(response) == 2
        assert response != h("90 00")


def test_sim_trust_dir(sim_home_dir: Path) -> None:
    trust = sim_trust_dir(f"sim://default?home={sim_home_dir}")
    assert trust == sim_home_dir / "trust"
    names = {p.name for p in trust.iterdir()}
    assert {
        "auth-ca.pem",
        "sign-ca.pem",
        "auth.crl.der",
        "sign.crl.der",
        "card-data-issuer.pub.pem",
    } <= names
    assert not any("key" in name and "pub" not in name for name in names)


def test_sim_trust_dir_bad_url() -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        sim_trust_dir("sim://default?bogus=1")


# --- sim://?slot=NAME: a card put on the reader and taken away from outside ------------


@pytest.mark.parametrize(
    "url", ["sim://default?slot=atm", "sim://?slot=", "sim://?slot=a/b", "sim://?slot=.."]
)
def test_bad_slot_urls(url: str) -> None:
    with pytest.raises(errors.InvalidReaderUrlError):
        parse_sim_url(url)


def test_slot_empty_then_inserted_then_removed_mid_session(
    sim_home_dir: Path, request: pytest.FixtureRequest
) -> None:
    slot = f"t-{request.node.name[:40]}"
    url = f"sim://?slot={slot}&home={sim_home_dir}&persist=0"
    assert parse_sim_url(url).slot == slot
    remove_card(slot, home=sim_home_dir)
    with pytest.raises(errors.NoCardError):  # an empty reader: "insert card" waits on this
        open_transport(url)
    insert_card(slot, "minor", home=sim_home_dir)
    with open_transport(url) as transport:
        assert isinstance(transport, SimTransport)
        assert transport.profile == "minor"  # the card that was put there
        assert transport.transmit(SELECT_JPKI) == h("90 00")
        assert remove_card(slot, home=sim_home_dir)
        with pytest.raises(errors.CardRemovedError):
            transport.transmit(SELECT_JPKI)
        insert_card(slot, "minor", home=sim_home_dir)  # put back: a new session is needed
        with pytest.raises(errors.CardRemovedError):
            transport.transmit(SELECT_JPKI)
    with open_transport(url) as transport:
        assert transport.transmit(SELECT_JPKI) == h("90 00")
    remove_card(slot, home=sim_home_dir)


def test_damaged_slot_file_is_a_transport_error(
    sim_home_dir: Path, request: pytest.FixtureRequest
) -> None:
    slot = f"t-{request.node.name[:40]}"
    path = slot_path(slot, home=sim_home_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff not a slot\n")
    try:
        with pytest.raises(errors.TransportError, match="slot"):
            open_transport(f"sim://?slot={slot}&home={sim_home_dir}")
    finally:
        path.unlink()
