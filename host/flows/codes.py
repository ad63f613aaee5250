# SPDX-License-Identifier: Apache-2.0
"""The codes a flow ends with, as enums: its own failure codes and the refusal reasons.

Why enums and not strings: a flow branches on these (retry with an OTP,
reverse, name the blocked PIN), and a misspelt string compares unequal
silently where a misspelt member fails at import. Both are ``StrEnum``, so
the values on the wire, in the journals and in ``host.messages``' table stay
the stable strings they always were; the API maps them to its proto enums
once (``host.api.translate``).

* ``FailureCode``: why a run stopped short (``FlowFailed.code``, the
  outcome's ``reason``), lower-case.
* ``RefusalReason``: why it was refused (``FlowRefusedError.reason``): the
  verifier's ``Reason`` names without their ``REASON_`` prefix (a test keeps
  the two total both ways), plus the kiosk's own ``OUTSIDE_KIOSK_HOURS``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureCode", "IssueRefusal", "RefusalReason", "refusal_reason"]


class FailureCode(StrEnum):
    """Why a flow run did not complete, as its events and outcome name it."""

    # FlowError.code values (host.errors)
    FLOW_ERROR = "flow_error"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    NO_SIGNING_CERTIFICATE = "no_signing_certificate"
    # smartphones (issue 15): no try is spent at the terminal for any of these
    DECLINED_ON_PHONE = "declined_on_phone"
    PHONE_NO_ANSWER = "phone_no_answer"
    MANAGED_ON_PHONE = "managed_on_phone"  # a phone's secrets are reset on the phone
    NOT_ON_CREDENTIAL = "not_on_credential"  # e.g. a phone carries no basic four
    # other exceptions (context.error_code's table)
    CARD_REMOVED = "card_removed"
    PIN_BLOCKED = "pin_blocked"
    SERVICE_UNAVAILABLE = "service_unavailable"
    DEVICE_ERROR = "device_error"
    STORAGE_ERROR = "storage_error"
    FAILED = "failed"
    # flow decisions
    PIN_POLICY = "pin_policy"  # the new secret kept breaking the card's rule
    CASH_UNCONFIRMED = "cash_unconfirmed"  # the cash question is left to recovery
    REVERSED = "reversed"  # the ATM application said no cash moved
    REVERSED_UNANSWERED = "reversed_unanswered"  # nobody answered the recovery question
    # certificate issuance (host.flows.issue); nothing is charged after any of these
    PAYMENT_TIMEOUT = "payment_timeout"  # the fee was not paid in time (money returned)
    PRINT_FAILED = "print_failed"  # the printer did not print: refunded, serial void


class RefusalReason(StrEnum):
    """Why a run was refused: the verifier's reasons and the kiosk's own."""

    UNSPECIFIED = "UNSPECIFIED"
    OK = "OK"
    NONCE_UNKNOWN = "NONCE_UNKNOWN"
    NONCE_EXPIRED = "NONCE_EXPIRED"
    NONCE_REPLAYED = "NONCE_REPLAYED"
    NONCE_OTHER_TERMINAL = "NONCE_OTHER_TERMINAL"
    NONCE_WRONG_PURPOSE = "NONCE_WRONG_PURPOSE"
    CERTIFICATE_MALFORMED = "CERTIFICATE_MALFORMED"
    CERTIFICATE_UNTRUSTED = "CERTIFICATE_UNTRUSTED"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    IDENTITY_PROOF_REQUIRED = "IDENTITY_PROOF_REQUIRED"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED"
    RESERVATION_USED = "RESERVATION_USED"
    RESERVATION_OTHER_CARD = "RESERVATION_OTHER_CARD"
    OTP_WRONG = "OTP_WRONG"
    OTP_REQUIRED = "OTP_REQUIRED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    ATTESTATION_INVALID = "ATTESTATION_INVALID"
    CREDENTIAL_NOT_ALLOWED = "CREDENTIAL_NOT_ALLOWED"  # a phone where the policy wants a card
    # the kiosk's own, not the verifier's
    OUTSIDE_KIOSK_HOURS = "OUTSIDE_KIOSK_HOURS"


class IssueRefusal(StrEnum):
    """Why the centre or the municipality refused an issuance (``FlowRefusedError.reason``).

    Apart from ``RefusalReason`` (the verifier's ``Reason``, kept total with
    it): the centre's ``IssuanceRefusal`` and the municipality's
    ``MunicipalRefusal`` names. A card the centre rejects is named by its
    card reason instead (``CERTIFICATE_REVOKED``), as every flow names it.
    """

    SESSION_INVALID = "SESSION_INVALID"
    OUTSIDE_SERVICE_HOURS = "OUTSIDE_SERVICE_HOURS"
    NOT_A_RESIDENT = "NOT_A_RESIDENT"
    NO_REGISTERED_SEAL = "NO_REGISTERED_SEAL"
    DOCUMENT_NOT_OFFERED = "DOCUMENT_NOT_OFFERED"
    OPTIONS_INVALID = "OPTIONS_INVALID"
    FEE_CHANGED = "FEE_CHANGED"
    COUNTER_ONLY = "COUNTER_ONLY"
    #: The centre could not reach the municipality: nothing issued or charged.
    MUNICIPALITY_UNAVAILABLE = "MUNICIPALITY_UNAVAILABLE"
    #: The municipality refused without saying why (a newer centre's reason).
    MUNICIPALITY_REFUSED = "MUNICIPALITY_REFUSED"


def refusal_reason(name: str) -> RefusalReason:
    """The member for a verifier reason name; ``UNSPECIFIED`` for one this agent predates.

    A newer verifier may send a reason this build does not know: it is
    still a refusal, so it must not turn into an exception here.
    """
    try:
        return RefusalReason(name)
    except ValueError:
        return RefusalReason.UNSPECIFIED
