# SPDX-License-Identifier: Apache-2.0
"""Input validation for every request, before anything reaches storage.

Why a module of its own: the rules (sizes, formats, enum values, required
fields) are the contract's fine print, and the fuzz tests drive them
directly. Each check raises ``InvalidRequestError`` naming the field; a
message never echoes the offending value (it may be a secret typed in the
wrong box).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from google.protobuf.message import Message

from myna.edge.v1 import verifier_pb2 as pb
from verifier import issuer
from verifier.errors import InvalidRequestError
from verifier.pki import MAX_CERTIFICATE_BYTES

__all__ = [
    "MAX_AMOUNT_YEN",
    "NONCE_BYTES",
    "SIGNATURE_BYTES",
    "authorize_transfer_request",
    "change_transfer_request",
    "check_enum",
    "check_id",
    "check_idempotency_key",
    "check_proof",
    "check_revocation_request",
    "check_statement",
    "check_terminal_id",
    "confirm_reset_request",
    "open_session_request",
    "redeem_reset_request",
    "require_size",
    "reserve_reset_request",
    "verify_card_request",
]

#: RSA-2048 signatures are exactly 256 bytes (jpki-card.md §6).
SIGNATURE_BYTES: Final = 256
NONCE_BYTES: Final = 32
#: Zengin transfers are far below this; it keeps amounts inside BIGINT and JSON.
MAX_AMOUNT_YEN: Final = 999_999_999_999

_KEY: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TERMINAL: Final = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_ID: Final = re.compile(r"[a-z]{3}_[A-Za-z0-9_\-]{16,64}")
_PHONE: Final = re.compile(r"[0-9\-]{10,13}")
_DIGITS: Final = {"payee_bank_code": 4, "payee_branch_code": 3, "payee_account_number": 7}


def check_idempotency_key(key: str) -> None:
    """1-128 characters of ``[A-Za-z0-9._:-]``."""
    if not _KEY.fullmatch(key):
        raise InvalidRequestError("idempotency_key", "1-128 characters of [A-Za-z0-9._:-]")


def check_terminal_id(terminal_id: str, field: str = "terminal_id") -> None:
    """1-64 characters of ``[A-Za-z0-9._-]`` (the terminal certificate's CN)."""
    if not _TERMINAL.fullmatch(terminal_id):
        raise InvalidRequestError(field, "1-64 characters of [A-Za-z0-9._-]")


def check_id(value: str, field: str, prefix: str) -> None:
    """A service-issued id like ``ses_...``, ``aut_...``, ``res_...``."""
    if not _ID.fullmatch(value) or not value.startswith(prefix + "_"):
        raise InvalidRequestError(field, f"not a {prefix}_ identifier")


def check_enum(value: int, enum: object, field: str, allowed: frozenset[int] | None = None) -> None:
    """A known, non-UNSPECIFIED value of the proto enum."""
    values = getattr(enum, "values")()  # noqa: B009 - protobuf enum wrapper
    if value == 0 or value not in values or (allowed is not None and value not in allowed):
        raise InvalidRequestError(field, "unknown or unspecified enum value")


def check_proof(proof: pb.CardProof, field: str, *, required: bool = True) -> bool:
    """Certificate 1-8192 bytes and a 256-byte signature; returns whether present.

    ``credential_device`` may be UNSPECIFIED (terminals from before issue 15)
    or a known value; it is what the terminal claims, audited, never trusted.
    """
    if not proof.certificate_der and not proof.signature:
        if required:
            raise InvalidRequestError(field, "a card proof is required")
        return False
    if not 0 < len(proof.certificate_der) <= MAX_CERTIFICATE_BYTES:
        raise InvalidRequestError(f"{field}.certificate_der", "1-8192 bytes of DER")
    if len(proof.signature) != SIGNATURE_BYTES:
        raise InvalidRequestError(f"{field}.signature", "exactly 256 bytes")
    if proof.credential_device:
        check_enum(proof.credential_device, pb.CredentialDevice, f"{field}.credential_device")
    return True


def _allowed(limit: int) -> str:
    return f"1-{limit} visible characters: letters, digits, kana, kanji, spaces and punctuation"


def _text(value: str, field: str, limit: int, *, required: bool = True) -> None:
    """Free text a person reads before the card signs it (payee and remitter names).

    Why invisible characters are refused (issue 22): a bidirectional control
    (U+202E RIGHT-TO-LEFT OVERRIDE...) or a zero-width character makes the
    screen show other text than the bytes signed. Every Unicode format
    character (category Cf: U+200B-U+200F, U+202A-U+202E, U+2060-U+2069,
    U+061C, U+FEFF, ...) and the line and paragraph separators are refused
    with the control characters; combining marks stay (NFC folds "カ" +
    U+3099 into "ガ" before signing, and the host shows the folded text).
    """
    if (required and not value) or len(value) > limit:
        raise InvalidRequestError(field, _allowed(limit))
    for c in value:
        category = unicodedata.category(c)
        if category == "Cc":
            raise InvalidRequestError(
                field, f"control characters are not allowed; allowed: {_allowed(limit)}"
            )
        if category in ("Cf", "Zl", "Zp"):
            raise InvalidRequestError(
                field,
                f"invisible formatting character U+{ord(c):04X} (bidirectional control, "
                f"zero-width or separator) is not allowed; allowed: {_allowed(limit)}",
            )


def check_statement(statement: pb.TransferStatement) -> None:
    """Every field of a transfer statement (formats in the proto comments)."""
    if len(statement.nonce) != NONCE_BYTES:
        raise InvalidRequestError("statement.nonce", "exactly 32 bytes")
    check_terminal_id(statement.terminal_id, "statement.terminal_id")
    if not 0 < statement.amount_yen <= MAX_AMOUNT_YEN:
        raise InvalidRequestError("statement.amount_yen", f"1-{MAX_AMOUNT_YEN} yen")
    for name, width in _DIGITS.items():
        value = getattr(statement, name)
        if len(value) != width or not value.isascii() or not value.isdigit():
            raise InvalidRequestError(f"statement.{name}", f"exactly {width} ASCII digits")
    check_enum(statement.payee_account_type, pb.AccountType, "statement.payee_account_type")
    _text(statement.payee_name, "statement.payee_name", 48)
    _text(statement.remitter_name, "statement.remitter_name", 48)
    if not _PHONE.fullmatch(statement.remitter_phone):
        raise InvalidRequestError("statement.remitter_phone", "10-13 digits or hyphens")


def require_size(message: Message, limit: int = 64 * 1024) -> None:
    """Refuse oversized messages outright (gRPC's own cap is 4 MiB)."""
    if message.ByteSize() > limit:
        raise InvalidRequestError("request", f"larger than {limit} bytes")


# -- one validator per request (the servicer calls exactly one) --------------------
def open_session_request(request: pb.OpenSessionRequest) -> None:
    """Field checks for OpenSession."""
    check_idempotency_key(request.idempotency_key)
    check_enum(request.purpose, pb.SessionPurpose, "purpose")


def verify_card_request(request: pb.VerifyCardRequest) -> None:
    """Field checks for VerifyCard."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "ses")
    check_terminal_id(request.terminal_id)
    check_proof(request.proof, "proof")


def check_revocation_request(request: pb.CheckRevocationRequest) -> None:
    """Field checks for CheckRevocation."""
    check_enum(request.kind, pb.CertificateKind, "kind")
    serial = request.serial_hex
    if not 0 < len(serial) <= 40 or any(c not in "0123456789abcdefABCDEF" for c in serial):
        raise InvalidRequestError("serial_hex", "1-40 hexadecimal digits")


def authorize_transfer_request(request: pb.AuthorizeTransferRequest) -> None:
    """Field checks for AuthorizeTransfer."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "ses")
    if not request.HasField("statement"):
        raise InvalidRequestError("statement", "required")
    check_statement(request.statement)
    if request.HasField("identity_proof"):
        check_proof(request.identity_proof, "identity_proof")


def change_transfer_request(request: pb.CommitTransferRequest | pb.ReverseTransferRequest) -> None:
    """Field checks for CommitTransfer and ReverseTransfer."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.authorization_id, "authorization_id", "aut")


def reserve_reset_request(request: pb.ReserveResetRequest) -> None:
    """Field checks for ReserveReset."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "ses")
    check_terminal_id(request.terminal_id)
    check_enum(request.operation, pb.ResetOperation, "operation")
    check_proof(request.proof, "proof")
    if len(request.face_match.signature) != SIGNATURE_BYTES:
        raise InvalidRequestError("face_match.signature", "exactly 256 bytes")


def redeem_reset_request(request: pb.RedeemResetRequest) -> None:
    """Field checks for RedeemReset (the OTP is checked for shape, never echoed)."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.session_id, "session_id", "ses")
    check_terminal_id(request.terminal_id)
    check_enum(request.operation, pb.ResetOperation, "operation")
    check_proof(request.proof, "proof")
    otp = request.one_time_password
    if otp and (len(otp) != 8 or not otp.isascii() or not otp.isdigit()):
        raise InvalidRequestError("one_time_password", "8 ASCII digits")
    if len(request.card_challenge) != issuer.CARD_CHALLENGE_BYTES:
        raise InvalidRequestError("card_challenge", "exactly 8 bytes")
    if len(request.card_id) != issuer.CARD_ID_BYTES:
        raise InvalidRequestError("card_id", "exactly 16 bytes")


def confirm_reset_request(request: pb.ConfirmResetRequest) -> None:
    """Field checks for ConfirmReset."""
    check_idempotency_key(request.idempotency_key)
    check_id(request.reservation_id, "reservation_id", "res")
    check_terminal_id(request.terminal_id)
