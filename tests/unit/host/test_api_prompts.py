# SPDX-License-Identifier: Apache-2.0
"""ApiUser: prompts by id, answers of the right kind only, no touch PINs under the ATM profile."""

from __future__ import annotations

import asyncio

import pytest

from host.api import ApiUser
from host.api.touch_entry import seal
from host.errors import FlowCancelledError
from host.flows import Prompt, PromptKind
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb


def test_kiosk_secret_by_touch_and_wrong_kinds_refused() -> None:
    async def scenario() -> None:
        sent: list[tpb.FlowEvent] = []
        user = ApiUser(sent.append, touch_secrets=True)
        task = asyncio.ensure_future(user.secret(Prompt(PromptKind.AUTH_PIN, tries_left=3)))
        await asyncio.sleep(0)
        prompt_id = sent[0].prompt.prompt_id
        assert sent[0].prompt.tries_left == 3
        assert not user.answer(prompt_id, tpb.AnswerPromptRequest(confirmed=True))
        assert not user.answer("p99", tpb.AnswerPromptRequest(confirmed=True))
        key = sent[0].prompt.entry_public_key
        assert len(key) == 32  # a fresh X25519 key for this prompt
        touch = tpb.AnswerPromptRequest(touch_entry=seal(key, "", prompt_id, b"1234"))
        assert b"1234" not in touch.SerializeToString()
        assert user.answer(prompt_id, touch)
        with await task as secret:
            assert secret.reveal() == b"1234"
        assert not user.answer(prompt_id, touch)  # answered already

    asyncio.run(scenario())


def test_atm_takes_secrets_only_from_secure_entry() -> None:
    async def scenario() -> None:
        sent: list[tpb.FlowEvent] = []
        with pytest.raises(FlowCancelledError):
            await ApiUser(sent.append, touch_secrets=False).secret(Prompt(PromptKind.AUTH_PIN))

        async def pad(prompt: Prompt) -> Secret:
            return Secret(b"5678")

        user = ApiUser(sent.append, touch_secrets=False, secure_entry=pad)
        with await user.secret(Prompt(PromptKind.AUTH_PIN)) as secret:
            assert secret.reveal() == b"5678"
        assert sent[-1].prompt.prompt_id == ""  # shown, but not answerable by touch
        assert sent[-1].prompt.entry_public_key == b""

    asyncio.run(scenario())
