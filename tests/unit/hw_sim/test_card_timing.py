# SPDX-License-Identifier: Apache-2.0
"""The contactless timing model prices exchanges by bytes, frames and chip time."""

from __future__ import annotations

import pytest

from hw_sim.card.apdu_log import ApduLogEntry
from hw_sim.card.timing import ChipTimes, LinkTiming, exchange_seconds, modelled_seconds


def entry(command: bytes, response_length: int) -> ApduLogEntry:
    return ApduLogEntry(command, len(command), response_length, 0x9000, 0.0, 0.0)


SELECT = entry(bytes.fromhex("00A4040C0AD392F000260100000001"), 2)
SIGN = entry(bytes.fromhex("802A0080") + bytes(52), 258)


def test_one_byte_costs_eleven_etu_at_106_kbps() -> None:
    link = LinkTiming()
    one = link.air_seconds(1)
    two = link.air_seconds(2)
    assert two - one == pytest.approx(11 * 128 / 13_560_000)


def test_faster_link_means_less_air_time_but_same_chip_time() -> None:
    slow, fast = LinkTiming(bit_rate_kbps=106), LinkTiming(bit_rate_kbps=424)
    # One frame (no chaining acknowledgements): air time scales with the bit rate.
    assert fast.air_seconds(200) == pytest.approx(slow.air_seconds(200) / 4)
    chip_only = ChipTimes().by_ins[0x2A]
    assert exchange_seconds(SIGN, fast) > chip_only
    assert exchange_seconds(SIGN, slow) > exchange_seconds(SIGN, fast)


def test_long_apdus_are_chained_and_acknowledged() -> None:
    link = LinkTiming(frame_size=64)
    unchained = LinkTiming(frame_size=4096)
    assert link.air_seconds(2000) > unchained.air_seconds(2000)


def test_read_binary_pays_per_byte_and_signature_dominates() -> None:
    link = LinkTiming()
    short_read = entry(bytes.fromhex("00B0000004"), 6)
    long_read = entry(bytes.fromhex("00B0000000"), 258)
    assert exchange_seconds(long_read, link) > exchange_seconds(short_read, link)
    assert modelled_seconds([SELECT, SIGN]) > modelled_seconds([SELECT] * 20)


def test_bad_link_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bit_rate"):
        LinkTiming(bit_rate_kbps=100)
    with pytest.raises(ValueError, match="frame_size"):
        LinkTiming(frame_size=3)
