# SPDX-License-Identifier: Apache-2.0
"""The parts of an Execute command, without a server: refusals, events, timeout, pad, status."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host.api import AgentRuntime, Profile
from host.api.commands import Command, CommandKind
from host.api.execute import (
    Admission,
    CommandEvents,
    Refusal,
    expire,
    needs_pad,
    run_to_completion,
    verifier_state,
)
from host.flows import FailureCode, FlowFailed
from host.flows.transfer import TransferFieldError
from host.journal import Journal
from myna.edge.v1 import terminal_pb2 as tpb


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[AgentRuntime]:
    with Journal(tmp_path / "j.db") as journal:
        yield AgentRuntime.for_reader(
            "sim://",
            profile=Profile.ATM,
            terminal_id="atm-01",
            verifier=None,  # type: ignore[typeddict-item]  # these rules never call it
            journal=journal,
            threshold_yen=100_000,
        )


def _transfer(amount_yen: int) -> tpb.ExecuteRequest:
    return tpb.ExecuteRequest(request_id="r", transfer=tpb.TransferCommand(amount_yen=amount_yen))


def _read(*, basic_four: bool, verify: bool) -> tpb.ExecuteRequest:
    read = tpb.ReadCardCommand(read_basic_four=basic_four, verify_card=verify)
    return tpb.ExecuteRequest(request_id="r", read_card=read)


def test_a_refusal_is_one_unaccepted_acknowledgement() -> None:
    message = Refusal.invalid_request_id().response("bad id")
    assert message.request_id == "bad id"
    ack = message.acknowledgement
    assert not ack.accepted
    assert ack.refusal == tpb.REFUSAL_REASON_INVALID_REQUEST_ID
    assert ack.invalid_field == "request_id"


def test_pad_refusals_say_what_to_do() -> None:
    detail = Refusal.pad_not_ready(tpb.DEVICE_STATE_NOT_COMMISSIONED).detail
    assert "--commission" in detail
    assert "erased" in Refusal.pad_not_ready(tpb.DEVICE_STATE_FRAUD_ATTEMPT).detail
    assert Refusal.pad_not_ready(tpb.DEVICE_STATE_ONLINE).detail == ""


def test_an_invalid_transfer_field_is_named_with_its_command() -> None:
    refusal = Refusal.invalid_command(_transfer(1), TransferFieldError("payee_name", "too long"))
    assert refusal.reason == tpb.REFUSAL_REASON_INVALID_MESSAGE
    assert refusal.invalid_field == "transfer.payee_name"
    plain = Refusal.invalid_command(_transfer(1), ValueError("no"))
    assert (plain.invalid_field, plain.detail) == ("", "no")


def test_events_reach_the_log_and_a_timed_out_cancel_says_timeout() -> None:
    command = Command("r")
    events = CommandEvents(command)
    events(FlowFailed(FailureCode.CANCELLED, "cancelled"))
    command.timed_out = True
    events(FlowFailed(FailureCode.CANCELLED, "cancelled"))
    codes = [m.event.failure.code for m in command.log.messages]
    assert codes == ["cancelled", "timeout"]
    assert all(m.request_id == "r" for m in command.log.messages)


class _Flow:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def test_expire_cancels_and_marks_the_command() -> None:
    command, flow = Command("r"), _Flow()
    expire(command, flow)  # type: ignore[arg-type]  # a stand-in with the flow's cancel
    assert command.timed_out
    assert flow.cancelled


def test_only_secrets_at_an_atm_need_the_pad(runtime: AgentRuntime) -> None:
    assert needs_pad(runtime, _transfer(100_001))
    assert not needs_pad(runtime, _transfer(100_000))
    assert needs_pad(runtime, _read(basic_four=True, verify=False))
    assert needs_pad(runtime, _read(basic_four=False, verify=True))
    runtime.profile = Profile.KIOSK
    assert not needs_pad(runtime, _transfer(100_001))


@pytest.mark.parametrize(
    ("kind", "request_", "done", "state"),
    [
        (
            CommandKind.TRANSFER,
            _transfer(1),
            tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS),
            tpb.DEVICE_STATE_ONLINE,
        ),
        (
            CommandKind.TRANSFER,
            _transfer(1),
            tpb.Completion(
                code=tpb.COMPLETION_CODE_HARDWARE_ERROR, error_code="service_unavailable"
            ),
            tpb.DEVICE_STATE_OFFLINE,
        ),
        (
            CommandKind.READ_CARD,
            _read(basic_four=True, verify=False),
            tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS),
            None,
        ),
        (
            CommandKind.READ_CARD,
            _read(basic_four=False, verify=True),
            tpb.Completion(code=tpb.COMPLETION_CODE_COMMAND_ERROR),
            tpb.DEVICE_STATE_ONLINE,
        ),
        (
            CommandKind.PIN_RESET,
            tpb.ExecuteRequest(request_id="r", pin_reset=tpb.PinResetCommand()),
            tpb.Completion(code=tpb.COMPLETION_CODE_CANCELED),
            None,
        ),
    ],
    ids=["answered", "unreachable", "unverified-read", "verified-read", "cancelled"],
)
def test_what_a_completion_says_about_the_verifier(
    kind: CommandKind,
    request_: tpb.ExecuteRequest,
    done: tpb.Completion,
    state: Any,
) -> None:
    assert verifier_state(kind, request_, done) == state


def test_a_flow_bug_still_completes_the_command() -> None:
    async def broken() -> Any:
        raise RuntimeError("bug")

    admission = Admission(
        request=_transfer(1),
        kind=CommandKind.TRANSFER,
        command=Command("r"),
        flow=_Flow(),  # type: ignore[arg-type]  # never run: only its runner is
        run=broken,
        card=None,  # type: ignore[arg-type]  # not used to complete
    )
    done = asyncio.run(run_to_completion(admission))
    assert done.code == tpb.COMPLETION_CODE_INTERNAL_ERROR
    assert done.error_code == "failed"
