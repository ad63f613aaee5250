# SPDX-License-Identifier: Apache-2.0
"""host.flows.on_device: what was presented, and waiting for the phone's approval."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from host.card import (
    ApprovalState,
    Credential,
    CredentialKind,
    KeyKind,
    UserVerification,
    credential_for,
)
from host.client import CardProof
from host.errors import (
    ApprovalDeclinedError,
    ApprovalRequiredError,
    ApprovalTimeoutError,
    FlowCancelledError,
)
from host.flows.context import FlowContext, StepTimeouts
from host.flows.events import CredentialPresented, Event, Prompt, PromptKind, Working
from host.flows.on_device import APPROVAL_POLL_SECONDS, CredentialPort, approve_on_device, present

DIGEST = bytes(32)


@dataclass
class FakePhone:
    """A card port with the phone methods: approval answers from a script."""

    answers: list[ApprovalState]
    kind: CredentialKind = CredentialKind.IPHONE
    withdraw_sw: int | None = None  # the phone withdraws between the check and the sign
    polls: int = 0
    proofs: int = 0

    async def credential(self) -> Credential:
        return credential_for(self.kind)

    async def approval(self) -> ApprovalState:
        self.polls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def prove_on_device(self, kind: KeyKind, digest: bytes) -> CardProof:
        if self.withdraw_sw is not None:
            raise ApprovalRequiredError(self.withdraw_sw, "COMPUTE DIGITAL SIGNATURE")
        self.proofs += 1
        return CardProof(b"cert-" + kind.value.encode(), b"signature")


@dataclass
class PlainCard:
    """A card port of before phones (no ``CredentialPort``)."""

    calls: list[str] = field(default_factory=list)


def context(events: list[Event], prompt: float = 5.0) -> FlowContext:
    return FlowContext(events.append, StepTimeouts(prompt=prompt, card=5.0))


def run_approval(phone: FakePhone, events: list[Event], prompt: float = 5.0) -> CardProof:
    async def go() -> CardProof:
        ctx = context(events, prompt)
        return await approve_on_device(
            ctx,
            phone,  # type: ignore[arg-type]  # a CardPort in the flows; only these methods used
            kind=KeyKind.SIGN,
            digest=DIGEST,
            working="signing",
        )

    return asyncio.run(go())


def test_a_port_without_phone_methods_holds_a_card() -> None:
    events: list[Event] = []
    card = PlainCard()
    assert not isinstance(card, CredentialPort)
    credential = asyncio.run(present(context(events), card))  # type: ignore[arg-type]
    assert credential.kind is CredentialKind.CARD
    assert events == [CredentialPresented(CredentialKind.CARD, UserVerification.PIN_PAD)]


def test_present_asks_the_port_and_says_so() -> None:
    events: list[Event] = []
    phone = FakePhone([ApprovalState.APPROVED])
    assert isinstance(phone, CredentialPort)
    credential = asyncio.run(present(context(events), phone))  # type: ignore[arg-type]
    assert credential.verification is UserVerification.ON_DEVICE
    assert events == [CredentialPresented(CredentialKind.IPHONE, UserVerification.ON_DEVICE)]


def test_approved_proves_once_after_the_prompt() -> None:
    events: list[Event] = []
    phone = FakePhone([ApprovalState.APPROVED])
    proof = run_approval(phone, events)
    assert proof.certificate_der == b"cert-sign"
    assert phone.proofs == 1
    (prompt,) = [e for e in events if isinstance(e, Prompt)]
    assert prompt.kind is PromptKind.APPROVE_ON_PHONE
    assert prompt.message is not None
    assert "スマートフォンで認証" in prompt.message.ja
    assert prompt.tries_left is None  # nothing counts tries: nothing is typed
    assert events.index(prompt) < events.index(Working("signing"))


def test_an_answer_during_the_wait_goes_on() -> None:
    phone = FakePhone([ApprovalState.PENDING, ApprovalState.PENDING, ApprovalState.APPROVED])
    run_approval(phone, [])
    assert phone.polls == 3
    assert phone.proofs == 1


def test_declined_is_a_typed_cancel_without_a_proof() -> None:
    phone = FakePhone([ApprovalState.DECLINED])
    with pytest.raises(ApprovalDeclinedError) as caught:
        run_approval(phone, [])
    assert isinstance(caught.value, FlowCancelledError)
    assert caught.value.code == "declined_on_phone"
    assert phone.proofs == 0


def test_no_answer_in_the_prompts_time_is_a_typed_timeout() -> None:
    phone = FakePhone([ApprovalState.PENDING])
    with pytest.raises(ApprovalTimeoutError) as caught:
        run_approval(phone, [], prompt=3 * APPROVAL_POLL_SECONDS)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.code == "phone_no_answer"
    assert phone.polls >= 2  # it asked again while waiting
    assert phone.proofs == 0


@pytest.mark.parametrize(("sw", "error"), [(0x6600, ApprovalDeclinedError)])
def test_withdrawn_between_check_and_sign_is_declined(sw: int, error: type[Exception]) -> None:
    phone = FakePhone([ApprovalState.APPROVED], withdraw_sw=sw)
    with pytest.raises(error):
        run_approval(phone, [])


def test_cancel_during_the_wait() -> None:
    phone = FakePhone([ApprovalState.PENDING])

    async def go() -> None:
        ctx = context([], prompt=30.0)
        task = asyncio.ensure_future(
            approve_on_device(
                ctx,
                phone,  # type: ignore[arg-type]
                kind=KeyKind.AUTH,
                digest=DIGEST,
                working="proving",
            )
        )
        while phone.polls < 2:
            await asyncio.sleep(0.01)
        ctx.cancel()
        with pytest.raises(FlowCancelledError):
            await task

    asyncio.run(go())
    assert phone.proofs == 0


def test_approval_needs_a_phone_port() -> None:
    async def go() -> None:
        await approve_on_device(
            context([]),
            PlainCard(),  # type: ignore[arg-type]
            kind=KeyKind.AUTH,
            digest=DIGEST,
            working="x",
        )

    with pytest.raises(TypeError):
        asyncio.run(go())
