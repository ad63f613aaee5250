# SPDX-License-Identifier: Apache-2.0
"""Flow values <-> TerminalService messages, in one place.

The flows know nothing of protobuf (STYLE §1); the API turns their events
into ``FlowEvent`` messages, their outcomes into one ``Completion`` with an
XFS4IoT-style completion code, and API commands into flow requests.
Personal data leaves the agent only in a ``ReadCardResult`` the caller
asked for; no secret is ever put into a message here.
"""

from __future__ import annotations

from typing import Final

from host.api.user_text import describe_completion, describe_reason, prompt_user_message
from host.card import CredentialKind, FaceVerdict, UserVerification
from host.client import AccountType, ResetOperation, TransferState
from host.client.issuance import DOCUMENT_KINDS, HOUSEHOLD_SCOPES
from host.client.issuance_models import DocumentOptions
from host.flows import (
    Event,
    FailureCode,
    FlowFailed,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    ReadOutcome,
    RemoveCard,
    ResetOutcome,
    TransferOutcome,
    TransferRequest,
    Working,
)
from host.flows.counter import CounterOutcome, CounterScreen
from host.flows.events import CredentialPresented, PadKey, PadKeyAction, PaymentInserted
from host.flows.issue_request import IssueChoice, IssueOutcome
from host.flows.settle import JournaledTransfer
from host.flows.transfer import TransferFieldError
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb

__all__ = [
    "card_face_message",
    "completion_for",
    "event_message",
    "issue_choice",
    "journaled_completion",
    "prompt_message",
    "reset_operation",
    "transfer_request",
]

_FAILURE_CODES: Final[dict[str, tpb.CompletionCode.ValueType]] = {
    FailureCode.TIMEOUT: tpb.COMPLETION_CODE_TIME_OUT,
    FailureCode.CANCELLED: tpb.COMPLETION_CODE_CANCELED,
    FailureCode.CARD_REMOVED: tpb.COMPLETION_CODE_DEVICE_NOT_READY,
    FailureCode.SERVICE_UNAVAILABLE: tpb.COMPLETION_CODE_DEVICE_NOT_READY,
    FailureCode.PIN_BLOCKED: tpb.COMPLETION_CODE_USER_ERROR,
    # The new secret of a reset kept breaking the card's rules.
    FailureCode.PIN_POLICY: tpb.COMPLETION_CODE_USER_ERROR,
    # What the card cannot do (no signing certificate): see Completion.reason.
    FailureCode.NO_SIGNING_CERTIFICATE: tpb.COMPLETION_CODE_COMMAND_ERROR,
    FailureCode.DEVICE_ERROR: tpb.COMPLETION_CODE_HARDWARE_ERROR,
    FailureCode.STORAGE_ERROR: tpb.COMPLETION_CODE_HARDWARE_ERROR,
    # Nobody answered the cash question within recovery_answer_seconds.
    FailureCode.REVERSED_UNANSWERED: tpb.COMPLETION_CODE_TIME_OUT,
    # Certificate issuance: not paid in time (money returned); the printer failed (refunded).
    FailureCode.PAYMENT_TIMEOUT: tpb.COMPLETION_CODE_TIME_OUT,
    FailureCode.PRINT_FAILED: tpb.COMPLETION_CODE_HARDWARE_ERROR,
    # Smartphones: no answer from the phone in time; what the credential cannot do.
    FailureCode.PHONE_NO_ANSWER: tpb.COMPLETION_CODE_TIME_OUT,
    FailureCode.MANAGED_ON_PHONE: tpb.COMPLETION_CODE_COMMAND_ERROR,
    FailureCode.NOT_ON_CREDENTIAL: tpb.COMPLETION_CODE_COMMAND_ERROR,
}
#: The presented credential on the wire (total: a test walks both enums).
CREDENTIAL_KINDS: Final[dict[CredentialKind, tpb.CredentialKind.ValueType]] = {
    CredentialKind.CARD: tpb.CREDENTIAL_KIND_CARD,
    CredentialKind.ANDROID: tpb.CREDENTIAL_KIND_ANDROID,
    CredentialKind.IPHONE: tpb.CREDENTIAL_KIND_IPHONE,
}
USER_VERIFICATIONS: Final[dict[UserVerification, tpb.UserVerification.ValueType]] = {
    UserVerification.PIN_PAD: tpb.USER_VERIFICATION_PIN_PAD,
    UserVerification.ON_DEVICE: tpb.USER_VERIFICATION_ON_DEVICE,
}
_PAD_KEY_ACTIONS: Final = {
    PadKeyAction.PRESSED: tpb.PAD_KEY_ACTION_PRESSED,
    PadKeyAction.DELETED: tpb.PAD_KEY_ACTION_DELETED,
    PadKeyAction.REFUSED: tpb.PAD_KEY_ACTION_REFUSED,
}
#: The chip's verdict on the wire (total: a test walks FaceVerdict).
FACE_VERDICTS: Final[dict[FaceVerdict, tpb.FaceVerdict.ValueType]] = {
    FaceVerdict.GENUINE: tpb.FACE_VERDICT_GENUINE,
    FaceVerdict.EXPIRED: tpb.FACE_VERDICT_EXPIRED,
    FaceVerdict.NOT_CHECKED: tpb.FACE_VERDICT_NOT_CHECKED,
    FaceVerdict.FORGED: tpb.FACE_VERDICT_FORGED,
    FaceVerdict.REVOKED: tpb.FACE_VERDICT_REVOKED,
    FaceVerdict.INCONSISTENT: tpb.FACE_VERDICT_INCONSISTENT,
}
#: Prompts no API call answers, sent as events (the card, the payment device, the person act).
_DISPLAY_PROMPTS: Final = frozenset(
    {
        PromptKind.INSERT_CARD,
        PromptKind.INSERT_PAYMENT,
        PromptKind.TAKE_DOCUMENT,
        PromptKind.APPROVE_ON_PHONE,
    }
)
_KINDS_FROM_WIRE: Final = {wire: kind for kind, wire in DOCUMENT_KINDS.items()}
_SCOPES_FROM_WIRE: Final = {wire: scope for scope, wire in HOUSEHOLD_SCOPES.items()}
_ACCOUNT_TYPES: Final = {
    vpb.ACCOUNT_TYPE_ORDINARY: AccountType.ORDINARY,
    vpb.ACCOUNT_TYPE_CURRENT: AccountType.CURRENT,
    vpb.ACCOUNT_TYPE_SAVINGS: AccountType.SAVINGS,
}


def prompt_message(prompt: Prompt, prompt_id: str = "") -> tpb.PromptEvent:
    """A ``PromptEvent`` for ``prompt`` (``prompt_id`` empty when no answer is expected)."""
    return tpb.PromptEvent(
        prompt_id=prompt_id,
        type=tpb.PromptType.Value(f"PROMPT_TYPE_{prompt.kind.value.upper()}"),
        text=prompt.text,
        tries_left=prompt.tries_left or 0,
        last_try=prompt.last_try,
        message=prompt_user_message(prompt),
    )


def card_face_message(screen: CounterScreen) -> tpb.CardFace:
    """The staff screen's ``CardFace`` (personal data: only to the local API caller)."""
    return tpb.CardFace(
        name=screen.name,
        address=screen.address,
        birth_date=screen.birth_date.isoformat(),
        sex=screen.sex,
        expiry=screen.expiry.isoformat(),
        photo_png=screen.photo_png,
        verdict=FACE_VERDICTS[screen.verdict],
        differences=screen.differences,
    )


def _counter_result(outcome: CounterOutcome) -> tpb.CounterCheckResult:
    result = tpb.CounterCheckResult(check_id=outcome.op_id)
    if outcome.verdict is not None:
        result.verdict = FACE_VERDICTS[outcome.verdict]
    if outcome.record is not None:
        result.photo_compared = bool(outcome.record.photo_compared)
    if outcome.screen is not None:
        result.card_face.CopyFrom(card_face_message(outcome.screen))
    return result


def event_message(event: Event) -> tpb.FlowEvent | None:
    """The ``FlowEvent`` for a flow event; None for events sent otherwise.

    Answerable prompts are sent by the API's user port with their id and
    the result goes into the completion, so only the display-only prompts
    (insert card, insert payment, take the document, approve on the phone),
    warnings, the PIN pad's keys, what was presented, working, remove-card,
    money inserted and failures map here.
    """
    if isinstance(event, Prompt):
        if event.kind in _DISPLAY_PROMPTS:
            return tpb.FlowEvent(prompt=prompt_message(event))
        return None
    if isinstance(event, LastTryWarning):
        kind = tpb.PromptType.Value(f"PROMPT_TYPE_{event.kind.value.upper()}")
        return tpb.FlowEvent(last_try_warning=tpb.LastTryWarningEvent(type=kind))
    if isinstance(event, PadKey):
        key = tpb.PadKeyEvent(action=_PAD_KEY_ACTIONS[event.action], length=event.length)
        return tpb.FlowEvent(pad_key=key)
    if isinstance(event, Working):
        return tpb.FlowEvent(working=tpb.WorkingEvent(step=event.step))
    if isinstance(event, RemoveCard):
        return tpb.FlowEvent(remove_card=tpb.RemoveCardEvent())
    if isinstance(event, FlowFailed):
        return tpb.FlowEvent(failure=tpb.FailureEvent(code=event.code, message=event.message))
    if isinstance(event, CredentialPresented):
        presented = tpb.CredentialEvent(
            kind=CREDENTIAL_KINDS[event.kind],
            user_verification=USER_VERIFICATIONS[event.verification],
        )
        return tpb.FlowEvent(credential=presented)
    if isinstance(event, PaymentInserted):
        paid = tpb.PaymentEvent(fee_yen=event.fee_yen, inserted_yen=event.inserted_yen)
        return tpb.FlowEvent(payment=paid)
    return None


def _code(outcome: Outcome, reason: str, timed_out: bool) -> tpb.CompletionCode.ValueType:
    if outcome is Outcome.COMPLETED:
        return tpb.COMPLETION_CODE_SUCCESS
    if outcome is Outcome.REFUSED:
        return tpb.COMPLETION_CODE_COMMAND_ERROR
    if timed_out:
        return tpb.COMPLETION_CODE_TIME_OUT
    if outcome is Outcome.CANCELLED:
        return tpb.COMPLETION_CODE_CANCELED
    return _FAILURE_CODES.get(reason, tpb.COMPLETION_CODE_INTERNAL_ERROR)


def completion_for(
    outcome: ReadOutcome | ResetOutcome | TransferOutcome | CounterOutcome | IssueOutcome,
    *,
    timed_out: bool = False,
) -> tpb.Completion:
    """The one ``Completion`` of a command from its flow's outcome."""
    done = tpb.Completion(
        code=_code(outcome.outcome, outcome.reason, timed_out),
        error_code=FailureCode.TIMEOUT.value if timed_out else outcome.reason,
    )
    describe_completion(done, outcome, timed_out=timed_out)
    if isinstance(outcome, TransferOutcome):
        done.transfer.CopyFrom(
            tpb.TransferResult(
                authorization_id=outcome.authorization_id,
                state=vpb.TransferState.Value(f"TRANSFER_STATE_{outcome.state.value}"),
                identity_verified=outcome.identity_verified,
                receipt_printed=outcome.receipt_printed,
                receipt_lines=outcome.receipt_lines,
            )
        )
    elif isinstance(outcome, IssueOutcome):
        done.issue_certificate.CopyFrom(
            tpb.IssueCertificateResult(
                request_id=outcome.request_id,
                serial=outcome.serial,
                kind=DOCUMENT_KINDS[outcome.kind]
                if outcome.kind
                else mpb.DOCUMENT_KIND_UNSPECIFIED,
                fee_yen=outcome.fee_yen,
                printed=outcome.printed,
                charged=outcome.charged,
                refunded=outcome.refunded,
                inserted_yen=outcome.inserted_yen,
                change_yen=outcome.change_yen,
            )
        )
    elif isinstance(outcome, CounterOutcome):
        if outcome.verdict is not None:  # a verdict was reached (also when refused)
            done.counter_check.CopyFrom(_counter_result(outcome))
    elif isinstance(outcome, ResetOutcome):
        done.pin_reset.CopyFrom(tpb.PinResetResult(reservation_id=outcome.reservation_id))
    elif outcome.outcome is Outcome.COMPLETED:
        result = tpb.ReadCardResult()
        if outcome.basic_four is not None:
            four = outcome.basic_four
            result.name, result.address = four.name, four.address
            result.birth_date, result.sex = four.birth_date.isoformat(), four.sex
        if outcome.verdict is not None:
            result.card_verified = outcome.verdict.accepted
            result.certificate_serial = outcome.verdict.certificate_serial
        done.read_card.CopyFrom(result)
    return done


def journaled_completion(journaled: JournaledTransfer) -> tpb.Completion:
    """A transfer's completion rebuilt from the journal (the agent restarted).

    COMMITTED is SUCCESS; REVERSED is CANCELED with ``reversed``; an
    authorised, undecided one (its cash question waits) or one whose
    authorisation is still unknown has no completion code yet.
    """
    codes = {
        TransferState.COMMITTED: (tpb.COMPLETION_CODE_SUCCESS, ""),
        TransferState.REVERSED: (tpb.COMPLETION_CODE_CANCELED, FailureCode.REVERSED.value),
    }
    code, error = codes.get(journaled.state, (tpb.COMPLETION_CODE_UNSPECIFIED, ""))
    done = tpb.Completion(code=code, error_code=error)
    if error:
        describe_reason(done, outcome="cancelled", reason=error)
    done.transfer.CopyFrom(
        tpb.TransferResult(
            authorization_id=journaled.authorization_id,
            state=vpb.TransferState.Value(f"TRANSFER_STATE_{journaled.state.value}"),
            identity_verified=journaled.identity_verified,
            receipt_printed=journaled.receipt_printed,
            receipt_lines=journaled.receipt_lines,
        )
    )
    return done


def transfer_request(command: tpb.TransferCommand) -> TransferRequest:
    """The flow's request from the API command.

    Raises:
        ValueError: an unknown account type.
    """
    if command.payee_account_type not in _ACCOUNT_TYPES:
        raise TransferFieldError("payee_account_type", "ORDINARY, CURRENT or SAVINGS")
    return TransferRequest(
        amount_yen=command.amount_yen,
        payee_bank_code=command.payee_bank_code,
        payee_branch_code=command.payee_branch_code,
        payee_account_type=_ACCOUNT_TYPES[command.payee_account_type],
        payee_account_number=command.payee_account_number,
        payee_name=command.payee_name,
        remitter_name=command.remitter_name,
        remitter_phone=command.remitter_phone,
    )


def issue_choice(command: tpb.IssueCertificateCommand) -> IssueChoice:
    """The resident's choice from the API command (copies 0 is taken as 1).

    Raises:
        ValueError: an unspecified or unknown kind, a household scope that is
            unknown, a malformed municipality code, copies over 10.
    """
    kind = _KINDS_FROM_WIRE.get(command.kind)
    if kind is None:
        raise ValueError("issue_certificate.kind: a certificate kind is needed")
    o = command.options
    scope = _SCOPES_FROM_WIRE.get(o.household_scope)
    if scope is None:
        raise ValueError("issue_certificate.options.household_scope is unknown")
    options = DocumentOptions(
        household_scope=scope,
        show_registered_domicile=o.show_registered_domicile,
        show_relationship=o.show_relationship,
        copies=o.copies or 1,
        fiscal_year=o.fiscal_year,
    )
    return IssueChoice(command.municipality_code, kind, options)


def reset_operation(command: tpb.PinResetCommand) -> ResetOperation:
    """The flow's operation from the API command.

    Raises:
        ValueError: an unspecified operation.
    """
    name = vpb.ResetOperation.Name(command.operation).removeprefix("RESET_OPERATION_")
    if name == "UNSPECIFIED":
        raise ValueError("the reset operation is unspecified")
    return ResetOperation(name)
