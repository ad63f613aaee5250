# SPDX-License-Identifier: Apache-2.0
"""Reader-path benchmarks: pcsc:// and libnfc:// against bare baselines.

Each group pairs our transport with the bare library loop on the same card
in the same run (pytest-benchmark shows the ratio), and the APDU counts are
exact, from the virtual card's log: our certificate read over pcsc:// is
the protocol minimum (3 APDUs, extended length), and never more than what
OpenSC needs for the same certificate after its probing. Under ``make
test`` each body runs once (``--benchmark-disable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from host.card import KeyKind, MynaCard
from host.card.constants import SELECT_JPKI
from host.card.selection import tracker_for
from host.transport import open_transport
from hw_sim.card import VirtualCard
from hw_sim.readers.bench import (
    bare_libnfc_select,
    bare_pyscard_select,
    count_apdus,
    opensc_certificate_read,
)
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, pn532_stack, require

__all__ = ["pcsc_stack", "pn532_stack"]


@pytest.fixture(scope="module")
def pcsc_card(pcsc_stack: PcscRig) -> Iterator[VirtualCard]:
    with pcsc_stack.card() as card:
        yield card


@pytest.fixture(scope="module")
def nfc_card(pn532_stack: Pn532Rig) -> Iterator[VirtualCard]:
    with pn532_stack.card() as card:
        yield card


@pytest.mark.benchmark(group="pcsc-per-apdu")
def test_pcsc_baseline_bare_pyscard(benchmark: Any, pcsc_card: VirtualCard) -> None:
    work, close = bare_pyscard_select()
    try:
        code, response = benchmark(work)
    finally:
        close()
    assert (code, response) == (0, [0x90, 0x00])


@pytest.mark.benchmark(group="pcsc-per-apdu")
def test_pcsc_transport(benchmark: Any, pcsc_card: VirtualCard) -> None:
    with open_transport(PCSC_URL) as transport:
        assert benchmark(lambda: transport.transmit(SELECT_JPKI)) == b"\x90\x00"


@pytest.mark.benchmark(group="libnfc-per-apdu")
def test_libnfc_baseline_bare(benchmark: Any, pn532_stack: Pn532Rig, nfc_card: VirtualCard) -> None:
    work, close = bare_libnfc_select(pn532_stack.pty.connstring)
    try:
        assert benchmark(work) == b"\x90\x00"
    finally:
        close()


@pytest.mark.benchmark(group="libnfc-per-apdu")
def test_libnfc_transport(benchmark: Any, pn532_stack: Pn532Rig, nfc_card: VirtualCard) -> None:
    with open_transport(pn532_stack.url) as transport:
        assert benchmark(lambda: transport.transmit(SELECT_JPKI)) == b"\x90\x00"


def test_pcsc_certificate_read_is_minimal_and_beats_opensc(pcsc_card: VirtualCard) -> None:
    with open_transport(PCSC_URL) as transport:
        driver = MynaCard(transport)
        ours = count_apdus(pcsc_card, lambda: driver.read_certificate(KeyKind.AUTH))
    assert ours.apdus == 3
    assert ours.read_binaries == 1
    opensc = opensc_certificate_read(pcsc_card)
    require(isinstance(opensc, dict), f"OpenSC could not run: {opensc}")
    assert isinstance(opensc, dict)
    assert ours.apdus <= opensc["apdus_after_probing"] < opensc["apdus_total"]


def test_libnfc_certificate_read_is_chunked_and_no_worse_than_opensc(
    pn532_stack: Pn532Rig, nfc_card: VirtualCard, pcsc_card: VirtualCard
) -> None:
    with open_transport(pn532_stack.url) as transport:
        driver = MynaCard(transport)
        assert not transport.capabilities.extended_length  # libnfc caps answers at 263 bytes
        der = driver.read_certificate(KeyKind.AUTH).public_bytes(Encoding.DER)
        tracker_for(transport).forget()  # count from nothing selected, as a fresh session
        ours = count_apdus(nfc_card, lambda: driver.read_certificate(KeyKind.AUTH))
    assert ours.read_binaries == 1 + -(-(len(der) - 7) // 256)  # 7-byte header, 256-byte chunks
    assert ours.apdus == 2 + ours.read_binaries  # SELECT AP, SELECT EF, the reads
    opensc = opensc_certificate_read(pcsc_card)  # OpenSC reads short APDUs everywhere
    require(isinstance(opensc, dict), f"OpenSC could not run: {opensc}")
    assert isinstance(opensc, dict)
    assert ours.apdus <= opensc["apdus_after_probing"]
