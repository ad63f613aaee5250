# SPDX-License-Identifier: Apache-2.0
"""The verifier slow (beyond the client's deadline), silent, refusing, or not there at all.

Why at seeded byte positions: a request that reaches the verifier after
the agent gave up on it is the classic double-spend; a verifier that stops
answering between authorise and commit is the classic stuck transfer. The
agent talks to the verifier through ``TcpRelay``; each run arms the relay
to fail after a seeded number of the agent's bytes (somewhere inside the
flow's own conversation, measured by a clean reference run), then the
relay heals, the agent's own recovery runs, and journal and ledger must
agree. One run more per flow uses a port where nothing listens at all.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path

from host.flows import ThreadedCard
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.faults.card import FLOWS, FlowSpec
from myna_edge.chaos.faults.check import check_run, settle
from myna_edge.chaos.faults.drive import PullableCard, Run, drive, fresh_pins
from myna_edge.chaos.faults.relay import MODES, TcpRelay
from myna_edge.chaos.faults.world import CARD, Terminal, World, terminal

__all__ = ["NET_STATES", "verifier_faults"]

_log = logging.getLogger(__name__)
#: The client's deadline per call, and how late the slow relay delivers.
CLIENT_TIMEOUT = 1.0
SLOW_DELAY = 2.5
RUN_DEADLINE = 60.0
#: What a run may end in when the verifier fails under it.
NET_STATES = frozenset({"SUCCESS", "DEVICE_NOT_READY/service_unavailable"})


def _card() -> ThreadedCard:
    return PullableCard(f"sim://{CARD}?persist=0")


async def _one(
    t: Terminal, world: World, spec: FlowSpec, rid: str, label: str, fresh: dict[str, int]
) -> str:
    t.cards.clear()
    reservation = world.book(spec.booking) if spec.booking else ""
    run = await drive(t, spec.request(rid), deadline=RUN_DEADLINE)
    check_run(label, t, world, run, {"SUCCESS"}, fresh, reservation=reservation)  # a clean line
    return run.state


def _finish(
    t: Terminal, world: World, run: Run, label: str, fresh: dict[str, int], reservation: str
) -> str:
    check_run(label, t, world, run, NET_STATES, fresh, reservation=reservation)
    return run.state


async def verifier_faults(world: World, folder: Path, seed: int, count: int) -> dict[str, object]:
    """``count`` seeded slow/blackhole/refuse runs per flow, plus one dead-port run per flow.

    Each flow first runs twice on a clean relay (warm-up, then the reference
    whose requests give the fault points); both must succeed.

    Raises:
        ChaosInvariantError: a run broke a promise (the text names flow, fault, byte).
    """
    rng = random.Random(seed)  # noqa: S311 - fault positions, not crypto
    fresh = fresh_pins()
    states: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    runs = late_commits = 0
    for spec in FLOWS:
        terminal_id = f"net-{spec.name}"
        with TcpRelay(world.server.port, delay=SLOW_DELAY) as relay:
            client = world.client(terminal_id, port=relay.port, timeout=CLIENT_TIMEOUT)
            async with terminal(
                world,
                folder / terminal_id,
                spec.profile,
                _card,
                client=client,
                terminal_id=terminal_id,
            ) as t:
                await _one(t, world, spec, f"{spec.name}-warm", f"net {spec.name} warm-up", fresh)
                start = relay.sent
                label = f"net {spec.name} reference"
                await _one(t, world, spec, f"{spec.name}-ref", label, fresh)
                span = relay.sent - start
                # Fault points: before the first request, and right after each
                # request the agent wrote in the reference run (that request
                # reaches the verifier, its answer is lost), so every call is
                # as likely to be hit as any other.
                points = [0] + [m - start for m in relay.marks if start < m <= relay.sent]
                for n in range(count):
                    fault = MODES[n % len(MODES)]
                    after = rng.choice(points)
                    label = f"net {spec.name} {fault} after byte {after}/{span} (seed {seed})"
                    t.cards.clear()
                    reservation = world.book(spec.booking) if spec.booking else ""
                    relay.arm(fault, after)
                    rid = f"{spec.name}-{fault}-{n}"
                    try:
                        run = await drive(t, spec.request(rid), deadline=RUN_DEADLINE)
                    finally:
                        relay.heal()
                    await settle(t, label)
                    state = _finish(t, world, run, label, fresh, reservation)
                    states[f"{spec.name}:{state}"] += 1
                    # Cash out, then the verifier failed: committed by recovery alone.
                    late_commits += rid in t.moved and state != "SUCCESS"
                    faults[fault] += 1
                    runs += 1
        states[f"{spec.name}:{await _dead_port(world, folder, spec, fresh)}"] += 1
        faults["unreachable"] += 1
        runs += 1
    _log.info("verifier faults: %d runs, %s", runs, dict(states))
    return {
        "runs": runs,
        "faults": dict(faults),
        "states": dict(states),
        "commits_left_to_recovery": late_commits,
    }


async def _dead_port(world: World, folder: Path, spec: FlowSpec, fresh: dict[str, int]) -> str:
    with TcpRelay(world.server.port) as relay:
        relay.close()  # bound, then released: nothing listens there now
        port = relay.port
    terminal_id = f"net-{spec.name}"
    client = world.client(terminal_id, port=port, timeout=CLIENT_TIMEOUT)
    async with terminal(
        world, folder / terminal_id, spec.profile, _card, client=client, terminal_id=terminal_id
    ) as t:
        label = f"net {spec.name} unreachable"
        run = await drive(t, spec.request(f"{spec.name}-dead"), deadline=RUN_DEADLINE)
        state = _finish(t, world, run, label, fresh, "")
        if state != "DEVICE_NOT_READY/service_unavailable":
            raise ChaosInvariantError(f"{label}: ended {state} with no verifier at all")
        return state
