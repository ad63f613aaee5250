# SPDX-License-Identifier: Apache-2.0
"""Crash consistency: transfers while the agent, then the verifier, then both are SIGKILLed.

Why: "a transfer is executed exactly once, whatever crashes happen" is the
promise the whole stack exists to keep, and only real processes killed at
unplanned moments test it. ``run_scenario`` starts the real ``myna-edge
verifier`` and ``myna-edge agent`` (``stack.ChaosStack``) and drives
``count`` transfers through the terminal API with a small ATM application
(``atm``): most over ¥100,000, so the card signs after the password is
typed on the controller's keypad, some under it. The transfers run in
rounds of a few (process start-ups are amortised); each round ends with
one kill, seeded by ``random.Random(seed)``: in the first third of the
transfers the agent (at a random moment, through the journal crash hook at
a random journaled step, or during its own start-up and recovery), in the
second the verifier (restarted after a random outage while the agent keeps
running), in the last both (in either order; the agent restarted before or
after the verifier is back).
Killed processes restart on the same journal and database; a restarted
agent recovers before it serves and asks the ATM application "did the
cash move?" for an authorised, undecided transfer. Besides, every third
transfer the ATM application itself crashes at one of its prompts (each
prompt kind in turn, ``APP_CRASHES``): it drops its stream and either
restarts and re-attaches, or leaves the command to the agent; at the cash
prompt with or without having dispensed first. The agent must then ask
it (``RecoveryPrompt``), never decide.

Afterwards the agent is restarted once more (a last start-up recovery)
and three records must agree (``consistency``, the checker every scenario
uses): the verifier's ledger (its SQLite database, read through its storage
interface), the agent's journal and the ATM application's record.
Each transfer is committed exactly once or reversed, never both, never
lost, never stuck; committed exactly when the application's record says
the cash moved; at least one receipt for every committed transfer, never
two originals (a copy is marked 再発行), none for a reversed one.
The moments of kills depend on timing, so a seed replays the schedule
(targets, rounds, delays, steps), not the exact interleaving.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import grpc

from host.journal import Effect, Phase
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import AppCrash, AtmApplication, RecoveryAnswerer, TransferAttempt
from myna_edge.chaos.consistency import check_consistency, open_ledger
from myna_edge.chaos.stack import ChaosStack

__all__ = ["APP_CRASHES", "HOOK_STEPS", "run_scenario"]

_log = logging.getLogger(__name__)

#: Journaled steps the agent's crash hook can stop at (one per hooked round).
HOOK_STEPS: Final = [
    (Effect.TRANSFER_AUTHORIZE, Phase.INTENT),
    (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME),
    (Effect.TRANSFER_DECISION, Phase.DECISION),
    (Effect.TRANSFER_COMMIT, Phase.INTENT),
    (Effect.TRANSFER_COMMIT, Phase.OUTCOME),
    (Effect.TRANSFER_REVERSE, Phase.INTENT),
    (Effect.RECEIPT_PRINT, Phase.INTENT),
    (Effect.RECEIPT_PRINT, Phase.OUTCOME),
]
_MONEY: Final = tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED
#: The ATM application's own crashes, taken in turn (every prompt kind it sees).
APP_CRASHES: Final = [
    *(
        AppCrash(kind, restart)
        for kind in (tpb.PROMPT_TYPE_CONFIRM_STATEMENT, tpb.PROMPT_TYPE_INSERT_CARD,
                     tpb.PROMPT_TYPE_SIGNING_PASSWORD)
        for restart in (False, True)
    ),
    *(AppCrash(_MONEY, restart, first) for restart in (False, True) for first in (False, True)),
]  # fmt: skip
_APP_CRASH_EVERY: Final = 3  # transfers
_ROUND: Final = (8, 14)  # transfers planned per round (it ends at its kill)
_SIGNED_SHARE: Final = 0.6  # over the threshold: the card signs
_DISPENSE_SHARE: Final = 0.8  # the cash dispenser succeeds
_DISPENSE_SECONDS: Final = 0.06  # the dispenser's time: a kill can land after the cash moved
_TARGETS: Final = ("agent", "verifier", "both")  # by thirds of the transfers
_DEADLINE_PER_TRANSFER: Final = 20.0  # seconds: the whole campaign's bound is count times this


@dataclass
class _Kill:
    """One round's kill, chosen before the round starts (so a seed replays the schedule)."""

    target: str  # "agent", "verifier" or "both"
    delay: float  # seconds into the round (unused when hooked)
    hook: str = ""  # "EFFECT:PHASE:N" for the agent's journal crash hook
    at_start: float = 0.0  # seconds after the agent's start: killed in start-up (recovery)
    outage: float = 0.0  # seconds the verifier stays down
    verifier_first: bool = False  # for "both": which one dies first
    agent_during_outage: bool = False  # for "both": restart the agent before the verifier


@dataclass
class _Figures:
    transfers: int = 0
    agent_kills: int = 0
    agent_kills_by_hook: int = 0
    agent_kills_in_start_up: int = 0
    verifier_kills: int = 0
    both_kills: int = 0
    interrupted: int = 0
    busy_retries: int = 0
    app_crash_turn: int = 0  # the next of APP_CRASHES
    attempts: list[TransferAttempt] = field(default_factory=list)


class _Killer:
    """Kills the round's target after its delay, or at once when the round ends first."""

    def __init__(self, stack: ChaosStack, kill: _Kill) -> None:
        self._stack, self._kill = stack, kill
        self._now = threading.Event()
        self.fired = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-killer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._now.wait(self._kill.delay)
            k, stack = self._kill, self._stack
            if k.target == "agent":
                stack.kill_agent()
            elif k.target == "verifier":
                stack.kill_verifier()
            elif k.verifier_first:
                stack.kill_verifier()
                stack.kill_agent()
            else:
                stack.kill_agent()
                stack.kill_verifier()
            self.fired.set()
            if k.target != "agent":
                time.sleep(k.outage)  # the supervisor restarts the verifier after a while
                stack.start_verifier()
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            self.error = exc
            self.fired.set()

    def kill_now(self) -> None:
        """Kill now if not yet done, and wait until the kill happened (not the restart)."""
        self._now.set()
        if not self.fired.wait(30):
            raise ChaosInvariantError("the killer did not kill within 30 s")

    def finish(self) -> None:
        """Kill now if not yet done; wait for the restart of the verifier.

        Raises:
            BaseException: what the killer thread raised.
        """
        self._now.set()
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            raise ChaosInvariantError("the killer thread did not finish within 60 s")
        if self.error is not None:
            raise self.error


def _plan(rng: random.Random, target: str, size: int, per_transfer: float) -> _Kill:
    kill = _Kill(target, delay=rng.uniform(0.05, 0.95) * size * per_transfer)
    draw = rng.random()
    if target == "agent" and draw < 0.4:
        effect, phase = rng.choice(HOOK_STEPS)
        kill.hook = f"{effect.value}:{phase.value}:{rng.randint(1, 2)}"
    elif target == "agent" and draw < 0.6:
        kill.at_start = rng.uniform(0.1, 1.6)  # agent start-up takes about a second
    if target != "agent":
        kill.outage = rng.uniform(0.0, 1.5)
        kill.verifier_first = rng.random() < 0.5
        kill.agent_during_outage = rng.random() < 0.5
    return kill


def _transfer(atm: AtmApplication, figures: _Figures, rng: random.Random) -> TransferAttempt:
    signed = rng.random() < _SIGNED_SHARE
    amount = rng.randint(100_001, 990_000) if signed else rng.randint(1_000, 100_000)
    dispense = rng.random() < _DISPENSE_SHARE
    request_id = f"atm-{figures.transfers:05d}"
    crash = None
    if figures.transfers % _APP_CRASH_EVERY == _APP_CRASH_EVERY - 1:
        crash = APP_CRASHES[figures.app_crash_turn % len(APP_CRASHES)]
        if not signed and crash.prompt != _MONEY:  # under the threshold only the cash prompt
            crash = None
    figures.transfers += 1
    attempt = atm.transfer(request_id, amount, dispense, crash=crash)
    for _ in range(50):  # bounded: the agent holds commands while it recovers (BUSY)
        if attempt.refusal != tpb.REFUSAL_REASON_BUSY:
            break
        figures.busy_retries += 1
        time.sleep(0.1)
        attempt = atm.transfer(request_id, amount, dispense, crash=crash)
    figures.attempts.append(attempt)
    if crash is not None and attempt.app_crash:
        # The next kind only once this one happened: a transfer refused or killed
        # before its prompt tries the same kind again, so every kind is covered.
        figures.app_crash_turn += 1
    if attempt.interrupted:
        figures.interrupted += 1
    return attempt


def _round(
    stack: ChaosStack,
    stub: tpb_grpc.TerminalServiceStub,
    atm: AtmApplication,
    rng: random.Random,
    figures: _Figures,
    kill: _Kill,
    size: int,
) -> None:
    if not stack.agent_alive():
        stack.start_agent(kill.hook)
    if kill.at_start and stack.agent_fresh:
        time.sleep(kill.at_start)  # loading, opening the journal, recovering, or serving
        stack.kill_agent()
        figures.agent_kills += 1
        figures.agent_kills_in_start_up += 1
        return
    if stack.agent_fresh:
        stack.wait_agent_ready(stub)  # start-up recovery ran (it may have asked the ATM)
    killer = None if kill.hook else _Killer(stack, kill)
    for _ in range(size):
        _transfer(atm, figures, rng)
        if (killer is not None and killer.fired.is_set()) or not stack.agent_alive():
            break
    if killer is not None:
        killer.kill_now()
        if kill.target == "both" and kill.agent_during_outage:
            stack.start_agent()  # recovers while the verifier is still down, then retries
        killer.finish()
    elif stack.agent_alive():
        stack.kill_agent()  # the hooked step did not come in this round: kill between transfers
    else:
        stack.kill_agent()  # reap the process the hook killed
        figures.agent_kills_by_hook += 1
    if kill.target == "agent":
        figures.agent_kills += 1
    elif kill.target == "verifier":
        figures.verifier_kills += 1
    else:
        figures.both_kills += 1


def _app_crashes(attempts: list[TransferAttempt]) -> dict[str, int]:
    """How many times the application crashed, per ``AppCrash.name``."""
    counts: dict[str, int] = {}
    for a in attempts:
        if a.app_crash:
            counts[a.app_crash] = counts.get(a.app_crash, 0) + 1
    return dict(sorted(counts.items()))


def _write_attempts(path: Path, attempts: list[TransferAttempt], atm: AtmApplication) -> None:
    # Kept beside the logs: what the ATM application saw, for a failure's post-mortem.
    with path.open("w", encoding="utf-8") as out:
        for a in attempts:
            line = dataclasses.asdict(a) | {"dispensed": atm.moved(a.request_id)}
            out.write(json.dumps(line, sort_keys=True) + "\n")


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run ``count`` transfers under seeded kills; the figures, or ``ChaosInvariantError``.

    Raises:
        ChaosInvariantError: the records disagree (the text says which and for what).
        StackError: a process did not (re)start.
    """
    rng = random.Random(seed)  # noqa: S311 - a replayable schedule, not a secret
    started = time.monotonic()
    deadline = started + 60.0 + _DEADLINE_PER_TRANSFER * count
    figures = _Figures()
    password = get_profile("default").sign_password
    with (
        ChaosStack(workdir) as stack,
        (workdir / "rounds.jsonl").open("w", encoding="utf-8") as rounds,
    ):
        stack.start_verifier()
        with grpc.insecure_channel(f"unix:{stack.socket}") as channel:
            stub = tpb_grpc.TerminalServiceStub(channel)
            atm = AtmApplication(stub, stack.pad, password, dispense_seconds=_DISPENSE_SECONDS)
            try:
                with RecoveryAnswerer(stub, atm) as answerer:
                    per_transfer = 0.5  # seconds, re-estimated as transfers run
                    while figures.transfers < count:
                        if time.monotonic() > deadline:
                            raise ChaosInvariantError(
                                f"the campaign did not finish in time ({figures.transfers} done)"
                            )
                        phase = min(2, 3 * figures.transfers // count)
                        phase_end = ((phase + 1) * count + 2) // 3  # each third has its rounds
                        size = min(rng.randint(*_ROUND), phase_end - figures.transfers)
                        target = _TARGETS[phase]
                        kill = _plan(rng, target, size, per_transfer)
                        plan = dataclasses.asdict(kill) | {"first": figures.transfers}
                        rounds.write(json.dumps(plan, sort_keys=True) + "\n")
                        rounds.flush()
                        _log.info("round: %s", plan)
                        _round(stack, stub, atm, rng, figures, kill, size)
                        done = [a.seconds for a in figures.attempts if not a.interrupted]
                        per_transfer = sum(done) / len(done) if done else per_transfer
                    # The last start-up recovery: everything left must be resolved by it.
                    if stack.agent_alive():
                        stack.stop_agent()
                    stack.start_agent()
                    stack.wait_agent_ready(stub)
                    last_exit = stack.stop_agent()
                asked = list(answerer.asked)
            finally:
                _write_attempts(workdir / "attempts.jsonl", figures.attempts, atm)
        stack.kill_verifier()
        if last_exit != 0:
            raise ChaosInvariantError(f"the agent exited with {last_exit} on SIGTERM")
        ledger = open_ledger(f"sqlite:///{stack.database}")
        verdict = check_consistency(
            ledger, stack.journal, atm, figures.attempts, workdir / "receipts"
        )
    return {
        "seed": seed,
        "transfers": figures.transfers,
        "agent_kills": figures.agent_kills,
        "agent_kills_by_journal_hook": figures.agent_kills_by_hook,
        "agent_kills_in_start_up": figures.agent_kills_in_start_up,
        "verifier_kills": figures.verifier_kills,
        "both_kills": figures.both_kills,
        "interrupted_transfers": figures.interrupted,
        "busy_retries": figures.busy_retries,
        "pad_errors": sum(1 for a in figures.attempts if a.pad_error),
        "app_crashes": _app_crashes(figures.attempts),
        "recovered_by_question": len(asked),
        "recovered_by_question_cash_moved": sum(atm.moved(p.request_id) for p in asked),
        **verdict,
        "seconds": round(time.monotonic() - started, 1),
    }
