# SPDX-License-Identifier: Apache-2.0
"""The fault matrix's invariants, checked after every run.

Why one place: every fault kind must leave the same promises intact, and a
broken promise must name the run that broke it so its seed replays it.
After a run (and after the agent's own recovery, once the fault is gone):
one acknowledgement and one completion in a state the fault allows; the
failure event the kiosk saw matches the completion's error code; no command
left running and the card released; no PIN try spent (every prompt was
answered rightly, so any lost try is one the user did not spend); the
journal resolved (no unresolved transfer, no unknown reset); and the
journal and the verifier's ledger agree, by the one checker every scenario
uses (``consistency.check_transfers``): each transfer committed once or
reversed, a committed completion committed at the verifier, a successful
reset confirmed there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection

from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.consistency import Ledger, check_transfers
from myna_edge.chaos.faults.drive import PullableCard, Run
from myna_edge.chaos.faults.world import Terminal, World
from verifier.codes import TransferState
from verifier.wire import TRANSFER_STATES

__all__ = ["check_electronic_journal", "check_run", "settle"]

#: Completion codes whose error must also have reached the UI as a failure event.
_FAILED = {
    tpb.COMPLETION_CODE_DEVICE_NOT_READY, tpb.COMPLETION_CODE_HARDWARE_ERROR,
    tpb.COMPLETION_CODE_TIME_OUT, tpb.COMPLETION_CODE_USER_ERROR,
}  # fmt: skip
#: The head of ``TIME TERMINAL OP EVENT key=value...`` (ElectronicJournal.append):
#: exactly one per line, or a line was torn and the next one glued to it.
_EJ_HEAD = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ \S+ [A-Z][A-Z-]*\b")
_SETTLED = {vpb.TRANSFER_STATE_COMMITTED, vpb.TRANSFER_STATE_REVERSED}


async def settle(t: Terminal, label: str, *, attempts: int = 8) -> None:
    """Let the agent resolve what the run left (the fault is gone by now).

    As the agent's background recovery would, it retries with a pause: a
    healed link may still deliver what it held back before it answers.
    """
    for _ in range(attempts):
        if await t.agent.recover():
            return
        await asyncio.sleep(1.0)
    raise ChaosInvariantError(f"{label}: recovery could not reach the verifier after the fault")


def check_run(
    label: str,
    t: Terminal,
    world: World,
    run: Run,
    allowed: Collection[str],
    fresh: dict[str, int],
    *,
    reservation: str = "",
) -> None:
    """Raise ``ChaosInvariantError`` naming ``label`` when a promise is broken."""
    if run.acks != 1 or run.completions != 1:
        raise ChaosInvariantError(
            f"{label}: {run.acks} acknowledgement(s), {run.completions} completion(s)"
        )
    if run.state not in allowed:
        raise ChaosInvariantError(f"{label}: end state {run.state} not in {sorted(allowed)}")
    done = run.completion
    if done.code in _FAILED and run.failures[-1:] != [done.error_code]:
        raise ChaosInvariantError(
            f"{label}: completion {run.state} but the UI saw failure events {run.failures}"
        )
    if done.code == tpb.COMPLETION_CODE_SUCCESS and run.failures:
        raise ChaosInvariantError(f"{label}: success after failure events {run.failures}")
    _check_idle(label, t)
    _check_tries(label, t, fresh)
    _check_journal(label, t, world, run)
    if reservation:
        state = world.reservations().get(reservation, "")
        confirmed = state == "CONFIRMED"
        if confirmed != (done.code == tpb.COMPLETION_CODE_SUCCESS):
            raise ChaosInvariantError(
                f"{label}: reset ended {run.state} but the booking is {state or 'missing'}"
            )


def _check_idle(label: str, t: Terminal) -> None:
    server = t.agent.server
    if server is None or server.servicer.busy:
        raise ChaosInvariantError(f"{label}: a command is still running after its completion")
    if any(card._transport is not None for card in t.cards):
        raise ChaosInvariantError(f"{label}: the card session was not released")


def _check_tries(label: str, t: Terminal, fresh: dict[str, int]) -> None:
    for card in t.cards:
        if not isinstance(card, PullableCard) or not card.opened:
            continue
        if card.pins is None:
            raise ChaosInvariantError(f"{label}: the card's counters were not kept at close")
        lost = {k: fresh[k] - v for k, v in card.pins.items() if v < fresh[k]}
        if lost:
            raise ChaosInvariantError(f"{label}: PIN tries spent the user did not spend: {lost}")


def check_electronic_journal(text: str) -> list[int]:
    """The numbers of torn lines in an electronic journal's ``text`` (none: ``[]``)."""
    lines = text.splitlines()
    torn = [n for n, line in enumerate(lines, 1) if len(_EJ_HEAD.findall(line)) != 1]
    return torn + ([len(lines)] if text and not text.endswith("\n") else [])


def _check_electronic_journal(label: str, t: Terminal, ledger: Ledger) -> None:
    """Every line whole; every settled transfer in the operator's record."""
    path = t.agent.config.electronic_journal
    if path is None:
        return
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    torn = check_electronic_journal(text)
    if torn:
        raise ChaosInvariantError(f"{label}: electronic journal lines {torn[:5]} are torn")
    for auth, row in ledger.items():
        committed = row.state is TransferState.COMMITTED
        event = "TRANSFER-COMMIT" if committed else "TRANSFER-REVERSE"
        if not any(f" {event} " in line and f"authorization={auth}" in line for line in lines):
            raise ChaosInvariantError(
                f"{label}: {auth} is settled ({row.state.name}) at the verifier"
                f" but the electronic journal has no {event} line for it"
            )


def _check_journal(label: str, t: Terminal, world: World, run: Run) -> None:
    """The one consistency checker on this terminal's journal and ledger, then the ATM's side."""
    journal = t.agent.journal
    assert journal is not None
    if journal.unknown_resets():
        raise ChaosInvariantError(f"{label}: resets left unknown in the journal")
    ledger = world.ledger(t.terminal_id)
    try:
        verdict = check_transfers(ledger, {t.terminal_id: journal})
    except ChaosInvariantError as exc:
        raise ChaosInvariantError(f"{label}: {exc}") from None
    committed = len(verdict.committed())
    _check_electronic_journal(label, t, ledger)
    if committed != len(t.moved):
        raise ChaosInvariantError(
            f"{label}: the ATM moved cash {len(t.moved)} time(s),"
            f" the verifier committed {committed}"
        )
    result = run.completion.transfer
    row = ledger.get(result.authorization_id)
    told = TRANSFER_STATES.to_wire(row.state) if row is not None else None
    if result.authorization_id and result.state in _SETTLED and told != result.state:
        raise ChaosInvariantError(
            f"{label}: the ATM was told {result.state}, the verifier has {told}"
        )
    success = run.completion.code == tpb.COMPLETION_CODE_SUCCESS
    committed_told = result.state == vpb.TRANSFER_STATE_COMMITTED
    if run.completion.HasField("transfer") and success and not committed_told:
        raise ChaosInvariantError(f"{label}: success without a committed transfer")
