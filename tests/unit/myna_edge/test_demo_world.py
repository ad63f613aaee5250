# SPDX-License-Identifier: Apache-2.0
"""The demo's world: the verifier's trust folder, the storytelling user, card counting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.card import PinKind
from host.flows import FlowResult, Outcome, Prompt, PromptKind, Working
from host.messages import ResultCode, UserText, result_text
from myna_edge.demo.world import CountingCard, StoryUser, prepare_verifier, screen, tell
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
    revoked = result_text(ResultCode.CARD_REVOKED)
    assert out == [
        "  [agent]  reading the card",
        "  [agent]  result: refused op-1 CERTIFICATE_REVOKED",
        f"  [screen] {revoked.ja}",
        f"  [screen] {revoked.en}",
    ]


def test_a_failure_tells_the_person_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    tell(FlowResult("transfer", Outcome.FAILED, "", "no_signing_certificate"))
    tell(FlowResult("transfer", Outcome.FAILED, "", "pin_blocked"))
    tell(FlowResult("transfer", Outcome.CANCELLED, "auth-1", ""))
    tell(FlowResult("reading", Outcome.COMPLETED, "op-2", ""))
    out = capsys.readouterr().out
    assert "署名用電子証明書がありません" in out
    assert "no signing certificate" in out
    assert "Your signing password is blocked. Reset it at a convenience-store kiosk" in out
    assert "The transfer was reversed: no money moved." in out
    assert out.splitlines()[-1] == "  [agent]  result: completed op-2"


def test_the_screen_shows_japanese_first(capsys: pytest.CaptureFixture[str]) -> None:
    statement = UserText("prompt.confirm_statement", "金額: 250,000円\n振込先: ヤマダ", "Transfer")
    screen(Prompt(PromptKind.CONFIRM_STATEMENT, "Transfer JPY 250,000", message=statement))
    assert capsys.readouterr().out.splitlines() == [
        "  [screen] 金額: 250,000円",
        "  [screen] 振込先: ヤマダ",
        "  [screen] Transfer JPY 250,000",
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
