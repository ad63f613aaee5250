# SPDX-License-Identifier: Apache-2.0
"""The counter check drops the card face: held no longer than the screen needs it.

Every object the chip's face becomes (``CardFace``, ``FaceReading``, the
basic four's ``CardInfo``, the decoded ``FacePhoto``) is watched through a
weak reference taken where it is made. While staff look at the screen, none
of them is alive any more (only the screen, which they are shown); once the
outcome is dropped, nothing of the face is reachable from the flow or the
card port, which the test still holds. A forged face, refused before any
screen, leaves nothing either.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import host.card.surface as surface
import host.flows.counter as counter
from host.flows import Outcome
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, CounterScreen, ThreadedCounterCard
from host.journal import Journal
from tests.unit.host.surface_cards import variant_transport
from tests.unit.host.test_flows_counter import (
    CODE_B,
    FAST,
    PROFILE,
    FakeCardVerifier,
    FakeStaff,
    VariantCounterCard,
    issuer,
)

__all__ = ["issuer"]  # the fixture, used by name


class Watch:
    """Weak references to every face object made, by type name."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, weakref.ref[Any]]] = []

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            made = fn(*args, **kwargs)
            self.refs.append((type(made).__name__, weakref.ref(made)))
            return made

        return watched

    def alive(self) -> list[str]:
        gc.collect()
        return sorted(name for name, ref in self.refs if ref() is not None)


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    watched = Watch()
    for module, name in (
        (surface, "parse_card_face"),
        (surface, "read_card_face"),
        (surface, "read_basic_four_with_code"),
        (counter, "decode_photo"),
    ):
        monkeypatch.setattr(module, name, watched.wrap(getattr(module, name)))
    return watched


class LookingStaff(FakeStaff):
    """Notes what of the face is still alive while the screen is shown; keeps no screen."""

    def __init__(self, watch: Watch) -> None:
        super().__init__([CODE_B])
        self.holder_pins = [PROFILE.auth_pin]
        self._watch = watch
        self.alive_at_screen: list[str] | None = None
        self.screen_ref: weakref.ref[CounterScreen] | None = None

    async def compare(self, screen: CounterScreen) -> bool:
        self.alive_at_screen = self._watch.alive()
        self.screen_ref = weakref.ref(screen)
        return True


def _run(
    tmp_path: Path,
    card: ThreadedCounterCard,
    staff: FakeStaff,
    verifier: FakeCardVerifier | None = None,
) -> tuple[CounterCheckFlow, Outcome]:
    async def scenario() -> tuple[CounterCheckFlow, Outcome]:
        with Journal(tmp_path / "j.db") as journal:
            flow = CounterCheckFlow(
                card=card,
                staff=staff,
                aml_file=JsonLinesAmlFile(tmp_path / "aml.jsonl"),
                terminal_id="desk-01",
                staff_id="staff-042",
                journal=journal,
                emit=lambda e: None,
                store_photo=True,
                timeouts=FAST,
                verifier=verifier,
            )
            try:
                outcome = await flow.run(holder_pin=verifier is not None)
            finally:
                await card.aclose()
            assert outcome.screen is None or outcome.screen.photo_png  # delivered with it
            return flow, outcome.outcome  # the outcome itself is dropped here

    return asyncio.run(scenario())


@pytest.mark.parametrize("holder_pin", [False, True])
def test_the_face_is_gone_while_staff_look_and_after_the_run(
    tmp_path: Path,
    sim_home_dir: Path,
    issuer: rsa.RSAPublicKey,
    watch: Watch,
    holder_pin: bool,
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    staff = LookingStaff(watch)
    verifier = FakeCardVerifier() if holder_pin else None
    flow, outcome = _run(tmp_path, card, staff, verifier)
    assert outcome is Outcome.COMPLETED
    made = sorted(name for name, _ in watch.refs)
    assert made == ["CardFace", "CardInfo", "FacePhoto", "FaceReading"]  # the watch saw them
    assert staff.alive_at_screen == []  # only the screen itself while staff compare
    assert watch.alive() == []
    assert staff.screen_ref is not None
    assert staff.screen_ref() is None  # the screen left with the outcome
    assert flow.step.value == "done"  # the flow and the card port are still held here
    assert card.url


def test_a_forged_face_leaves_nothing(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey, watch: Watch
) -> None:
    with variant_transport(sim_home_dir, forged=True) as transport:
        card = VariantCounterCard(transport, issuer)
        flow, outcome = _run(tmp_path, card, FakeStaff([CODE_B]))
        assert outcome is Outcome.REFUSED
        assert [name for name, _ in watch.refs] == ["CardFace"]  # parsed, then refused
        assert watch.alive() == []
        assert flow.step.value == "done"
