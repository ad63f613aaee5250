# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench verifier``: VerifyCard throughput with tracing at 1-in-100 vs off.

Same method as ``bench.metrics`` (issue 16's budget is a ratio: tracing on at
1-in-100 sampling >= 0.95x off): a second server in this process on the same
loop thread, trust, TLS and load process, its own SQLite file, alternating
runs (off, on, on, off...), each run also divided by its own echo ceiling.

The traced server runs ``ServerTracingInterceptor`` on every call with a
parent-based 1-in-100 ratio sampler (the load sends no ``traceparent``, so
the verifier decides, as a terminal would) and a batch span processor whose
exporter drops the spans: what is measured is the per-call cost in the
server (context extraction, the sampling decision, one span in a hundred
built and queued), not a collector's network.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from myna_edge.bench import metrics as bench_metrics
from myna_edge.bench.verifier import BenchRig
from myna_edge.bench.verifier_load import CONCURRENCY, drive_from_child
from myna_metrics.tracing import TracingConfig
from verifier.server import VerifierServer, build_core

__all__ = ["tracing_overhead", "verifier_suite_with_tracing"]

#: 1 in 100 traces kept, the issue's operating point.
SAMPLE_RATIO = 0.01


class _DroppingExporter(SpanExporter):
    """Counts the spans it is handed and sends them nowhere."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Count, drop."""
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def verifier_suite_with_tracing(rounds: int) -> dict[str, object]:
    """``verifier_suite_with_metrics`` plus ``tracing`` (1-in-100 vs off), in one run."""
    return {
        **bench_metrics.verifier_suite_with_metrics(rounds),
        "tracing": tracing_overhead(rounds),
    }


def tracing_overhead(rounds: int, repeats: int = 4) -> dict[str, object]:
    """VerifyCard at 32 in flight, tracing off and on (1 in 100), ``repeats`` runs each.

    Returns the medians (calls/s), ``verify_tracing_on_vs_off_at_32`` (raw),
    ``..._vs_echo`` (each run over its own echo ceiling) and the spans made.
    """
    top = CONCURRENCY[-1]
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    exporter = _DroppingExporter()
    with tempfile.TemporaryDirectory(prefix="myna-bench-tracing-") as folder:
        rig = BenchRig(Path(folder))
        config = dataclasses.replace(
            rig.config,
            database=f"sqlite:///{Path(folder) / 'traced.sqlite'}",
            tracing=TracingConfig(endpoint=None, sample_ratio=SAMPLE_RATIO),
        )
        core = build_core(config)
        traced = VerifierServer(config, core)
        assert traced.tracing.provider is not None  # tracing=... turned it on
        traced.tracing.provider.add_span_processor(BatchSpanProcessor(exporter))
        try:
            port = rig._run(traced.start())
            spec = dataclasses.replace(rig.load_spec(max(rounds, 1) * 100), levels=(top,))
            servers = ((rig.port, rig.core.storage, off), (port, core.storage, on))
            for index in range(repeats):
                # off-on, then on-off: neither always runs on a warmer machine
                for target, storage, out in servers[:: 1 if index % 2 == 0 else -1]:
                    figures, _ = drive_from_child(dataclasses.replace(spec, port=target), storage)
                    verify = figures[f"verify_card_{top}"]["per_second"]
                    out.append((verify, verify / figures[f"echo_{top}"]["per_second"]))
        finally:
            rig._run(traced.stop(1.0))
            rig.close()

    def median(runs: list[tuple[float, float]], index: int) -> float:
        return statistics.median(run[index] for run in runs)

    report: dict[str, Any] = {
        "verify_per_second_tracing_off_at_32": round(median(off, 0), 1),
        "verify_per_second_tracing_1in100_at_32": round(median(on, 0), 1),
        "verify_tracing_on_vs_off_at_32": round(median(on, 0) / median(off, 0), 3),
        "verify_tracing_on_vs_off_at_32_vs_echo": round(median(on, 1) / median(off, 1), 3),
        "spans_exported": exporter.spans,
        "runs_each": repeats,
    }
    return report
