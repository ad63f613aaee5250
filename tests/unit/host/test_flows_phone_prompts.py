# SPDX-License-Identifier: Apache-2.0
"""A secret's prompt names the phone's own PIN or password when a phone holds it (issue 15).

An Android holder set a PIN and a signing password on the phone, apart
from the card's: the card's wording ("利用者証明用電子証明書の暗証番号")
would send them to the wrong one. The flows learn what was presented once
(``on_device.present``); ``pin_entry.use_secret`` words the prompt from it.
"""

from __future__ import annotations

import asyncio

import pytest

from host.api.user_text import describe_phone, describe_reason
from host.card import Credential, CredentialKind, PinKind, credential_for
from host.flows.context import FlowContext, StepTimeouts
from host.flows.events import Event, Prompt, PromptKind
from host.flows.on_device import present, presented
from host.flows.pin_entry import use_secret
from host.gateway.texts import message_table
from host.prompt_texts import PHONE_PROMPT_KEYS, PromptKey, prompt_text
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

CARD_TEXT = "Enter your signing password"


class Holder:
    """A card port (tries, what was presented) and a user who types once."""

    def __init__(self, kind: CredentialKind) -> None:
        self.kind = kind
        self.typed: list[Prompt] = []

    async def credential(self) -> Credential:
        return credential_for(self.kind)

    async def approval(self) -> None:  # pragma: no cover - not asked here
        raise AssertionError("no approval in a PIN flow")

    async def prove_on_device(self) -> None:  # pragma: no cover - not asked here
        raise AssertionError("no approval in a PIN flow")

    async def tries_left(self, pin: PinKind) -> int:
        return 3

    async def secret(self, prompt: Prompt) -> Secret:
        self.typed.append(prompt)
        return Secret.from_text("ABC123")


def entry(kind: CredentialKind | None, prompt_kind: PromptKind) -> Prompt:
    """The prompt ``use_secret`` shows after ``present`` found ``kind`` (None: not asked)."""
    events: list[Event] = []
    holder = Holder(kind or CredentialKind.CARD)

    async def go() -> None:
        ctx = FlowContext(events.append, StepTimeouts(prompt=5.0, card=5.0))
        if kind is not None:
            await present(ctx, holder)  # type: ignore[arg-type]
            assert presented(ctx) == credential_for(kind)
        else:
            assert presented(ctx) is None

        async def action(secret: Secret) -> str:
            return "signed"

        done = await use_secret(
            ctx,
            card=holder,  # type: ignore[arg-type]
            user=holder,  # type: ignore[arg-type]
            pin=PinKind.SIGN,
            prompt_kind=prompt_kind,
            text=CARD_TEXT,
            action=action,
        )
        assert done == "signed"

    asyncio.run(go())
    (prompt,) = [e for e in events if isinstance(e, Prompt)]
    assert holder.typed == [prompt]
    return prompt


@pytest.mark.parametrize(
    ("prompt_kind", "key"),
    [
        (PromptKind.SIGNING_PASSWORD, PromptKey.PHONE_SIGNING_PASSWORD),
        (PromptKind.AUTH_PIN, PromptKey.PHONE_AUTH_PIN),
    ],
)
def test_an_android_phone_is_asked_for_the_secret_set_on_the_phone(
    prompt_kind: PromptKind, key: PromptKey
) -> None:
    prompt = entry(CredentialKind.ANDROID, prompt_kind)
    assert prompt.message == prompt_text(key)
    assert prompt.message is not None
    assert "スマートフォンに設定した" in prompt.message.ja
    assert "電子証明書の暗証番号" not in prompt.message.ja  # not the card's words
    assert "phone" in prompt.text
    assert prompt.tries_left == 3


@pytest.mark.parametrize("kind", [CredentialKind.CARD, None])
def test_a_card_keeps_the_flows_own_wording(kind: CredentialKind | None) -> None:
    prompt = entry(kind, PromptKind.SIGNING_PASSWORD)
    assert prompt.message is None  # the API adds the kind's default: the card's
    assert prompt.text == CARD_TEXT


def test_the_phone_prompts_are_new_keys_served_to_the_kiosk() -> None:
    assert set(PHONE_PROMPT_KEYS) == {PromptKind.AUTH_PIN.value, PromptKind.SIGNING_PASSWORD.value}
    prompts = message_table()["prompts"]
    assert isinstance(prompts, dict)
    for key in PHONE_PROMPT_KEYS.values():
        assert key.value.startswith("prompt.phone_")
        assert prompts[key.value] == vars(prompt_text(key))
    # The card's prompts mean what they meant (API keys are stable).
    assert prompt_text(PromptKey.AUTH_PIN).ja.startswith("利用者証明用電子証明書の暗証番号")
    assert prompt_text(PromptKey.SIGNING_PASSWORD).ja.startswith("署名用電子証明書の暗証番号")


@pytest.mark.parametrize(
    ("pin", "reason", "words"),
    [
        (PinKind.SIGN, tpb.COMPLETION_REASON_SIGNING_PASSWORD_BLOCKED, "署名用の暗証番号"),
        (PinKind.AUTH, tpb.COMPLETION_REASON_AUTH_PIN_BLOCKED, "利用者証明用の暗証番号"),
    ],
)
def test_a_phones_blocked_secret_is_reset_on_the_phone_not_at_a_kiosk(
    pin: PinKind, reason: int, words: str
) -> None:
    done = tpb.Completion(credential_kind=tpb.CREDENTIAL_KIND_ANDROID)
    describe_reason(done, outcome="failed", reason="pin_blocked", pin=pin)
    card_words = done.message.ja
    describe_phone(done)
    assert done.reason == reason  # the typed reason is the same as for a card
    assert done.message.key.endswith(".phone")
    assert f"スマートフォンに設定した{words}" in done.message.ja
    assert "マイナポータルアプリ" in done.message.ja
    assert "マルチコピー機" in card_words
    assert "マルチコピー機" not in done.message.ja  # a kiosk cannot reset a phone's secret
    assert "phone" in done.message.en
