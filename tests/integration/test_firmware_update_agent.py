# SPDX-License-Identifier: Apache-2.0
"""Firmware updates through the running agent (issue 17, item 4), over real gRPC.

The real agent owns the real controller firmware under MicroPython (with
update slots) on a pty. It reports the board's firmware in GetStatus and
WatchStatus; an operator's UpdateFirmware is refused at acknowledgement
while a command runs (a PIN entry on the board) and when no board is
present; applied when idle, it streams progress ending CONFIRMED and the
new version shows in the status; a badly signed image is refused with a
typed error and the old version keeps running; a malformed one never
reaches the board.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc.aio
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.firmware import UpdateError, UpdateFailure
from host.firmware.agent import AgentRefusedError, agent_firmware, update_via_agent
from host.peripherals import BoardKey, Controller
from hw_sim.devices import SimController
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.firmware import _run_update
from tests.flows_support import client_config
from tests.integration.firmware_update_support import (
    board_with_slots,
    second_authority,
    signed_image,
)
from tests.verifier_support import ServerThread, VerifierEnv, make_env

Stub = tpb_grpc.TerminalServiceStub


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("firmware-agent"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("images")
    good = signed_image(work / "good", (1, 1, 0), 1)
    return {
        "good": good,
        "foreign": signed_image(work / "foreign", (1, 1, 0), 1,
                                key=ec.generate_private_key(ec.SECP256R1())),
        "truncated": good[:-500],
        "other_authority": signed_image(work / "authority", (1, 1, 0), 1, key=second_authority()),
    }  # fmt: skip


def config(env: VerifierEnv, verifier: ServerThread, tmp_path: Path, **kw: object) -> AgentConfig:
    return AgentConfig(
        profile=Profile.ATM, terminal_id="atm-01", listen="127.0.0.1:0",
        journal=tmp_path / "journal.sqlite", electronic_journal=tmp_path / "ej.txt",
        reader="sim://default?persist=0", verifier=client_config(env, verifier),
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@asynccontextmanager
async def serving(cfg: AgentConfig) -> AsyncIterator[tuple[Agent, Stub]]:
    agent = Agent(cfg, status_interval=0.05)
    await agent.start()
    try:
        async with grpc.aio.insecure_channel(agent.address) as channel:
            yield agent, tpb_grpc.TerminalServiceStub(channel)
    finally:
        await agent.stop()


async def controller(stub: Stub) -> tpb.DeviceStatus:
    status = await stub.GetStatus(tpb.GetStatusRequest(), timeout=10)
    return next(d for d in status.devices if d.device == "controller")


async def update(stub: Stub, image: bytes, rid: str = "fw-1") -> list[tpb.UpdateFirmwareResponse]:
    request = tpb.UpdateFirmwareRequest(request_id=rid, image=image)
    return [m async for m in stub.UpdateFirmware(request, timeout=60)]


def commissioned(sim: SimController) -> BoardKey:
    key = BoardKey.generate()
    with Controller(sim.url, key=key) as board:
        board.inject_key(key)
    return key


def test_status_reports_the_firmware_and_the_capability(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    with board_with_slots(tmp_path / "fs") as sim:
        key = commissioned(sim)
        cfg = config(env, verifier, tmp_path, controller=sim.url, controller_key=key.material())

        async def scenario() -> tuple[tpb.DeviceStatus, tpb.GetCapabilitiesResponse, object]:
            async with serving(cfg) as (agent, stub):
                caps = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=10)
                cli = await asyncio.to_thread(agent_firmware, agent.address)  # status --agent
                return await controller(stub), caps, cli

        pad, caps, cli = asyncio.run(scenario())
    assert cli == pad.firmware
    assert pad.state == tpb.DEVICE_STATE_ONLINE
    assert pad.firmware.version == "1.0.0"
    assert (pad.firmware.updatable, pad.firmware.factory, pad.firmware.trial) == (True, True, False)
    assert (pad.firmware.security_counter, pad.firmware.floor) == (0, 0)
    assert caps.firmware_update


def test_refused_while_a_pin_entry_runs_then_applied_when_idle(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, images: dict[str, bytes]
) -> None:
    with board_with_slots(tmp_path / "fs") as sim:
        key = commissioned(sim)
        cfg = config(env, verifier, tmp_path, controller=sim.url, controller_key=key.material())

        async def scenario() -> dict[str, object]:
            seen: dict[str, object] = {}
            async with serving(cfg) as (_agent, stub):
                watch = stub.WatchStatus(tpb.WatchStatusRequest(), timeout=60)
                # A read that needs the card-info PIN: the board's secure entry runs.
                read = tpb.ExecuteRequest(
                    request_id="read-1", read_card=tpb.ReadCardCommand(read_basic_four=True)
                )
                call = stub.Execute(read, timeout=30)
                while True:
                    message = await call.read()
                    assert message is not grpc.aio.EOF
                    if message.event.prompt.type == tpb.PROMPT_TYPE_CARD_INFO_PIN:
                        break  # typed on the board's secure PIN pad: the entry runs now
                seen["busy"] = await update(stub, images["good"], "fw-busy")
                await stub.Cancel(tpb.CancelRequest(request_ids=["read-1"]), timeout=10)
                while not message.HasField("completion"):
                    message = await call.read()
                    assert message is not grpc.aio.EOF
                seen["read_done"] = message.completion.code
                seen["applied"] = await update(stub, images["good"])
                seen["after"] = await controller(stub)
                while True:  # the new version reached the watcher as a status event
                    change = await watch.read()
                    assert change is not grpc.aio.EOF
                    if change.status.firmware.version == "1.1.0":
                        seen["event"] = change.status
                        break
                watch.cancel()
            return seen

        seen = asyncio.run(scenario())
        boots = list(sim.boots)
    busy = seen["busy"]
    assert isinstance(busy, list)
    assert len(busy) == 1  # a refusal ends the stream
    assert not busy[0].acknowledgement.accepted
    assert busy[0].acknowledgement.refusal == tpb.REFUSAL_REASON_BUSY
    assert seen["read_done"] == tpb.COMPLETION_CODE_CANCELED
    applied = seen["applied"]
    assert isinstance(applied, list)
    assert applied[0].acknowledgement.accepted
    progress = [m.progress for m in applied if m.HasField("progress")]
    phases = [p.phase for p in progress]
    assert phases[0] == tpb.FIRMWARE_UPDATE_PHASE_TRANSFER
    assert phases[-1] == tpb.FIRMWARE_UPDATE_PHASE_CONFIRMED
    assert tpb.FIRMWARE_UPDATE_PHASE_COMMIT in phases
    assert tpb.FIRMWARE_UPDATE_PHASE_REBOOT in phases
    transfer = [p.bytes_done for p in progress if p.phase == tpb.FIRMWARE_UPDATE_PHASE_TRANSFER]
    assert transfer == sorted(transfer)
    assert transfer[-1] == progress[-1].bytes_total == len(images["good"])
    done = applied[-1].completion
    assert done.code == tpb.COMPLETION_CODE_SUCCESS
    assert done.firmware.version == "1.1.0"
    assert (done.firmware.factory, done.firmware.trial, done.firmware.floor) == (False, False, 1)
    after = seen["after"]
    assert isinstance(after, tpb.DeviceStatus)
    assert after.firmware.version == "1.1.0"
    assert after.state == tpb.DEVICE_STATE_ONLINE  # same authority: the PIN key was kept
    event = seen["event"]
    assert isinstance(event, tpb.DeviceStatus)
    assert event.device == "controller"
    # The busy attempt never reached the board: one update, one trial boot.
    assert [(b.slot, b.version, b.trial) for b in boots] == [
        (-1, (1, 0, 0), False),
        (0, (1, 1, 0), True),
    ]
    ej = [line for line in (tmp_path / "ej.txt").read_text(encoding="utf-8").splitlines()
          if "FIRMWARE-UPDATE" in line]  # fmt: skip
    assert len(ej) == 1  # the operator's trace: the refused attempt never started
    assert "request_id=fw-1" in ej[0]
    assert "result=SUCCESS" in ej[0]
    assert "version=1.1.0" in ej[0]


def test_bad_images_are_refused_typed_and_the_old_version_runs(
    env: VerifierEnv,
    verifier: ServerThread,
    tmp_path: Path,
    images: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with board_with_slots(tmp_path / "fs") as sim:
        key = commissioned(sim)
        cfg = config(env, verifier, tmp_path, controller=sim.url, controller_key=key.material())
        truncated = tmp_path / "truncated.img"
        truncated.write_bytes(images["truncated"])

        async def scenario() -> dict[str, object]:
            seen: dict[str, object] = {}
            async with serving(cfg) as (agent, stub):
                # Malformed: refused at acknowledgement, nothing sent to the board.
                seen["malformed"] = await update(stub, images["truncated"])
                # Genuine-looking but signed by an untrusted key: the board refuses.
                seen["foreign"] = await update(stub, images["foreign"], "fw-2")
                try:  # the operator's command, through the agent
                    await asyncio.to_thread(update_via_agent, agent.address, images["foreign"])
                except UpdateError as exc:
                    seen["cli_reason"] = exc.reason
                args = argparse.Namespace(agent=agent.address, port=None, image=truncated)
                seen["cli_exit"] = await asyncio.to_thread(_run_update, args)
                seen["after"] = await controller(stub)
            return seen

        seen = asyncio.run(scenario())
        boots = list(sim.boots)
        slot_writes = [op for op in sim.flash_log if "slot" in op[1]]
        staging = [op for op in sim.flash_log if "staging" in op[1]]
    malformed = seen["malformed"]
    assert isinstance(malformed, list)
    assert len(malformed) == 1
    ack = malformed[0].acknowledgement
    assert not ack.accepted
    assert (ack.refusal, ack.invalid_field) == (tpb.REFUSAL_REASON_INVALID_MESSAGE, "image")
    foreign = seen["foreign"]
    assert isinstance(foreign, list)
    assert foreign[0].acknowledgement.accepted
    done = foreign[-1].completion
    assert done.code == tpb.COMPLETION_CODE_COMMAND_ERROR
    assert done.error == tpb.FIRMWARE_UPDATE_ERROR_BAD_SIGNATURE
    assert done.firmware.version == "1.0.0"
    assert not any(
        m.progress.phase == tpb.FIRMWARE_UPDATE_PHASE_COMMIT
        for m in foreign
        if m.HasField("progress")
    )
    assert seen["cli_reason"] is UpdateFailure.BAD_SIGNATURE
    assert seen["cli_exit"] == 1
    assert "error" in capsys.readouterr().err
    after = seen["after"]
    assert isinstance(after, tpb.DeviceStatus)
    assert (after.state, after.firmware.version) == (tpb.DEVICE_STATE_ONLINE, "1.0.0")
    assert after.firmware.factory
    assert len(boots) == 1  # never rebooted
    assert staging  # the board received the head, checked it, refused
    assert slot_writes == []  # no slot was ever written


def test_an_update_by_another_authority_leaves_the_pad_not_commissioned(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, images: dict[str, bytes]
) -> None:
    # The board erased its PIN key before running the new authority's code:
    # the agent says so at once, and the ATM's PIN commands are refused.
    with board_with_slots(tmp_path / "fs") as sim:
        key = commissioned(sim)
        cfg = config(env, verifier, tmp_path, controller=sim.url, controller_key=key.material())

        async def scenario() -> tuple[list[tpb.UpdateFirmwareResponse], tpb.DeviceStatus]:
            async with serving(cfg) as (_agent, stub):
                return await update(stub, images["other_authority"]), await controller(stub)

        applied, pad = asyncio.run(scenario())
    assert applied[-1].completion.code == tpb.COMPLETION_CODE_SUCCESS
    assert (pad.state, pad.firmware.version) == (tpb.DEVICE_STATE_NOT_COMMISSIONED, "1.1.0")


def test_refused_when_no_board_is_present(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, images: dict[str, bytes]
) -> None:
    absent = config(
        env, verifier, tmp_path / "absent", controller=str(tmp_path / "no-such-tty"),
        controller_key=BoardKey.generate().material(),
    )  # fmt: skip
    none = config(env, verifier, tmp_path / "none")
    (tmp_path / "absent").mkdir()
    (tmp_path / "none").mkdir()

    async def scenario() -> tuple[object, ...]:
        cli = ""
        async with serving(absent) as (agent, stub):
            refused = await update(stub, images["good"])
            try:
                await asyncio.to_thread(update_via_agent, agent.address, images["good"])
            except AgentRefusedError as exc:
                cli = exc.refusal
        async with serving(none) as (_agent, stub):
            caps = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=10)
            unsupported = await update(stub, images["good"])
        return refused, cli, caps.firmware_update, unsupported

    refused, cli, offered, unsupported = asyncio.run(scenario())
    assert isinstance(refused, list)
    assert len(refused) == 1
    assert refused[0].acknowledgement.refusal == tpb.REFUSAL_REASON_DEVICE_NOT_READY
    assert cli == "DEVICE_NOT_READY"
    assert offered is False
    assert isinstance(unsupported, list)
    assert unsupported[0].acknowledgement.refusal == tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND
