# SPDX-License-Identifier: Apache-2.0
"""The card-reading state machine over behavioural fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from host.client import CardProof, CardVerdict, RevocationSource, SessionPurpose, VerifierSession
from host.flows import (
    CardReadingFlow,
    Event,
    FlowResult,
    Outcome,
    PromptKind,
    ReadOutcome,
    ReadRequest,
    ReadStep,
    RemoveCard,
    StepTimeouts,
)
from host.journal import Effect, Journal, Phase
from tests.unit.host.flow_fakes import FakeCard, FakeUser

FAST = StepTimeouts(prompt=5, insert_card=5, card=5, service=5, printer=5)


class FakeCardVerifier:
    terminal_id = "kiosk-01"

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.proofs: list[CardProof] = []

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession:
        return VerifierSession("s", b"\x07" * 32, None)

    async def verify_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardVerdict:
        self.proofs.append(proof)
        reason = "OK" if self.accept else "CERTIFICATE_REVOKED"
        return CardVerdict(self.accept, reason, "0a", RevocationSource.CRL)


def run(
    tmp_path: Path,
    request: ReadRequest,
    card: FakeCard,
    user: FakeUser,
    verifier: FakeCardVerifier | None = None,
    during: Callable[[CardReadingFlow], Awaitable[None]] | None = None,
) -> tuple[ReadOutcome, list[Event], CardReadingFlow]:
    events: list[Event] = []

    async def scenario() -> tuple[ReadOutcome, CardReadingFlow]:
        with Journal(tmp_path / "j.db") as journal:
            flow = CardReadingFlow(
                card=card,
                user=user,
                journal=journal,
                emit=events.append,
                verifier=verifier,
                timeouts=FAST,
            )
            task = asyncio.ensure_future(flow.run(request))
            if during is not None:
                await during(flow)
            return await task, flow

    outcome, flow = asyncio.run(scenario())
    assert sum(isinstance(e, FlowResult) for e in events) == 1
    assert card.released == 1
    assert all(s.wiped for s in user.handed_out)
    return outcome, events, flow


def test_read_basic_four(tmp_path: Path) -> None:
    outcome, events, flow = run(tmp_path, ReadRequest(), FakeCard(), FakeUser(secrets=["5678"]))
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.basic_four is not None
    assert outcome.basic_four.name == "山田　太郎"
    assert "山田" not in repr(outcome)
    assert not any("山田" in repr(e) for e in events)  # personal data stays out of events
    assert flow.history[-3:] == [ReadStep.READING, ReadStep.REMOVE_CARD, ReadStep.DONE]
    assert any(isinstance(e, RemoveCard) for e in events)


def test_read_and_verify_journals_the_verifier_call(tmp_path: Path) -> None:
    verifier = FakeCardVerifier()
    user = FakeUser(secrets=["5678", "1234"])
    outcome, _, _ = run(tmp_path, ReadRequest(verify_card=True), FakeCard(), user, verifier)
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.verdict is not None
    assert outcome.verdict.accepted
    assert [p.kind for p in user.prompts] == [PromptKind.CARD_INFO_PIN, PromptKind.AUTH_PIN]
    assert verifier.proofs[0].certificate_der == b"cert-auth"
    with Journal(tmp_path / "j.db") as journal:
        pairs = [(e.effect, e.phase) for e in journal.entries()]
    assert pairs == [(Effect.CARD_VERIFY, Phase.INTENT), (Effect.CARD_VERIFY, Phase.OUTCOME)]


def test_rejected_card_is_refused(tmp_path: Path) -> None:
    outcome, _, _ = run(
        tmp_path,
        ReadRequest(read_basic_four=False, verify_card=True),
        FakeCard(),
        FakeUser(secrets=["1234"]),
        FakeCardVerifier(accept=False),
    )
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == "CERTIFICATE_REVOKED"


def test_wrong_pin_then_right(tmp_path: Path) -> None:
    user = FakeUser(secrets=["0000", "5678"])
    outcome, _, _ = run(tmp_path, ReadRequest(), FakeCard(tries=3), user)
    assert outcome.outcome is Outcome.COMPLETED
    assert [p.tries_left for p in user.prompts] == [3, 2]


def test_card_removed_while_reading(tmp_path: Path) -> None:
    outcome, _, _ = run(
        tmp_path, ReadRequest(), FakeCard(remove_at="read_card_info"), FakeUser(secrets=["5678"])
    )
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "card_removed"


def test_cancel_at_the_pin_prompt(tmp_path: Path) -> None:
    user = FakeUser(secrets=["5678"], stall_at=PromptKind.CARD_INFO_PIN)

    async def cancel(flow: CardReadingFlow) -> None:
        while not user.prompts:
            await asyncio.sleep(0.001)
        flow.cancel()

    outcome, _, _ = run(tmp_path, ReadRequest(), FakeCard(), user, during=cancel)
    assert outcome.outcome is Outcome.CANCELLED


def test_bad_requests() -> None:
    with pytest.raises(ValueError, match="basic four"):
        ReadRequest(read_basic_four=False, verify_card=False)
