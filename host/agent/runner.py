# SPDX-License-Identifier: Apache-2.0
"""``Agent``: one terminal's agent process — recovery first, then the local API.

Start-up order matters for exactly-once: the journal is opened and every
unresolved transfer and unknown reset is resolved with the verifier
*before* the API accepts a new command. When the verifier is unreachable
at start-up the agent still serves (reporting the verifier offline) and
retries recovery in the background with back-off; while idle it keeps
resolving leftovers of flows that failed mid-way, until the agent stops.
An authorised transfer whose cash movement nobody confirmed is resolved
by ``money_moved``; by default the ATM application is asked through the
API (``RecoveryDesk``: the API serves with new commands held BUSY while
recovery runs). Only ``recovery_answer_seconds`` running out (default
120 s; 0 = do not ask) reverses such a transfer unasked. A committed
transfer whose receipt never printed for certain gets one from recovery
(``recover_receipts``), marked as a reprint when a print had started.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Final

from host.agent.board import AbsentBoard, AgentBoard
from host.agent.config import AgentConfig, CounterDesk
from host.agent.crash_hook import open_journal
from host.agent.fleet import LastFlowInterceptor, StatusReporter, agent_version
from host.agent.issuance import IssuanceParts
from host.agent.metrics import AgentMetrics
from host.agent.monitor import (
    DeviceMonitor,
    board_state,
    controller_probe,
    pcsc_reader_probe,
    printer_probe,
    serial_reader_probe,
    sim_slot_probe,
)
from host.agent.tracing import AgentTracing
from host.api import AgentRuntime, SecureEntry, TerminalServer
from host.api.recovery import RecoveryDesk
from host.client import VerifierClient
from host.errors import BoardTamperedError, PeripheralError, ServiceError
from host.flows import JsonLinesAmlFile, ThreadedPrinter, recover_resets, recover_transfers
from host.flows.settle import recover_receipts
from host.journal import ElectronicJournal, Journal, TransferRecovery
from host.peripherals import BoardKey, BoardStatus, Controller, CounterStore
from host.peripherals.face_matcher import ThreadedFaceMatcher
from host.transport.libnfc import parse_libnfc_url
from host.transport.pcsc.url import parse_pcsc_url
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["Agent", "reverse_unconfirmed"]

# Paper out and cover open stop printing until someone acts: hardware error
# in XFS terms (the device cannot do its job), not offline.
_PRINTER_STATES: Final = {
    "online": tpb.DEVICE_STATE_ONLINE,
    "offline": tpb.DEVICE_STATE_OFFLINE,
    "paper_out": tpb.DEVICE_STATE_HARDWARE_ERROR,
    "cover_open": tpb.DEVICE_STATE_HARDWARE_ERROR,
}

_log = logging.getLogger(__name__)


async def reverse_unconfirmed(plan: TransferRecovery) -> bool:
    """The default start-up answer: no cash moved for an undecided authorisation."""
    _log.warning("transfer %s: no cash confirmation on record; reversing", plan.op_id)
    return False


class Agent:
    """The agent process's parts, started and stopped in order.

    Args:
        config: the parsed ``terminal.toml``.
        secure_entry: the PIN pad's secret source (ATM profile).
        money_moved: start-up recovery's question to the ATM application
            (default: a ``RecoveryDesk`` on the API, ``recovery_answer_seconds``).
        retry_interval: first back-off of the background recovery, seconds.
        recovery_interval: how often an idle agent resolves journal leftovers.
        status_interval: how often devices are asked for live status events.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        secure_entry: SecureEntry | None = None,
        money_moved: Callable[[TransferRecovery], Awaitable[bool]] | None = None,
        retry_interval: float = 1.0,
        recovery_interval: float = 30.0,
        status_interval: float = 1.0,
    ) -> None:
        self.config = config
        self._secure_entry = secure_entry
        self.desk = RecoveryDesk(config.recovery_answer_seconds)
        self._money_moved = money_moved or self.desk.money_moved
        self._retry = retry_interval
        self._interval = recovery_interval
        self.journal: Journal | None = None
        self.client: VerifierClient | None = None
        self.server: TerminalServer | None = None
        self._printer: ThreadedPrinter | None = None
        self._issuance = IssuanceParts()  # the MFP's (config.issuance); empty otherwise
        self._controller: Controller | None = None
        self._pad: AgentBoard | None = None
        self._firmware: tpb.FirmwareInfo | None = None  # what the board ran at start-up
        self._kcv: bytes | None = None  # check value of the configured controller_key
        self._ej: ElectronicJournal | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._status_interval = status_interval
        self._monitor: asyncio.Task[None] | None = None
        # Fleet status (host.agent.fleet): the last command's outcome, the stream to the centre.
        self._last_flow = LastFlowInterceptor()
        self._reporter: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.address = ""
        #: Prometheus metrics when ``config.metrics`` is set (``host.agent.metrics``).
        self.metrics = AgentMetrics(config.metrics) if config.metrics is not None else None
        #: OpenTelemetry traces when ``config.tracing`` is set (``host.agent.tracing``).
        self.tracing = AgentTracing(config)

    async def recover(self) -> bool:
        """Resolve journaled transfers and resets; False when the verifier is unreachable."""
        if self.journal is None or self.client is None:
            raise RuntimeError("the agent is not started")
        if await self._question_needs_verifier():
            _log.warning("recovery postponed: verifier unreachable (the cash question waits)")
            return False
        if self.server is not None:
            self.server.servicer.hold = True  # no new command until recovery is done
        try:
            transfers = await recover_transfers(
                self.journal, self.client, self._money_moved, ejournal=self._ej
            )
            resets = await recover_resets(self.journal, self.client, ejournal=self._ej)
            # After the transfers: a commit made just now by recovery needs its receipt too.
            await recover_receipts(self.journal, self._printer, ejournal=self._ej)
            await self._issuance.recover(self.journal, self._ej)  # charged iff printed
        except ServiceError as exc:
            _log.warning("recovery postponed: %s", exc)
            return False
        finally:
            if self.server is not None:
                self.server.servicer.hold = False
        if self.metrics is not None:
            left = len(self.journal.unresolved_transfers()) + len(self.journal.unknown_resets())
            self.metrics.recovered(left, transfers, resets)
        if transfers or resets:
            _log.info("recovered %d transfer(s) and %d reset(s)", len(transfers), len(resets))
        return True

    async def _question_needs_verifier(self) -> bool:
        # The ATM application is asked "did the cash move?" only when its
        # answer can be acted on: with the verifier unreachable the question
        # would wait recovery_answer_seconds for nothing (and hold start-up),
        # and an unanswered one would be decided "reverse" for no reason.
        assert self.journal is not None
        assert self.client is not None
        undecided = any(
            plan.authorization_id and plan.decision is None
            for plan in self.journal.unresolved_transfers()
        )
        return undecided and not await self.client.reachable()

    async def _recovery_loop(self, online: bool) -> None:
        # Journal entries left by a flow that failed while the verifier was
        # down are resolved here, only while no command runs (a running
        # flow's own operation must never be touched).
        delay = self._interval if online else self._retry
        while True:
            await asyncio.sleep(delay)
            if self.server is None or self.server.servicer.busy:
                continue
            ok = await self.recover()
            reached = ok and self.client is not None and await self.client.reachable()
            state = tpb.DEVICE_STATE_ONLINE if reached else tpb.DEVICE_STATE_OFFLINE
            await self.server.servicer.set_status("verifier", state)
            # Back off from ``retry`` while the verifier is unreachable, even
            # with nothing to recover: otherwise an agent restarted during an
            # outage reports it offline for a whole interval after it is back.
            if reached:
                delay = self._interval
            elif delay >= self._interval:
                delay = self._retry
            else:
                delay = min(delay * 2, 60.0)

    async def _printer_status(self, state: str) -> None:
        if self.metrics is not None:
            self.metrics.printer(state)
        if self.server is not None:
            mapped = _PRINTER_STATES.get(state, tpb.DEVICE_STATE_HARDWARE_ERROR)
            await self.server.servicer.set_status("printer", mapped)

    async def _open_controller(self) -> tpb.DeviceState.ValueType:
        c = self.config
        if c.controller is None or c.controller_key is None:
            return tpb.DEVICE_STATE_NO_DEVICE
        key = BoardKey(c.controller_key)
        self._kcv = key.kcv()
        # The replay guard's counters live beside the journal (the state folder).
        counters = CounterStore(c.journal.parent / "pin-counters.json")
        controller = Controller(c.controller, key=key, counters=counters)
        try:
            await asyncio.to_thread(controller.open)
        except PeripheralError as exc:
            # The agent keeps running and reports the device; ATM secrets are
            # refused until the pad is back (no touchscreen fallback).
            _log.error("secure PIN pad unavailable: %s", exc)
            return tpb.DEVICE_STATE_NO_DEVICE
        self._controller = controller
        self._pad = AgentBoard(controller, kcv=self._kcv)
        try:
            status, self._firmware = await self._pad.status_and_firmware()
        except BoardTamperedError:
            return tpb.DEVICE_STATE_FRAUD_ATTEMPT
        except PeripheralError:
            return tpb.DEVICE_STATE_OFFLINE  # the monitor asks again
        state = board_state(status, self._kcv)
        if state == tpb.DEVICE_STATE_NOT_COMMISSIONED:
            # Kept open: the monitor sees a later commissioning and the state clears.
            _log.error("secure PIN pad not commissioned with this terminal's controller_key")
        return state

    async def start(self) -> str:
        """Open the journal, serve the API (commands held), recover; returns the address.

        Raises:
            JournalError: the journal cannot be opened.
            ValueError: the listen address is not local.
        """
        c = self.config
        self.journal = open_journal(c.journal)  # plain Journal unless a test arms the hook
        if c.electronic_journal is not None:
            self._ej = ElectronicJournal(c.electronic_journal, c.terminal_id)
            self._ej.append("", "AGENT-START", profile=c.profile.value)
        self.tracing.install()  # before the verifier channel: its interceptors are fixed
        self.client = VerifierClient(c.verifier)
        self._printer = (
            ThreadedPrinter(c.printer, on_status=self._printer_status) if c.printer else None
        )
        controller_state = await self._open_controller()
        self._issuance.open(c.issuance, c.verifier)
        desk = c.counter or CounterDesk()  # the counter check's settings (counter profile)
        runtime = AgentRuntime.for_reader(
            c.reader,
            profile=c.profile,
            terminal_id=c.terminal_id,
            verifier=self.client,
            journal=self.journal,
            ejournal=self._ej,
            printer=self._printer,
            secure_entry=self._secure_entry or self._pad,
            threshold_yen=c.transfer_threshold_yen,
            reset_otp_first=c.reset_otp_first,
            reset_hours=c.kiosk_hours,
            recovery=self.desk,
            card_taken_seconds=c.card_taken_seconds,
            firmware=self._firmware_board(),
            issuer_key=desk.issuer_key,
            aml_file=JsonLinesAmlFile(desk.aml_file) if desk.aml_file is not None else None,
            store_photo=desk.store_photo,
            staff_id=desk.staff_id,
            face_matcher=ThreadedFaceMatcher(desk.face_matcher) if desk.face_matcher else None,
            **self._issuance.runtime_options(),
        )
        metered = self.metrics.interceptors() if self.metrics is not None else ()
        self.server = TerminalServer(runtime, c.listen, interceptors=(*metered, self._last_flow))
        self.server.servicer.hold = True  # recovery first: the API answers, commands wait
        # Built before the API answers: the probes load their reader backends now, so
        # start-up work does not trail into the time the agent is already idle.
        monitor = self._device_monitor()
        self.address = await self.server.start()
        servicer = self.server.servicer
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.start, servicer.status.statuses)
        await servicer.set_status("reader", tpb.DEVICE_STATE_ONLINE)
        printer_state = tpb.DEVICE_STATE_ONLINE if c.printer else tpb.DEVICE_STATE_NO_DEVICE
        await servicer.set_status("printer", printer_state)
        await servicer.status.set_firmware("controller", self._firmware)
        await servicer.set_status("controller", controller_state)
        recovered = await self.recover()  # may ask the ATM application (WatchRecovery)
        # An empty journal needs no verifier call: ask the channel itself.
        reached = recovered and await self.client.reachable()
        verifier_state = tpb.DEVICE_STATE_ONLINE if reached else tpb.DEVICE_STATE_OFFLINE
        await servicer.set_status("verifier", verifier_state)
        self._recovery = asyncio.ensure_future(self._recovery_loop(reached))
        self._monitor = asyncio.ensure_future(monitor.run())
        self._reporter = asyncio.ensure_future(self._status_reporter().run())
        _log.info("agent %s (%s) serving on %s", c.terminal_id, c.profile.value, self.address)
        return self.address

    def _firmware_board(self) -> AgentBoard | AbsentBoard | None:
        # Configured but absent at start-up: updates are refused
        # DEVICE_NOT_READY (not UNSUPPORTED), as the controller's status says.
        if self._pad is not None:
            return self._pad
        return AbsentBoard() if self.config.controller is not None else None

    async def _controller_status(self) -> BoardStatus:
        # The monitor's question to the board; the firmware it runs goes to
        # the status too (a reverted trial or a new board shows as an event).
        assert self._pad is not None
        assert self.server is not None
        status, firmware = await self._pad.status_and_firmware()
        await self.server.servicer.status.set_firmware("controller", firmware)
        return status

    def _device_monitor(self) -> DeviceMonitor:
        assert self.server is not None
        servicer = self.server.servicer
        probes = []
        if self.config.reader.startswith("pcsc://"):
            wanted = parse_pcsc_url(self.config.reader)
            probes.append(pcsc_reader_probe(wanted.name, wanted.index))
        elif self.config.reader.startswith("libnfc://"):
            uart = serial_reader_probe(parse_libnfc_url(self.config.reader).connstring)
            probes += [uart] if uart is not None else []
        elif self.config.reader.startswith("sim://"):
            slot = sim_slot_probe(self.config.reader)
            probes += [slot] if slot is not None else []
        if self._printer is not None:
            probes.append(printer_probe(self._printer.check))
        if self._pad is not None:
            probes.append(controller_probe(self._controller_status, kcv=self._kcv))
        return DeviceMonitor(
            servicer.set_status, probes, lambda: servicer.busy, interval=self._status_interval
        )

    def _status_reporter(self) -> StatusReporter:
        assert self.client is not None
        assert self.server is not None
        return StatusReporter(
            self.client,
            statuses=self.server.servicer.status.statuses,
            last_flow=lambda: self._last_flow.last,
            agent_version=agent_version(),
            poll=min(1.0, self._status_interval),
        )

    def request_stop(self) -> None:
        """Ask ``run`` to return (signal handlers call this)."""
        self._stopped.set()

    async def stop(self) -> None:
        """Stop serving and close everything; harmless twice."""
        for task in (self._recovery, self._monitor, self._reporter):
            if task is not None:
                await _cancel(task)
        self._recovery = self._monitor = self._reporter = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.stop)
        await asyncio.to_thread(self.tracing.shutdown)  # sends the spans still batched
        if self._printer is not None:
            await self._printer.aclose()
            self._printer = None
        await self._issuance.close()
        if self._pad is not None:
            await self._pad.aclose()
            self._pad = None
        if self._controller is not None:
            await asyncio.to_thread(self._controller.close)
            self._controller = None
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.journal is not None:
            if self._ej is not None:
                self._ej.append("", "AGENT-STOP")
            self.journal.close()
            self.journal = None

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT or ``request_stop``, then stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            # A stop asked for during start-up (recovery may wait up to
            # recovery_answer_seconds for the ATM application) is honoured at once.
            starting = asyncio.ensure_future(self.start())
            stopping = asyncio.ensure_future(self._stopped.wait())
            try:
                await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if starting.done():
                    starting.result()  # a failed start-up raises here
                    await stopping
            finally:
                await _cancel(starting)
                await _cancel(stopping)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended.

    Cancelled again until it ends: on Python 3.11, ``asyncio.wait_for``
    (``VerifierClient.reachable``) drops a cancellation that arrives as its
    inner future completes, and one cancel could leave the loop running for
    ever (a stop that never returned, seen once in CI).
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled():
        task.result()  # a task that failed on its own raises here, as before
