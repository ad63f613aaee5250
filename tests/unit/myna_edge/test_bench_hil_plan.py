# SPDX-License-Identifier: Apache-2.0
"""The safety rules of a device run, checked on the virtual card's own APDU log."""

from __future__ import annotations

import pytest

from host.card import KeyKind, MynaCard, PinKind
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card import get_profile
from myna_edge.bench.hil.plan import CardGuard, CardPlan, Phase, SafetyStopError, check_counters
from myna_edge.bench.hil.suite import HilTargets, card_plan, run_hil

CHANGE_PIN = bytes.fromhex("00240180")  # CHANGE REFERENCE DATA header
EMPTY_VERIFY_LENGTH = 4


def open_sim(profile: str = "default") -> SimTransport:
    transport = open_transport(f"sim://{profile}?persist=0")
    assert isinstance(transport, SimTransport)
    return transport


def test_a_low_counter_stops_after_the_counter_reads_only() -> None:
    with open_sim("auth-last-try") as transport:
        guard = CardGuard(pin_allowed=True).attach(transport)
        with pytest.raises(SafetyStopError, match="user-authentication PIN 1/3"):
            check_counters(MynaCard(transport), guard)
        sent = transport.virtual_card.apdu_log.entries
    assert {e.command[1] for e in sent} == {0xA4, 0x20}
    assert all(e.command_length == EMPTY_VERIFY_LENGTH for e in sent if e.command[1] == 0x20)


def test_the_guard_never_lets_a_secret_change_out() -> None:
    with open_sim() as transport:
        guard = CardGuard(pin_allowed=True).attach(transport)
        for phase in Phase:
            guard.enter(phase)
            with pytest.raises(SafetyStopError, match="24"):
                transport.transmit(CHANGE_PIN + bytes.fromhex("04 31323334"))
        assert transport.virtual_card.apdu_log.entries == []


def test_no_pin_leaves_without_pin_env() -> None:
    with open_sim() as transport:
        guard = CardGuard(pin_allowed=False).attach(transport)
        guard.enter(Phase.READS)
        card = MynaCard(transport)
        with (
            Secret.from_text(get_profile("default").auth_pin) as pin,
            pytest.raises(SafetyStopError),
        ):
            card.sign(KeyKind.AUTH, bytes(32), pin)
        with pytest.raises(SafetyStopError, match="--pin-env"):
            guard.enter(Phase.PIN)
        sent = transport.virtual_card.apdu_log.entries
    assert not [e for e in sent if e.command[1] == 0x20 and e.command_length > EMPTY_VERIFY_LENGTH]


def test_a_read_is_refused_during_the_counter_phase() -> None:
    with open_sim() as transport:
        CardGuard(pin_allowed=False).attach(transport)
        with pytest.raises(SafetyStopError, match="B0"):
            MynaCard(transport).token_label()


def test_a_plan_without_pin_env_has_no_pin_commands() -> None:
    plan = card_plan(HilTargets(reader="sim://", rounds=3), chunked=True)
    assert all(row.phase is not Phase.PIN for row in plan.commands)
    assert "no VERIFY with a PIN" in plan.describe()
    with pytest.raises(ValueError, match="pin-env"):
        CardPlan().add(Phase.PIN, "VERIFY", "00 20 00 80 ..", "x1")


def test_a_stopped_run_reports_why_and_sends_nothing_but_counter_reads() -> None:
    lines: list[str] = []
    report = run_hil(HilTargets(reader="sim://auth-last-try?persist=0", rounds=1), out=lines.append)
    assert "below their maximum" in str(report["stopped"])
    assert lines[0].startswith("Plan:")  # said before anything was sent
    card = report["measured_on_simulator"]
    assert isinstance(card, dict)
    assert "auth_certificate" not in card["card"]
    assert report["measured_on_hardware"] == {}


def test_counters_are_read_for_every_secret() -> None:
    with open_sim() as transport:
        counters = check_counters(
            MynaCard(transport), CardGuard(pin_allowed=False).attach(transport)
        )
    assert counters == {kind.value: f"{kind.max_tries}/{kind.max_tries}" for kind in PinKind}
