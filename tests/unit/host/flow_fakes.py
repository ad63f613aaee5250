# SPDX-License-Identifier: Apache-2.0
"""Behavioural fakes of the flow ports for the flow unit tests.

``FakeCard`` keeps a real try counter and can be "removed" at a chosen
call; ``FakeTransferVerifier`` keeps transfers with idempotency by key (a
different request under a used key is refused, as the real service refuses
it) and exactly-once commit/reverse like the real service; ``FakeUser`` answers or
stalls prompts. The integration tests use the real parts instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from host.card import BasicFour, CardInfo, CredentialKind, IntegrityStatus, KeyKind, PinKind
from host.client import (
    Authorization,
    CardProof,
    SessionPurpose,
    TransferState,
    TransferStatement,
    TransferStatus,
    VerifierSession,
)
from host.errors import (
    CardRemovedError,
    ConditionsNotSatisfiedError,
    IdempotencyConflictError,
    PinBlockedError,
    PinPolicyError,
    ServiceStateError,
    ServiceTimeoutError,
    ServiceUnavailableError,
    StepTimeoutError,
    WrongPinError,
)
from host.flows import Prompt, PromptKind
from host.secret import Secret

__all__ = ["FakeCard", "FakePrinter", "FakeTransferVerifier", "FakeUser"]


@dataclass
class FakeCard:
    password: bytes = b"ABCD1234"
    auth_pin: bytes = b"1234"
    text_pin: bytes = b"5678"
    tries: int = 5  # the starting counter of every secret
    remove_at: str = ""  # "wait_card", "tries_left", "prove" or "read_card_info"
    present: bool = True
    sign_certificate: bool = True  # False: a holder under 15
    released: int = 0
    calls: list[str] = field(default_factory=list)
    counters: dict[PinKind, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counters = dict.fromkeys(PinKind, self.tries)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.remove_at:
            raise CardRemovedError("the card left the field")

    def _check(self, kind: PinKind, secret: Secret) -> None:
        value = secret.reveal()
        expected = {PinKind.SIGN: self.password, PinKind.AUTH: self.auth_pin}.get(
            kind, self.text_pin
        )
        if kind is PinKind.SIGN:
            well_formed = 6 <= len(value) <= 16
        else:
            well_formed = len(value) == 4 and value.isdigit()
        if not well_formed:
            raise PinPolicyError("badly formed secret")
        if self.counters[kind] == 0:
            raise PinBlockedError(0x6984, "VERIFY")
        if value != expected:
            self.counters[kind] -= 1
            raise WrongPinError(0x63C0 | self.counters[kind], "VERIFY")
        self.counters[kind] = self.tries

    async def wait_card(self, timeout: float) -> None:
        self._call("wait_card")
        if not self.present:  # as ThreadedCard: poll until the time is up
            await asyncio.sleep(timeout)
            raise StepTimeoutError("no card was presented in time")

    async def tries_left(self, kind: PinKind) -> int:
        self._call("tries_left")
        return self.counters[kind]

    async def has_certificate(self, kind: KeyKind) -> bool:
        self._call("has_certificate")
        return kind is KeyKind.AUTH or self.sign_certificate

    async def prove(self, kind: KeyKind, digest: bytes, secret: Secret) -> CardProof:
        self._call("prove")
        self._check(kind.pin, secret)
        # As the real card port: the proof says what the terminal detected.
        return CardProof(b"cert-" + kind.value.encode(), b"sig:" + digest, CredentialKind.CARD)

    async def read_card_info(self, pin: Secret) -> CardInfo:
        self._call("read_card_info")
        self._check(PinKind.TEXT, pin)
        four = BasicFour("山田　太郎", "東京都千代田区", dt.date(1980, 1, 2), "1")
        return CardInfo(four, None, IntegrityStatus(True, False, False))

    async def card_id(self) -> bytes:
        self._call("card_id")
        return b"\x01" * 16

    async def get_challenge(self) -> bytes:
        self._call("get_challenge")
        return b"\x02" * 8

    async def issuer_reset(self, operation: int, authorization: bytes, new: Secret) -> None:
        self._call("issuer_reset")
        if authorization != b"\xaa" * 16:
            raise ConditionsNotSatisfiedError(0x6300, "EXTERNAL AUTHENTICATE")
        kind = PinKind.SIGN if operation == 1 else PinKind.AUTH
        if kind is PinKind.SIGN:
            self.password = new.reveal()
        else:
            self.auth_pin = new.reveal()
        self.counters[kind] = self.tries

    async def release(self) -> None:
        self.released += 1


@dataclass
class FakeUser:
    secrets: list[str] = field(default_factory=list)
    answers: dict[PromptKind, bool] = field(default_factory=dict)
    stall_at: PromptKind | None = None
    prompts: list[Prompt] = field(default_factory=list)
    handed_out: list[Secret] = field(default_factory=list)

    async def _maybe_stall(self, prompt: Prompt) -> None:
        self.prompts.append(prompt)
        if prompt.kind is self.stall_at:
            await asyncio.sleep(3600)

    async def confirm(self, prompt: Prompt) -> bool:
        await self._maybe_stall(prompt)
        return self.answers.get(prompt.kind, True)

    async def secret(self, prompt: Prompt) -> Secret:
        await self._maybe_stall(prompt)
        secret = Secret.from_text(self.secrets.pop(0))
        self.handed_out.append(secret)
        return secret


@dataclass
class FakePrinter:
    fail: Exception | None = None
    printed: list[Sequence[str]] = field(default_factory=list)
    qrs: list[str | None] = field(default_factory=list)

    async def print_lines(self, lines: Sequence[str], *, qr: str | None = None) -> None:
        if self.fail is not None:
            raise self.fail
        self.printed.append(list(lines))
        self.qrs.append(qr)


@dataclass
class FakeTransferVerifier:
    """Transfers by authorization id; answers stored per idempotency key."""

    accept: bool = True
    down: set[str] = field(default_factory=set)  # method names that raise UNAVAILABLE
    lose_answers: int = 0  # authorisations done but answered with DEADLINE_EXCEEDED
    states: dict[str, TransferState] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _requests: dict[str, object] = field(default_factory=dict)  # authorize key -> request

    def _enter(self, method: str, key: str) -> object | None:
        self.calls.append((method, key))
        if method in self.down:
            raise ServiceUnavailableError(code="UNAVAILABLE")
        return self.answers.get(f"{method}:{key}")

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession:
        self._enter("open_session", idempotency_key)
        return VerifierSession("s", bytes(32), None)

    async def authorize_transfer(
        self,
        session_id: str,
        statement: TransferStatement,
        proof: CardProof | None,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> Authorization:
        stored = self._enter("authorize", idempotency_key)
        request = (session_id, statement, proof)
        if self._requests.setdefault(idempotency_key, request) != request:
            raise IdempotencyConflictError(code="ALREADY_EXISTS", reason="IDEMPOTENCY_KEY_REUSED")
        if isinstance(stored, Authorization):
            return stored
        if not self.accept:
            answer = Authorization(False, "CERTIFICATE_REVOKED", "", None, False, None)
        else:
            auth_id = f"auth-{next(self._ids)}"
            self.states[auth_id] = TransferState.AUTHORIZED
            answer = Authorization(True, "OK", auth_id, None, proof is not None, None)
        self.answers[f"authorize:{idempotency_key}"] = answer
        if self.lose_answers:
            self.lose_answers -= 1
            raise ServiceTimeoutError(code="DEADLINE_EXCEEDED")
        return answer

    async def _change(
        self, method: str, auth_id: str, key: str, target: TransferState
    ) -> TransferStatus:
        self._enter(method, key)
        state = self.states[auth_id]
        if state is TransferState.AUTHORIZED:
            self.states[auth_id] = target
        elif state is not target:
            raise ServiceStateError(code="FAILED_PRECONDITION", reason=f"TRANSFER_{state.value}")
        return TransferStatus(target, None)

    async def commit_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus:
        return await self._change(
            "commit", authorization_id, idempotency_key, TransferState.COMMITTED
        )

    async def reverse_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus:
        return await self._change(
            "reverse", authorization_id, idempotency_key, TransferState.REVERSED
        )
