# SPDX-License-Identifier: Apache-2.0
"""The fault matrix's own honesty: its checks, card pulls and relay fire where they should.

A harness whose checks cannot fail proves nothing: here each invariant of
``faults.check`` and the hang detector of ``faults.drive`` is shown to
fire on a real run that is then made to look broken, and the card-pull
plan and the verifier relay are shown to act exactly where armed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.api import Profile
from hw_sim.card import get_profile
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.faults.check import check_run
from myna_edge.chaos.faults.drive import PullableCard, PullPlan, drive, fresh_pins, transfer
from myna_edge.chaos.faults.relay import TcpRelay
from myna_edge.chaos.faults.world import CARD, World, terminal


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = World.start(tmp_path_factory.mktemp("faults-checks"))
    yield started
    started.close()


def test_every_invariant_fires_on_a_broken_run(world: World, tmp_path: Path) -> None:
    fresh = fresh_pins()

    async def scenario() -> None:
        def card() -> PullableCard:
            return PullableCard(f"sim://{CARD}?persist=0")

        async with terminal(
            world, tmp_path, Profile.ATM, card, terminal_id="checks-atm"
        ) as t:  # fmt: skip
            run = await drive(t, transfer("good"), deadline=30)
            check_run("good", t, world, run, {"SUCCESS"}, fresh)  # a sound run passes
            password = get_profile(CARD).sign_password
            assert password not in run.text  # what the app saw
            assert password not in repr(run)
            assert len(t.moved) == 1
            broken = [
                ("end state", dataclasses.replace(run), {"CANCELED"}),
                ("completion", dataclasses.replace(run, completions=2), {"SUCCESS"}),
                (
                    "failure events",
                    dataclasses.replace(run, failures=["card_removed"]),
                    {"SUCCESS"},
                ),
            ]
            for what, bad, allowed in broken:
                with pytest.raises(ChaosInvariantError):
                    check_run(what, t, world, bad, allowed, fresh)
            (used,) = t.cards
            assert isinstance(used, PullableCard)
            assert used.pins is not None
            name = next(iter(used.pins))
            used.pins[name] -= 1  # as if a try had been spent
            with pytest.raises(ChaosInvariantError, match="PIN tries spent"):
                check_run("tries", t, world, run, {"SUCCESS"}, fresh)
            used.pins[name] += 1
            t.moved.add("never-dispensed")  # the ATM claims cash the verifier never committed
            with pytest.raises(ChaosInvariantError, match="moved cash"):
                check_run("ledger", t, world, run, {"SUCCESS"}, fresh)
            t.moved.discard("never-dispensed")
            ej = t.agent.config.electronic_journal
            assert ej is not None
            kept = ej.read_text(encoding="utf-8")
            ej.write_text(  # the operator's record loses the settlement line
                "".join(line for line in kept.splitlines(True) if "TRANSFER-COMMIT" not in line),
                encoding="utf-8",
            )
            with pytest.raises(ChaosInvariantError, match="electronic journal has no"):
                check_run("ej", t, world, run, {"SUCCESS"}, fresh)
            ej.write_text(kept, encoding="utf-8")

            async def stall(kind: int, nth: int) -> None:
                await asyncio.sleep(30)  # the user walks away: the command never completes

            with pytest.raises(ChaosInvariantError, match="hang"):
                await drive(t, transfer("hung"), deadline=0.5, hook=stall)
            await asyncio.sleep(0.5)  # the abandoned command winds down

    asyncio.run(scenario())


def test_pull_plan_counts_and_pulls(world: World, tmp_path: Path) -> None:
    async def scenario() -> None:
        plan = PullPlan(at=2, after=True)
        async with terminal(
            world, tmp_path, Profile.ATM, lambda: PullableCard(f"sim://{CARD}?persist=0", plan),
            terminal_id="checks-pull",
        ) as t:  # fmt: skip
            run = await drive(t, transfer("pulled"), deadline=30)
        assert plan.pulled
        assert plan.sent == 3  # nothing more reached the card after it left
        assert run.state == "DEVICE_NOT_READY/card_removed"
        assert run.failures == ["card_removed"]

    asyncio.run(scenario())


def test_relay_slows_and_refuses_at_the_armed_byte() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with TcpRelay(server.getsockname()[1], delay=0.3) as relay:
            client = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
            peer, _ = server.accept()
            with client, peer:
                relay.arm("slow", 4)
                client.sendall(b"abcd")
                assert peer.recv(16) == b"abcd"  # before the armed byte: on time
                assert relay.mode == "slow"
                client.sendall(b"late")
                peer.settimeout(0.1)
                with pytest.raises(TimeoutError):
                    peer.recv(16)
                peer.settimeout(5)
                assert peer.recv(16) == b"late"
                relay.heal()
                relay.arm("refuse", 0)
                assert relay.mode == "refuse"
                assert peer.recv(16) == b""  # the connection was cut
            refused = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
            with refused:
                refused.settimeout(5)
                assert refused.recv(16) == b""  # accepted and closed at once
        assert relay.triggered == 2
