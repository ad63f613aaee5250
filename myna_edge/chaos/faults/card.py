# SPDX-License-Identifier: Apache-2.0
"""Pull the card at every card command of every flow, before and after the command.

Why every index: a card leaves the field at an arbitrary moment, and the
dangerous moments are specific commands (the VERIFY, the signature, the
RESET RETRY COUNTER). For each flow the sweep first runs it once to count
the card commands *n*, then runs it 2n more times through the terminal API:
the card is taken out right before command *i* (the command never reaches
it) and right after it (the card acted, its answer is lost). Every run must
end in a defined state with the ``card_removed`` failure shown, spend no
PIN try, and leave journal and verifier in agreement. In-process on sim://
(no reader daemon), so the whole sweep fits in CI.

The sweep also takes an iPhone transfer (``PHONE_FLOWS``, issue 15): the
phone taken away before and after each of its commands, the empty VERIFYs
that ask whether its holder approved and the approved signature included.
Only this fault kind takes it: a pulled phone is the fault a phone adds (its
link to the verifier, journal and serial links are the card's), and
nothing else in the matrix runs longer for it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from host.api import Profile
from host.flows import ThreadedCard
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.faults.check import check_run, settle
from myna_edge.chaos.faults.drive import (
    PullableCard,
    PullPlan,
    drive,
    fresh_pins,
    read_card,
    reset,
    transfer,
)
from myna_edge.chaos.faults.world import CARD, World, terminal

__all__ = ["FLOWS", "PHONE_FLOWS", "PULLED_STATES", "PULL_FLOWS", "FlowSpec", "sweep_card_pulls"]

_log = logging.getLogger(__name__)

#: One run's hang detector, seconds (a run takes well under a second).
RUN_DEADLINE = 30.0
#: What a pulled card may end in: the read/reset/transfer stopped, the UI told why.
PULLED_STATES = frozenset({"DEVICE_NOT_READY/card_removed"})


@dataclass(frozen=True)
class FlowSpec:
    """One flow of the matrix: its terminal profile, command, reset booking and card."""

    name: str
    profile: Profile
    request: Callable[[str], tpb.ExecuteRequest]
    booking: int = 0  # a ResetOperation to book before each run; 0: none
    card: str = CARD  # the profile presented (a card or a phone), fresh at every run


FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec("read", Profile.KIOSK, read_card),
    FlowSpec(
        "reset-password",
        Profile.KIOSK,
        lambda rid: reset(rid, vpb.RESET_OPERATION_SIGNING_PASSWORD),
        vpb.RESET_OPERATION_SIGNING_PASSWORD,
    ),
    FlowSpec(
        "reset-pin",
        Profile.KIOSK,
        lambda rid: reset(rid, vpb.RESET_OPERATION_AUTHENTICATION_PIN),
        vpb.RESET_OPERATION_AUTHENTICATION_PIN,
    ),
    FlowSpec("transfer", Profile.ATM, transfer),
)
#: Phones in the pull sweep: an iPhone approving on the phone, then signing.
PHONE_FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec("transfer-iphone", Profile.ATM, transfer, card="iphone-default"),
)
#: What the pull sweep runs by default.
PULL_FLOWS: Final = FLOWS + PHONE_FLOWS


async def sweep_card_pulls(
    world: World, folder: Path, flows: tuple[FlowSpec, ...] = PULL_FLOWS, *, stride: int = 1
) -> dict[str, object]:
    """Run the pull sweep over ``flows``; figures per flow and in total.

    ``stride`` > 1 tries every stride-th index only (for quick local runs).

    Raises:
        ChaosInvariantError: a run broke a promise (the text names flow, index, mode).
    """
    states: Counter[str] = Counter()
    commands: dict[str, int] = {}
    runs = 0
    for spec in flows:
        plans: list[PullPlan] = []
        fresh = fresh_pins(spec.card)

        def factory(plans: list[PullPlan] = plans, url: str = spec.card) -> ThreadedCard:
            return PullableCard(f"sim://{url}?persist=0", plans[-1])

        async with terminal(
            world, folder / spec.name, spec.profile, factory, terminal_id=f"pull-{spec.name}"
        ) as t:
            # The reference run counts the commands of the flow.
            plans.append(PullPlan())
            reservation = world.book(spec.booking) if spec.booking else ""
            label = f"card-pull {spec.name} reference"
            run = await drive(t, spec.request(f"{spec.name}-ref"), deadline=RUN_DEADLINE)
            await settle(t, label)
            check_run(label, t, world, run, {"SUCCESS"}, fresh, reservation=reservation)
            n = commands[spec.name] = plans[-1].sent
            if n == 0:
                raise ChaosInvariantError(f"{label}: the flow sent no card command")
            for index in range(0, n, stride):
                for after in (False, True):
                    t.cards.clear()
                    plans.append(PullPlan(index, after))
                    reservation = world.book(spec.booking) if spec.booking else ""
                    mode = "after" if after else "before"
                    label = f"card-pull {spec.name} {mode} command {index}/{n}"
                    rid = f"{spec.name}-{index}-{mode}"
                    run = await drive(t, spec.request(rid), deadline=RUN_DEADLINE)
                    await settle(t, label)
                    if not plans[-1].pulled:
                        raise ChaosInvariantError(f"{label}: the flow never reached the command")
                    check_run(label, t, world, run, PULLED_STATES, fresh, reservation=reservation)
                    states[f"{spec.name}:{run.state}"] += 1
                    runs += 1
    _log.info("card pulls: %d runs, %s", runs, dict(states))
    return {"runs": runs, "faults": runs, "commands": commands, "states": dict(states)}
