# SPDX-License-Identifier: Apache-2.0
"""Live, unsolicited device status over WatchStatus, from real devices.

The real agent watches the printer emulator (paper out, cover open), the
real controller firmware under MicroPython on a pty (tamper switch), a
PC/SC reader behind a private pcscd + vpcd (card in and out, pcscd gone and
back), and the PN532 on a pty (unplugged and back). Nobody runs a command:
each change must reach a WatchStatus client as a status-changed event on
its own, within the stream deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc.aio
import pytest

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.peripherals import BoardKey, Controller
from hw_sim.devices import SimPrinter
from hw_sim.home import sim_home
from hw_sim.readers.stack import PcscRig, Pn532Rig
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos.atm import transfer_command
from tests.flows_support import client_config
from tests.integration.controller_support import running_sim
from tests.integration.reader_stack import BUSY_WAIT_S, PCSC_READER, require
from tests.verifier_support import ServerThread, VerifierEnv, make_env

D = tpb
Change = tuple[str, int]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("status-events"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def config(env: VerifierEnv, verifier: ServerThread, tmp_path: Path, **kw: object) -> AgentConfig:
    return AgentConfig(
        profile=Profile.ATM, terminal_id="atm-01", listen="127.0.0.1:0",
        journal=tmp_path / "journal.sqlite", electronic_journal=None,
        verifier=client_config(env, verifier), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def watch_steps(agent: Agent, steps: list[tuple[Callable[[], None], Change]]) -> list[Change]:
    """Do each step's action, then read events until its change shows; return all seen."""
    seen: list[Change] = []
    async with grpc.aio.insecure_channel(agent.address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        stream = stub.WatchStatus(tpb.WatchStatusRequest(), timeout=30)
        for action, expected in steps:
            await asyncio.to_thread(action)
            while True:
                message = await stream.read()
                assert message is not grpc.aio.EOF
                change = (message.status.device, message.status.state)
                seen.append(change)
                if change == expected:
                    break
        stream.cancel()
    return seen


def nothing() -> None:
    """The first step: the current status arrives unasked."""


def test_printer_paper_and_cover_and_controller_tamper(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    key = BoardKey.generate()
    with running_sim() as board, SimPrinter() as printer:
        with Controller(board.url, key=key) as commissioning:
            commissioning.inject_key(key)
        cfg = config(
            env, verifier, tmp_path, reader="sim://default?persist=0", printer=printer.url,
            controller=board.url, controller_key=key.material(),
        )  # fmt: skip

        async def scenario() -> list[Change]:
            agent = Agent(cfg, status_interval=0.05)
            await agent.start()
            try:
                return await watch_steps(agent, [
                    (nothing, ("controller", D.DEVICE_STATE_ONLINE)),
                    (lambda: printer.set_paper_out(True),
                     ("printer", D.DEVICE_STATE_HARDWARE_ERROR)),
                    (lambda: printer.set_paper_out(False), ("printer", D.DEVICE_STATE_ONLINE)),
                    (lambda: printer.set_cover_open(True),
                     ("printer", D.DEVICE_STATE_HARDWARE_ERROR)),
                    (lambda: printer.set_cover_open(False), ("printer", D.DEVICE_STATE_ONLINE)),
                    (lambda: board.set_tamper(True),
                     ("controller", D.DEVICE_STATE_FRAUD_ATTEMPT)),
                ])  # fmt: skip
            finally:
                await agent.stop()

        seen = asyncio.run(scenario())
    # each change once: repeats of an unchanged state are not events
    printer_changes = [s for d, s in seen if d == "printer"]
    assert printer_changes == [
        D.DEVICE_STATE_ONLINE, D.DEVICE_STATE_HARDWARE_ERROR, D.DEVICE_STATE_ONLINE,
        D.DEVICE_STATE_HARDWARE_ERROR, D.DEVICE_STATE_ONLINE,
    ]  # fmt: skip
    controller_changes = [s for d, s in seen if d == "controller"]
    assert controller_changes == [D.DEVICE_STATE_ONLINE, D.DEVICE_STATE_FRAUD_ATTEMPT]
    assert printer.receipts == []  # asking for status prints nothing


@pytest.fixture(scope="module")
def pcsc_rig() -> Iterator[PcscRig]:
    import importlib.util
    import shutil

    from hw_sim.readers.pcscd import PcscdBusyError

    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(importlib.util.find_spec("smartcard") is not None, "pyscard is not installed")
    rig = PcscRig(home=sim_home(), busy_wait=BUSY_WAIT_S)
    try:
        rig.start()
    except PcscdBusyError as error:
        require(False, str(error))
    try:
        yield rig
    finally:
        rig.stop()


def test_reader_card_in_out_and_reader_offline(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, pcsc_rig: PcscRig
) -> None:
    url = "pcsc://" + PCSC_READER.replace(" ", "%20")
    cfg = config(env, verifier, tmp_path, reader=url)
    inserted = pcsc_rig.card("default")

    async def scenario() -> list[Change]:
        agent = Agent(cfg, status_interval=0.05)
        await agent.start()
        try:
            return await watch_steps(agent, [
                (nothing, ("card", D.DEVICE_STATE_NO_DEVICE)),
                (inserted.__enter__, ("card", D.DEVICE_STATE_ONLINE)),
                (lambda: inserted.__exit__(None, None, None), ("card", D.DEVICE_STATE_NO_DEVICE)),
                (pcsc_rig.pcscd.stop, ("reader", D.DEVICE_STATE_OFFLINE)),
                (lambda: pcsc_rig.pcscd.start(busy_wait=BUSY_WAIT_S),
                 ("reader", D.DEVICE_STATE_ONLINE)),
            ])  # fmt: skip
        finally:
            await agent.stop()

    seen = asyncio.run(scenario())
    assert [s for d, s in seen if d == "card"] == [
        D.DEVICE_STATE_NO_DEVICE, D.DEVICE_STATE_ONLINE, D.DEVICE_STATE_NO_DEVICE,
    ]  # fmt: skip
    assert [s for d, s in seen if d == "reader"] == [
        D.DEVICE_STATE_ONLINE, D.DEVICE_STATE_OFFLINE, D.DEVICE_STATE_ONLINE,
    ]  # fmt: skip


def test_libnfc_uart_reader_unplugged_and_back(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    import importlib.util

    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    with Pn532Rig(home=sim_home()) as rig:
        cfg = config(env, verifier, tmp_path, reader=rig.url)

        async def scenario() -> list[Change]:
            agent = Agent(cfg, status_interval=0.05)
            await agent.start()
            try:
                return await watch_steps(agent, [
                    (nothing, ("reader", D.DEVICE_STATE_ONLINE)),
                    (rig.pty.stop, ("reader", D.DEVICE_STATE_OFFLINE)),  # the USB cable pulled
                    (rig.pty.start, ("reader", D.DEVICE_STATE_ONLINE)),
                ])  # fmt: skip
            finally:
                await agent.stop()

        seen = asyncio.run(scenario())
    assert [s for d, s in seen if d == "reader"] == [
        D.DEVICE_STATE_ONLINE, D.DEVICE_STATE_OFFLINE, D.DEVICE_STATE_ONLINE,
    ]  # fmt: skip


def test_controller_not_commissioned_is_a_status_and_a_refusal_at_ack(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    # The integrator's trap: a board that answers (it used to be ONLINE) but
    # has no key, so the first transfer over the threshold failed mid-flow.
    key = BoardKey.generate()
    with running_sim() as board:
        cfg = config(
            env, verifier, tmp_path, reader="sim://default?persist=0",
            controller=board.url, controller_key=key.material(),
        )  # fmt: skip

        async def scenario() -> tuple[list[tpb.DeviceStatus], list[tpb.ExecuteResponse], int]:
            agent = Agent(cfg, status_interval=0.05)
            await agent.start()
            try:
                async with grpc.aio.insecure_channel(agent.address) as channel:
                    stub = tpb_grpc.TerminalServiceStub(channel)
                    status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=10)
                    over = tpb.ExecuteRequest(
                        request_id="over-threshold",
                        transfer=transfer_command(150_000),
                    )
                    refused = [m async for m in stub.Execute(over, timeout=10)]
                    under = tpb.ExecuteRequest(
                        request_id="under-threshold",
                        transfer=transfer_command(50_000),
                    )
                    call = stub.Execute(under, timeout=10)
                    first = await call.read()
                    assert isinstance(first, tpb.ExecuteResponse)
                    call.cancel()
                    return list(status.devices), refused, int(first.acknowledgement.accepted)
            finally:
                await agent.stop()

        devices, refused, under_accepted = asyncio.run(scenario())
    states = {d.device: d.state for d in devices}
    assert states["controller"] == D.DEVICE_STATE_NOT_COMMISSIONED
    # Its firmware is reported too: the handshake's version (issue 17); this
    # board was started without update slots.
    pad = next(d for d in devices if d.device == "controller")
    assert (pad.firmware.version, pad.firmware.updatable) == ("1.0.0", False)
    # refused at acknowledgement, and nothing follows a refusal
    assert len(refused) == 1
    assert not refused[0].acknowledgement.accepted
    assert refused[0].acknowledgement.refusal == D.REFUSAL_REASON_DEVICE_NOT_READY
    assert refused[0].acknowledgement.detail.startswith("controller not commissioned")
    # a transfer under the threshold needs no card and no PIN pad: accepted
    assert under_accepted == 1
