# SPDX-License-Identifier: Apache-2.0
"""Calibration on the simulator: fit → profile file → load → the model matches what was measured.

No wall clock anywhere: the ``model`` clock takes each exchange's time from
the simulator's timing model in force, so the assertions are on the fit's
own stated error, never on how fast this machine is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.card import KeyKind, MynaCard, ReadStrategy
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card import get_profile
from hw_sim.card.timing import ChipTimes, LinkTiming, modelled_seconds
from hw_sim.card.timing_profile import FitError, TimingProfile, dump_profile, load_profile
from myna_edge.bench.hil.calibrate import (
    ClockKind,
    ProbeKind,
    calibrate,
    fit,
    predicted_seconds,
    write_calibration,
)
from myna_edge.bench.hil.plan import SafetyStopError
from myna_edge.cli import main

#: A linear "card" the fit's model family contains exactly.
KNOWN = LinkTiming(
    frame_delay_s=0.004,
    byte_s=0.00012,
    chip=ChipTimes(
        default_s=0.0,
        by_ins={0xA4: 0.0, 0xB0: 0.003, 0x20: 0.020, 0x2A: 0.400},
        per_read_byte_s=6e-6,
    ),
)
ROUNDS = 2


def _silent(_: str) -> None:
    pass


def _known_profile(tmp_path: Path) -> Path:
    path = tmp_path / "known.json"
    fit_error = FitError(samples=1, max_abs_error_s=0.0, rms_error_s=0.0)
    measured = {"reader": "a linear test card", "kind": "simulator", "clock": "model"}
    profile = TimingProfile(link=KNOWN, fit=fit_error, measured=measured)
    path.write_text(dump_profile(profile), encoding="utf-8")
    return path


def test_the_fit_recovers_a_linear_card_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_PIN", get_profile("default").auth_pin)
    url = f"sim://?persist=0&timing={_known_profile(tmp_path)}"
    result = calibrate(url, rounds=ROUNDS, pin_env="BENCH_PIN", clock=ClockKind.MODEL, out=_silent)
    link = result.profile.link
    assert link.byte_s == pytest.approx(KNOWN.byte_s)
    assert link.frame_delay_s == pytest.approx(KNOWN.frame_delay_s)
    assert link.chip.per_read_byte_s == pytest.approx(KNOWN.chip.per_read_byte_s)
    for ins in (0xA4, 0xB0, 0x20, 0x2A):
        assert link.chip.by_ins[ins] == pytest.approx(KNOWN.chip.by_ins[ins], abs=1e-12)
    assert result.profile.fit.max_abs_error_s == pytest.approx(0.0, abs=1e-12)
    assert not result.profile.unconfirmed & {0xA4, 0xB0, 0x20, 0x2A}
    assert {s.kind for s in result.samples} == set(ProbeKind)


def test_a_profile_measured_on_the_simulator_round_trips(tmp_path: Path) -> None:
    # The built-in model chains frames, which no straight line fits: a real, non-zero error.
    result = calibrate("sim://?persist=0", rounds=ROUNDS, clock=ClockKind.MODEL, out=_silent)
    stated = result.profile.fit
    assert stated.max_abs_error_s > 0
    path = tmp_path / "profile.json"
    write_calibration(result, path)
    loaded = load_profile(path)
    assert loaded.link == result.profile.link
    assert loaded.fit == stated
    assert {0x20, 0x2A} <= loaded.unconfirmed  # no --pin-env: VERIFY and signing kept built-in
    work = [s for s in result.samples if s.kind is not ProbeKind.ABSENT_SELECT]
    for sample in work:
        assert (
            abs(predicted_seconds(sample, loaded.link) - sample.seconds) <= stated.max_abs_error_s
        )
    assert stated.rms_error_s <= stated.max_abs_error_s


def test_the_loaded_profile_prices_other_work_within_the_stated_error(tmp_path: Path) -> None:
    result = calibrate("sim://?persist=0", rounds=1, clock=ClockKind.MODEL, out=_silent)
    path = tmp_path / "profile.json"
    write_calibration(result, path)
    with open_transport(f"sim://?persist=0&extended=0&timing={path}") as transport:
        assert isinstance(transport, SimTransport)
        card = transport.virtual_card
        card.apdu_log.clear()
        MynaCard(transport, read_strategy=ReadStrategy.CHUNKED).read_certificate(KeyKind.AUTH)
        entries = card.apdu_log.entries
    measured = modelled_seconds(entries, LinkTiming())
    modelled = modelled_seconds(entries, transport.timing)
    assert len(entries) > 3
    assert abs(modelled - measured) <= len(entries) * result.profile.fit.max_abs_error_s


def test_the_fit_needs_both_kinds_of_probe() -> None:
    with pytest.raises(ValueError, match="probes"):
        fit([])


def test_calibration_stops_on_a_low_counter_before_any_probe() -> None:
    with pytest.raises(SafetyStopError, match="below"):
        calibrate("sim://auth-last-try?persist=0", rounds=1, clock=ClockKind.MODEL, out=_silent)


def test_calibration_with_an_unset_pin_variable_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_PIN", raising=False)
    with pytest.raises(SafetyStopError, match="not set"):
        calibrate("sim://?persist=0", rounds=1, pin_env="NO_SUCH_PIN", out=_silent)


def test_the_wall_clock_gives_a_loadable_profile(tmp_path: Path) -> None:
    lines: list[str] = []
    result = calibrate("sim://?persist=0", rounds=1, out=lines.append)
    assert "Plan:" in lines[0]
    assert "no VERIFY with a PIN" in lines[0]
    assert result.profile.measured["clock"] == "wall"
    path = tmp_path / "wall.json"
    write_calibration(result, path)
    assert load_profile(path).link == result.profile.link


def _card_ms(capsys: pytest.CaptureFixture[str], *extra: str) -> float:
    assert main(["bench", "card", "--rounds", "1", "--json", *extra]) == 0
    figures = json.loads(capsys.readouterr().out)
    return float(figures["card"]["auth_certificate"]["extended"]["card_ms_106k"])


def test_bench_timing_swaps_the_model_of_the_simulator_suites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built_in = _card_ms(capsys)
    profiled = _card_ms(capsys, "--timing", str(_known_profile(tmp_path)))
    entry_free = KNOWN.frame_delay_s + KNOWN.chip.by_ins[0xA4]  # a SELECT, no bytes
    assert profiled != built_in
    assert profiled > 3 * entry_free * 1000  # three exchanges at least 4 ms each


def test_calibrate_needs_a_reader(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "calibrate"]) == 2
    assert "--reader" in capsys.readouterr().err
