# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench --reader URL --controller URL --printer URL``: the suites on real devices.

Why: the simulator suites say what the host stack costs; a
hardware-in-the-loop run says what a real reader, card, controller board
and receipt printer cost, through exactly the transports and drivers the
agent uses (``open_transport``, ``MynaCard``, ``Controller``,
``ReceiptPrinter``). Each given device gets the suite it allows:

* ``card`` (``--reader``): PIN counters (no try spent), token label,
  SELECT, the authentication certificate and its CA certificate read with
  the reader's strategy; with ``--pin-env NAME`` also VERIFY and COMPUTE
  DIGITAL SIGNATURE with the authentication key. The plan is printed first
  and enforced (``bench.hil.plan``);
* ``controller`` (``--controller``): handshake (firmware version, serial),
  STATUS, ECHO round trips of several sizes (the link's per-byte time);
* ``printer`` (``--printer``): its ``GS I`` identity and the real-time
  status round trip; it prints nothing.

The report names the devices and keeps figures apart: measured on
hardware, measured on the simulator (a ``sim://`` reader), and what the
simulator's timing model (built-in, or ``--timing FILE``) says the same
card exchanges would cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from host.card import KeyKind, MynaCard
from host.card.constants import SELECT_JPKI
from host.card.files import resolve_strategy
from host.errors import PinBlockedError, WrongPinError
from host.peripherals import Controller
from host.peripherals.printer import ReceiptPrinter
from host.secret import Secret
from host.transport import open_transport
from hw_sim.card.timing import default_link, use_default_link
from hw_sim.card.timing_profile import load_profile
from myna_edge.bench.hil.devices import device_kind, printer_identity, reader_identity
from myna_edge.bench.hil.plan import CardGuard, CardPlan, Phase, SafetyStopError, check_counters
from myna_edge.bench.hil.trace import Exchange, ExchangeTrace, median_ms, summarize

__all__ = ["ECHO_SIZES", "HilTargets", "card_plan", "render_markdown", "run_hil"]

#: ECHO payload sizes: enough spread for a per-byte slope (the link carries 240).
ECHO_SIZES: Final = (0, 64, 200)
_DIGEST: Final = hashlib.sha256(b"myna-edge bench: hardware in the loop").digest()


@dataclass(frozen=True)
class HilTargets:
    """The devices of a run and its options."""

    reader: str | None = None
    controller: str | None = None
    printer: str | None = None
    pin_env: str | None = None
    rounds: int = 10
    timing: Path | None = None


def card_plan(targets: HilTargets, *, chunked: bool) -> CardPlan:
    """The commands the card suite sends, for the plan printed before it starts."""
    n = f"x{targets.rounds}"
    reads = "7-byte header, then 256-byte chunks" if chunked else "one extended READ BINARY"
    plan = CardPlan(pin_env=targets.pin_env)
    for secret, fid in (
        ("auth PIN", "0018"),
        ("signing password", "001B"),
        ("card-info PIN", "0011"),
    ):
        plan.add(
            Phase.PREFLIGHT, f"SELECT application + {secret} EF", f"00 A4 0x 0C .. (EF {fid})", "x1"
        )
        plan.add(Phase.PREFLIGHT, f"empty VERIFY ({secret} counter)", "00 20 00 80", "x1")
    plan.add(Phase.READS, "SELECT JPKI-AP + EF 0006, READ BINARY (label)", "00 B0 00 00 20", "x1")
    plan.add(Phase.READS, "SELECT EF 0008, READ BINARY (which certs)", "00 B0 00 00 ..", "x1")
    plan.add(Phase.READS, "SELECT JPKI-AP (timed)", SELECT_JPKI.hex(" ").upper()[:29], n)
    plan.add(Phase.READS, f"read auth certificate EF 000A ({reads})", "00 A4 .. / 00 B0 ..", n)
    plan.add(Phase.READS, f"read auth CA certificate EF 000B ({reads})", "00 A4 .. / 00 B0 ..", n)
    if targets.pin_env is not None:
        plan.add(
            Phase.PIN, "SELECT EF 0018, empty VERIFY, VERIFY auth PIN", "00 20 00 80 04 <PIN>", n
        )
        plan.add(Phase.PIN, "SELECT EF 0017, COMPUTE DIGITAL SIGNATURE", "80 2A 00 80 33 .. 00", n)
    return plan


def _path_ms(exchanges: list[Exchange], ins: int) -> float:
    return median_ms([e.seconds for e in exchanges if e.ins == ins])


def _timed(
    work: Callable[[], object], rounds: int, trace: ExchangeTrace
) -> tuple[float, list[Exchange]]:
    """Median host time of ``work`` in ms, and the exchanges of its last round."""
    samples, last = [], []
    for _ in range(rounds):
        mark = trace.mark()
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
        last = trace.since(mark)
    return round(statistics.median(samples) * 1000, 3), last


def _card_suite(targets: HilTargets, out: Callable[[str], None], result: dict[str, object]) -> None:
    """Run the card suite, filling ``result`` as it goes (a stop keeps what was done).

    Keys: ``plan`` (rows), ``measured``, ``modelled``, ``reader`` (identity).
    """
    assert targets.reader is not None
    if targets.pin_env is not None and targets.pin_env not in os.environ:
        raise SafetyStopError(f"--pin-env {targets.pin_env}: that variable is not set")
    transport = open_transport(targets.reader)
    measured: dict[str, object] = {}
    modelled: dict[str, object] = {}
    result["measured"], result["modelled"] = measured, modelled
    try:
        guard = CardGuard(pin_allowed=targets.pin_env is not None).attach(transport)
        trace = ExchangeTrace().attach(transport)
        card = MynaCard(transport)
        strategy = resolve_strategy(card.channel, card.read_strategy)
        plan = card_plan(targets, chunked=strategy.value == "chunked")
        result["plan"] = plan.as_rows()
        out(plan.describe())
        measured["counters"] = check_counters(card, guard)
        guard.enter(Phase.READS)
        measured["token_label"] = card.token_label()
        measured["has_signing_certificate"] = card.has_certificate(KeyKind.SIGN)
        measured["read_strategy"] = strategy.value
        mark = trace.mark()
        for _ in range(targets.rounds):
            transport.transmit(SELECT_JPKI)
        measured["select_path_ms"] = _path_ms(trace.since(mark), 0xA4)
        for name, work in (
            ("auth_certificate", lambda: card.read_certificate(KeyKind.AUTH)),
            ("auth_ca_certificate", lambda: card.read_ca_certificate(KeyKind.AUTH)),
        ):
            host_ms, last = _timed(work, targets.rounds, trace)
            figures = summarize(last)
            modelled[name] = {"model_ms": figures.pop("model_ms"), "apdus": figures["apdus"]}
            measured[name] = {"host_ms": host_ms, **figures}
        if targets.pin_env is not None:
            guard.enter(Phase.PIN)
            mark = trace.mark()
            with Secret.from_text(os.environ[targets.pin_env]) as secret:
                try:
                    host_ms, last = _timed(
                        lambda: card.sign(KeyKind.AUTH, _DIGEST, secret), targets.rounds, trace
                    )
                except (WrongPinError, PinBlockedError) as exc:
                    raise SafetyStopError(
                        f"the PIN in ${targets.pin_env} was refused ({type(exc).__name__}); "
                        "stopped at once"
                    ) from None
            pin_exchanges = trace.since(mark)
            measured["verify_path_ms"] = _path_ms(
                [e for e in pin_exchanges if e.command_length > 5], 0x20
            )
            measured["sign_path_ms"] = _path_ms(pin_exchanges, 0x2A)
            figures = summarize(last)
            modelled["auth_sign"] = {"model_ms": figures.pop("model_ms"), "apdus": figures["apdus"]}
            measured["auth_sign"] = {"host_ms": host_ms, **figures}
        measured["commands_sent"] = {phase.value: count for phase, count in guard.sent.items()}
    finally:
        transport.close()
        result["reader"] = reader_identity(transport)


def _controller_suite(url: str, rounds: int) -> tuple[dict[str, object], dict[str, str]]:
    with Controller(url, timeout=2.0) as board:
        info = board.info
        assert info is not None
        status = board.status()
        identity = {
            "url": url,
            "kind": device_kind(url),
            "firmware": ".".join(map(str, info.firmware_version)),
            "protocol": str(info.protocol_version),
            "serial": info.serial,
            "commissioned": str(status.commissioned),
        }
        echo: dict[str, float] = {}
        for size in ECHO_SIZES:
            payload = bytes(range(size % 256)) if size else b""
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                board.echo(payload)
                samples.append(time.perf_counter() - started)
            echo[str(size)] = round(statistics.median(samples) * 1000, 3)
    low, high = ECHO_SIZES[0], ECHO_SIZES[-1]
    per_byte_us = (echo[str(high)] - echo[str(low)]) * 1000 / (2 * (high - low))
    figures: dict[str, object] = {
        "echo_ms_by_payload_bytes": echo,
        "link_us_per_byte": round(per_byte_us, 2),
    }
    return figures, identity


def _printer_suite(url: str, rounds: int) -> tuple[dict[str, object], dict[str, str]]:
    identity = printer_identity(url)
    with ReceiptPrinter(url, timeout=1.0) as printer:
        samples = []
        status = printer.status()
        for _ in range(rounds):
            started = time.perf_counter()
            status = printer.status()
            samples.append(time.perf_counter() - started)
    identity["status"] = (
        "ready" if status.ready else f"cover_open={status.cover_open} paper_out={status.paper_out}"
    )
    return {"status_round_trip_ms": round(statistics.median(samples) * 1000, 3)}, identity


def run_hil(targets: HilTargets, *, out: Callable[[str], None] = print) -> dict[str, object]:
    """Run every suite the given devices allow and return the report.

    A ``SafetyStopError`` ends the card suite (the reason is in the
    report's ``stopped``); the other devices' suites still run.

    Raises:
        TimingProfileError: ``targets.timing`` is not a valid profile.
        PeripheralError, TransportError: a device failed (not a safety stop).
    """
    profile = load_profile(targets.timing).link if targets.timing is not None else None
    report: dict[str, object] = {"kind": "hardware-in-the-loop", "rounds": targets.rounds}
    devices: dict[str, object] = {}
    by_kind: dict[str, dict[str, object]] = {"hardware": {}, "simulator": {}}
    modelled: dict[str, object] = {
        "timing": str(targets.timing) if targets.timing else "built-in constants (UNCONFIRMED)"
    }
    # Every device's plan is said before the first byte goes to any of them.
    if targets.controller is not None:
        sizes = "/".join(map(str, ECHO_SIZES))
        out(
            f"Plan: controller {targets.controller}: HELLO (handshake), STATUS, "
            f"ECHO of {sizes} bytes x{targets.rounds} each; no key, no entry, no update"
        )
    if targets.printer is not None:
        out(
            f"Plan: printer {targets.printer}: GS I 1/2 (and 67 if answered), "
            f"DLE EOT 2+4 x{targets.rounds + 1}; nothing is printed"
        )
    with use_default_link(profile):
        if targets.reader is not None:
            card: dict[str, object] = {}
            try:
                _card_suite(targets, out, card)
            except SafetyStopError as exc:
                report["stopped"] = str(exc)
                out(f"myna-edge bench: STOPPED: {exc}")
            if "reader" in card:
                devices["reader"] = card["reader"]
            report["plan"] = card.get("plan", [])
            by_kind[device_kind(targets.reader)]["card"] = card.get("measured", {})
            modelled["card"] = card.get("modelled", {})
            link = default_link()
            modelled["link"] = {"byte_s": link.byte_s, "exchange_s": link.frame_delay_s}
    if targets.controller is not None:
        figures, identity = _controller_suite(targets.controller, targets.rounds)
        devices["controller"] = identity
        by_kind[device_kind(targets.controller)]["controller"] = figures
    if targets.printer is not None:
        figures, identity = _printer_suite(targets.printer, targets.rounds)
        devices["printer"] = identity
        by_kind[device_kind(targets.printer)]["printer"] = figures
    report["devices"] = devices
    report["measured_on_hardware"] = by_kind["hardware"]
    report["measured_on_simulator"] = by_kind["simulator"]
    report["modelled_by_simulator"] = modelled
    return report


def render_markdown(report: dict[str, object]) -> str:
    """The report as Markdown: devices, then the three kinds of figures in separate sections."""
    lines = ["# Hardware-in-the-loop benchmark", ""]
    if "stopped" in report:
        lines += [f"**Stopped:** {report['stopped']}", ""]
    devices = report.get("devices", {})
    assert isinstance(devices, dict)
    lines += ["## Devices", "", "| device | field | value |", "|---|---|---|"]
    for device, fields in devices.items():
        for key, value in fields.items():
            lines.append(f"| {device} | {key} | {value} |")
    for section, title in (
        ("measured_on_hardware", "Measured on hardware"),
        ("measured_on_simulator", "Measured on the simulator"),
        ("modelled_by_simulator", "Modelled by the simulator's timing model (not measured)"),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            "```json",
            json.dumps(report.get(section, {}), indent=2, ensure_ascii=False),
            "```",
        ]
    return "\n".join(lines) + "\n"
