# SPDX-License-Identifier: Apache-2.0
"""Secrets and personal data never reach logs, observers, messages or reprs (STYLE §8).

Runs the PIN-handling paths of the driver over ``sim://`` with every logger
at TRACE (level 1 catches everything) and an observer on the transport, then
searches every record, event, exception and repr for the PIN as text, as
ASCII hex (spaced and not, both cases), and for the holder's name and My
Number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from host import errors
from host.card import KeyKind, MynaCard, PinKind
from host.secret import Secret
from host.transport import ApduEvent, open_transport
from hw_sim.card import get_profile
from myna_edge.chaos.secrets.scan import encodings_found

PROFILE = get_profile("default")


SECRETS = {
    "auth": PROFILE.auth_pin,
    "sign": PROFILE.sign_password,
    "text": PROFILE.text_pin,
    "new-auth": "8642",
    "new-sign": "NEWPASS77",
    "wrong-auth": "0987",
    "wrong-sign": "WRONGPW99",
}
PERSONAL = {
    "my number": PROFILE.person.my_number,
    "name": PROFILE.person.name,
    "address": PROFILE.person.address,
}


@pytest.fixture
def captured(
    caplog: pytest.LogCaptureFixture, sim_url: Callable[[str], str]
) -> Iterator[tuple[MynaCard, list[str]]]:
    """A card on sim://default, every log record at level 1 and every event captured."""
    seen: list[str] = []

    def observe(event: ApduEvent) -> None:
        # the event's repr minus elapsed_s, whose digits would match by chance
        seen.extend([repr(event.apdu), event.apdu.hex(), event.apdu.data.hex()])

    caplog.set_level(1)
    with open_transport(sim_url("default")) as transport:
        transport.add_observer(observe)
        yield MynaCard(transport), seen
    seen.extend(record.getMessage() for record in caplog.records)
    seen.extend(str(record.args) for record in caplog.records if record.args)


def assert_absent(texts: list[str], values: dict[str, str]) -> None:
    for label, value in values.items():
        for text in texts:
            found = encodings_found(text.encode(), value)
            assert not found, f"{label} leaked as {found}"


def test_pin_paths_leak_nothing(
    captured: tuple[MynaCard, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    card, seen = captured
    raised: list[BaseException] = []
    card.verify(PinKind.AUTH, Secret.from_text(SECRETS["auth"]))
    card.verify(PinKind.SIGN, Secret.from_text(SECRETS["sign"].lower()))
    for kind, wrong in ((PinKind.AUTH, "wrong-auth"), (PinKind.SIGN, "wrong-sign")):
        with pytest.raises(errors.WrongPinError) as info:
            card.verify(kind, Secret.from_text(SECRETS[wrong]))
        raised.append(info.value)
    with pytest.raises(errors.WrongPinError) as info:
        card.change_pin(
            PinKind.AUTH, Secret.from_text(SECRETS["wrong-auth"]), Secret.from_text("8642")
        )
    raised.append(info.value)
    with pytest.raises(errors.PinPolicyError) as policy:
        card.verify(PinKind.AUTH, Secret.from_text(SECRETS["wrong-sign"]))
    raised.append(policy.value)
    card.change_pin(
        PinKind.AUTH, Secret.from_text(SECRETS["auth"]), Secret.from_text(SECRETS["new-auth"])
    )
    card.change_pin(
        PinKind.SIGN, Secret.from_text(SECRETS["sign"]), Secret.from_text(SECRETS["new-sign"])
    )
    card.sign(KeyKind.AUTH, b"\x00" * 32, Secret.from_text(SECRETS["new-auth"]))
    info_read = card.read_card_info(Secret.from_text(SECRETS["text"]), include_my_number=True)
    assert info_read.my_number == PROFILE.person.my_number  # it was really read

    texts = seen + [record.getMessage() for record in caplog.records]
    texts += [str(e) for e in raised] + [repr(e) for e in raised]
    texts += [repr(info_read), str(info_read), repr(info_read.basic_four)]
    texts += [repr(Secret.from_text(SECRETS["auth"])), str(Secret.from_text(SECRETS["sign"]))]
    assert caplog.records, "TRACE logging produced nothing: the test would prove nothing"
    assert_absent(texts, SECRETS)
    assert_absent(texts, PERSONAL)


def test_blocked_pin_error_leaks_nothing(sim_url: Callable[[str], str]) -> None:
    profile = get_profile("sign-locked")
    with open_transport(sim_url(profile.name)) as transport:
        card = MynaCard(transport)
        with pytest.raises(errors.PinBlockedError) as info:
            card.verify(PinKind.SIGN, Secret.from_text(profile.sign_password))
    assert_absent([str(info.value), repr(info.value)], {"password": profile.sign_password})


def test_observer_sees_verify_redacted(sim_url: Callable[[str], str]) -> None:
    events: list[ApduEvent] = []
    with open_transport(sim_url("default")) as transport:
        transport.add_observer(events.append)
        MynaCard(transport).verify(PinKind.AUTH, Secret.from_text(PROFILE.auth_pin))
    verify = [e for e in events if e.apdu.data[1:2] == b"\x20" and e.apdu.length > 4]
    assert len(verify) == 1
    assert verify[0].apdu.redacted
    assert verify[0].apdu.length == 9
    assert verify[0].apdu.data == bytes.fromhex("0020008004")


def test_module_loggers_are_named_after_modules() -> None:
    import host.card.pins
    import host.channel

    assert host.card.pins._log.name == "host.card.pins"
    assert host.channel._log.name == "host.channel"
    assert not logging.getLogger("host").handlers  # packages never configure logging


def test_signing_certificate_read_keeps_personal_data_out_of_logs(
    captured: tuple[MynaCard, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    card, seen = captured
    card.read_certificate(KeyKind.SIGN, Secret.from_text(PROFILE.sign_password))
    texts = seen + [record.getMessage() for record in caplog.records]
    assert_absent(texts, {"name": PROFILE.person.name, "address": PROFILE.person.address})
