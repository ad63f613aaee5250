# SPDX-License-Identifier: Apache-2.0
"""Chaos scenario "replicas": two verifiers on one PostgreSQL, one killed, the database restarted.

What it proves: with the agent's channel balancing over two ``myna-edge
verifier`` processes (gRPC ``round_robin``, retries on UNAVAILABLE for
idempotent methods only, the same request and key on every attempt),
identity-verified transfers over ¥100,000 still end exactly once when one
replica is SIGKILLed mid-run (and later restarted) and when PostgreSQL is
restarted mid-run (fast shutdown, same folder and port). Two terminals
(``atm-01``, ``atm-02``: agent processes running the real ``Agent`` with
its journal, recovery, terminal API on a Unix socket and own channel to the
replicas; the virtual card signs every statement; a stand-in for the secure
PIN pad, see ``agent``) run their transfers at the same time; a
small ATM application per terminal, in this process, answers "did the cash
move?" (seeded: mostly yes) after writing it down.

Invariants, checked against three records after the agents' background
recovery has settled their journals: the PostgreSQL ledger, read through
the verifier's storage interface, against the agents' journals by the one
consistency checker (``consistency.check_transfers``: never left
AUTHORIZED, one commit-or-reverse audit entry, one settle outcome per
authorisation agreeing with the ledger, nothing unresolved), then against
the application's record (at most one authorisation per transfer,
identity-verified, committed exactly when the ATM application dispensed).
The load is shown balanced from each replica's access log: both served
while both were up. Seeded: events happen at seeded transfer counts, after
a seeded delay, so a failing run replays from its seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grpc.aio

from host.journal import Journal
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import transfer_command
from myna_edge.chaos.consistency import LedgerRow, Verdict, check_transfers, open_ledger
from myna_edge.chaos.pgcluster import PostgresCluster, postgres_cluster
from myna_edge.chaos.replicas.stack import (
    AgentProcess,
    Trust,
    VerifierReplica,
    prepare_trust,
    terminal_toml,
)
from verifier.codes import TransferState
from verifier.storage import open_storage

__all__ = ["Attempt", "check_outcomes", "run_scenario"]

_log = logging.getLogger(__name__)

TERMINALS: Final = ("atm-01", "atm-02")
BASE_AMOUNT: Final = 100_001  # over the threshold: the card signs every statement
_SETTLE_DEADLINE: Final = 90.0  # seconds for background recovery to empty the journals
_REVIVAL_CHECK_MIN: Final = 10  # transfers left after a revival for "it serves again" to be asked


@dataclass
class Attempt:
    """One transfer as the ATM application saw it."""

    index: int
    terminal: str
    amount: int
    dispense: bool
    request_id: str = ""
    completion: int = tpb.COMPLETION_CODE_UNSPECIFIED
    dispensed: bool | None = None  # the application's record: None = never asked
    busy: int = 0


@dataclass
class Event:
    """A fault injected once ``at`` transfers have completed, after ``delay`` seconds."""

    at: int
    action: str  # "kill", "revive" or "pg-restart"
    replica: int
    delay: float
    pause: float = 0.0  # pg-restart: seconds the database stays down


def _schedule(rng: random.Random, count: int) -> list[Event]:
    """Per cycle of <= 60 transfers: kill a replica, revive it, restart PostgreSQL."""
    events: list[Event] = []
    cycles = max(1, count // 60)
    size = count / cycles
    for c in range(cycles):
        base, victim = c * size, rng.randrange(2)
        kill = base + size * rng.uniform(0.15, 0.25)
        revive = base + size * rng.uniform(0.3, 0.4)  # it takes ~1 s to listen again
        restart = base + size * rng.uniform(0.65, 0.8)
        events += [
            Event(int(kill), "kill", victim, rng.uniform(0, 0.25)),
            Event(int(revive), "revive", victim, 0.0),
            Event(int(restart), "pg-restart", 0, rng.uniform(0, 0.25), rng.uniform(0.2, 1.5)),
        ]
    return events


async def _transfer(stub: tpb_grpc.TerminalServiceAsyncStub, attempt: Attempt) -> None:
    """Run one transfer to its completion; a BUSY refusal is asked again (bounded)."""
    command = transfer_command(attempt.amount)
    for n in range(400):  # bounded: the agent holds commands only while it recovers
        rid = f"{attempt.terminal}-{attempt.index:05d}-{n}"
        try:
            refused = await _execute(stub, rid, command, attempt)
        except grpc.aio.AioRpcError as exc:
            raise ChaosInvariantError(f"{rid}: the terminal API broke off: {exc.code()}") from None
        if not refused:
            if attempt.completion == tpb.COMPLETION_CODE_UNSPECIFIED:
                raise ChaosInvariantError(f"{rid}: the command ended without a completion")
            return
        attempt.busy += 1
        await asyncio.sleep(0.05)
    raise ChaosInvariantError(f"transfer {attempt.index}: the agent stayed busy")


async def _execute(
    stub: tpb_grpc.TerminalServiceAsyncStub,
    rid: str,
    command: tpb.TransferCommand,
    attempt: Attempt,
) -> bool:
    """One ``Execute`` as the ATM application runs it; True when refused BUSY."""
    refused = False
    call = stub.Execute(tpb.ExecuteRequest(request_id=rid, transfer=command), timeout=60)
    async for message in call:
        if message.HasField("acknowledgement") and not message.acknowledgement.accepted:
            refused = message.acknowledgement.refusal == tpb.REFUSAL_REASON_BUSY
            if not refused:
                raise ChaosInvariantError(f"{rid}: refused {message.acknowledgement}")
        if message.HasField("completion"):
            attempt.request_id, attempt.completion = rid, message.completion.code
        prompt = message.event.prompt
        if not prompt.prompt_id or prompt.type == tpb.PROMPT_TYPE_SIGNING_PASSWORD:
            continue  # the password comes from the pad, never through the API
        answer = True
        if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
            attempt.dispensed = answer = attempt.dispense  # the record first
        reply = tpb.AnswerPromptRequest(request_id=rid, prompt_id=prompt.prompt_id,
                                        confirmed=answer)  # fmt: skip
        await stub.AnswerPrompt(reply, timeout=10)
    return refused


class _Campaign:
    def __init__(
        self, rng: random.Random, count: int, workdir: Path, trust: Trust,
        cluster: PostgresCluster, replicas: list[VerifierReplica],
    ) -> None:  # fmt: skip
        self.workdir, self.trust, self.cluster, self.replicas = workdir, trust, cluster, replicas
        self.events = _schedule(rng, count)
        self.attempts = [
            Attempt(i, TERMINALS[i % 2], BASE_AMOUNT + i, rng.random() < 0.8) for i in range(count)
        ]
        self.done = 0
        self.before_kill: list[int] = []  # calls per replica when the first kill happened
        self.pg_down: list[float] = []
        self.timeline: list[str] = []  # "action@transfers:[calls A, calls B]" per event
        # (replica, its calls when it listened again, transfers done by then)
        self.revived: list[tuple[int, int, int]] = []
        self.journals: dict[str, Path] = {}

    async def _chaos(self) -> None:
        for event in self.events:
            while self.done < event.at:  # bounded by the transfers, which are bounded
                await asyncio.sleep(0.01)
            await asyncio.sleep(event.delay)
            replica = self.replicas[event.replica]
            calls = [r.served()["calls"] for r in self.replicas]
            self.timeline.append(f"{event.action}@{self.done}:{calls}")
            if event.action == "kill":
                if not self.before_kill:
                    self.before_kill = calls
                await asyncio.to_thread(replica.kill)
            elif event.action == "revive":
                began = time.monotonic()
                await asyncio.to_thread(replica.start)
                calls = [r.served()["calls"] for r in self.replicas]
                self.timeline.append(
                    f"listening@{self.done}:{calls} after {time.monotonic() - began:.1f} s"
                )
                self.revived.append((event.replica, calls[event.replica], self.done))
            else:
                down = await asyncio.to_thread(self.cluster.restart, event.pause)
                self.pg_down.append(down)

    async def _terminal(self, name: str, stub: tpb_grpc.TerminalServiceAsyncStub) -> None:
        for attempt in self.attempts:
            if attempt.terminal == name:
                await _transfer(stub, attempt)
                self.done += 1

    async def run(self) -> None:
        addresses = [r.address for r in self.replicas]
        agents: list[AgentProcess] = []
        try:
            for name in TERMINALS:
                folder = self.workdir / name
                path = terminal_toml(self.trust, folder, name, addresses, "journal.sqlite")
                self.journals[name] = folder / "journal.sqlite"
                agents.append(AgentProcess(path))
                await asyncio.to_thread(agents[-1].start)
            async with contextlib.AsyncExitStack() as stack:
                stubs = []
                for agent in agents:
                    channel = await stack.enter_async_context(
                        grpc.aio.insecure_channel(f"unix:{agent.socket}")
                    )
                    stubs.append(tpb_grpc.TerminalServiceStub(channel))
                chaos = asyncio.ensure_future(self._chaos())
                try:
                    await asyncio.gather(
                        *(self._terminal(n, s) for n, s in zip(TERMINALS, stubs, strict=True))
                    )
                    await asyncio.wait_for(chaos, 60)
                finally:
                    chaos.cancel()
                    await asyncio.gather(chaos, return_exceptions=True)
            deadline = time.monotonic() + _SETTLE_DEADLINE
            while any(_unresolved(path) for path in self.journals.values()):
                if time.monotonic() > deadline:  # bounded: recovery retries every second
                    raise ChaosInvariantError("journal transfers still unresolved (stuck)")
                await asyncio.sleep(0.2)
        finally:
            codes = [await asyncio.to_thread(agent.stop) for agent in agents]
        if any(code != 0 for code in codes):
            raise ChaosInvariantError(f"an agent did not stop cleanly: exit codes {codes}")


def _unresolved(path: Path) -> int:
    """How many transfers the journal at ``path`` still has to resolve (read beside the agent)."""
    with Journal(path) as journal:
        return len(journal.unresolved_transfers())


def check_outcomes(attempts: list[Attempt], verdict: Verdict) -> dict[str, int]:
    """The ATM applications' record against ``check_transfers``' verdict; the outcome counts.

    The ledger against the journals (settled, audited once, agreeing) is the
    one consistency checker's (``consistency.check_transfers``); this adds
    what only this scenario knows: each attempt has its own amount, so at
    most one authorisation per (terminal, amount), identity-verified, and
    committed exactly when the application dispensed.

    Raises:
        ChaosInvariantError: which invariant failed, for which transfer.
    """
    fail: Callable[[str], ChaosInvariantError] = ChaosInvariantError
    journal_of = {op.authorization_id: op.journal for op in verdict.operations}
    by_transfer: dict[tuple[str, int], LedgerRow] = {}
    for row in verdict.ledger.values():
        if (row.terminal_id, row.amount_yen) in by_transfer:
            raise fail(f"{row.terminal_id} ¥{row.amount_yen:,}: authorised twice")
        by_transfer[(row.terminal_id, row.amount_yen)] = row
    counts = {"committed": 0, "reversed": 0, "not_authorised": 0}
    for a in attempts:
        found = by_transfer.pop((a.terminal, a.amount), None)
        if found is None:
            if a.dispensed or a.completion == tpb.COMPLETION_CODE_SUCCESS:
                raise fail(f"{a.request_id}: cash moved but the verifier has no transfer (lost)")
            counts["not_authorised"] += 1
            continue
        auth, state = found.authorization_id, found.state.name
        committed = found.state is TransferState.COMMITTED
        if not found.identity_verified:
            raise fail(f"{auth}: over the threshold without identity verification")
        if committed != bool(a.dispensed):
            raise fail(f"{a.request_id} / {auth}: ledger {state}, dispensed {a.dispensed}")
        if a.completion == tpb.COMPLETION_CODE_SUCCESS and not committed:
            raise fail(f"{a.request_id}: completed successfully but {state}")
        if journal_of.get(auth) != a.terminal:
            where = journal_of.get(auth)
            raise fail(f"{auth}: settled in the journal of {where!r}, not {a.terminal}")
        counts["committed" if committed else "reversed"] += 1
    if by_transfer:
        raise fail(f"transfers at the verifier nobody asked for: {sorted(by_transfer)[:3]}")
    return counts


def _check_balance(campaign: _Campaign) -> dict[str, dict[str, int]]:
    served = {r.name: r.served() for r in campaign.replicas}
    total = sum(s["calls"] for s in served.values())
    for name, s in served.items():
        if s["calls"] < 0.1 * total:
            raise ChaosInvariantError(f"replica {name} served {s['calls']} of {total} calls")
    first = campaign.before_kill
    if sum(first) >= 6 and min(first) < 0.35 * sum(first):
        raise ChaosInvariantError(f"not balanced while both replicas were up: {first}")
    for index, calls, done in campaign.revived:  # the channels found each restarted replica
        # again; only a fair question when enough transfers were left after it listened (on
        # a loaded machine its start-up can outlast the rest of the run).
        left = len(campaign.attempts) - done
        if left >= _REVIVAL_CHECK_MIN and campaign.replicas[index].served()["calls"] <= calls:
            raise ChaosInvariantError(
                f"replica {'AB'[index]} served nothing in the {left} transfers after its "
                f"restart; timeline: {campaign.timeline}"
            )
    return served


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run ``count`` transfers against two replicas under the seeded faults; returns figures.

    Raises:
        ChaosInvariantError: a transfer was lost, doubled, stuck or disagrees.
        FileNotFoundError: PostgreSQL is not installed.
    """
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 - replayable fault schedule, not crypto
    workdir.mkdir(parents=True, exist_ok=True)
    trust = prepare_trust(workdir)
    with postgres_cluster() as cluster:
        database = cluster.new_database()
        with open_storage(database):  # migrate once, before the replicas race to
            pass
        replicas = [VerifierReplica(name, workdir, trust, database) for name in "AB"]
        campaign = _Campaign(rng, count, workdir, trust, cluster, replicas)
        try:
            for replica in replicas:
                replica.start()
            asyncio.run(campaign.run())
        finally:
            for replica in replicas:
                replica.stop()
        ledger = open_ledger(database)
    with contextlib.ExitStack() as opened:
        journals = {t: opened.enter_context(Journal(p)) for t, p in campaign.journals.items()}
        verdict = check_transfers(ledger, journals)
    counts = check_outcomes(campaign.attempts, verdict)
    served = _check_balance(campaign)
    return {
        "transfers": count,
        "terminals": len(TERMINALS),
        **counts,
        "rpcs_per_replica": {name: s["calls"] for name, s in served.items()},
        "rpcs_per_replica_before_kill": dict(zip("AB", campaign.before_kill, strict=False)),
        "replica_kills": sum(r.kills for r in replicas),
        "postgres_restarts": cluster.restarts,
        "postgres_down_seconds_max": round(max(campaign.pg_down, default=0.0), 2),
        "grpc_retries_served": sum(s["retries"] for s in served.values()),
        "unavailable_answers": sum(s["unavailable"] for s in served.values()),
        "busy_refusals": sum(a.busy for a in campaign.attempts),
        "timeline": campaign.timeline,
        "seconds": round(time.monotonic() - started, 1),
    }
