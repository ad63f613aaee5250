# SPDX-License-Identifier: Apache-2.0
"""Chaos scenario "rolling-restart": each of two verifier replicas restarted in turn under load.

What it proves (issue 16, item 5): a rolling restart, as an operator rolls
a new version (SIGTERM one replica, wait for it to exit, start it again,
then the next), fails no call and doubles nothing. On SIGTERM a verifier
reports NOT_SERVING on ``grpc.health.v1``, keeps serving for
``shutdown_drain_seconds`` while the agents' channels (round robin with
client-side health checking, ``host.client.channel``) move their new calls
to the other replica, then refuses new calls, finishes the ones in flight
and exits 0.

The world is the replicas scenario's (``scenario``): two ``myna-edge
verifier`` processes (``--workers 1``) on one PostgreSQL, two agent
processes with their journals and channels to both replicas, the ATM
application per terminal in this process. Every transfer here is
dispensed, so each must complete with SUCCESS and be COMMITTED exactly
once: a failed call that the agent had to recover from would show as a
non-success completion, a doubled one as two authorisations (the same
checks as ``scenario.check_outcomes`` and ``consistency.check_transfers``).
Figures include what the replicas' access logs say: UNAVAILABLE answers
and gRPC retry attempts served (both expected 0: no attempt was refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from host.journal import Journal
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.consistency import check_transfers, open_ledger
from myna_edge.chaos.pgcluster import PostgresCluster, postgres_cluster
from myna_edge.chaos.replicas.scenario import (
    TERMINALS,
    Attempt,
    _Campaign,
    _transfer,
    check_outcomes,
)
from myna_edge.chaos.replicas.stack import Trust, VerifierReplica, prepare_trust
from myna_edge.chaos.stack import stop_process
from verifier.storage import open_storage

__all__ = ["run_scenario"]

_log = logging.getLogger(__name__)

#: Transfers done after a restarted replica served again, before the next restart.
_AFTER: Final = 10
_CALL: Final = " /myna.edge.v1.VerifierService/"
_BY: Final = re.compile(r"verifier\.core: \w+ \w+ by ([\w.-]+):")
#: Bound on the whole roll, seconds (a replica starts in about a second).
_ROLL_DEADLINE: Final = 240.0


def _terminals_served(replica: VerifierReplica, skip: int) -> set[str]:
    """Terminals whose calls ``replica`` served after its first ``skip`` calls.

    Why wait for every terminal, not just any call: each agent's channel
    reconnects to a restarted replica on its own back-off (up to about a
    second); restarting the next replica before then would leave that agent
    only a draining one. An operator waits the same way (docs/operators.md).
    """
    seen: set[str] = set()
    calls = 0
    for line in replica.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if _CALL in line:
            calls += 1
        elif calls > skip and (match := _BY.search(line)) is not None:
            seen.add(match[1])
    return seen


class _Rolling(_Campaign):
    """The replicas campaign with its faults replaced by a rolling restart.

    The terminals keep transferring until both replicas have been restarted
    and each has served again after its restart (the load spans the whole
    roll), and at least ``count`` transfers are done.
    """

    def __init__(
        self,
        rng: random.Random,
        count: int,
        *,
        workdir: Path,
        trust: Trust,
        cluster: PostgresCluster,
        replicas: list[VerifierReplica],
    ) -> None:
        super().__init__(rng, count, workdir, trust, cluster, replicas)
        self.events = []
        self.minimum = count
        self.base = self.attempts[0].amount
        self.attempts = []
        self.rolled = False
        self.restarts: list[dict[str, object]] = []

    async def _terminal(self, name: str, stub: tpb_grpc.TerminalServiceAsyncStub) -> None:
        while not (self.rolled and self.done >= self.minimum):  # bounded by _chaos's deadline
            index = len(self.attempts)
            attempt = Attempt(index, name, self.base + index, True)  # every one dispensed
            self.attempts.append(attempt)
            await _transfer(stub, attempt)
            self.done += 1

    async def _until(self, predicate: Callable[[], bool], deadline: float, what: str) -> None:
        while not predicate():
            if time.monotonic() > deadline:
                raise ChaosInvariantError(f"{what}; timeline: {self.timeline}")
            await asyncio.sleep(0.05)

    async def _chaos(self) -> None:
        deadline = time.monotonic() + _ROLL_DEADLINE
        try:
            await self._until(lambda: self.done >= self.minimum // 4, deadline, "no load")
            for index, replica in enumerate(self.replicas):
                await self._restart(replica)
                calls, done = replica.served()["calls"], self.done
                self.revived.append((index, calls, done))
                # Back in service: it served calls again, and the load went on a while.
                await self._until(
                    lambda r=replica, c=calls, d=done: (  # type: ignore[misc]
                        _terminals_served(r, c) == set(TERMINALS) and self.done >= d + _AFTER
                    ),
                    deadline,
                    f"replica {replica.name} got no calls after its restart",
                )
        finally:
            self.rolled = True

    async def _restart(self, replica: VerifierReplica) -> None:
        began, at = time.monotonic(), self.done
        calls = [r.served()["calls"] for r in self.replicas]
        process = replica.process
        assert process is not None
        # SIGTERM by PID; it drains and exits (SIGKILL only past the bound).
        code = await asyncio.to_thread(stop_process, process, 15.0)
        stopped = time.monotonic()
        await asyncio.to_thread(replica.start)
        self.timeline.append(f"restart {replica.name}@{at}:{calls}")
        self.restarts.append(
            {
                "replica": replica.name,
                "exit_code": code,
                "drain_seconds": round(stopped - began, 2),
                "down_seconds": round(time.monotonic() - stopped, 2),
                "transfers_during": self.done - at,
                "at_transfer": at,
            }
        )


def _figures(campaign: _Rolling, started: float) -> dict[str, object]:
    served = {r.name: r.served() for r in campaign.replicas}
    failed = [a for a in campaign.attempts if a.completion != tpb.COMPLETION_CODE_SUCCESS]
    return {
        "transfers": len(campaign.attempts),
        "transfers_during_restarts": sum(
            int(str(r["transfers_during"])) for r in campaign.restarts
        ),
        "terminals": len(TERMINALS),
        "failed": len(failed),
        "rpcs_per_replica": {name: s["calls"] for name, s in served.items()},
        "unavailable_answers": sum(s["unavailable"] for s in served.values()),
        "grpc_retries_served": sum(s["retries"] for s in served.values()),
        "busy_refusals": sum(a.busy for a in campaign.attempts),
        "restarts": campaign.restarts,
        "seconds": round(time.monotonic() - started, 1),
    }


def _check(campaign: _Rolling, figures: dict[str, object], counts: dict[str, int]) -> None:
    if figures["failed"]:
        bad = [a for a in campaign.attempts if a.completion != tpb.COMPLETION_CODE_SUCCESS]
        raise ChaosInvariantError(
            f"{len(bad)} transfers did not succeed, first {bad[0].request_id}: "
            f"{tpb.CompletionCode.Name(tpb.CompletionCode.ValueType(bad[0].completion))}"
        )
    if counts["committed"] != len(campaign.attempts):
        raise ChaosInvariantError(f"committed {counts['committed']} of {len(campaign.attempts)}")
    for restart in campaign.restarts:
        if restart["exit_code"] != 0:
            raise ChaosInvariantError(f"replica {restart['replica']} did not drain: {restart}")
    if [r["replica"] for r in campaign.restarts] != ["A", "B"]:
        raise ChaosInvariantError(f"the roll did not complete: {campaign.timeline}")


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run ``count`` transfers while each replica is restarted in turn; returns figures.

    Raises:
        ChaosInvariantError: a transfer failed, was doubled, lost or stuck, a
            replica did not exit 0 on SIGTERM, or was not used after its restart.
        FileNotFoundError: PostgreSQL is not installed.
    """
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 - replayable, not crypto
    workdir.mkdir(parents=True, exist_ok=True)
    trust = prepare_trust(workdir)
    with postgres_cluster() as cluster:
        database = cluster.new_database()
        with open_storage(database):  # migrate once, before the replicas race to
            pass
        replicas = [VerifierReplica(name, workdir, trust, database) for name in "AB"]
        campaign = _Rolling(
            rng, count, workdir=workdir, trust=trust, cluster=cluster, replicas=replicas
        )
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
    counts = check_outcomes(campaign.attempts, verdict)  # doubled or lost: raises
    figures = _figures(campaign, started)
    _check(campaign, figures, counts)
    _log.info("rolling restart: %s", figures)
    return {**figures, **counts, "timeline": campaign.timeline}
