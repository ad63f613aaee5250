# SPDX-License-Identifier: Apache-2.0
"""Timing profiles: read back to the same model, hostile files refused; sim:// loads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.errors import InvalidReaderUrlError
from host.transport import open_transport
from host.transport.sim import parse_sim_url
from hw_sim.card.apdu_log import ApduLogEntry
from hw_sim.card.timing import (
    ChipTimes,
    LinkTiming,
    default_link,
    exchange_seconds,
    modelled_seconds,
    use_default_link,
)
from hw_sim.card.timing_profile import (
    FitError,
    TimingProfile,
    TimingProfileError,
    dump_profile,
    load_profile,
    parse_profile,
)

MEASURED = LinkTiming(
    frame_delay_s=0.003,
    byte_s=0.0001,
    chip=ChipTimes(default_s=0.001, by_ins={0xA4: 0.001, 0xB0: 0.002}, per_read_byte_s=5e-6),
)
PROFILE = TimingProfile(
    link=MEASURED,
    fit=FitError(samples=9, max_abs_error_s=0.0002, rms_error_s=0.0001),
    measured={"reader": "test", "kind": "simulator", "clock": "model"},
    unconfirmed=frozenset({0x2A}),
)
SELECT = ApduLogEntry(bytes.fromhex("00A4040C0AD392F000260100000001"), 15, 2, 0x9000, 0.0, 0.0)


def write(tmp_path: Path, profile: TimingProfile = PROFILE) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(dump_profile(profile), encoding="utf-8")
    return path


def test_a_profile_reads_back_to_the_same_model(tmp_path: Path) -> None:
    loaded = load_profile(write(tmp_path))
    assert loaded.link == MEASURED
    assert loaded.fit == PROFILE.fit
    assert loaded.unconfirmed == {0x2A}
    assert loaded.measured["clock"] == "model"


def test_a_measured_per_byte_time_replaces_the_air_formula() -> None:
    # 17 bytes at 0.1 ms, the fixed 3 ms and the chip's 1 ms for SELECT.
    assert exchange_seconds(SELECT, MEASURED) == pytest.approx(0.003 + 0.001 + 17 * 0.0001)


def test_the_default_model_is_swapped_only_inside_the_block() -> None:
    built_in = modelled_seconds([SELECT])
    with use_default_link(MEASURED):
        assert default_link() is MEASURED
        assert modelled_seconds([SELECT]) == pytest.approx(0.0057)
    assert modelled_seconds([SELECT]) == built_in != pytest.approx(0.0057)


def test_an_air_model_is_not_written_as_a_profile() -> None:
    with pytest.raises(ValueError, match="byte_s"):
        dump_profile(TimingProfile(link=LinkTiming(), fit=PROFILE.fit))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(extra=1),
        lambda d: d["link"].update(byte_s=-1),
        lambda d: d["link"].update(byte_s=1e9),
        lambda d: d["chip"]["by_ins"].update(ZZ=0.1),
        lambda d: d.update(version=2),
        lambda d: d["fit"].update(samples=0),
        lambda d: d["measured"].update(kind="guess"),
        lambda d: d.pop("chip"),
    ],
)
def test_a_bad_profile_is_refused(tmp_path: Path, change: object) -> None:
    data = json.loads(dump_profile(PROFILE))
    change(data)  # type: ignore[operator]
    with pytest.raises(TimingProfileError):
        parse_profile(json.dumps(data).encode())


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff", b"[" * 60_000, b'{"link": NaN}', b"1e999", b"{" + b" " * 70_000 + b"}"],
)
def test_hostile_bytes_are_a_typed_refusal(raw: bytes) -> None:
    with pytest.raises(TimingProfileError):
        parse_profile(raw)


def test_sim_url_takes_a_timing_profile(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert parse_sim_url(f"sim://?timing={path}").timing == path
    with pytest.raises(InvalidReaderUrlError):
        parse_sim_url("sim://?timing=")
    with open_transport(f"sim://?persist=0&timing={path}") as transport:
        assert transport.timing == MEASURED  # type: ignore[attr-defined]
    with open_transport("sim://?persist=0") as transport:
        assert transport.timing == LinkTiming()  # type: ignore[attr-defined]


def test_a_bad_timing_file_fails_the_open(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidReaderUrlError, match="timing"):
        open_transport(f"sim://?persist=0&timing={bad}")
