# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench latency``: per-call latency distributions against bare baselines.

Why distributions as well as the other suites' medians: a transport can
match its baseline at the median and still add a tail (a lock, a wake-up, a
retry) that only p99 shows. Each path is timed call by call, its baseline
and our layers taking turns in small blocks so that noise from elsewhere on
a shared machine hits both alike:

- ``sim``: SELECT through the ``sim://`` transport and through the whole
  host APDU stack, against the virtual card's engine called directly;
- ``pcsc``: the ``pcsc://`` transport against a bare pyscard
  ``SCardTransmit`` loop on the same pcscd, vpcd and card;
- ``libnfc``: the ``libnfc://`` transport against bare libnfc transceive on
  the same PN532 emulator;
- ``link``: one small ECHO through the controller firmware (MicroPython unix
  port on a pty) against a bare pty echo of the same bytes.

The workloads are the other suites' own (``myna_edge.bench``,
``hw_sim.readers.bench``, ``hw_sim.devices.bench``); a path that cannot run
on this machine reports why instead of a figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Final

from host.card.constants import SELECT_JPKI
from host.transport import open_transport
from hw_sim.devices.bench import (
    SMALL_PAYLOAD,
    echo_baseline,
    echo_round_trip_bytes,
    firmware_round_trip,
    firmware_session,
)
from hw_sim.readers.bench import bare_libnfc_select, bare_pyscard_select
from hw_sim.readers.stack import PCSC_URL, PcscRig, Pn532Rig
from myna_edge.bench.card import card_session, channel_select, raw_card_select, transport_select

__all__ = ["PATHS", "LatencySet", "collect_latency", "latency_suite", "percentile"]

#: Calls per series in one block; the series of a path take turns block by block.
BLOCK: Final = 40
_WARM_UP: Final = 20

Work = Callable[[], object]


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples`` (``fraction`` in 0..1)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass(frozen=True)
class LatencySet:
    """One path's per-call samples in µs: the baseline first, then our layers."""

    path: str
    baseline: str
    series: dict[str, list[float]]

    def summary(self) -> dict[str, object]:
        """p50/p99 of every series, and our layers' as ratios to the baseline's."""
        base = self.series[self.baseline]
        base50, base99 = statistics.median(base), percentile(base, 0.99)
        out: dict[str, object] = {
            "baseline": self.baseline,
            "samples_per_series": len(base),
            "baseline_p50_us": round(base50, 2),
            "baseline_p99_us": round(base99, 2),
        }
        for label, samples in self.series.items():
            if label == self.baseline:
                continue
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            out[label] = {
                "p50_us": round(p50, 2),
                "p99_us": round(p99, 2),
                "p50_over_baseline": round(p50 / base50, 3),
                "p99_over_baseline": round(p99 / base99, 3),
            }
        return out


def _sample(series: dict[str, Work], rounds: int) -> dict[str, list[float]]:
    """Per-call µs of each workload, in turns of ``BLOCK`` calls, after a warm-up."""
    for work in series.values():
        for _ in range(_WARM_UP):
            work()
    samples: dict[str, list[float]] = {label: [] for label in series}
    clock = time.perf_counter
    for _ in range(rounds):
        for label, work in series.items():
            into = samples[label]
            for _ in range(BLOCK):
                started = clock()
                work()
                into.append((clock() - started) * 1e6)
    return samples


@contextmanager
def _closing(pair: tuple[Work, Callable[[], None]]) -> Iterator[Work]:
    work, close = pair
    try:
        yield work
    finally:
        close()


def _sim(rounds: int) -> LatencySet:
    with card_session() as transport:
        series: dict[str, Work] = {
            "virtual card engine (direct)": raw_card_select(transport.virtual_card),
            "sim:// transport": transport_select(transport),
            "host APDU stack over sim://": channel_select(transport),
        }
        return LatencySet("sim", "virtual card engine (direct)", _sample(series, rounds))


def _pcsc(rounds: int) -> LatencySet:
    with ExitStack() as stack:
        rig = stack.enter_context(PcscRig(busy_wait=120))
        stack.enter_context(rig.card())
        # Both handles shared, so the two loops can take turns on one card.
        bare = stack.enter_context(_closing(bare_pyscard_select(shared=True)))
        transport = stack.enter_context(open_transport(PCSC_URL + "&share=shared"))
        series: dict[str, Work] = {
            "bare pyscard SCardTransmit": bare,
            "pcsc:// transport": lambda: transport.transmit(SELECT_JPKI),
        }
        return LatencySet("pcsc", "bare pyscard SCardTransmit", _sample(series, rounds))


def _libnfc(rounds: int) -> LatencySet:
    with ExitStack() as stack:
        rig = stack.enter_context(Pn532Rig())
        stack.enter_context(rig.card())
        # Two libnfc handles on one pty take turns: the emulator serves one frame at a time.
        bare = stack.enter_context(_closing(bare_libnfc_select(rig.pty.connstring)))
        transport = stack.enter_context(open_transport(rig.url))
        series: dict[str, Work] = {
            "bare libnfc transceive": bare,
            "libnfc:// transport": lambda: transport.transmit(SELECT_JPKI),
        }
        return LatencySet("libnfc", "bare libnfc transceive", _sample(series, rounds))


def _link(rounds: int) -> LatencySet:
    up, down = echo_round_trip_bytes(SMALL_PAYLOAD)
    baseline = f"bare pty echo ({up + down} B)"
    with echo_baseline() as echo, firmware_session() as board:
        series: dict[str, Work] = {
            baseline: echo.round_trip(bytes(up + down)),
            "controller firmware ECHO": firmware_round_trip(board),
        }
        return LatencySet("link", baseline, _sample(series, rounds))


#: The paths, in report order.
PATHS: Final[dict[str, Callable[[int], LatencySet]]] = {
    "sim": _sim,
    "pcsc": _pcsc,
    "libnfc": _libnfc,
    "link": _link,
}


def collect_latency(rounds: int) -> dict[str, LatencySet | str]:
    """Every path's samples (``rounds`` blocks each); a path that cannot run says why."""
    out: dict[str, LatencySet | str] = {}
    for name, path in PATHS.items():
        try:
            out[name] = path(max(1, rounds))
        except Exception as error:  # noqa: BLE001 - a missing service is a figure, not a crash
            out[name] = f"unavailable: {error}"
    return out


def latency_suite(rounds: int) -> dict[str, object]:
    """The bench suite: p50/p99 per path and layer, as ratios to the bare baseline."""
    return {
        name: found if isinstance(found, str) else found.summary()
        for name, found in collect_latency(rounds).items()
    }
