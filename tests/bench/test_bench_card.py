# SPDX-License-Identifier: Apache-2.0
"""Card-layer benchmarks (pytest-benchmark; ``make bench`` prints the table).

Timings are grouped so that pytest-benchmark's table shows each row as a
ratio to the fastest in its group, which is the baseline measured in the same
run: the virtual card's engine called directly, for the per-APDU overhead of
the host stack. APDU and byte counts are exact (from the card's APDU log) and
are asserted against the protocol's minimum, since they do not depend on the
machine. Under ``make test`` (``--benchmark-disable``) each body runs once,
so the suite cannot rot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from host.card import KeyKind, MynaCard, ReadStrategy
from host.transport.sim import SimTransport
from hw_sim.card import get_profile
from myna_edge.bench.card import (
    MINIMUM_APDUS_PER_FILE,
    card_session,
    channel_select,
    measure_apdu_cost,
    raw_card_select,
    read_auth_certificate,
    read_basic_four,
    transport_select,
)

PIN = get_profile("default").text_pin


@pytest.fixture
def extended() -> Iterator[SimTransport]:
    with card_session() as transport:
        yield transport


@pytest.fixture
def short_only() -> Iterator[SimTransport]:
    with card_session(extended=False) as transport:
        yield transport


@pytest.mark.benchmark(group="per-apdu")
def test_per_apdu_baseline_raw_card(benchmark: Any, extended: SimTransport) -> None:
    response = benchmark(raw_card_select(extended.virtual_card))
    assert response == b"\x90\x00"


@pytest.mark.benchmark(group="per-apdu")
def test_per_apdu_transport(benchmark: Any, extended: SimTransport) -> None:
    assert benchmark(transport_select(extended)) == b"\x90\x00"


@pytest.mark.benchmark(group="per-apdu")
def test_per_apdu_host_stack(benchmark: Any, extended: SimTransport) -> None:
    response = benchmark(channel_select(extended))
    assert response.sw == 0x9000  # type: ignore[attr-defined]


@pytest.mark.benchmark(group="read-auth-cert")
def test_read_auth_cert_extended(benchmark: Any, extended: SimTransport) -> None:
    card = MynaCard(extended, read_strategy=ReadStrategy.EXTENDED)
    cost = measure_apdu_cost(extended, read_auth_certificate(card))
    benchmark.extra_info.update(apdus=cost.apdus, bytes=cost.total_bytes)
    assert cost.apdus == MINIMUM_APDUS_PER_FILE
    benchmark(read_auth_certificate(card))


@pytest.mark.benchmark(group="read-auth-cert")
def test_read_auth_cert_chunked(benchmark: Any, short_only: SimTransport) -> None:
    card = MynaCard(short_only, read_strategy=ReadStrategy.CHUNKED)
    cost = measure_apdu_cost(short_only, read_auth_certificate(card))
    benchmark.extra_info.update(apdus=cost.apdus, bytes=cost.total_bytes)
    # OpenSC needs SELECT AP + SELECT EF + a 4-byte header read + ceil(size/256)
    # reads (jpki-card.md §7); ours must not need more.
    size = len(card.read_certificate(KeyKind.AUTH).public_bytes(Encoding.DER))
    opensc = 3 + -(-size // 256)
    assert cost.apdus <= opensc
    benchmark(read_auth_certificate(card))


@pytest.mark.benchmark(group="read-auth-cert")
def test_read_auth_cert_sized(benchmark: Any, extended: SimTransport) -> None:
    card = MynaCard(extended, read_strategy=ReadStrategy.SIZED)
    cost = measure_apdu_cost(extended, read_auth_certificate(card))
    benchmark.extra_info.update(apdus=cost.apdus, bytes=cost.total_bytes)
    # Header probe + one exact extended read: no filler crosses the link.
    assert cost.apdus == MINIMUM_APDUS_PER_FILE + 1
    size = len(card.read_certificate(KeyKind.AUTH).public_bytes(Encoding.DER))
    assert cost.response_bytes == size + 2 * cost.apdus
    benchmark(read_auth_certificate(card))


@pytest.mark.benchmark(group="read-basic-four")
def test_read_basic_four_extended(benchmark: Any, extended: SimTransport) -> None:
    card = MynaCard(extended, read_strategy=ReadStrategy.EXTENDED)
    cost = measure_apdu_cost(extended, read_basic_four(card, PIN))
    benchmark.extra_info.update(apdus=cost.apdus, bytes=cost.total_bytes)
    info = benchmark(read_basic_four(card, PIN))
    assert info.integrity.hashes_ok  # type: ignore[attr-defined]


@pytest.mark.benchmark(group="read-basic-four")
def test_read_basic_four_chunked(benchmark: Any, short_only: SimTransport) -> None:
    card = MynaCard(short_only, read_strategy=ReadStrategy.CHUNKED)
    cost = measure_apdu_cost(short_only, read_basic_four(card, PIN))
    benchmark.extra_info.update(apdus=cost.apdus, bytes=cost.total_bytes)
    info = benchmark(read_basic_four(card, PIN))
    assert info.integrity.hashes_ok  # type: ignore[attr-defined]
