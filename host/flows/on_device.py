# SPDX-License-Identifier: Apache-2.0
"""Flows meet smartphones here: what was presented, and approval on the phone.

Why one module: a flow must not branch on phone models (issue 15). It asks
``present`` what the credential can do (``host.card.Credential``) and, when
the holder verifies on the device instead of typing a secret, lets
``approve_on_device`` wait for the phone: an "authenticate on your phone"
prompt, then the phone's answer, polled without spending anything, until
it approves, declines (``ApprovalDeclinedError``, a cancel) or the prompt's
time runs out (``ApprovalTimeoutError``). Nothing is typed at the terminal,
so no try is ever spent and no secret exists to wipe.

A card port that cannot tell (``CredentialPort`` not implemented, as in
older fakes) is taken to hold a plastic card, so card flows are unchanged.

``presented(ctx)`` answers what ``present`` learnt for a flow's context,
so that a secret's prompt can say "the PIN you set on your phone" to an
Android holder (``host.flows.pin_entry``) without each flow threading the
credential through every call, and without asking the phone again.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from host.card import ApprovalState, Credential, CredentialKind, KeyKind, credential_for
from host.client import CardProof
from host.errors import ApprovalDeclinedError, ApprovalRequiredError, ApprovalTimeoutError
from host.flows.context import FlowContext
from host.flows.events import CredentialPresented, Prompt, PromptKind, Working
from host.flows.ports import CardPort
from host.prompt_texts import PromptKey, prompt_text

__all__ = [
    "APPROVAL_POLL_SECONDS",
    "CredentialPort",
    "approve_on_device",
    "present",
    "presented",
]

#: How often the phone is asked whether its holder approved (an empty VERIFY, free).
APPROVAL_POLL_SECONDS: Final = 0.2

#: What ``present`` learnt, per flow context (gone with the context).
_PRESENTED: Final[weakref.WeakKeyDictionary[FlowContext, Credential]] = weakref.WeakKeyDictionary()


@runtime_checkable
class CredentialPort(Protocol):
    """What a card port adds for smartphones (``ThreadedCard`` has it)."""

    async def credential(self) -> Credential:
        """What was presented and what it can do."""

    async def approval(self) -> ApprovalState:
        """The phone's on-device approval; spends nothing."""

    async def prove_on_device(self, kind: KeyKind, digest: bytes) -> CardProof:
        """The ``kind`` certificate and a signature over ``digest``, approved on the phone."""


async def present(ctx: FlowContext, card: CardPort) -> Credential:
    """Learn what was presented (after ``wait_card``) and emit ``CredentialPresented``.

    Raises:
        DataFormatError: not a JPKI credential; CardError, TransportError,
        StepTimeoutError, FlowCancelledError: as any card step.
    """
    if isinstance(card, CredentialPort):
        credential = await ctx.step("credential", card.credential(), ctx.timeouts.card)
    else:
        credential = credential_for(CredentialKind.CARD)
    _PRESENTED[ctx] = credential
    ctx.emit(CredentialPresented(credential.kind, credential.verification))
    return credential


def presented(ctx: FlowContext) -> Credential | None:
    """What ``present`` learnt in ``ctx``; None before (or in a flow that never asks)."""
    return _PRESENTED.get(ctx)


async def approve_on_device(
    ctx: FlowContext,
    card: CardPort,
    *,
    kind: KeyKind,
    digest: bytes,
    working: str,
    on_prompt: Callable[[], None] | None = None,
) -> CardProof:
    """Prompt "authenticate on your phone", wait for the approval, then prove with ``kind``.

    The wait is bounded by the prompt's time (``StepTimeouts.prompt``) and
    can be cancelled like any prompt.

    Raises:
        ApprovalDeclinedError: the holder declined on the phone.
        ApprovalTimeoutError: no answer from the phone in time.
        TypeError: ``card`` cannot ask a phone (no ``CredentialPort``).
        FlowCancelledError; CardError, TransportError (the phone left).
    """
    if not isinstance(card, CredentialPort):
        raise TypeError("approval on the device needs a CredentialPort")
    if on_prompt is not None:
        on_prompt()
    text = prompt_text(PromptKey.APPROVE_ON_PHONE)
    ctx.emit(Prompt(PromptKind.APPROVE_ON_PHONE, text.en, message=text))
    deadline = time.monotonic() + ctx.timeouts.prompt
    while True:
        state = await ctx.step("phone approval", card.approval(), ctx.timeouts.card)
        if state is ApprovalState.APPROVED:
            ctx.emit(Working(working))
            try:
                return await ctx.step(
                    working, card.prove_on_device(kind, digest), ctx.timeouts.card
                )
            except ApprovalRequiredError as exc:  # withdrawn between the two
                state = ApprovalState.DECLINED if exc.declined else ApprovalState.PENDING
        if state is ApprovalState.DECLINED:
            raise ApprovalDeclinedError("the holder declined on the phone")
        if time.monotonic() + APPROVAL_POLL_SECONDS > deadline:
            raise ApprovalTimeoutError(f"the phone gave no answer within {ctx.timeouts.prompt:g} s")
        await ctx.step(
            "phone approval",
            asyncio.sleep(APPROVAL_POLL_SECONDS),
            APPROVAL_POLL_SECONDS + ctx.timeouts.card,
        )
