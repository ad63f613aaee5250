# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench card``: the card-layer workloads.

The workloads are defined once here and timed twice: by ``myna-edge bench``
(a quick report for operators, ratios only) and by the pytest-benchmark
suite in ``tests/bench`` (statistics, comparisons between runs). Every
figure is a ratio against a baseline measured in the same run, because these
machines are noisy: the per-APDU cost of the host stack against calling the
virtual card directly, and the APDUs and bytes the driver needs against the
protocol's minimum.

The suite registry is ``myna_edge.bench``; the command itself (suite
selection, the report folder, real devices) is ``myna_edge.bench.cli``,
which sits above this module and the report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from host.apdu import CommandApdu
from host.card import KeyKind, MynaCard, ReadStrategy
from host.card.constants import MINIMUM_APDUS_PER_FILE, SELECT_JPKI
from host.channel import ApduChannel
from host.secret import Secret
from host.transport import CardTransport, open_transport
from host.transport.sim import SimTransport
from hw_sim.card import VirtualCard, get_profile
from hw_sim.card.timing import modelled_seconds

__all__ = [
    "MINIMUM_APDUS_PER_FILE",
    "SELECT_JPKI",
    "ApduCost",
    "card_session",
    "card_suite",
    "channel_select",
    "measure_apdu_cost",
    "median_seconds",
    "raw_card_select",
    "read_auth_certificate",
    "read_basic_four",
    "transport_select",
]


@dataclass(frozen=True)
class ApduCost:
    """What one read cost on the wire, counted from the virtual card's log.

    ``card_ms_106k`` prices the same exchanges with ``hw_sim.card.timing``'s
    model of a 106 kbit/s contactless link and a typical chip (UNCONFIRMED
    constants): a comparison between strategies, not a prediction.
    """

    apdus: int
    command_bytes: int
    response_bytes: int
    card_ms_106k: float

    @property
    def total_bytes(self) -> int:
        """Bytes both ways."""
        return self.command_bytes + self.response_bytes


@contextmanager
def card_session(profile: str = "default", *, extended: bool = True) -> Iterator[SimTransport]:
    """An open ``sim://`` transport to a fresh, non-persistent card."""
    url = f"sim://{profile}?persist=0&extended={int(extended)}"
    with open_transport(url) as transport:
        assert isinstance(transport, SimTransport)
        yield transport


def measure_apdu_cost(transport: SimTransport, work: Callable[[], object]) -> ApduCost:
    """Run ``work`` once and count the APDUs and bytes the card saw."""
    card: VirtualCard = transport.virtual_card
    card.apdu_log.clear()
    work()
    entries = card.apdu_log.entries
    return ApduCost(
        apdus=len(entries),
        command_bytes=sum(e.command_length for e in entries),
        response_bytes=sum(e.response_length for e in entries),
        card_ms_106k=round(modelled_seconds(entries) * 1000, 1),
    )


def median_seconds(work: Callable[[], object], *, rounds: int, inner: int = 1) -> float:
    """Median wall time of ``work`` over ``rounds`` rounds of ``inner`` calls each."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(inner):
            work()
        samples.append((time.perf_counter() - started) / inner)
    return statistics.median(samples)


def raw_card_select(card: VirtualCard) -> Callable[[], bytes]:
    """Baseline: the virtual card's engine called directly."""
    return lambda: card.transmit(SELECT_JPKI)


def transport_select(transport: CardTransport) -> Callable[[], bytes]:
    """The transport layer: redaction, observers, wire logging checks."""
    return lambda: transport.transmit(SELECT_JPKI)


def channel_select(transport: CardTransport) -> Callable[[], object]:
    """The whole host APDU stack: encoding, transport, status-word check."""
    channel = ApduChannel(transport)
    command = CommandApdu(0x00, 0xA4, 0x04, 0x0C, SELECT_JPKI[5:], name="SELECT")
    return lambda: channel.send(command)


def read_auth_certificate(card: MynaCard) -> Callable[[], object]:
    """Read the authentication certificate (no PIN on a physical card)."""
    return lambda: card.read_certificate(KeyKind.AUTH)


def read_basic_four(card: MynaCard, pin: str) -> Callable[[], object]:
    """Verify the card-info PIN and read the basic four items."""

    def work() -> object:
        with Secret.from_text(pin) as secret:
            return card.read_card_info(secret)

    return work


def card_suite(rounds: int) -> dict[str, object]:
    """The card-layer figures: per-APDU overhead and APDUs/bytes per read."""
    pin = get_profile("default").text_pin
    with card_session() as transport:
        card = transport.virtual_card
        raw = median_seconds(raw_card_select(card), rounds=rounds, inner=50)
        via_transport = median_seconds(transport_select(transport), rounds=rounds, inner=50)
        via_channel = median_seconds(channel_select(transport), rounds=rounds, inner=50)
        driver = MynaCard(transport, read_strategy=ReadStrategy.EXTENDED)
        cert_ext = measure_apdu_cost(transport, read_auth_certificate(driver))
        four_ext = measure_apdu_cost(transport, read_basic_four(driver, pin))
        cert_ext_s = median_seconds(read_auth_certificate(driver), rounds=rounds)
        sized = MynaCard(transport, read_strategy=ReadStrategy.SIZED)
        cert_sized = measure_apdu_cost(transport, read_auth_certificate(sized))
    with card_session(extended=False) as transport:
        driver = MynaCard(transport, read_strategy=ReadStrategy.CHUNKED)
        cert_chunk = measure_apdu_cost(transport, read_auth_certificate(driver))
        four_chunk = measure_apdu_cost(transport, read_basic_four(driver, pin))
        cert_chunk_s = median_seconds(read_auth_certificate(driver), rounds=rounds)
    return {
        "per_apdu": {
            "baseline_raw_card_us": round(raw * 1e6, 2),
            "transport_over_raw": round(via_transport / raw, 2),
            "host_stack_over_raw": round(via_channel / raw, 2),
        },
        "auth_certificate": {
            "extended": asdict(cert_ext),
            "sized": asdict(cert_sized),
            "chunked_256": asdict(cert_chunk),
            "extended_apdus_over_minimum": round(cert_ext.apdus / MINIMUM_APDUS_PER_FILE, 2),
            "chunked_time_over_extended": round(cert_chunk_s / cert_ext_s, 2),
            "chunked_card_time_over_extended_106k": round(
                cert_chunk.card_ms_106k / cert_ext.card_ms_106k, 2
            ),
            "sized_card_time_over_extended_106k": round(
                cert_sized.card_ms_106k / cert_ext.card_ms_106k, 2
            ),
        },
        "basic_four": {"extended": asdict(four_ext), "chunked_256": asdict(four_chunk)},
    }
