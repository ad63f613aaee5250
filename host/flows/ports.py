# SPDX-License-Identifier: Apache-2.0
"""The small async interfaces flows talk through, and the card's threaded shell.

Flows never see pyscard, pynfc, pyserial or gRPC (STYLE §1): they await
``CardPort``, ``UserPort``, ``PrinterPort`` and ``TransferVerifier``. Blocking
device libraries run in one worker thread per device (DESIGN "Concurrency"):
``ThreadedCard`` owns a single-thread executor, so every APDU of a card is
sent from the same thread, in order, and the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.serialization import Encoding

from host.card import (
    ApprovalState,
    CardInfo,
    Credential,
    CredentialKind,
    KeyKind,
    MynaCard,
    PinKind,
    issuer_reset,
)
from host.card.pin_policy import normalize_pin
from host.client import (
    Authorization,
    CardProof,
    CardVerdict,
    SessionPurpose,
    TransferStatement,
    TransferStatus,
    VerifierSession,
)
from host.errors import MynaEdgeError, NoCardError, StepTimeoutError
from host.flows.events import Prompt
from host.secret import Secret
from host.transport import open_transport
from host.transport.base import CardTransport

__all__ = [
    "CardPort",
    "CardVerifier",
    "PrinterPort",
    "ThreadedCard",
    "TransferVerifier",
    "UserPort",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class CardPort(Protocol):
    """The card as a flow needs it."""

    async def wait_card(self, timeout: float) -> None:
        """Return when a card is present (raises ``StepTimeoutError``)."""

    async def tries_left(self, kind: PinKind) -> int:
        """Tries left for ``kind``, without spending one."""

    async def has_certificate(self, kind: KeyKind) -> bool:
        """Whether the card holds the ``kind`` certificate (no PIN, no try spent)."""

    async def prove(self, kind: KeyKind, digest: bytes, secret: Secret) -> CardProof:
        """The ``kind`` certificate and the card's signature over ``digest``."""

    async def read_card_info(self, pin: Secret) -> CardInfo:
        """The basic four items, unlocked with the card-info PIN."""

    async def card_id(self) -> bytes:
        """The card's issuer id (from its user-authentication certificate)."""

    async def get_challenge(self) -> bytes:
        """Arm and return the card's 8-byte challenge."""

    async def issuer_reset(self, operation: int, authorization: bytes, new: Secret) -> None:
        """EXTERNAL AUTHENTICATE + RESET RETRY COUNTER with the new secret."""

    async def release(self) -> None:
        """End the card session (harmless when none is open)."""


class UserPort(Protocol):
    """The person at the terminal, through the touchscreen/ATM application."""

    async def confirm(self, prompt: Prompt) -> bool:
        """Yes or no to ``prompt``."""

    async def secret(self, prompt: Prompt) -> Secret:
        """A secret typed for ``prompt``; the flow wipes it after use."""


class PrinterPort(Protocol):
    """The receipt printer."""

    async def print_lines(self, lines: Sequence[str], *, qr: str | None = None) -> None:
        """Print one receipt, with a QR code of ``qr`` (the reference) after the lines."""


class CardVerifier(Protocol):
    """The verifier calls the card-reading flow makes (``VerifierClient`` has them)."""

    @property
    def terminal_id(self) -> str: ...

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession: ...

    async def verify_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardVerdict: ...


class TransferVerifier(Protocol):
    """The verifier calls the transfer flow makes (``VerifierClient`` has them)."""

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession: ...

    async def authorize_transfer(
        self,
        session_id: str,
        statement: TransferStatement,
        proof: CardProof | None,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> Authorization: ...

    async def commit_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus: ...

    async def reverse_transfer(
        self, authorization_id: str, idempotency_key: str, *, timeout: float | None = None
    ) -> TransferStatus: ...


class ThreadedCard:
    """A ``CardPort`` over a reader URL, every call in the card's own thread.

    Args:
        url: the reader URL (``sim://``, ``pcsc://READER``, ``libnfc://...``).
        poll_interval: how often ``wait_card`` retries an empty reader, seconds.
    """

    def __init__(self, url: str, *, poll_interval: float = 0.1) -> None:
        self.url = url
        self._poll = poll_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card")
        self._transport: CardTransport | None = None
        self._card: MynaCard | None = None
        # The PIN whose counter the last card call read (non-zero): its EF is
        # still selected, so ``prove`` verifies at once (one VERIFY per flow).
        self._counter_read: PinKind | None = None
        self._credential: Credential | None = None  # what this session's card is
        # Opens queued or running in the worker, and whether a release asked
        # them to close what they open: a reader URL's ``?wait=N`` blocks the
        # open, and a cancel at the insert-card prompt must not wait it out.
        self._opening = 0
        self._abandon = False
        self._open_lock = threading.Lock()
        #: A card session was opened through this port (a card was presented).
        self.presented = False

    async def _run(self, fn: Callable[[], _T]) -> _T:
        self._counter_read = None  # any card call may change what is selected
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _require(self) -> MynaCard:
        if self._card is None:
            raise NoCardError("no card session: call wait_card first")
        return self._card

    async def wait_card(self, timeout: float) -> None:
        """Open the card session, retrying an empty reader until ``timeout``.

        Raises:
            StepTimeoutError: no card in time.
            TransportError: the reader itself failed.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self._open_lock:
                    self._opening += 1
                await self._run(self._open_unless_released)
                return
            except NoCardError:
                if time.monotonic() + self._poll > deadline:
                    raise StepTimeoutError("no card was presented in time") from None
                await asyncio.sleep(self._poll)

    def _open_unless_released(self) -> None:
        try:
            if not self._abandon:
                self._open()
        finally:
            with self._open_lock:
                self._opening -= 1
                abandoned = self._abandon
                if self._opening == 0:
                    self._abandon = False
            if abandoned:  # released while the reader waited: nobody wants the card
                self._close()

    def _open(self) -> None:
        if self._card is None:
            self._transport = open_transport(self.url)
            self._card = MynaCard(self._transport)
            self.presented = True

    async def wait_removed(self, timeout: float) -> bool:
        """Whether the card left the reader within ``timeout`` seconds (after ``release``).

        Probes the reader with a fresh connection every poll interval; a
        reader that cannot tell (a fixed ``sim://`` card is always there)
        simply never says so. Never raises: a reader error is "not seen".
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self._run(self._probe)
            except NoCardError:
                return True
            except (MynaEdgeError, OSError):
                return False
            if time.monotonic() + self._poll > deadline:
                return False
            await asyncio.sleep(self._poll)

    def _probe(self) -> None:
        open_transport(self.url).close()

    async def tries_left(self, kind: PinKind) -> int:
        """Tries left for ``kind``; never spends one.

        Raises:
            NoCardError: no session; CardError, TransportError from the card.
        """
        card = self._require()
        tries = await self._run(lambda: card.tries_left(kind))
        self._counter_read = kind if tries > 0 else None
        return tries

    async def has_certificate(self, kind: KeyKind) -> bool:
        """Whether the card holds the ``kind`` certificate (EF 0008); spends no try.

        Raises:
            NoCardError: no session; CardError, TransportError from the card.
        """
        card = self._require()
        return await self._run(lambda: card.has_certificate(kind))

    async def prove(self, kind: KeyKind, digest: bytes, secret: Secret) -> CardProof:
        """Read the ``kind`` certificate and sign ``digest``, unlocking with ``secret``.

        Raises:
            PinPolicyError, WrongPinError, PinBlockedError: the secret was refused.
            CardError, TransportError: the card failed or left.
        """
        card = self._require()
        counter_read = self._counter_read is kind.pin

        def work() -> CardProof:
            certificate, signature = card.prove(kind, digest, secret, counter_read=counter_read)
            return CardProof(certificate.public_bytes(Encoding.DER), signature, self._presented())

        return await self._run(work)

    async def read_card_info(self, pin: Secret) -> CardInfo:
        """The basic four items (integrity-checked), unlocked with the card-info PIN.

        Raises:
            PinPolicyError, WrongPinError, PinBlockedError: the PIN was refused.
            IntegrityError, DataFormatError, CardError, TransportError: the card failed.
        """
        card = self._require()
        return await self._run(lambda: card.read_card_info(pin))

    async def card_id(self) -> bytes:
        """The issuer id: SHA-256 of the DER authentication certificate, 16 bytes.

        Raises:
            DataFormatError, CardError, TransportError: the card failed.
        """
        card = self._require()

        def work() -> bytes:
            der = card.read_certificate(KeyKind.AUTH).public_bytes(Encoding.DER)
            return issuer_reset.card_id(der)

        return await self._run(work)

    async def credential(self) -> Credential:
        """What was presented (card, Android, iPhone) and what it can do; once per session.

        Raises:
            NoCardError: no session; DataFormatError: not a JPKI credential;
            CardError, TransportError from the card.
        """
        card, transport = self._require(), self._transport
        if self._credential is None:
            atr = None if transport is None else transport.atr
            self._credential = await self._run(lambda: card.credential(atr=atr))
        return self._credential

    def _presented(self) -> CredentialKind | None:
        """What this session detected, if a flow asked (the verifier audits the claim)."""
        return None if self._credential is None else self._credential.kind

    async def approval(self) -> ApprovalState:
        """The phone's on-device approval; spends nothing.

        Raises:
            NoCardError: no session; CardError, TransportError from the phone.
        """
        card = self._require()
        return await self._run(card.approval_state)

    async def prove_on_device(self, kind: KeyKind, digest: bytes) -> CardProof:
        """``prove`` approved on the phone: no secret exists at the terminal.

        Raises:
            ApprovalRequiredError: declined or not (yet) approved on the phone.
            CardError, TransportError: the phone failed or left.
        """
        card = self._require()

        def work() -> CardProof:
            certificate, signature = card.prove_on_device(kind, digest)
            return CardProof(certificate.public_bytes(Encoding.DER), signature, self._presented())

        return await self._run(work)

    async def get_challenge(self) -> bytes:
        """Arm and return the card's 8-byte challenge.

        Raises:
            MalformedResponseError, CardError, TransportError: the card failed.
        """
        card = self._require()
        return await self._run(lambda: issuer_reset.get_challenge(card.channel))

    async def issuer_reset(self, operation: int, authorization: bytes, new: Secret) -> None:
        """Relay the issuer authorisation, then set ``new`` (policy-checked first).

        Raises:
            PinPolicyError: ``new`` breaks the rule; nothing was sent.
            CardError, TransportError: the card refused or left.
        """
        card = self._require()
        kind, _ = issuer_reset.RESET_TARGETS[operation]
        value = normalize_pin(kind, new, new=True)
        await self._run(
            lambda: issuer_reset.apply_issuer_reset(card.channel, operation, authorization, value)
        )

    async def release(self) -> None:
        """Close the card session; harmless twice.

        While an open still blocks in the worker (a reader waiting for a
        card), it returns at once: the worker closes what that open brings.
        """
        with self._open_lock:
            if self._opening:
                self._abandon = True
                return
        await self._run(self._close)

    def _close(self) -> None:
        transport, self._transport, self._card = self._transport, None, None
        self._credential = None
        if transport is not None:
            transport.close()

    async def aclose(self) -> None:
        """Release the card and stop the worker thread."""
        await self.release()
        # A blocked open finishes (and closes its session) on its own; the
        # event loop must not wait for it.
        self._executor.shutdown(wait=not self._opening)
