# SPDX-License-Identifier: Apache-2.0
"""Asking for a card secret the safe way, shared by every flow.

DESIGN invariant: the agent never spends a try it was not asked to spend,
reads the remaining tries first, and warns before the last one. So each
round reads the counter (no try spent), refuses a blocked secret without
prompting, emits ``LastTryWarning`` before a last-try prompt, hands the
secret to one card action and wipes it whatever happens. A wrong secret
loops (the counter is read again); a badly formed one costs no try and is
re-asked a bounded number of times. A new secret (``ask_new_secret``) is
typed twice and checked against the card's rule before any card sees it.
While a secret is asked for (``ask_secret``), keys typed on the secure PIN
pad reach the flow's events as ``PadKey`` (what they did, never which).
When a smartphone holds the secret (an Android phone: its own PIN and
password, set on the phone), the prompt says so (``PHONE_PROMPT_KEYS``)
rather than naming the card's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from host.card import PinKind
from host.card.pin_policy import normalize_pin
from host.errors import PinBlockedError, PinPolicyError, WrongPinError
from host.flows.context import FlowContext
from host.flows.events import LastTryWarning, Prompt, PromptKind, Working
from host.flows.on_device import presented
from host.flows.ports import CardPort, UserPort
from host.flows.secure_entry import pad_keys_to
from host.messages import UserText
from host.prompt_texts import PHONE_PROMPT_KEYS, new_secret_texts, prompt_text
from host.secret import Secret

__all__ = [
    "MAX_NEW_SECRET_ROUNDS",
    "MAX_POLICY_RETRIES",
    "ask_new_secret",
    "ask_secret",
    "use_secret",
]

_T = TypeVar("_T")

MAX_POLICY_RETRIES = 3
MAX_NEW_SECRET_ROUNDS = 3


async def ask_secret(ctx: FlowContext, user: UserPort, prompt: Prompt, name: str) -> Secret:
    """``user.secret(prompt)`` as the step ``name``; the caller wipes the secret.

    A secure PIN pad's keys during the entry are emitted as ``PadKey`` events.

    Raises:
        FlowCancelledError, StepTimeoutError: at the prompt.
    """
    with pad_keys_to(ctx.emit):
        # The step's task is created here, so it keeps the listener.
        return await ctx.step(name, user.secret(prompt), ctx.timeouts.prompt)


async def use_secret(
    ctx: FlowContext,
    *,
    card: CardPort,
    user: UserPort,
    pin: PinKind,
    prompt_kind: PromptKind,
    text: str,
    action: Callable[[Secret], Awaitable[_T]],
    working: str = "the card is working",
    on_prompt: Callable[[], None] | None = None,
) -> _T:
    """Prompt for ``pin`` until ``action(secret)`` succeeds; returns its result.

    Raises:
        PinBlockedError: blocked before asking, or by the last wrong try.
        PinPolicyError: badly formed ``MAX_POLICY_RETRIES`` times in a row.
        FlowCancelledError, StepTimeoutError: at a prompt or card step.
        CardError, TransportError: the card failed or left.
    """
    policy_errors = 0
    while True:
        tries = await ctx.step("PIN status", card.tries_left(pin), ctx.timeouts.card)
        if tries == 0:
            raise PinBlockedError(0x6984, "VERIFY", "the secret is blocked")
        if tries == 1:
            ctx.emit(LastTryWarning(prompt_kind))
        if on_prompt is not None:
            on_prompt()
        message = _phone_text(ctx, prompt_kind)
        shown = text if message is None else message.en
        prompt = Prompt(prompt_kind, shown, tries_left=tries, last_try=tries == 1, message=message)
        ctx.emit(prompt)
        secret = await ask_secret(ctx, user, prompt, prompt_kind.value)
        with secret:
            ctx.emit(Working(working))
            try:
                return await ctx.step(working, action(secret), ctx.timeouts.card)
            except WrongPinError:
                continue
            except PinPolicyError:
                policy_errors += 1
                if policy_errors >= MAX_POLICY_RETRIES:
                    raise


def _phone_text(ctx: FlowContext, prompt_kind: PromptKind) -> UserText | None:
    """The phone's wording of a secret prompt when a phone was presented, else None.

    None keeps the flow's own text (the API adds the kind's default, the card's).
    """
    credential = presented(ctx)
    key = PHONE_PROMPT_KEYS.get(prompt_kind.value)
    if credential is None or not credential.is_phone or key is None:
        return None
    return prompt_text(key)


async def ask_new_secret(
    ctx: FlowContext, user: UserPort, kind: PinKind, *, on_prompt: Callable[[], None]
) -> Secret:
    """A new ``kind`` secret typed twice alike and within the card's rule; the caller wipes it.

    Raises:
        PinPolicyError: no acceptable pair in ``MAX_NEW_SECRET_ROUNDS`` rounds.
        FlowCancelledError, StepTimeoutError: at a prompt.
    """
    first_text, again_text = new_secret_texts(kind)
    for _ in range(MAX_NEW_SECRET_ROUNDS):
        on_prompt()
        first_prompt = Prompt(PromptKind.NEW_SECRET, first_text.en, message=first_text)
        ctx.emit(first_prompt)
        first = await ask_secret(ctx, user, first_prompt, "new secret")
        again_prompt = Prompt(PromptKind.NEW_SECRET, again_text.en, message=again_text)
        ctx.emit(again_prompt)
        try:
            second = await ask_secret(ctx, user, again_prompt, "new secret again")
        except BaseException:
            first.wipe()
            raise
        with second:
            try:
                same = normalize_pin(kind, first, new=True) == normalize_pin(kind, second, new=True)
            except PinPolicyError:
                first.wipe()
                ctx.emit(Working("the new secret breaks the card's rules"))
                continue
        if same:
            return first
        first.wipe()
        ctx.emit(Working("the two entries differ"))
    raise PinPolicyError("no acceptable new secret was entered")
