# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench flows``: the terminal flows end to end, software vs modelled card time.

Why this split: on the simulator the card answers instantly, so a flow's
wall time is the agent's own software (flow machine, journal fsyncs, gRPC
with mTLS to an in-process verifier with SQLite) — the "timing model off"
figure. The card's real cost is priced from the virtual card's APDU log
with ``hw_sim.card.timing`` (106 kbit/s link, typical chip, UNCONFIRMED
constants) — the "timing model on" addition. The report gives the software
share of the modelled total (target: at most 5%), the card commands each
flow sent against the protocol minimum, and the agent's footprint: the
``myna-edge agent`` process spawned as systemd would, with a
``terminal.toml`` on the simulated devices (virtual card, printer emulator,
the controller firmware under MicroPython when installed), timed from spawn
until its API answers GetStatus, then its idle CPU and resident memory read
from ``/proc`` (targets: ready within 2 s, idle CPU < 1 %, RSS < 100 MB).

Phones (issue 15) run the same transfer as the card: ``transfer_android``
(the phone's own signing password, as a card's) and ``transfer_iphone``
(the holder approved on the phone before the tap, so the first question
finds it approved and nothing waits). Their card commands include finding
out what was presented (the token label; a phone answers with a
contactless ATR, so it is asked), priced by the same link model.

Each run's wall time is also split where it went (``time_split_ms``, the
mean over the runs): ``card`` is time inside the transport's ``transmit``
(the simulator's engine, RSA included), ``link`` time inside the receipt
printer's serial I/O (status requests, the ESC/POS bytes; only the
``transfer_with_receipt`` run prints), ``verifier`` time awaiting the
verifier's RPCs (mTLS round trip and the in-process server's work), and
``host`` the rest: the flow machine, journal fsyncs, thread hand-offs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final, cast

import grpc
import grpc.aio

from host.agent.config import AgentConfig
from host.agent.runner import Agent
from host.api import Profile
from host.client import AccountType, ClientConfig, VerifierClient
from host.flows import (
    CardReadingFlow,
    PrinterPort,
    Prompt,
    ReadOutcome,
    ReadRequest,
    TransferFlow,
    TransferOutcome,
    TransferRequest,
)
from host.journal import Journal
from host.peripherals import BoardKey, Controller
from host.private_files import write_private
from host.secret import Secret
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile
from hw_sim.card.timing import modelled_seconds
from hw_sim.devices import SimController, SimPrinter
from hw_sim.devices.errors import MicroPythonMissingError
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.bench.counter import COUNTER_KINDS, MINIMUM_COUNTER_COMMANDS, counter_run
from myna_edge.bench.flow_split import (
    SPLIT_PARTS,
    RecordingCard,
    Run,
    Spent,
    TimedClient,
    TimedPrinter,
    split,
)
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = [
    "FOOTPRINT_TARGETS",
    "MINIMUM_COMMANDS",
    "PRESENTED",
    "SPLIT_PARTS",
    "agent_footprint",
    "flows_suite",
]

#: Protocol minimum per flow. Transfer: SELECT AP, SELECT EF 0008 + READ BINARY
#: (is there a signing certificate? asked before the password, issue 12.1),
#: SELECT PIN EF, VERIFY (empty, tries), VERIFY, SELECT cert EF, READ BINARY,
#: SELECT key EF, COMPUTE SIGNATURE.
#: Reading with proof: SELECT text AP, SELECT PIN, VERIFY empty, VERIFY, and
#: SELECT + READ of 2 files; then the same 8 as above for the auth key (its
#: certificate needs no PIN).
#: Counter checks: ``bench.counter`` (issue 21).
#: Phones (issue 15): what was presented is read first, SELECT EF 0006 + READ
#: BINARY of the token label (the AP's SELECT is the transfer's own); then an
#: Android phone is the card's 10 (its own password), an iPhone the card's
#: without the password's VERIFY (the empty VERIFY stays: it asks whether
#: the holder approved, as the card's asks its tries).
MINIMUM_COMMANDS: Final = {
    "transfer": 10,
    "transfer_with_receipt": 10,
    "transfer_android": 2 + 10,
    "transfer_iphone": 2 + 9,
    "reading": 6 + 8,
    **MINIMUM_COUNTER_COMMANDS,
}
#: The agent's footprint targets (issue 6).
FOOTPRINT_TARGETS: Final = {"ready_ms": 2000.0, "idle_cpu_percent": 1.0, "rss_mb": 100.0}
_READY_DEADLINE: Final = 30.0  # seconds; a process not answering by then is a failure
#: What each flow kind presents when it is not the ``default`` card.
PRESENTED: Final = {"transfer_android": "android-default", "transfer_iphone": "iphone-default"}


class _User:
    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets
        self._i = 0

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        value = self._secrets[self._i % len(self._secrets)]
        self._i += 1
        return Secret.from_text(value)


async def _one(
    kind: str, client: VerifierClient, journal: Journal, spent: Spent, printer: PrinterPort | None
) -> Run:
    presented = PRESENTED.get(kind, "default")
    profile = get_profile(presented)
    spent.reset()
    card = RecordingCard(f"sim://{presented}?persist=0", spent)
    verifier = cast(VerifierClient, TimedClient(client, spent))
    started = time.perf_counter()
    try:
        if kind.startswith("transfer"):
            transfer = TransferFlow(
                terminal_id="atm-01", verifier=verifier, card=card, journal=journal,
                user=_User([profile.sign_password]), emit=lambda e: None, printer=printer,
            )  # fmt: skip
            request = TransferRequest(
                amount_yen=250_000,
                payee_bank_code="0001",
                payee_branch_code="123",
                payee_account_type=AccountType.ORDINARY,
                payee_account_number="1234567",
                payee_name="ヤマダ　ハナコ",
                remitter_name="ヤマダ　タロウ",
                remitter_phone="03-1234-5678",
            )
            outcome: TransferOutcome | ReadOutcome = await transfer.run(request)
        else:
            reading = CardReadingFlow(
                card=card, user=_User([profile.text_pin, profile.auth_pin]), journal=journal,
                emit=lambda e: None, verifier=verifier,
            )  # fmt: skip
            outcome = await reading.run(ReadRequest(read_basic_four=True, verify_card=True))
        elapsed = time.perf_counter() - started
    finally:
        await card.aclose()
    if outcome.outcome.value != "completed":
        raise RuntimeError(f"{kind} did not complete: {outcome.reason}")
    if printer is not None and isinstance(outcome, TransferOutcome) and not outcome.receipt_printed:
        raise RuntimeError(f"{kind} did not print its receipt")
    parts = dict(spent.seconds)
    parts["host"] = elapsed - sum(parts.values())
    return elapsed, card.entries, parts


class _Runner:
    """One run of a flow kind: the counter checks through ``bench.counter``."""

    def __init__(
        self, kind: str, client: VerifierClient, journal: Journal, spent: Spent,
        printer: PrinterPort | None, root: Path,
    ) -> None:  # fmt: skip
        self._args = (kind, client, journal, spent)
        self._printer, self._root = printer, root

    async def __call__(self) -> Run:
        if self._args[0] in COUNTER_KINDS:
            return await counter_run(*self._args, self._root)
        return await _one(*self._args, self._printer)


async def _suite(rounds: int, root: Path, idle_seconds: float) -> dict[str, object]:
    trust = sim_trust_dir("sim://default")
    tls = TlsConfig(directory=root / "tls")
    ensure_tls_material(tls)
    config = VerifierConfig(
        listen="127.0.0.1:0", database=f"sqlite:///{root / 'v.sqlite'}", trust_dir=trust, tls=tls
    )
    server = VerifierServer(config, build_core(config))
    port = await server.start()
    report: dict[str, object] = {"rounds": rounds}
    spent = Spent()
    try:
        kinds = (
            ("transfer", "atm-01"),
            ("transfer_android", "atm-01"),
            ("transfer_iphone", "atm-01"),
            ("reading", "kiosk-01"),
            ("transfer_with_receipt", "atm-01"),
            *((kind, "desk-01") for kind in COUNTER_KINDS),
        )
        for kind, terminal in kinds:
            issued = issue_terminal_certificate(tls, terminal)
            client_config = ClientConfig(
                f"127.0.0.1:{port}", terminal, ca_pem=issued.ca_pem,
                certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
            )  # fmt: skip
            with contextlib.ExitStack() as stack:
                printer: TimedPrinter | None = None
                if kind == "transfer_with_receipt":
                    sim_printer = stack.enter_context(SimPrinter())
                    printer = TimedPrinter(sim_printer.url, spent)
                try:
                    async with VerifierClient(client_config) as client:
                        with Journal(root / f"{kind}.sqlite") as journal:
                            one = _Runner(kind, client, journal, spent, printer, root)
                            await one()  # warm-up: keys, channel, caches
                            runs = [await one() for _ in range(rounds)]
                finally:
                    if printer is not None:
                        await printer.aclose()
            software = statistics.median(r[0] for r in runs)
            entries = runs[-1][1]
            card = modelled_seconds(entries)
            report[kind] = {
                "software_ms": round(software * 1000, 2),
                "modelled_card_ms": round(card * 1000, 2),
                "software_share_of_total": round(software / (software + card), 4),
                "card_commands": len(entries),
                "minimum_commands": MINIMUM_COMMANDS[kind],
                "commands_vs_minimum": round(len(entries) / MINIMUM_COMMANDS[kind], 2),
                **split(runs),
            }
        report["agent_start_ms"] = round(await _agent_start(root, port, tls) * 1000, 2)
        report["agent_process"] = await agent_footprint(root, port, tls, idle_seconds)
    finally:
        await server.stop(1.0)
    return report


async def _agent_start(root: Path, port: int, tls: TlsConfig) -> float:
    issued = issue_terminal_certificate(tls, "atm-01")
    config = AgentConfig(
        profile=Profile.ATM, terminal_id="atm-01", reader="sim://default?persist=0",
        listen=f"unix:{root}/agent.sock", journal=root / "agent.sqlite", electronic_journal=None,
        verifier=ClientConfig(
            f"127.0.0.1:{port}", "atm-01", ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem, key_pem=issued.key_pem,
        ),
    )  # fmt: skip
    agent = Agent(config)
    started = time.perf_counter()
    await agent.start()
    elapsed = time.perf_counter() - started
    await agent.stop()
    return elapsed


def _proc_cpu_seconds(pid: int) -> float:
    # /proc/PID/stat: utime and stime are fields 14 and 15, after "(comm)".
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/{pid}/status has no {key}")


def _commissioned_pad(stack: contextlib.ExitStack, folder: Path) -> list[str]:
    """The controller firmware on a pty with a freshly injected key: terminal.toml lines."""
    try:
        sim = stack.enter_context(SimController())
    except MicroPythonMissingError:
        return []
    key = BoardKey.generate()
    with Controller(sim.url, key=key) as controller:
        controller.inject_key(key)
    write_private(folder / "board.key", key.material().hex().encode("ascii"))
    return [f'controller = "{sim.url}"', 'controller_key = "board.key"']


async def _wait_ready(proc: subprocess.Popen[bytes], socket: Path, log: Path) -> None:
    deadline = time.monotonic() + _READY_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-500:]
            raise RuntimeError(f"the agent exited with {proc.returncode}: {tail}")
        if socket.exists():
            async with grpc.aio.insecure_channel(f"unix:{socket}") as channel:
                stub = tpb_grpc.TerminalServiceStub(channel)
                try:
                    await stub.GetStatus(tpb.GetStatusRequest(), timeout=1.0)
                    return
                except grpc.aio.AioRpcError:
                    pass
        await asyncio.sleep(0.005)
    raise RuntimeError(f"the agent did not answer within {_READY_DEADLINE} s")


async def agent_footprint(
    root: Path, port: int, tls: TlsConfig, idle_seconds: float
) -> dict[str, object]:
    """Spawn ``myna-edge agent`` on the sim devices; ready time, idle CPU, RSS vs targets."""
    folder = root / "agent-process"
    folder.mkdir()
    issued = issue_terminal_certificate(tls, "atm-01")
    for name, data in (("ca.pem", issued.ca_pem), ("t.pem", issued.certificate_pem),
                       ("t.key", issued.key_pem)):  # fmt: skip
        write_private(folder / name, data or b"")  # owner-only: t.key is a private key
    socket = folder / "agent.sock"
    log = folder / "agent.log"
    with contextlib.ExitStack() as stack:
        printer = stack.enter_context(SimPrinter(folder / "receipts"))
        devices = [f'printer = "{printer.url}"', *_commissioned_pad(stack, folder)]
        config = folder / "terminal.toml"
        config.write_text(
            'profile = "atm"\nterminal_id = "atm-01"\nreader = "sim://default?persist=0"\n'
            + "".join(f"{line}\n" for line in devices)
            + f'listen = "unix:{socket}"\njournal = "journal.sqlite"\n'
            'electronic_journal = "ej.txt"\n\n[verifier]\n'
            f'target = "127.0.0.1:{port}"\nca = "ca.pem"\ncertificate = "t.pem"\nkey = "t.key"\n',
            encoding="utf-8",
        )
        argv = [sys.executable, "-m", "myna_edge", "agent", "--config", str(config)]
        with log.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)  # noqa: S603 - our own CLI
        try:
            await _wait_ready(proc, socket, log)
            ready = time.perf_counter() - started
            start_cpu = _proc_cpu_seconds(proc.pid)
            cpu0, t0 = start_cpu, time.monotonic()
            await asyncio.sleep(idle_seconds)
            cpu1, t1 = _proc_cpu_seconds(proc.pid), time.monotonic()
            rss = _proc_status_mb(proc.pid, "VmRSS")
            peak = _proc_status_mb(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
    idle = (cpu1 - cpu0) / (t1 - t0) * 100
    targets = FOOTPRINT_TARGETS
    return {
        "devices": ["sim card", "printer emulator"]
        + (["controller firmware"] if len(devices) > 1 else []),
        "ready_ms": round(ready * 1000, 1),
        "ready_over_target": round(ready * 1000 / targets["ready_ms"], 3),
        "start_cpu_s": round(start_cpu, 3),
        "idle_seconds": round(t1 - t0, 2),
        "idle_cpu_percent": round(idle, 3),
        "idle_cpu_over_target": round(idle / targets["idle_cpu_percent"], 3),
        # one clock tick over the window: the smallest non-zero reading
        "idle_cpu_resolution_percent": round(100 / os.sysconf("SC_CLK_TCK") / (t1 - t0), 3),
        "rss_mb": round(rss, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_over_target": round(rss / targets["rss_mb"], 3),
        "targets": dict(targets),
        "exit_code_on_sigterm": proc.returncode,
    }


def flows_suite(rounds: int, *, idle_seconds: float = 5.0) -> dict[str, object]:
    """Run each flow ``rounds`` times (after a warm-up); JSON-able figures and counts.

    ``idle_seconds`` is the window over which the agent process's idle CPU is measured.
    """
    with tempfile.TemporaryDirectory(prefix="myna-edge-bench-flows-") as tmp:
        return asyncio.run(_suite(max(1, rounds), Path(tmp), idle_seconds))
