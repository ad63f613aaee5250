# SPDX-License-Identifier: Apache-2.0
"""The JPKI driver: the My Number card as methods, over an ``ApduChannel``.

``MynaCard`` is the facade flows use: PIN status without spending a try,
verify, certificates, the basic four items, signatures and PIN change. It
checks every PIN against the card's rules before touching the card, reads
the counter before any VERIFY with data and never retries a blocked PIN. It
talks only to the APDU layer, never to raw transport bytes or the simulator,
and it never logs personal data or secrets (STYLE §7)::

    with open_transport("sim://") as transport, Secret.from_text(pin) as secret:
        card = MynaCard(transport)
        info = card.read_card_info(secret)

Layers inside: ``commands`` (APDU builders), ``files`` (select and read),
``pins`` (counter, verify, change), ``jpki`` and ``card_info`` (the two
applications), ``surface`` and ``surface_codes`` (the card-surface AP and
照合番号A/B), and the pure parsers ``tlv``-based ``basic_four``,
``integrity``, ``surface_face``, ``surface_photo`` and ``certificates``.
"""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import card_info as _card_info
from host.card import credential as _credential
from host.card import jpki as _jpki
from host.card import pins as _pins
from host.card import surface as _surface
from host.card.basic_four import BasicFour
from host.card.card_info import CardInfo
from host.card.certificates import CertificateSummary, summarize_certificate
from host.card.constants import SHA256_DIGEST_LENGTH
from host.card.credential import ApprovalState, Credential, UserVerification, credential_for
from host.card.detection import (
    CredentialKind,
    Detection,
    contactless_historical_bytes,
    detect_credential,
)
from host.card.files import ReadStrategy
from host.card.integrity import IntegrityStatus
from host.card.kinds import KeyKind
from host.card.pin_policy import PIN_RULES, PinKind, PinRule, check_pin, normalize_pin
from host.card.selection import tracker_for
from host.card.surface import FaceReading, FaceVerdict, assess_face
from host.card.surface_codes import CodeKind, CodeTarget, code_b, normalize_code
from host.card.surface_face import CardFace, face_differences
from host.card.surface_photo import FacePhoto, decode_photo
from host.channel import ApduChannel
from host.secret import Secret
from host.transport.base import CardTransport

__all__ = [
    "PIN_RULES",
    "ApprovalState",
    "BasicFour",
    "CardFace",
    "CardInfo",
    "CertificateSummary",
    "CodeKind",
    "CodeTarget",
    "Credential",
    "CredentialKind",
    "Detection",
    "FacePhoto",
    "FaceReading",
    "FaceVerdict",
    "IntegrityStatus",
    "KeyKind",
    "MynaCard",
    "PinKind",
    "PinRule",
    "ReadStrategy",
    "UserVerification",
    "assess_face",
    "check_pin",
    "code_b",
    "credential_for",
    "decode_photo",
    "face_differences",
    "summarize_certificate",
]

_log = logging.getLogger(__name__)


def _contactless(atr: bytes) -> bool:
    return contactless_historical_bytes(atr) is not None


class MynaCard:
    """A My Number card behind a channel (or a transport, wrapped in one).

    The card does not own the transport: close it yourself. Each method
    selects what it needs, so calls do not depend on each other's state; a
    SELECT of the application the card has selected already is skipped
    (``host.card.selection`` watches the transport's APDUs).

    Args:
        channel_or_transport: an ``ApduChannel``, or an open ``CardTransport``.
        read_strategy: how files are read (``ReadStrategy``); ``AUTO`` uses
            one extended READ BINARY when the transport carries extended length.
    """

    def __init__(
        self,
        channel_or_transport: ApduChannel | CardTransport,
        *,
        read_strategy: ReadStrategy = ReadStrategy.AUTO,
    ) -> None:
        if isinstance(channel_or_transport, CardTransport):
            channel_or_transport = ApduChannel(channel_or_transport)
        self._channel = channel_or_transport
        self._strategy = ReadStrategy(read_strategy)
        # What is selected is watched from the first APDU (host.card.selection).
        tracker_for(channel_or_transport.transport)

    @property
    def channel(self) -> ApduChannel:
        """The APDU channel this driver speaks through."""
        return self._channel

    @property
    def read_strategy(self) -> ReadStrategy:
        """How files are read."""
        return self._strategy

    def tries_left(self, kind: PinKind) -> int:
        """Return the tries left for ``kind`` (0 when blocked); never spends one.

        Raises:
            CardError: the card refused the query.
        """
        return _pins.tries_left(self._channel, kind)

    def verify(self, kind: PinKind, secret: Secret) -> None:
        """Check the policy, read the counter, then VERIFY ``secret``.

        Raises:
            PinPolicyError: ``secret`` breaks ``kind``'s rule; nothing was sent.
            PinBlockedError: blocked before (no VERIFY with data was sent) or now.
            WrongPinError: wrong; ``.tries_left`` says how many remain.
            CardError: another refusal.
        """
        pin = normalize_pin(kind, secret)
        _pins.verify(self._channel, kind, pin)

    def change_pin(self, kind: PinKind, current: Secret, new: Secret) -> None:
        """Change ``kind``'s secret from ``current`` to ``new``.

        Both are policy-checked before the card is touched; then the counter
        is read, ``current`` verified, and ``00 24 01 80`` sent.

        Raises:
            PinPolicyError: either secret breaks the rule; nothing was sent.
            PinBlockedError, WrongPinError: ``current`` was refused.
            CardError: the card refused the change.
        """
        current_pin = normalize_pin(kind, current)
        new_pin = normalize_pin(kind, new, new=True)
        _pins.change(self._channel, kind, current_pin, new_pin)

    def read_certificate(self, kind: KeyKind, password: Secret | None = None) -> x509.Certificate:
        """Read the holder certificate of ``kind``.

        Args:
            password: the secret of ``kind.pin``; required for SIGN (the card
                hides the signing certificate until it is verified), verified
                first for AUTH when given.

        Raises:
            ValueError: SIGN without a password.
            PinPolicyError: the password breaks the rule; nothing was sent.
            PinBlockedError, WrongPinError: the password was refused.
            DataFormatError: the file is not a DER certificate.
            CardError: another refusal.
        """
        pin = None if password is None else normalize_pin(kind.pin, password)
        return _jpki.read_certificate(self._channel, kind, pin, self._strategy)

    def read_ca_certificate(self, kind: KeyKind) -> x509.Certificate:
        """Read the CA certificate the card carries for ``kind``.

        Raises:
            DataFormatError: the file is not a DER certificate.
            CardError: a refusal.
        """
        return _jpki.read_ca_certificate(self._channel, kind, self._strategy)

    def read_card_info(
        self,
        pin: Secret,
        *,
        include_my_number: bool = False,
        issuer_key: rsa.RSAPublicKey | None = None,
    ) -> CardInfo:
        """Read the basic four items (and the My Number), integrity-checked.

        One verification of the card-info PIN opens all files.

        Args:
            pin: the 4-digit card-info PIN.
            include_my_number: also read the My Number.
            issuer_key: the card-data issuer's public key; when given, the
                integrity record's signature is checked too.

        Raises:
            PinPolicyError: ``pin`` breaks the rule; nothing was sent.
            PinBlockedError, WrongPinError: the PIN was refused.
            IntegrityError: the files do not match their integrity record.
            DataFormatError: a file does not parse.
            CardError: another refusal.
        """
        raw = normalize_pin(PinKind.TEXT, pin)
        return _card_info.read_card_info(
            self._channel,
            raw,
            include_my_number=include_my_number,
            issuer_key=issuer_key,
            strategy=self._strategy,
        )

    def sign(self, kind: KeyKind, digest: bytes, secret: Secret) -> bytes:
        """Sign a 32-byte SHA-256 ``digest`` with the ``kind`` key.

        The card wraps nothing: the driver sends the DigestInfo and the card
        adds PKCS#1 v1.5 padding, so the result verifies as RSA-SHA256.

        Raises:
            ValueError: ``digest`` is not 32 bytes (checked before the PIN).
            PinPolicyError: ``secret`` breaks the rule; nothing was sent.
            PinBlockedError, WrongPinError: the secret was refused.
            CardError: another refusal.
        """
        if len(digest) != SHA256_DIGEST_LENGTH:
            raise ValueError("sign takes a 32-byte SHA-256 digest")
        pin = normalize_pin(kind.pin, secret)
        return _jpki.sign(self._channel, kind, digest, pin)

    def prove(
        self, kind: KeyKind, digest: bytes, secret: Secret, *, counter_read: bool = False
    ) -> tuple[x509.Certificate, bytes]:
        """The ``kind`` certificate and a signature over ``digest``, one VERIFY for both.

        ``counter_read``: the caller's promise that its last call was
        ``tries_left(kind.pin)`` with a non-zero answer (see ``jpki.prove``).

        Raises:
            ValueError: ``digest`` is not 32 bytes (checked before the PIN).
            PinPolicyError: ``secret`` breaks the rule; nothing was sent.
            PinBlockedError, WrongPinError: the secret was refused.
            DataFormatError: a malformed certificate or an empty signature.
            CardError: another refusal.
        """
        if len(digest) != SHA256_DIGEST_LENGTH:
            raise ValueError("sign takes a 32-byte SHA-256 digest")
        pin = normalize_pin(kind.pin, secret)
        return _jpki.prove(
            self._channel, kind, digest, pin, counter_read=counter_read, strategy=self._strategy
        )

    def has_certificate(self, kind: KeyKind) -> bool:
        """Whether the card holds the ``kind`` certificate; reads EF 0008, spends no try.

        A holder under 15 has no signing certificate (§3.1): flows ask this
        before prompting for the signing password.

        Raises:
            CardError: a refusal.
        """
        return _jpki.certificate_present(self._channel, kind)

    def code_tries_left(self, kind: CodeKind, target: CodeTarget = CodeTarget.SURFACE) -> int:
        """Return the tries left for 照合番号 ``kind`` in ``target`` (0: blocked); spends none.

        Raises:
            CardError: the card refused the query.
        """
        return _surface.code_tries_left(self._channel, kind, target)

    def read_card_face(
        self,
        kind: CodeKind,
        code: Secret,
        *,
        issuer_key: rsa.RSAPublicKey | None = None,
        counter_read: bool = False,
    ) -> FaceReading:
        """Open the card-surface AP with 照合番号 ``kind`` and read the card face.

        Args:
            kind: A (the My Number) or B (era birth date, expiry year, code).
            code: the code as typed.
            issuer_key: the card-data issuer's public key; when given, the
                face's signature is checked (``IntegrityError`` if it fails).
            counter_read: the caller's promise that its last call was
                ``code_tries_left(kind)`` with a non-zero answer (see
                ``surface.read_card_face``).

        Raises:
            PinPolicyError: ``code`` breaks the format; nothing was sent.
            PinBlockedError, WrongPinError: the code was refused.
            IntegrityError: the face is not signed by ``issuer_key``.
            DataFormatError: the face does not parse.
            CardError: another refusal.
        """
        raw = normalize_code(kind, code)
        return _surface.read_card_face(
            self._channel,
            kind,
            raw,
            issuer_key=issuer_key,
            strategy=self._strategy,
            counter_read=counter_read,
        )

    def read_card_info_with_code_b(
        self, code: Secret, *, issuer_key: rsa.RSAPublicKey | None = None
    ) -> CardInfo:
        """Read the basic four with 照合番号B instead of the card-info PIN (no My Number).

        Raises:
            PinPolicyError: ``code`` breaks the format; nothing was sent.
            PinBlockedError, WrongPinError: the code was refused.
            IntegrityError: the files do not match their integrity record.
            DataFormatError: a file does not parse.
            CardError: another refusal.
        """
        raw = normalize_code(CodeKind.B, code)
        return _surface.read_basic_four_with_code(
            self._channel, raw, issuer_key=issuer_key, strategy=self._strategy
        )

    def detect(self, *, atr: bytes | None = None) -> Detection:
        """Return what was presented (card, Android, iPhone) from its answers.

        See ``host.card.detection``; ``detect().kind`` is the
        ``CredentialKind`` flows branch on.

        Raises:
            DataFormatError: not a JPKI credential, or contradictory answers.
            CardError: a refusal while reading the token label.
        """
        return detect_credential(self._channel, atr=atr)

    def credential(self, *, atr: bytes | None = None) -> Credential:
        """What was presented and what it can do (``host.card.credential``).

        A contact ATR ends the question at once, with no command sent: a
        phone has no contacts. Anything else is asked of the credential
        (``detect``).

        Raises:
            DataFormatError: not a JPKI credential, or contradictory answers.
            CardError: a refusal while reading the token label.
        """
        if atr is not None and not _contactless(atr):
            return credential_for(CredentialKind.CARD)
        return credential_for(self.detect(atr=atr).kind)

    def approval_state(self) -> ApprovalState:
        """The phone's on-device approval (approved, declined, no answer); spends nothing.

        Raises:
            CardError: not a phone that approves on the device (a card answers
                its PIN counter), or another refusal.
        """
        return _credential.approval_state(self._channel)

    def prove_on_device(self, kind: KeyKind, digest: bytes) -> tuple[x509.Certificate, bytes]:
        """``prove`` for a phone whose holder approves on the device: no secret is sent.

        Raises:
            ValueError: ``digest`` is not 32 bytes.
            ApprovalRequiredError: declined or not (yet) approved on the phone.
            DataFormatError: a malformed certificate or an empty signature.
            CardError: another refusal.
        """
        return _credential.prove_on_device(self._channel, kind, digest, self._strategy)

    def token_label(self) -> str:
        """Return the JPKI token label (``JPKIAPICCTOKEN2`` for a card, §3.1).

        Raises:
            DataFormatError: the label is not ASCII.
            CardError: a refusal.
        """
        return _jpki.token_label(self._channel)

    def __repr__(self) -> str:
        return f"<MynaCard over {self._channel.transport!r}>"
