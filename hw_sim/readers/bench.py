# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench readers``: what the real reader paths cost, as ratios.

Why: the pcsc:// and libnfc:// transports must add next to nothing to the
stacks under them, and the driver must read with the fewest APDUs a path
allows. Every figure is measured against a baseline of the same run on the
same card: per-APDU time of our transport against a bare pyscard (or bare
libnfc) transmit loop, and APDUs/bytes of our driver against the protocol
minimum and against what OpenSC sends for the same certificate (counted in
the virtual card's APDU log). Workloads are shared with
``tests/bench/test_bench_readers.py``.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from host.card import KeyKind, MynaCard, ReadStrategy
from host.card.constants import MINIMUM_APDUS_PER_FILE, SELECT_JPKI
from host.card.selection import tracker_for
from host.secret import Secret
from host.transport import CardTransport, open_transport
from host.transport import nfc_binding as nb
from hw_sim.card import VirtualCard, get_profile
from hw_sim.readers.stack import PCSC_READER, PCSC_URL, PcscRig, Pn532Rig

__all__ = [
    "ApduCount",
    "bare_libnfc_select",
    "bare_pyscard_select",
    "count_apdus",
    "opensc_certificate_read",
    "readers_suite",
]

_SELECT_AUTH_CERT: Final = bytes.fromhex("00A4020C02000A")


@dataclass(frozen=True)
class ApduCount:
    """APDUs and bytes one piece of work cost, from the card's APDU log."""

    apdus: int
    bytes: int
    read_binaries: int


def count_apdus(card: VirtualCard, work: Callable[[], object]) -> ApduCount:
    """Run ``work`` once and count what ``card`` saw."""
    card.apdu_log.clear()
    work()
    entries = card.apdu_log.entries
    return ApduCount(
        apdus=len(entries),
        bytes=sum(e.command_length + e.response_length for e in entries),
        read_binaries=sum(1 for e in entries if e.command[1:2] == b"\xb0"),
    )


def bare_pyscard_select(*, shared: bool = False) -> tuple[Callable[[], object], Callable[[], None]]:
    """Baseline: pyscard's SCardTransmit on our own handle; returns (work, close)."""
    scard: Any = importlib.import_module("smartcard.scard")
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    share = scard.SCARD_SHARE_SHARED if shared else scard.SCARD_SHARE_EXCLUSIVE
    code, handle, protocol = scard.SCardConnect(
        context, PCSC_READER, share, scard.SCARD_PROTOCOL_T1
    )
    if code != 0:
        scard.SCardReleaseContext(context)
        raise RuntimeError(f"SCardConnect failed: 0x{code & 0xFFFFFFFF:08X}")
    apdu = list(SELECT_JPKI)

    def close() -> None:
        scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(context)

    return (lambda: scard.SCardTransmit(handle, protocol, apdu)), close


def bare_libnfc_select(connstring: str) -> tuple[Callable[[], object], Callable[[], None]]:
    """Baseline: libnfc's transceive on our own device; returns (work, close)."""
    nfc: Any = nb.load()
    context = ctypes.POINTER(nfc.nfc_context)()
    nfc.nfc_init(ctypes.byref(context))
    device = nfc.nfc_open(context, connstring.encode())
    if not device:
        nfc.nfc_exit(context)
        raise RuntimeError(f"libnfc cannot open {connstring}")
    nfc.nfc_initiator_init(device)
    nfc.nfc_device_set_property_bool(device, nfc.NP_INFINITE_SELECT, False)
    target = nfc.nfc_target()
    modulation = nfc.nfc_modulation(nfc.NMT_ISO14443B, nfc.NBR_106)
    nfc.nfc_initiator_select_passive_target(device, modulation, None, 0, ctypes.byref(target))

    def close() -> None:
        nfc.nfc_close(device)
        nfc.nfc_exit(context)

    return (lambda: nb.transceive(nfc, device, SELECT_JPKI, 1000)), close


def opensc_certificate_read(card: VirtualCard) -> dict[str, int] | str:
    """Run ``pkcs15-tool --read-certificate 1`` and count its APDUs.

    Returns the total, the part after OpenSC's driver probing (from its last
    SELECT of the JPKI AP before the certificate's EF), and its READ
    BINARYs; or why OpenSC could not run.
    """
    if shutil.which("pkcs15-tool") is None:
        return "pkcs15-tool (opensc) is not installed"
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "opensc.conf"
        conf.write_text("app default {\n framework pkcs15 {\n  use_file_caching = no;\n }\n}\n")
        card.apdu_log.clear()
        done = subprocess.run(
            ["pkcs15-tool", "--read-certificate", "1"],  # noqa: S607 - a Debian tool on PATH
            capture_output=True,
            env={**os.environ, "OPENSC_CONF": str(conf)},
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        return f"pkcs15-tool failed ({done.returncode})"
    entries = card.apdu_log.entries
    commands = [e.command for e in entries]
    first_ef = next((i for i, c in enumerate(commands) if c == _SELECT_AUTH_CERT), 0)
    start = max(
        (i for i, c in enumerate(commands[:first_ef]) if c == SELECT_JPKI), default=first_ef
    )
    return {
        "apdus_total": len(entries),
        "apdus_after_probing": len(entries) - start,
        "read_binaries": sum(1 for c in commands if c[1:2] == b"\xb0"),
        "bytes_after_probing": sum(e.command_length + e.response_length for e in entries[start:]),
    }


def _paired_medians_us(
    baseline: Callable[[], object], ours: Callable[[], object], rounds: int, inner: int = 50
) -> tuple[float, float]:
    """Median µs per call of each, rounds interleaved so drift hits both alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for work, into in ((baseline, samples[0]), (ours, samples[1])):
            started = time.perf_counter()
            for _ in range(inner):
                work()
            into.append((time.perf_counter() - started) / inner * 1e6)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _driver_costs(transport: CardTransport, card: VirtualCard) -> dict[str, object]:
    pin = get_profile("default").text_pin
    driver = MynaCard(transport)

    def basic_four() -> object:
        with Secret.from_text(pin) as secret:
            return driver.read_card_info(secret)

    chunked = MynaCard(transport, read_strategy=ReadStrategy.CHUNKED)
    tracker = tracker_for(transport)

    def fresh(work: Callable[[], object]) -> dict[str, object]:
        # Each count from a card with nothing selected, so the counts compare:
        # the driver skips a SELECT of an application already selected.
        tracker.forget()
        return asdict(count_apdus(card, work))

    return {
        "auth_certificate": fresh(lambda: driver.read_certificate(KeyKind.AUTH)),
        "auth_certificate_chunked": fresh(lambda: chunked.read_certificate(KeyKind.AUTH)),
        "basic_four": fresh(basic_four),
    }


def _pcsc_figures(rounds: int) -> dict[str, object]:
    with PcscRig(busy_wait=120) as rig, rig.card() as card:
        # Both handles shared, so the two loops can alternate on one card.
        work, close = bare_pyscard_select(shared=True)
        try:
            with open_transport(PCSC_URL + "&share=shared") as transport:
                bare, ours = _paired_medians_us(
                    work, lambda: transport.transmit(SELECT_JPKI), rounds
                )
        finally:
            close()
        with open_transport(PCSC_URL) as transport:
            costs = _driver_costs(transport, card)
        opensc = opensc_certificate_read(card)
    cert = costs["auth_certificate"]
    assert isinstance(cert, dict)
    figures: dict[str, object] = {
        "baseline_bare_pyscard_us": round(bare, 1),
        "transport_over_bare_pyscard": round(ours / bare, 3),
        **costs,
        "auth_certificate_apdus_over_minimum": round(cert["apdus"] / MINIMUM_APDUS_PER_FILE, 2),
        "opensc_auth_certificate": opensc,
    }
    if isinstance(opensc, dict):
        figures["our_apdus_over_opensc"] = round(cert["apdus"] / opensc["apdus_after_probing"], 3)
    return figures


def _libnfc_figures(rounds: int) -> dict[str, object]:
    with Pn532Rig() as rig, rig.card() as card:
        # Two libnfc handles on one pty take turns: the emulator serves one frame at a time.
        work, close = bare_libnfc_select(rig.pty.connstring)
        try:
            with open_transport(rig.url) as transport:
                bare, ours = _paired_medians_us(
                    work, lambda: transport.transmit(SELECT_JPKI), rounds
                )
        finally:
            close()
        with open_transport(rig.url) as transport:
            costs = _driver_costs(transport, card)
    return {
        "baseline_bare_libnfc_us": round(bare, 1),
        "transport_over_bare_libnfc": round(ours / bare, 3),
        **costs,
    }


def readers_suite(rounds: int) -> dict[str, object]:
    """The reader-path figures; a path that cannot run here reports why."""
    report: dict[str, object] = {}
    for name, figures in (("pcsc", _pcsc_figures), ("libnfc", _libnfc_figures)):
        try:
            report[name] = figures(rounds)
        except Exception as error:  # noqa: BLE001 - a missing service is a figure, not a crash
            report[name] = f"unavailable: {error}"
    return report
