# SPDX-License-Identifier: Apache-2.0
"""Chaos "rolling-restart" in CI: two replicas restarted in turn under continuous transfers.

The bounded run is the same code as ``myna-edge chaos rolling-restart``: 60
dispensed transfers from two terminals while replica A, then replica B, is
sent SIGTERM, drains and is started again. It raises when any transfer did
not succeed, was doubled, lost or stuck, when a replica did not exit 0, or
when a restarted replica got no calls afterwards. The figures are printed
(``-s``) for the report.
"""

from __future__ import annotations

import json
from pathlib import Path

from myna_edge.chaos.pgcluster import PG_BIN
from myna_edge.chaos.replicas.rolling import run_scenario
from tests.prerequisites import missing_prerequisite

SEED = 20261207
COUNT = 60


def test_a_rolling_restart_fails_and_doubles_nothing(tmp_path: Path) -> None:
    if not (PG_BIN / "initdb").exists():
        missing_prerequisite(f"PostgreSQL binaries not found in {PG_BIN}")
    figures = run_scenario(SEED, COUNT, tmp_path)
    print(json.dumps(figures, indent=1))  # the figures are the report
    assert figures["transfers"] >= COUNT
    assert figures["failed"] == 0
    assert figures["committed"] == figures["transfers"]
    assert figures["transfers_during_restarts"] > 0  # type: ignore[operator]
    restarts: list[dict[str, object]] = figures["restarts"]  # type: ignore[assignment]
    assert [r["replica"] for r in restarts] == ["A", "B"]
    assert all(r["exit_code"] == 0 for r in restarts)
    served: dict[str, int] = figures["rpcs_per_replica"]  # type: ignore[assignment]
    assert min(served.values()) > 0
    # nobody was refused: the draining replica was left before it closed
    assert figures["unavailable_answers"] == 0
    assert figures["grpc_retries_served"] == 0  # no attempt failed, so none was retried
