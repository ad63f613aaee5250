# SPDX-License-Identifier: Apache-2.0
"""The verifier benchmark's load generator: its figures and its failure handling.

The full path (a spawned client process against real servers) is smoke-run
by ``test_bench_verifier.py``; here: the per-run figures are computed from
what was timed, and a load process that cannot reach its server fails the
run promptly with the reason instead of hanging.
"""

from __future__ import annotations

import asyncio

import pytest

from myna_edge.bench.verifier_load import LoadSpec, drive, drive_from_child


def test_drive_times_every_call_and_applies_littles_law() -> None:
    seen: list[int] = []

    async def call(request: int) -> None:
        await asyncio.sleep(0.001)
        seen.append(request)

    figures = asyncio.run(drive(call, list(range(40)), 4))
    assert sorted(seen) == list(range(40))
    assert figures["calls"] == 40
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    # 4 in flight: the mean latency is 4 / throughput.
    assert figures["littles_law_mean_ms"] == pytest.approx(
        4 / figures["per_second"] * 1000, rel=0.01
    )


def test_a_load_process_that_fails_reports_why() -> None:
    spec = LoadSpec(
        port=1, echo_port=1, ca_pem=b"", key_pem=b"", certificate_pem=b"",
        auth_key_pem=b"not a key", sign_key_pem=b"", auth_der=b"", sign_der=b"", calls=1,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="load process failed"):
        drive_from_child(spec, storage=None, timeout=60)
