# SPDX-License-Identifier: Apache-2.0
"""The issuance bench suite (issue 14): the issue flow, render + sign, throughput vs VerifyCard.

No timing is asserted: the figures must be there, add up, and count exactly
what the suite says it ran (card commands, documents, VerifyCard calls).
The suite at one round is also the bench's own check that it cannot rot.
The ``issuance`` group (pytest-benchmark) times one document through the
centre against one VerifyCard on the same centre; the document's render +
sign against the unsigned page is ``test_bench_document``'s group.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from host.client.issuance import IssuanceClient
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.bench.issuance import ISSUE_MINIMUM_COMMANDS, issuance_suite, payment_seconds
from myna_edge.bench.issuance_load import IssuanceRig, issue_one, resident_record_fee
from myna_edge.bench.issuance_rows import issuance_rows
from myna_edge.loop_thread import LoopThread

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return issuance_suite(1)


def test_the_issue_flow_is_at_the_protocol_minimum_and_split(report: dict[str, Any]) -> None:
    flow = report["issue_flow"]
    assert flow["minimum_commands"] == ISSUE_MINIMUM_COMMANDS == 8
    assert flow["card_commands"] == 8  # the proof's 8: a driver change shows here
    assert flow["commands_vs_minimum"] == 1
    assert 0 < flow["terminal_software_share_of_total"] < flow["software_share_of_total"] < 1
    split = flow["time_split_ms"]
    assert split["card"] > 0
    assert split["verifier"] > 0  # the centre's calls (and the municipality's rendering)
    assert split["link"] == 0  # no receipt printer in this flow
    assert abs(sum(split.values()) - flow["mean_wall_ms"]) < 0.01  # rounding only
    assert "excluded" in flow["payment_and_printing"]
    # The payment device's modelled time was awaited, measured and taken out;
    # the request ran (partly or wholly) while the fee went in.
    assert flow["payment_device_ms"] >= payment_seconds(1) * 1000 * 0.99
    assert 0 <= flow["request_hidden_by_payment_ms"] <= flow["request_ms"]
    assert flow["request_hidden_by_payment_ms"] > 0


def test_render_and_sign_against_the_unsigned_page(report: dict[str, Any]) -> None:
    document = report["document"]
    assert document["pairs"] == 1
    assert document["unsigned_render_ms"] > 0
    assert document["render_and_sign_ms"] > 0
    ratio = document["render_and_sign_ms"] / document["unsigned_render_ms"]
    assert abs(document["render_and_sign_over_unsigned"] - ratio) < 0.01


def test_throughput_counts_what_it_ran_at_one_and_a_few_in_flight(report: dict[str, Any]) -> None:
    throughput = report["throughput"]
    assert throughput["blocks"] == 1
    for level in (1, 4):
        run = throughput[str(level)]
        assert run["issuance"]["calls"] == level  # one document per caller at one round
        assert run["verify_card"]["calls"] == 40 * level
        ratio = run["issuance"]["per_second"] / run["verify_card"]["per_second"]
        assert run["issuance_over_verify_card"] == pytest.approx(ratio, rel=0.05)
        steps = run["mean_ms_per_call"]
        assert set(steps) == {"open_session", "prove_card", "request_document", "confirm_printed"}
        assert all(value > 0 for value in steps.values())


def test_every_row_of_the_run_names_its_baseline(report: dict[str, Any]) -> None:
    rows = list(issuance_rows(report))
    assert len(rows) == 3 + 1 + 2
    assert all(row.ratio is not None and row.baseline for row in rows)


async def _client(rig: IssuanceRig) -> IssuanceClient:
    return IssuanceClient(rig.client)


@pytest.fixture(scope="module")
def centre(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LoopThread, IssuanceRig, Any]]:
    thread = LoopThread()
    rig = thread.run(IssuanceRig.start(tmp_path_factory.mktemp("bench-issuance")))
    client = thread.run(_client(rig))  # grpc.aio: made on the loop that uses it
    try:
        yield thread, rig, client
    finally:
        thread.run(client.close())
        thread.run(rig.stop())
        thread.close()


@pytest.mark.benchmark(group="issuance")
def test_bench_one_document_through_the_centre(benchmark: Any, centre: Any) -> None:
    """Open, prove, request (the municipality renders and signs), confirm printed."""
    thread, rig, client = centre
    fee = thread.run(resident_record_fee(rig, client))
    keys = iter(range(10**6))
    steps = benchmark(lambda: thread.run(issue_one(rig, client, fee, f"b-{next(keys)}")))
    assert set(steps) == {"open_session", "prove_card", "request_document", "confirm_printed"}


@pytest.mark.benchmark(group="issuance")
def test_bench_verify_card_on_the_same_centre(benchmark: Any, centre: Any) -> None:
    """The baseline of the group: one VerifyCard (session opened and signed ahead)."""
    thread, rig, _ = centre

    async def one() -> int:
        channel = rig.channel(rig.port)
        try:
            stub = pb_grpc.VerifierServiceStub(channel)
            request = (await rig.verify_requests(stub, 1))[0]
            response = await stub.VerifyCard(request)
            return int(response.reason)
        finally:
            await channel.close()

    assert benchmark(lambda: thread.run(one())) == pb.REASON_OK
