# SPDX-License-Identifier: Apache-2.0
"""The flow-split hooks: time is charged to the right part, the rest passes through."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, cast

import pytest

from host.client import VerifierClient
from hw_sim.card.apdu_log import ApduLogEntry
from myna_edge.bench.flow_split import SPLIT_PARTS, Spent, TimedClient, split


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """perf_counter advances by exactly one second per reading."""
    ticks = itertools.count()
    monkeypatch.setattr("myna_edge.bench.flow_split.time.perf_counter", lambda: float(next(ticks)))


@pytest.mark.usefixtures("clock")
def test_sync_and_async_hooks_charge_their_part() -> None:
    spent = Spent()
    assert spent.seconds == {"card": 0.0, "link": 0.0, "verifier": 0.0}
    assert spent.timed("card", lambda x: x * 2)(21) == 42

    async def rpc() -> str:
        return "answer"

    assert asyncio.run(spent.timed_async("verifier", rpc)()) == "answer"
    assert spent.seconds == {"card": 1.0, "link": 0.0, "verifier": 1.0}
    spent.reset()
    assert spent.seconds == {"card": 0.0, "link": 0.0, "verifier": 0.0}


@pytest.mark.usefixtures("clock")
def test_a_failing_call_is_still_charged() -> None:
    spent = Spent()

    def boom() -> None:
        raise RuntimeError("boom")

    with contextlib.suppress(RuntimeError):
        spent.timed("link", boom)()
    assert spent.seconds["link"] == 1.0


class _FakeClient:
    target = "127.0.0.1:1"

    async def verify_card(self, x: int) -> int:
        return x + 1

    async def reachable(self) -> bool:
        return True


@pytest.mark.usefixtures("clock")
def test_timed_client_charges_rpcs_only() -> None:
    spent = Spent()
    client: Any = TimedClient(cast(VerifierClient, _FakeClient()), spent)
    assert client.target == "127.0.0.1:1"
    assert asyncio.run(client.reachable()) is True
    assert spent.seconds["verifier"] == 0.0  # not an RPC a flow awaits
    assert asyncio.run(client.verify_card(1)) == 2
    assert spent.seconds["verifier"] == 1.0


def test_split_means_add_up_to_the_mean_wall() -> None:
    entries: list[ApduLogEntry] = []
    runs = [
        (0.010, entries, {"card": 0.004, "link": 0.0, "verifier": 0.003, "host": 0.003}),
        (0.020, entries, {"card": 0.006, "link": 0.002, "verifier": 0.005, "host": 0.007}),
    ]
    out = split(runs)
    assert out["mean_wall_ms"] == 15.0
    assert out["time_split_ms"] == {"card": 5.0, "link": 1.0, "verifier": 4.0, "host": 5.0}
    shares = out["time_split_share_of_wall"]
    assert isinstance(shares, dict)
    assert list(shares) == list(SPLIT_PARTS)
    assert abs(sum(shares.values()) - 1) < 1e-9
