# SPDX-License-Identifier: Apache-2.0
"""Chaos "replicas" in CI: two verifier processes on one PostgreSQL, a kill, a database restart.

The bounded run is the same code as ``myna-edge chaos replicas``: 120
identity-verified transfers from two terminals, two replica kills (each
replica restarted later) and two PostgreSQL restarts; it raises when any
transfer is lost, doubled, stuck or disagrees between the ledger, the
journals and the ATM applications, or when the load was not balanced.
The invariant checker itself is shown to catch each kind of violation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from myna.edge.v1 import terminal_pb2 as tpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.consistency import LedgerRow, Operation, Verdict
from myna_edge.chaos.pgcluster import PG_BIN
from myna_edge.chaos.replicas.scenario import Attempt, check_outcomes, run_scenario
from tests.prerequisites import missing_prerequisite
from verifier.codes import TransferState

SEED = 20261127
COUNT = 120
COMMITTED, REVERSED = TransferState.COMMITTED, TransferState.REVERSED
SUCCESS = tpb.COMPLETION_CODE_SUCCESS


def test_transfers_end_exactly_once_across_replica_kills_and_database_restarts(
    tmp_path: Path,
) -> None:
    if not (PG_BIN / "initdb").exists():
        missing_prerequisite(f"PostgreSQL binaries not found in {PG_BIN}")
    figures = run_scenario(SEED, COUNT, tmp_path)
    assert figures["transfers"] == COUNT
    outcomes = [figures[k] for k in ("committed", "reversed", "not_authorised")]
    assert sum(outcomes) == COUNT  # type: ignore[arg-type]
    assert figures["committed"] > 0  # type: ignore[operator]
    assert figures["reversed"] > 0  # type: ignore[operator]
    assert figures["replica_kills"] == 2
    assert figures["postgres_restarts"] == 2
    # the faults met traffic: calls answered UNAVAILABLE, retried by gRPC on a replica
    assert figures["unavailable_answers"] > 0  # type: ignore[operator]
    assert figures["grpc_retries_served"] > 0  # type: ignore[operator]
    served: dict[str, int] = figures["rpcs_per_replica"]  # type: ignore[assignment]
    assert set(served) == {"A", "B"}
    assert min(served.values()) > 0


# -- the checker catches what it must --------------------------------------------------


def _row(auth: str, terminal: str, amount: int, state: TransferState) -> LedgerRow:
    return LedgerRow(auth, terminal, amount, state, identity_verified=True)


def _world() -> tuple[list[Attempt], Verdict]:
    """A consistent outcome: what ``check_transfers`` hands on after its own checks."""
    attempts = [
        Attempt(0, "atm-01", 100_001, True, "r0", SUCCESS, True),
        Attempt(1, "atm-02", 100_002, False, "r1", tpb.COMPLETION_CODE_CANCELED, False),
        Attempt(2, "atm-01", 100_003, True, "r2", tpb.COMPLETION_CODE_HARDWARE_ERROR, None),
    ]
    ledger = {
        "aut-0": _row("aut-0", "atm-01", 100_001, COMMITTED),
        "aut-1": _row("aut-1", "atm-02", 100_002, REVERSED),
    }
    operations = (
        Operation("atm-01", "op-0", "r0", "aut-0"),
        Operation("atm-02", "op-1", "r1", "aut-1"),
    )
    return attempts, Verdict(ledger, operations, journal_entries=8)


def test_the_checker_accepts_a_consistent_world() -> None:
    counts = check_outcomes(*_world())
    assert counts == {"committed": 1, "reversed": 1, "not_authorised": 1}


def _twice(v: Verdict) -> None:
    v.ledger["aut-9"] = _row("aut-9", "atm-01", 100_001, REVERSED)


def _reversed_but_dispensed(v: Verdict) -> None:
    v.ledger["aut-0"] = _row("aut-0", "atm-01", 100_001, REVERSED)


def _unverified(v: Verdict) -> None:
    v.ledger["aut-0"] = dataclasses.replace(v.ledger["aut-0"], identity_verified=False)


def _other_journal(v: Verdict) -> Verdict:
    moved = Operation("atm-01", "op-1", "r1", "aut-1")  # atm-02's transfer, atm-01's journal
    return dataclasses.replace(v, operations=(v.operations[0], moved))


def _unasked(v: Verdict) -> None:
    v.ledger["aut-7"] = _row("aut-7", "atm-02", 5, REVERSED)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_twice, "twice"),
        (_reversed_but_dispensed, "dispensed"),
        (lambda v: v.ledger.pop("aut-0"), "lost"),
        (_other_journal, "journal of 'atm-01', not atm-02"),
        (_unverified, "identity"),
        (_unasked, "nobody asked"),
    ],
)
def test_the_checker_refuses_each_violation(
    spoil: Callable[[Verdict], object], message: str
) -> None:
    # Stuck transfers, audit counts and journal disagreement are the shared checker's:
    # tests/unit/myna_edge/test_chaos_consistency.py shows those refused.
    attempts, verdict = _world()
    spoiled = spoil(verdict)
    with pytest.raises(ChaosInvariantError, match=message):
        check_outcomes(attempts, spoiled if isinstance(spoiled, Verdict) else verdict)


# -- the small parts ---------------------------------------------------------------------


def test_ports_are_picked_below_the_ephemeral_range() -> None:
    from myna_edge.chaos.pgcluster import free_port

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(10_000 <= port < low for port in ports)  # a restarted server gets its port back


def test_the_agent_process_refuses_a_bad_config(tmp_path: Path) -> None:
    from myna_edge.chaos.replicas.agent import main

    bad = tmp_path / "terminal.toml"
    bad.write_text('profile = "bank"\n', encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
