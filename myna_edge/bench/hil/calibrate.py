# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench calibrate --reader URL``: measure a card and reader, fit the timing model.

Why: ``hw_sim.card.timing``'s chip constants are UNCONFIRMED (no public
source measures the card, jpki-card.md §7). This measures them, under the
same safety rules as every hardware run (a printed plan, counters read
first, no PIN without ``--pin-env``; ``bench.hil.plan``), and writes a
profile (``hw_sim.card.timing_profile``) the simulator loads with
``sim://?timing=FILE`` or ``myna-edge bench --timing FILE``.

Probes (each the median of ``rounds`` exchanges):

* SELECT of an absent application with 1 to 255 bytes of name: the card
  refuses it at once, so the time over its length is the link alone. Its
  intercept is the fixed time of one exchange (``link.exchange_s``, which
  thus includes the card's time to refuse a SELECT) and its slope the time
  per APDU byte (``link.byte_s``);
* SELECT of the JPKI application: what a real SELECT adds (``chip A4``);
* READ BINARY of the authentication certificate, by size: the chip's time
  per READ (``chip B0``) and per byte read (``per_read_byte_s``), after
  the link's share;
* with ``--pin-env`` only: VERIFY of the authentication PIN (``chip 20``)
  and COMPUTE DIGITAL SIGNATURE with the authentication key (``chip 2A``).

The fit is ordinary least squares, clamped at zero; its stated error is
the worst and the RMS difference between a workload probe's modelled time
(the profile's model, through ``exchange_seconds``) and its measured
median. The link probes' own residual is reported apart (``link_fit``).

Clocks: ``wall`` takes each exchange's time from the transport (the
backend's transmit, without the host stack); ``model`` (``sim://`` only)
takes it from the simulator's timing model in force, which makes the
fit → load → model round trip testable without timing the machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from host.card import MynaCard, PinKind
from host.card import commands as apdus
from host.card import constants as c
from host.card.pin_policy import normalize_pin
from host.secret import Secret
from host.transport import CardTransport, open_transport
from hw_sim.card.apdu_log import ApduLogEntry
from hw_sim.card.timing import ChipTimes, LinkTiming, exchange_seconds
from hw_sim.card.timing_profile import FitError, TimingProfile, dump_profile
from myna_edge.bench.hil.devices import device_kind, reader_identity
from myna_edge.bench.hil.plan import CardGuard, CardPlan, Phase, SafetyStopError, check_counters
from myna_edge.bench.hil.trace import ExchangeTrace

__all__ = [
    "ABSENT_AID_LENGTHS",
    "Calibration",
    "ClockKind",
    "ProbeKind",
    "Sample",
    "calibrate",
    "calibration_plan",
    "fit",
    "predicted_seconds",
    "read_sizes",
    "write_calibration",
]

#: Name lengths of the absent-application SELECT (5 + 255 = 260 bytes fits libnfc's 262).
ABSENT_AID_LENGTHS: Final = (1, 16, 64, 128, 200, 255)
#: No application's name starts with F0 (jpki-card.md §2: D3 92 … and A0 00 …).
_ABSENT_PREFIX: Final = 0xF0
_SHORT_READS: Final = (1, 32, 128, 200, 256)
_EXTENDED_READS: Final = (512, 1024, 1400)
_SW_OK: Final = 0x9000
_DIGEST: Final = hashlib.sha256(b"myna-edge bench calibrate").digest()


class ProbeKind(StrEnum):
    """What a sample measured."""

    ABSENT_SELECT = "absent_select"
    SELECT = "select"
    READ = "read"
    VERIFY = "verify"
    SIGN = "sign"


class ClockKind(StrEnum):
    """Where an exchange's time comes from (see the module docstring)."""

    WALL = "wall"
    MODEL = "model"


@dataclass(frozen=True)
class Sample:
    """One probe: its instruction, true lengths, and the median of its measured times."""

    kind: ProbeKind
    ins: int
    command_length: int
    response_length: int
    seconds: float


@dataclass(frozen=True)
class Calibration:
    """A finished calibration: the profile, the samples it was fitted to, the link's residual."""

    profile: TimingProfile
    samples: list[Sample]
    link_fit: FitError

    def profile_json(self) -> str:
        """The profile file's text."""
        return dump_profile(self.profile)


def read_sizes(transport: CardTransport) -> list[int]:
    """The READ BINARY sizes this reader path carries."""
    limit = transport.capabilities.max_response_bytes - 2
    sizes = list(_SHORT_READS)
    if transport.capabilities.extended_length:
        sizes += list(_EXTENDED_READS)
    return [size for size in sizes if size <= limit]


def calibration_plan(*, rounds: int, sizes: list[int], pin_env: str | None) -> CardPlan:
    """What calibration sends, printed before it starts."""
    n = f"x{rounds} each"
    plan = CardPlan(pin_env=pin_env)
    plan.add(
        Phase.PREFLIGHT, "SELECT application + PIN EF (3 secrets)", "00 A4 0x 0C ..", "x1 each"
    )
    plan.add(Phase.PREFLIGHT, "empty VERIFY (3 counters)", "00 20 00 80", "x1 each")
    lengths = "/".join(map(str, ABSENT_AID_LENGTHS))
    plan.add(Phase.READS, f"SELECT absent application, name {lengths} B", "00 A4 04 0C Lc F0 ..", n)
    plan.add(Phase.READS, "SELECT JPKI-AP", "00 A4 04 0C 0A D3 92 F0 ..", f"x{rounds}")
    plan.add(Phase.READS, "SELECT EF 000A (auth certificate)", "00 A4 02 0C 02 00 0A", "x1")
    plan.add(Phase.READS, f"READ BINARY Le {'/'.join(map(str, sizes))}", "00 B0 00 00 Le", n)
    if pin_env is not None:
        plan.add(
            Phase.PIN,
            "SELECT EF 0018, empty VERIFY, VERIFY auth PIN",
            "00 20 00 80 04 <PIN>",
            f"x{rounds}",
        )
        plan.add(
            Phase.PIN,
            "SELECT EF 0017, COMPUTE DIGITAL SIGNATURE",
            "80 2A 00 80 33 .. 00",
            f"x{rounds}",
        )
    return plan


Clock = Callable[[bytes], tuple[int, float]]


def _wall_clock(transport: CardTransport, trace: ExchangeTrace) -> Clock:
    def exchange(command: bytes) -> tuple[int, float]:
        response = transport.transmit(command)
        return int.from_bytes(response[-2:], "big"), trace.last().seconds

    return exchange


def _model_clock(transport: CardTransport) -> Clock:
    from host.transport.sim import SimTransport

    if not isinstance(transport, SimTransport):
        raise ValueError("the model clock needs a sim:// reader")

    def exchange(command: bytes) -> tuple[int, float]:
        response = transport.transmit(command)
        entry = transport.virtual_card.apdu_log.entries[-1]
        return int.from_bytes(response[-2:], "big"), exchange_seconds(entry, transport.timing)

    return exchange


def _probe(
    clock: Clock, kind: ProbeKind, command: bytes, rounds: int, trace: ExchangeTrace
) -> Sample:
    times = []
    for _ in range(rounds):
        _, seconds = clock(command)
        times.append(seconds)
    last = trace.last()
    return Sample(
        kind, command[1], last.command_length, last.response_length, statistics.median(times)
    )


def _measure(
    transport: CardTransport, clock: Clock, *, rounds: int, pin: bytes | None, trace: ExchangeTrace
) -> list[Sample]:
    samples = []
    for length in ABSENT_AID_LENGTHS:
        name = bytes([_ABSENT_PREFIX]) + bytes((0x4D,)) * (length - 1)
        samples.append(
            _probe(clock, ProbeKind.ABSENT_SELECT, apdus.select_aid(name).encode(), rounds, trace)
        )
    samples.append(
        _probe(clock, ProbeKind.SELECT, apdus.select_aid(c.JPKI_AID).encode(), rounds, trace)
    )
    clock(apdus.select_ef(c.FID_AUTH_CERT).encode())
    for size in read_sizes(transport):
        command = apdus.read_binary(0, size).encode()
        samples.append(_probe(clock, ProbeKind.READ, command, rounds, trace))
    if pin is not None:
        samples += _measure_pin(clock, rounds=rounds, pin=pin, trace=trace)
    return samples


def _measure_pin(clock: Clock, *, rounds: int, pin: bytes, trace: ExchangeTrace) -> list[Sample]:
    verify_times, sign_times = [], []
    verify, sign = (
        apdus.verify(pin).encode(),
        apdus.compute_signature(c.DIGEST_INFO_SHA256_PREFIX + _DIGEST).encode(),
    )
    lengths: dict[ProbeKind, tuple[int, int]] = {}
    for _ in range(rounds):
        clock(apdus.select_aid(c.JPKI_AID).encode())
        clock(apdus.select_ef(c.FID_AUTH_PIN).encode())
        sw, _ = clock(apdus.verify().encode())
        if sw != 0x63C0 | PinKind.AUTH.max_tries and sw != _SW_OK:
            raise SafetyStopError(f"the auth PIN counter answered {sw:04X}; stopped before VERIFY")
        sw, seconds = clock(verify)
        if sw != _SW_OK:
            raise SafetyStopError(f"VERIFY answered {sw:04X}: the PIN was refused; stopped at once")
        verify_times.append(seconds)
        lengths[ProbeKind.VERIFY] = (trace.last().command_length, trace.last().response_length)
        clock(apdus.select_ef(c.FID_AUTH_KEY).encode())
        sw, seconds = clock(sign)
        if sw != _SW_OK:
            raise SafetyStopError(f"COMPUTE DIGITAL SIGNATURE answered {sw:04X}; stopped")
        sign_times.append(seconds)
        lengths[ProbeKind.SIGN] = (trace.last().command_length, trace.last().response_length)
    return [
        Sample(ProbeKind.VERIFY, 0x20, *lengths[ProbeKind.VERIFY], statistics.median(verify_times)),
        Sample(ProbeKind.SIGN, 0x2A, *lengths[ProbeKind.SIGN], statistics.median(sign_times)),
    ]


def _line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares intercept and slope, both clamped at zero (one x: slope 0)."""
    xs = [x for x, _ in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    slope = max(0.0, slope)
    return max(0.0, mean_y - slope * mean_x), slope


def predicted_seconds(sample: Sample, link: LinkTiming) -> float:
    """What ``link`` says ``sample``'s exchange costs (as the simulator prices it)."""
    entry = ApduLogEntry(
        bytes((0, sample.ins, 0, 0)),
        sample.command_length,
        sample.response_length,
        _SW_OK,
        0.0,
        0.0,
    )
    return exchange_seconds(entry, link)


def _error(samples: list[Sample], link: LinkTiming) -> FitError:
    residuals = [predicted_seconds(s, link) - s.seconds for s in samples]
    return FitError(
        samples=len(samples),
        max_abs_error_s=max(abs(r) for r in residuals),
        rms_error_s=math.sqrt(statistics.fmean(r * r for r in residuals)),
    )


def fit(samples: list[Sample]) -> tuple[LinkTiming, FitError, FitError, frozenset[int]]:
    """Fit the model to ``samples``.

    Returns:
        (model, workload error, link-probe error, instructions left at their built-in value).

    Raises:
        ValueError: no absent-SELECT or no workload samples.
    """
    absent = [s for s in samples if s.kind is ProbeKind.ABSENT_SELECT]
    work = [s for s in samples if s.kind is not ProbeKind.ABSENT_SELECT]
    if not absent or not work:
        raise ValueError("calibration needs link probes and workload probes")
    exchange_s, byte_s = _line([(s.command_length + s.response_length, s.seconds) for s in absent])

    def rest(s: Sample) -> float:
        return s.seconds - exchange_s - byte_s * (s.command_length + s.response_length)

    built_in = ChipTimes()
    by_ins = dict(built_in.by_ins)
    measured: set[int] = set()
    per_read_byte_s = built_in.per_read_byte_s
    for kind in (ProbeKind.SELECT, ProbeKind.VERIFY, ProbeKind.SIGN):
        chosen = [s for s in work if s.kind is kind]
        if chosen:
            by_ins[chosen[0].ins] = max(0.0, statistics.fmean(rest(s) for s in chosen))
            measured.add(chosen[0].ins)
    reads = [s for s in work if s.kind is ProbeKind.READ]
    if reads:
        by_ins[0xB0], per_read_byte_s = _line([(s.response_length - 2, rest(s)) for s in reads])
        measured.add(0xB0)
    default_s = by_ins.get(0xA4, 0.0) if 0xA4 in measured else built_in.default_s
    chip = ChipTimes(default_s=default_s, by_ins=by_ins, per_read_byte_s=per_read_byte_s)
    link = LinkTiming(frame_delay_s=exchange_s, byte_s=byte_s, chip=chip)
    unconfirmed = frozenset(by_ins) - measured
    return link, _error(work, link), _error(absent, link), unconfirmed


def calibrate(
    url: str,
    *,
    rounds: int,
    pin_env: str | None = None,
    clock: ClockKind = ClockKind.WALL,
    out: Callable[[str], None] = print,
) -> Calibration:
    """Measure the card behind ``url`` and fit a profile (not written; see ``Calibration``).

    Raises:
        SafetyStopError: a counter below its maximum, a refused PIN, an
            unplanned command, or ``pin_env`` not set.
        TransportError, CardError: the reader or card failed.
    """
    if pin_env is not None and pin_env not in os.environ:
        raise SafetyStopError(f"--pin-env {pin_env}: that variable is not set")
    transport = open_transport(url)
    try:
        guard = CardGuard(pin_allowed=pin_env is not None).attach(transport)
        trace = ExchangeTrace().attach(transport)
        tick = (
            _model_clock(transport) if clock is ClockKind.MODEL else _wall_clock(transport, trace)
        )
        out(
            calibration_plan(rounds=rounds, sizes=read_sizes(transport), pin_env=pin_env).describe()
        )
        check_counters(MynaCard(transport), guard)
        guard.enter(Phase.READS)
        pin: bytes | None = None
        if pin_env is not None:
            guard.enter(Phase.PIN)
            with Secret.from_text(os.environ[pin_env]) as secret:
                pin = normalize_pin(PinKind.AUTH, secret)
        samples = _measure(transport, tick, rounds=rounds, pin=pin, trace=trace)
        pin = None
    finally:
        transport.close()
    link, error, link_error, unconfirmed = fit(samples)
    identity = reader_identity(transport)
    measured = {
        "reader": f"{identity['name']} ({identity['firmware']})",
        "atr": identity["atr"],
        "kind": device_kind(url),
        "clock": clock.value,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    profile = TimingProfile(link=link, fit=error, measured=measured, unconfirmed=unconfirmed)
    return Calibration(profile=profile, samples=samples, link_fit=link_error)


def write_calibration(calibration: Calibration, path: Path) -> None:
    """Write the profile file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration.profile_json(), encoding="utf-8")
