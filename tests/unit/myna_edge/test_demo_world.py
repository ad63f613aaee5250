# SPDX-License-Identifier: Apache-2.0
"""The demo's world: the verifier's trust folder, the storytelling user, card counting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.card import PinKind
from host.flows import FlowResult, Outcome, Prompt, PromptKind, Working
from myna_edge.demo_world import CountingCard, StoryUser, prepare_verifier, tell
from verifier.server import build_core


def test_the_verifier_trusts_the_test_pki_and_can_authorise_resets(tmp_path: Path) -> None:
    demo = prepare_verifier(tmp_path, "default")
    trust = tmp_path / "trust"
    assert demo.config.trust_dir == trust
    assert {"auth-ca.pem", "sign-ca.pem", "issuer-master.key", "face-provider.pub.pem"} <= {
        p.name for p in trust.iterdir()
    }
    core = build_core(demo.config)
    assert core.issuer_master_key is not None
    assert core.face_provider_key is not None
    client = demo.client(4242, "atm-01")
    assert client.target == "127.0.0.1:4242"
    assert client.certificate_pem is not None


def test_the_user_types_secrets_without_showing_them(capsys: pytest.CaptureFixture[str]) -> None:
    user = StoryUser({PromptKind.AUTH_PIN: ["4821"]}, cash_moved=False)
    secret = asyncio.run(user.secret(Prompt(PromptKind.AUTH_PIN, "Enter your PIN", 3)))
    with secret:
        assert secret.reveal() == b"4821"
    assert secret.wiped
    moved = asyncio.run(user.confirm(Prompt(PromptKind.CONFIRM_MONEY_MOVED, "Did the cash move?")))
    assert moved is False
    out = capsys.readouterr().out
    assert "Enter your PIN (3 tries left)" in out
    assert "4821" not in out
    assert "[user]   no" in out


def test_events_become_story_lines(capsys: pytest.CaptureFixture[str]) -> None:
    tell(Working("reading the card"))
    tell(FlowResult("transfer", Outcome.REFUSED, "op-1", "CERTIFICATE_REVOKED"))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "  [agent]  reading the card",
        "  [agent]  result: refused op-1 CERTIFICATE_REVOKED",
    ]


def test_the_card_counts_its_commands() -> None:
    async def session() -> CountingCard:
        card = CountingCard("sim://default?persist=0")
        try:
            await card.wait_card(5.0)
            assert await card.tries_left(PinKind.AUTH) == 3
        finally:
            await card.aclose()
        return card

    card = asyncio.run(session())
    assert card.commands == 3  # SELECT the application, SELECT the PIN, VERIFY (empty)
