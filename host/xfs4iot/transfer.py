# SPDX-License-Identifier: Apache-2.0
"""The vendor-specific ``MynaEdge`` interface: the identity-verified transfer over XFS4IoT shapes.

XFS4IoT has no class for "verify the holder with the card's signature and
authorise a transfer exactly once", so our flow is one clearly named
vendor interface (``MynaEdge``, outside CEN's interface list) that keeps
the standard message shapes: ``MynaEdge.IdentityVerifiedTransfer`` is a
command with an acknowledge, events and one completion, cancelled by
``Common.Cancel`` and bounded by its header ``timeout``. It runs the
agent's ``Execute(transfer)``; each agent event becomes an event of the
command (``MynaEdge.PromptEvent``, ``LastTryWarningEvent``,
``WorkingEvent``, ``RemoveCardEvent``, ``CardTakenEvent``,
``FailureEvent``, ``CredentialEvent``). A smartphone (issue 15):
"authenticate on your phone" is a display-only ``PromptEvent`` (``prompt:
approveOnPhone``), what was presented a ``CredentialEvent`` and the
completion's ``credentialKind``; a decline on the phone is the agent's
``canceled`` with ``reason: declinedOnPhone``. A prompt with ``answerable:
true`` is answered with ``MynaEdge.AnswerPrompt`` (runs at once, beside
the running transfer); the signing password is typed on the secure PIN pad
and never crosses this interface. Common.Cancel (and a client that
disconnects) asks the agent to cancel, so the agent's own completion
(reversals included) is what the client gets. The header ``timeout`` is
handed to the agent as the command's ``timeout_ms`` rather than enforced
here: the agent's timeout never covers the cash question (issue 23 part
1), and a front-end timer would decide what the agent deliberately does
not.

The transfer's ``transactionId`` (the application's, or one made here) is
the agent's request id: ``MynaEdge.AttachTransfer`` follows a running
transfer again after the application reconnected, and the cash question
and past outcomes are in ``cash``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from host.xfs4iot import cash
from host.xfs4iot.agent import AgentUnavailableError
from host.xfs4iot.messages import CompletionCode
from host.xfs4iot.service import (
    DEVICE_STATES,
    CommandContext,
    CommandSpec,
    Outcome,
    Service,
    agent_code,
)
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb

if TYPE_CHECKING:
    from host.xfs4iot.session import Session

__all__ = ["TransferService", "camel", "completion_outcome"]

_ACCOUNT_TYPES: Final = {
    "ordinary": vpb.ACCOUNT_TYPE_ORDINARY,
    "current": vpb.ACCOUNT_TYPE_CURRENT,
    "savings": vpb.ACCOUNT_TYPE_SAVINGS,
}
#: Agent refusals at acknowledge -> completion.
_REFUSALS: Final = {
    tpb.REFUSAL_REASON_BUSY: CompletionCode.DEVICE_NOT_READY,
    tpb.REFUSAL_REASON_DEVICE_NOT_READY: CompletionCode.DEVICE_NOT_READY,
    tpb.REFUSAL_REASON_INVALID_MESSAGE: CompletionCode.INVALID_DATA,
    tpb.REFUSAL_REASON_UNSUPPORTED_COMMAND: CompletionCode.UNSUPPORTED_COMMAND,
    tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID: CompletionCode.INVALID_DATA,
    tpb.REFUSAL_REASON_INVALID_REQUEST_ID: CompletionCode.INVALID_DATA,
}
#: Where the agent's request id is the transaction id (the refusal names it so).
_ID_REFUSALS: Final = (
    tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID,
    tpb.REFUSAL_REASON_INVALID_REQUEST_ID,
)
_EVENT_NAMES: Final = (
    "MynaEdge.PromptEvent",
    "MynaEdge.LastTryWarningEvent",
    "MynaEdge.WorkingEvent",
    "MynaEdge.RemoveCardEvent",
    "MynaEdge.CardTakenEvent",
    "MynaEdge.FailureEvent",
    "MynaEdge.CredentialEvent",
    "MynaEdge.CashQuestionEvent",
)
#: What was presented (the agent's CredentialKind) as the vendor interface names it.
_CREDENTIAL_KINDS: Final = {
    tpb.CREDENTIAL_KIND_CARD: "card",
    tpb.CREDENTIAL_KIND_ANDROID: "android",
    tpb.CREDENTIAL_KIND_IPHONE: "iphone",
}
#: How the holder unlocks the key: typed on the secure pad, or approved on the phone.
_VERIFICATIONS: Final = {
    tpb.USER_VERIFICATION_PIN_PAD: "pinPad",
    tpb.USER_VERIFICATION_ON_DEVICE: "onDevice",
}
_UNAVAILABLE: Final = Outcome(CompletionCode.DEVICE_NOT_READY, {}, "the agent is unreachable")


def camel(enum_name: str, prefix: str) -> str:
    """``PROMPT_TYPE_CONFIRM_STATEMENT`` -> ``confirmStatement``."""
    words = enum_name.removeprefix(prefix).lower().split("_")
    return words[0] + "".join(w.title() for w in words[1:])


def _enum_text(message: Any, field_name: str) -> str:
    # error_code is a string today and may become an enum (issue 23 part 4):
    # read either through the descriptor rather than assume.
    value = getattr(message, field_name)
    descriptor = message.DESCRIPTOR.fields_by_name[field_name]
    if descriptor.enum_type is not None:
        entry = descriptor.enum_type.values_by_number.get(value)
        return entry.name if entry is not None and value else ""
    return str(value)


@dataclass
class TransferService(Service):
    """The ``MynaEdge`` service (Common + the vendor MynaEdge interface)."""

    threshold_yen: int = 100_000
    _agent_ids: dict[tuple[int, int], str] = field(default_factory=dict)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _watchers: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        agent = self.agent
        self.commands = {
            "MynaEdge.IdentityVerifiedTransfer": CommandSpec(self._transfer, own_timeout=True),
            "MynaEdge.AttachTransfer": CommandSpec(self._attach, immediate=True),
            "MynaEdge.AnswerPrompt": CommandSpec(self._answer, immediate=True),
            "MynaEdge.AnswerCashQuestion": CommandSpec(
                partial(cash.answer_cash_question, agent), immediate=True
            ),
            "MynaEdge.GetTransferOutcome": CommandSpec(
                partial(cash.transfer_outcome, agent, convert=completion_outcome), immediate=True
            ),
        }
        self.events = _EVENT_NAMES

    async def client_joined(self, session: Session) -> None:
        self._watchers[id(session)] = asyncio.ensure_future(
            cash.follow_cash_questions(self.agent, session)
        )

    async def client_left(self, session: Session) -> None:
        watcher = self._watchers.pop(id(session), None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def status_section(self, states: dict[str, int]) -> dict[str, Any]:
        state = states.get("verifier")
        verifier = DEVICE_STATES.get(state, "offline") if state is not None else "noDevice"
        return {"mynaEdge": {"verifier": verifier}}

    async def capability_sections(self) -> dict[str, Any]:
        try:
            caps = await self.agent.capabilities()
        except AgentUnavailableError:
            return {"mynaEdge": {"identityVerifiedTransfer": False}}
        return {
            "mynaEdge": {
                "identityVerifiedTransfer": caps.transfer,
                "identityThresholdYen": caps.transfer_identity_threshold_yen,
                "receiptPrinter": caps.receipt_printer,
            }
        }

    def _request(self, context: CommandContext, agent_id: str) -> tpb.ExecuteRequest:
        p = context.command.payload
        command = tpb.TransferCommand(
            amount_yen=p["amountYen"],
            payee_bank_code=p["payeeBankCode"],
            payee_branch_code=p["payeeBranchCode"],
            payee_account_type=_ACCOUNT_TYPES[p["payeeAccountType"]],
            payee_account_number=p["payeeAccountNumber"],
            payee_name=p["payeeName"],
            remitter_name=p["remitterName"],
            remitter_phone=p.get("remitterPhone", ""),
        )
        # The agent bounds the command (never its cash question): see the module docstring.
        return tpb.ExecuteRequest(
            request_id=agent_id,
            timeout_ms=context.command.timeout_ms,
            transfer=command,
            language=p.get("language", ""),
        )

    async def _transfer(self, context: CommandContext) -> Outcome:
        rid = context.command.request_id
        agent_id = context.command.payload.get("transactionId") or (
            f"xfs4iot-{next(self._serial)}-{rid}"
        )
        return await self._follow(
            context, agent_id, self.agent.execute(self._request(context, agent_id))
        )

    async def _attach(self, context: CommandContext) -> Outcome:
        """Follow a transfer again (its events from the start, then its completion)."""
        agent_id = context.command.payload["transactionId"]
        try:
            where = await self.agent.command_outcome(agent_id)
        except AgentUnavailableError:
            return _UNAVAILABLE
        if where.state == tpb.COMMAND_STATE_JOURNALED:  # the agent restarted: no stream left
            return completion_outcome(where.completion, agent_id)
        if where.state not in (tpb.COMMAND_STATE_RUNNING, tpb.COMMAND_STATE_COMPLETED):
            return Outcome(
                CompletionCode.INVALID_DATA, {}, "no transfer with this transactionId is known"
            )
        return await self._follow(context, agent_id, self.agent.attach(agent_id))

    async def _follow(
        self, context: CommandContext, agent_id: str, stream: AsyncIterator[tpb.ExecuteResponse]
    ) -> Outcome:
        key = (id(context.session), context.command.request_id)
        self._agent_ids[key] = agent_id

        async def soft_cancel() -> None:
            await self.agent.cancel(agent_id)

        context.soft_cancel = soft_cancel
        try:
            async for message in stream:
                which = message.WhichOneof("message")
                if which == "acknowledgement" and not message.acknowledgement.accepted:
                    return _refused(message.acknowledgement)
                if which == "event":
                    await self._forward(context, message.event)
                elif which == "completion":
                    return completion_outcome(message.completion, agent_id)
        except AgentUnavailableError:
            return _UNAVAILABLE
        finally:
            self._agent_ids.pop(key, None)
        return Outcome(CompletionCode.INTERNAL_ERROR, {}, "the agent's stream ended early")

    async def _forward(self, context: CommandContext, event: tpb.FlowEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind == "prompt":
            p = event.prompt
            prompt = camel(tpb.PromptType.Name(p.type), "PROMPT_TYPE_")
            payload: dict[str, Any] = {
                "promptId": p.prompt_id,
                "prompt": prompt,
                "text": p.text,
                "triesLeft": max(p.tries_left, 0),
                "lastTry": p.last_try,
                "answerable": bool(p.prompt_id),
            }
            if p.HasField("message"):
                payload["message"] = _user_message(p.message)
            await context.event("MynaEdge.PromptEvent", payload)
        elif kind == "last_try_warning":
            name = tpb.PromptType.Name(event.last_try_warning.type)
            await context.event(
                "MynaEdge.LastTryWarningEvent", {"prompt": camel(name, "PROMPT_TYPE_")}
            )
        elif kind == "working":
            await context.event("MynaEdge.WorkingEvent", {"step": event.working.step[:128]})
        elif kind == "remove_card":
            await context.event("MynaEdge.RemoveCardEvent")
        elif kind == "card_taken":
            await context.event("MynaEdge.CardTakenEvent")
        elif kind == "credential":
            await context.event("MynaEdge.CredentialEvent", _credential(event.credential))
        elif kind == "failure":
            failure = event.failure
            await context.event(
                "MynaEdge.FailureEvent",
                {
                    "code": _enum_text(failure, "code")[:64],
                    "message": failure.message[:512],
                },
            )
        # Event kinds added to the agent later are not forwarded until mapped here.

    async def _answer(self, context: CommandContext) -> Outcome:
        p = context.command.payload
        agent_id = self._agent_ids.get((id(context.session), p["transferRequestId"]))
        if agent_id is None:
            return Outcome(payload={"accepted": False})
        request = tpb.AnswerPromptRequest(
            request_id=agent_id, prompt_id=p["promptId"], confirmed=p["confirmed"]
        )
        try:
            accepted = await self.agent.answer(request)
        except AgentUnavailableError:
            return _UNAVAILABLE
        return Outcome(payload={"accepted": accepted})


def _user_message(message: tpb.UserMessage) -> dict[str, str]:
    return {"key": message.key[:128], "ja": message.ja[:1024], "en": message.en[:1024]}


def _credential(event: tpb.CredentialEvent) -> dict[str, str]:
    """What was presented and how its holder verifies: the kind only, never an identifier."""
    payload = {"kind": _CREDENTIAL_KINDS.get(event.kind, "unknown")}
    verification = _VERIFICATIONS.get(event.user_verification)
    if verification is not None:
        payload["userVerification"] = verification
    return payload


def _refused(ack: tpb.Acknowledgement) -> Outcome:
    """The agent's refusal at acknowledge as a completion naming the offending field."""
    code = _REFUSALS.get(ack.refusal, CompletionCode.DEVICE_NOT_READY)
    name = tpb.RefusalReason.Name(ack.refusal) if ack.refusal in tpb.RefusalReason.values() else ""
    field_name = "transactionId" if ack.refusal in _ID_REFUSALS else ack.invalid_field
    where = f" ({field_name})" if field_name else ""
    return Outcome(code, {}, f"{name or 'refused'}{where}"[:512])


def completion_outcome(done: tpb.Completion, transaction_id: str = "") -> Outcome:
    """The agent's completion of a transfer as the vendor command's completion."""
    payload: dict[str, Any] = {"transactionId": transaction_id} if transaction_id else {}
    error = _enum_text(done, "error_code")
    if error:
        payload["errorCode"] = error[:64]
    if done.reason:
        name = (
            tpb.CompletionReason.Name(done.reason)
            if done.reason in tpb.CompletionReason.values()
            else ""
        )
        if name:
            payload["reason"] = camel(name, "COMPLETION_REASON_")
    if done.HasField("message") and done.message.key:
        payload["message"] = _user_message(done.message)
    if done.credential_kind in _CREDENTIAL_KINDS:
        payload["credentialKind"] = _CREDENTIAL_KINDS[done.credential_kind]
    if done.WhichOneof("result") == "transfer":
        t = done.transfer
        payload |= {
            "authorizationId": t.authorization_id[:128],
            "state": camel(vpb.TransferState.Name(t.state), "TRANSFER_STATE_"),
            "identityVerified": t.identity_verified,
            "receiptPrinted": t.receipt_printed,
        }
        if t.receipt_lines:
            payload["receiptLines"] = [line[:256] for line in t.receipt_lines[:64]]
    code = agent_code(done.code)
    return Outcome(code, payload, error if code is not CompletionCode.SUCCESS and error else None)
