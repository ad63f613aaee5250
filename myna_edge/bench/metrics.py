# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench verifier``: VerifyCard throughput with Prometheus metrics on vs off.

Why a separate server on the same rig: the issue's budget is a ratio (metrics
on >= 0.97x off, issue 16), so both servers run in this process on the same
loop thread, with the same trust, TLS and load process, alternating runs
(off, on, on, off...) so the machine's noise hits both. The metered server
has its own SQLite file (two storages in one process must not share one) and
serves ``/metrics`` on a free loopback port, which nobody scrapes during the
run: the cost measured is the counting, as in production between scrapes.
Each run is also divided by the echo ceiling of the same run, which cancels
the machine's drift between runs.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from pathlib import Path
from typing import Any

from myna_edge.bench import verifier as bench_verifier
from myna_edge.bench.verifier import BenchRig
from myna_edge.bench.verifier_load import CONCURRENCY, drive_from_child
from myna_metrics import MetricsConfig
from verifier.server import VerifierServer, build_core

__all__ = ["metrics_overhead", "verifier_suite_with_metrics"]


def verifier_suite_with_metrics(rounds: int) -> dict[str, object]:
    """``verifier_suite`` plus ``metrics`` (on vs off), as ``myna-edge bench verifier`` runs it.

    Why here: ``bench.SUITES`` names this function, so the verifier suite
    stays as it is and the metrics figures join the same run's report.
    """
    return {**bench_verifier.verifier_suite(rounds), "metrics": metrics_overhead(rounds)}


def metrics_overhead(rounds: int, repeats: int = 4) -> dict[str, object]:
    """VerifyCard at 32 in flight, metrics off and on, ``repeats`` alternating runs each.

    Returns the medians (calls/s), ``verify_metrics_on_vs_off_at_32`` (raw)
    and ``..._vs_echo`` (each run over its own echo ceiling).
    """
    top = CONCURRENCY[-1]
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="myna-bench-metrics-") as folder:
        rig = BenchRig(Path(folder))
        config = dataclasses.replace(
            rig.config,
            database=f"sqlite:///{Path(folder) / 'metered.sqlite'}",
            metrics=MetricsConfig("127.0.0.1:0"),
        )
        core = build_core(config)
        metered = VerifierServer(config, core)
        try:
            port = rig._run(metered.start())
            spec = dataclasses.replace(rig.load_spec(max(rounds, 1) * 100), levels=(top,))
            servers = ((rig.port, rig.core.storage, off), (port, core.storage, on))
            for index in range(repeats):
                # off-on, then on-off: neither always runs on a warmer machine
                for target, storage, out in servers[:: 1 if index % 2 == 0 else -1]:
                    figures, _ = drive_from_child(dataclasses.replace(spec, port=target), storage)
                    verify = figures[f"verify_card_{top}"]["per_second"]
                    out.append((verify, verify / figures[f"echo_{top}"]["per_second"]))
        finally:
            rig._run(metered.stop(1.0))
            rig.close()

    def median(runs: list[tuple[float, float]], index: int) -> float:
        return statistics.median(run[index] for run in runs)

    report: dict[str, Any] = {
        "verify_per_second_metrics_off_at_32": round(median(off, 0), 1),
        "verify_per_second_metrics_on_at_32": round(median(on, 0), 1),
        "verify_metrics_on_vs_off_at_32": round(median(on, 0) / median(off, 0), 3),
        "verify_metrics_on_vs_off_at_32_vs_echo": round(median(on, 1) / median(off, 1), 3),
        "runs_each": repeats,
    }
    return report
