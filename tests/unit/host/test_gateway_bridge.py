# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.bridge``: the proto3 JSON mapping the browser speaks, both ways."""

from __future__ import annotations

import asyncio
import base64

import pytest

from host.errors import GatewayRequestError
from host.gateway.bridge import AGENT_UNAVAILABLE, AgentBridge, parse_message, to_json
from myna.edge.v1 import terminal_pb2 as tpb


def test_browser_json_parses_into_the_api_messages() -> None:
    body = {
        "request_id": "ui-1", "timeout_ms": 300000,
        "transfer": {"amount_yen": "250000", "payee_account_type": "ACCOUNT_TYPE_ORDINARY"},
    }  # fmt: skip
    request = parse_message(body, tpb.ExecuteRequest())
    assert request.transfer.amount_yen == 250_000
    assert request.WhichOneof("command") == "transfer"
    entry = {"ephemeral_public_key": base64.b64encode(b"k" * 32).decode(), "nonce": "AAAA"}
    answer = parse_message(
        {"request_id": "r", "prompt_id": "p1", "touch_entry": entry}, tpb.AnswerPromptRequest()
    )
    assert answer.touch_entry.ephemeral_public_key == b"k" * 32


@pytest.mark.parametrize(
    "body",
    [[], "x", None, {"request_id": 5}, {"nope": 1}, {"read_card": {"read_basic_four": "maybe"}},
     {"timeout_ms": -1}, {"read_card": {}, "pin_reset": {}}],
)  # fmt: skip
def test_bodies_that_do_not_fit_are_400(body: object) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_message(body, tpb.ExecuteRequest())
    assert caught.value.status == 400
    assert "maybe" not in str(caught.value)


def test_messages_go_out_with_every_field_and_enum_names() -> None:
    prompt = tpb.PromptEvent(
        prompt_id="p1", type=tpb.PROMPT_TYPE_AUTH_PIN, entry_public_key=b"\x01"
    )
    assert to_json(prompt) == {
        "prompt_id": "p1", "type": "PROMPT_TYPE_AUTH_PIN", "text": "", "tries_left": 0,
        "last_try": False, "entry_public_key": "AQ==", "offers": [],
    }  # fmt: skip


def test_an_unreachable_agent_is_a_503() -> None:
    async def main() -> None:
        bridge = AgentBridge("unix:/nonexistent/agent.sock", call_timeout=2.0)
        try:
            with pytest.raises(GatewayRequestError) as caught:
                await bridge.cancel(tpb.CancelRequest())
            assert (caught.value.status, str(caught.value)) == (503, AGENT_UNAVAILABLE)
            events = [e async for e in bridge.execute(tpb.ExecuteRequest(request_id="r"))]
            assert events == [("error", {"error": AGENT_UNAVAILABLE})]
        finally:
            await bridge.close()
            await bridge.close()  # harmless twice

    asyncio.run(main())
