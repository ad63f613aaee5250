# SPDX-License-Identifier: Apache-2.0
"""The parts of one ``Execute`` command, each nameable and testable without a server.

Why apart from ``server`` (issue 13): the servicer's ``Execute`` was one long
generator with closures; here each step is a name. A request is either
refused (``Refusal``, the acknowledgement that says no, with the field and
the detail an ATM application can act on) or admitted (``Admission``: the
command, its flow and how to run it, its card). While it runs, the flow's
events reach the command's log through ``CommandEvents``, its timeout is
``expire``, and ``run_to_completion`` always gives one ``Completion``.
``needs_pad`` and ``verifier_state`` are the two rules that look at a
command's content: the ATM's secure PIN pad, and what the verifier's answer
says about its status.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Final

from host.api.commands import Command, CommandKind, command_kind
from host.api.runtime import AgentRuntime, Flow, FlowRunner, Profile
from host.api.translate import completion_for, event_message
from host.api.user_text import describe_phone, describe_reason
from host.flows import CardPort, Event, FailureCode, FlowFailed, TransferFlow
from host.flows.transfer import TransferFieldError
from myna.edge.v1 import terminal_pb2 as tpb
from myna_metrics.flow_steps import record_flow_steps
from myna_metrics.tracing import command_span

__all__ = [
    "PAD_UNUSABLE",
    "REQUEST_ID",
    "Admission",
    "CommandEvents",
    "Refusal",
    "close_card",
    "expire",
    "needs_pad",
    "run_to_completion",
    "verifier_state",
]

_log = logging.getLogger(__name__)

#: A request id: 1-64 printable ASCII characters, no spaces.
REQUEST_ID: Final = re.compile(r"[\x21-\x7e]{1,64}")
#: Controller states in which secure entry cannot work (no key, or keys erased).
PAD_UNUSABLE: Final = frozenset({tpb.DEVICE_STATE_NOT_COMMISSIONED, tpb.DEVICE_STATE_FRAUD_ATTEMPT})
#: The DEVICE_NOT_READY refusal's detail for each of those states (issue 23.2).
_PAD_DETAIL: Final = {
    tpb.DEVICE_STATE_NOT_COMMISSIONED: "controller not commissioned: the secure PIN pad has "
    "no key matching controller_key (myna-edge sim controller --commission KEYFILE)",
    tpb.DEVICE_STATE_FRAUD_ATTEMPT: "controller tamper: the secure PIN pad erased its keys",
}


@dataclass(frozen=True)
class Refusal:
    """Why a command is not accepted, as its acknowledgement tells the client."""

    reason: tpb.RefusalReason.ValueType
    invalid_field: str = ""
    detail: str = ""

    @classmethod
    def invalid_request_id(cls) -> Refusal:
        """The request id is not 1-64 printable ASCII characters."""
        return cls(
            tpb.REFUSAL_REASON_INVALID_REQUEST_ID,
            invalid_field="request_id",
            detail="1-64 printable ASCII characters, no spaces",
        )

    @classmethod
    def pad_not_ready(cls, state: tpb.DeviceState.ValueType) -> Refusal:
        """The secure PIN pad cannot take the secret this command needs (issue 23.2)."""
        return cls(tpb.REFUSAL_REASON_DEVICE_NOT_READY, detail=_PAD_DETAIL.get(state, ""))

    @classmethod
    def invalid_command(cls, request: tpb.ExecuteRequest, exc: ValueError) -> Refusal:
        """A field of the command is out of format (named when the flow says which)."""
        kind = command_kind(request)
        field = ""
        if isinstance(exc, TransferFieldError) and kind is not None:
            field = f"{kind}.{exc.field}"
        return cls(tpb.REFUSAL_REASON_INVALID_MESSAGE, invalid_field=field, detail=str(exc))

    def response(self, request_id: str) -> tpb.ExecuteResponse:
        """The one message of a refused command's stream (and a log line saying why)."""
        _log.info(
            "command %r refused: %s %s",
            request_id[:64],
            tpb.RefusalReason.Name(self.reason),
            self.invalid_field,
        )
        ack = tpb.Acknowledgement(
            accepted=False,
            refusal=self.reason,
            invalid_field=self.invalid_field,
            detail=self.detail,
        )
        return tpb.ExecuteResponse(request_id=request_id, acknowledgement=ack)


@dataclass(frozen=True)
class Admission:
    """An accepted command: what it asks, its log, its flow and how to run it, its card."""

    request: tpb.ExecuteRequest
    kind: CommandKind
    command: Command
    flow: Flow
    run: FlowRunner
    card: CardPort


class CommandEvents:
    """The flow's ``emit``: each event, as the API says it, appended to the command's log."""

    def __init__(self, command: Command) -> None:
        self._command = command

    def __call__(self, event: Event) -> None:
        if (
            self._command.timed_out
            and isinstance(event, FlowFailed)
            and event.code == FailureCode.CANCELLED
        ):
            # The failure event and the completion say the same: TIME_OUT.
            event = FlowFailed(FailureCode.TIMEOUT, "the command's timeout_ms expired")
        message = event_message(event)
        if message is not None and message.HasField("credential"):
            self._command.credential_kind = message.credential.kind
        if message is not None:
            self._command.post(message)


def expire(command: Command, flow: Flow) -> None:
    """The command's ``timeout_ms`` ran out: cancel it, unless it is at the cash question.

    Why the exception: no command timeout covers a transfer's cash handling
    (issue 23.1); the ATM application answers it, or the recovery desk does.
    """
    if isinstance(flow, TransferFlow) and flow.cash_handling:
        return
    command.timed_out = True
    flow.cancel()


def needs_pad(runtime: AgentRuntime, request: tpb.ExecuteRequest) -> bool:
    """Whether ``request`` needs a secret from the ATM's secure PIN pad.

    At an ATM every secret comes from the pad: a transfer over the threshold
    (the signing password) and a read that unlocks the card (its PINs).
    Refusing these at acknowledgement is what an ATM application can act on;
    failing at the prompt is not.
    """
    if runtime.profile is not Profile.ATM:
        return False
    kind = command_kind(request)
    if kind is CommandKind.TRANSFER:
        return request.transfer.amount_yen > runtime.threshold_yen
    return kind is CommandKind.READ_CARD and (
        request.read_card.read_basic_four or request.read_card.verify_card
    )


async def run_to_completion(admission: Admission) -> tpb.Completion:
    """Run the flow; its outcome as a completion, even when the flow has a bug."""
    try:
        # the trace's root span (when the agent traces) and the request id of its log lines
        with command_span(admission.kind.name, admission.command.request_id):
            try:
                outcome = await admission.run()
            finally:  # time per step, and a span per step under the command's (flow_steps)
                record_flow_steps(admission.flow.flow, admission.flow.step_times())
    except Exception:  # noqa: BLE001 - a bug must not leave the command without a completion
        _log.exception("command %s failed", admission.command.request_id)
        done = tpb.Completion(
            code=tpb.COMPLETION_CODE_INTERNAL_ERROR, error_code=FailureCode.FAILED.value
        )
        describe_reason(done, outcome="failed", reason="failed")  # what to tell the person
        return done
    done = completion_for(outcome, timed_out=admission.command.timed_out)
    done.credential_kind = admission.command.credential_kind
    describe_phone(done)  # a phone's certificate is renewed on the phone
    return done


def verifier_state(
    kind: CommandKind, request: tpb.ExecuteRequest, done: tpb.Completion
) -> tpb.DeviceState.ValueType | None:
    """What a completed command learnt about the verifier (None: nothing).

    Unreachable now, or answered: every transfer and reset, a verifying
    read, and a counter check with the holder's PIN opens a verifier session
    first (a plain counter check never calls it).
    """
    if done.error_code == FailureCode.SERVICE_UNAVAILABLE:
        return tpb.DEVICE_STATE_OFFLINE
    answered = done.code in (tpb.COMPLETION_CODE_SUCCESS, tpb.COMPLETION_CODE_COMMAND_ERROR)
    asked = {
        CommandKind.READ_CARD: request.read_card.verify_card,
        CommandKind.COUNTER_CHECK: request.counter_check.holder_pin,
    }.get(kind, True)
    if answered and asked:
        return tpb.DEVICE_STATE_ONLINE
    return None


async def close_card(card: CardPort | None) -> None:
    """Close the command's card session, if it has one to close."""
    closer = getattr(card, "aclose", None)
    if closer is not None:
        await closer()
