# SPDX-License-Identifier: Apache-2.0
"""Journal records and recovery planning, without I/O.

The write-ahead rule (terminal-conventions §3, "journal first"): before the
agent causes an external side effect — a verifier call, a card reset
command, printer output, a transfer commit or reversal — it records the
*intent* with the idempotency key it will use; after, the *outcome*. After a
crash, an intent without an outcome means "unknown": the agent repeats the
call with the same key (the verifier answers it once) or reconciles.

This module is pure: entries in, recovery plans out (``plan_transfers``,
``plan_resets``). ``store`` is the SQLite shell. ``check_no_secrets`` is
the guard every write passes: the journal never holds a PIN, password, OTP
or PIN block (PCI PIN requirement 4), refused by key name and by type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from host.errors import JournalSecretError
from host.secret import Secret

__all__ = [
    "CREDENTIAL_KIND",
    "Effect",
    "JournalEntry",
    "JournalSecretError",
    "Phase",
    "ReceiptRecovery",
    "ResetRecovery",
    "TransferRecovery",
    "check_no_secrets",
    "plan_receipts",
    "plan_resets",
    "plan_transfers",
]

JsonValue = str | int | float | bool | None

#: The field naming what was presented (``card``, ``android``, ``iphone``;
#: ``host.card.CredentialKind`` values) in a flow's journal data and its EJ
#: lines. A field, not a step: the journaled steps (``steps``) are unchanged.
CREDENTIAL_KIND: Final = "credential_kind"


class Phase(StrEnum):
    """Where an entry sits around its side effect."""

    INTENT = "intent"  # written and synced before the effect
    OUTCOME = "outcome"  # written after it, with the result
    DECISION = "decision"  # a choice the flow made (commit or reverse), before acting on it


class Effect(StrEnum):
    """The external side effects the agent journals."""

    TRANSFER_AUTHORIZE = "transfer.authorize"
    TRANSFER_DECISION = "transfer.decision"
    TRANSFER_COMMIT = "transfer.commit"
    TRANSFER_REVERSE = "transfer.reverse"
    RECEIPT_PRINT = "receipt.print"
    RESET_REDEEM = "reset.redeem"
    RESET_CARD = "reset.card"
    RESET_CONFIRM = "reset.confirm"
    CARD_VERIFY = "card.verify"
    # Certificate issuance (MFP, host.flows.issue): charged iff printed.
    ISSUE_PROVE = "issue.prove"
    ISSUE_COLLECT = "issue.collect"  # the fee into the payment device's escrow
    ISSUE_REQUEST = "issue.request"
    ISSUE_PRINT = "issue.print"
    ISSUE_CONFIRM = "issue.confirm"
    ISSUE_FAILURE = "issue.failure"  # ReportPrintFailure
    ISSUE_TAKE = "issue.take"  # the escrow kept, change paid
    ISSUE_REFUND = "issue.refund"  # the escrow given back


# Field names that must never reach the journal, whatever their value.
_SECRET_NAMES: Final = re.compile(r"pin|passw|otp|one_time|secret|passcode", re.IGNORECASE)


def check_no_secrets(data: Mapping[str, object]) -> None:
    """Refuse ``data`` holding a secret by name or type, or a non-JSON value.

    Raises:
        JournalSecretError: a key names a secret, or a value is a ``Secret``.
        TypeError: a value is not a JSON scalar.
    """
    for key, value in data.items():
        if _SECRET_NAMES.search(key):
            raise JournalSecretError(f"journal field {key!r} names a secret")
        if isinstance(value, Secret | bytes | bytearray):
            raise JournalSecretError(f"journal field {key!r} holds secret-like bytes")
        if not isinstance(value, str | int | float | bool | type(None)):
            raise TypeError(f"journal field {key!r} must be a JSON scalar")


@dataclass(frozen=True)
class JournalEntry:
    """One durable journal row."""

    seq: int
    op_id: str
    flow: str
    effect: Effect
    phase: Phase
    idempotency_key: str
    data: Mapping[str, JsonValue]
    created: float


@dataclass
class TransferRecovery:
    """What recovery must do for one transfer that did not finish.

    ``authorization_id`` is empty when the authorisation's outcome is
    unknown (repeat AuthorizeTransfer with ``authorize_key`` to learn it);
    ``decision`` is ``"commit"``/``"reverse"`` when the flow had decided,
    ``None`` when the ATM application must be asked.
    """

    op_id: str
    authorize_key: str
    authorize_request: Mapping[str, JsonValue]
    authorization_id: str = ""
    decision: str | None = None
    action_key: str = ""
    entries: list[JournalEntry] = field(default_factory=list)


@dataclass
class ResetRecovery:
    """A PIN reset whose card outcome, or its confirmation, is unknown."""

    op_id: str
    reservation_id: str
    card_outcome: bool | None  # None: RESET RETRY COUNTER sent, answer unknown
    confirm_key: str


def _by_op(entries: Iterable[JournalEntry], flow: str) -> dict[str, list[JournalEntry]]:
    ops: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        if entry.flow == flow:
            ops.setdefault(entry.op_id, []).append(entry)
    return ops


def _last(entries: list[JournalEntry], effect: Effect, phase: Phase) -> JournalEntry | None:
    found = [e for e in entries if e.effect is effect and e.phase is phase]
    return found[-1] if found else None


def plan_transfers(entries: Iterable[JournalEntry]) -> list[TransferRecovery]:
    """Transfers authorised (or maybe authorised) but neither committed nor reversed."""
    plans = []
    for op_id, ops in _by_op(entries, "transfer").items():
        intent = _last(ops, Effect.TRANSFER_AUTHORIZE, Phase.INTENT)
        if intent is None:
            continue  # never reached the verifier: nothing to resolve
        if _last(ops, Effect.TRANSFER_COMMIT, Phase.OUTCOME) or _last(
            ops, Effect.TRANSFER_REVERSE, Phase.OUTCOME
        ):
            continue
        outcome = _last(ops, Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME)
        if outcome is not None and not outcome.data.get("accepted"):
            continue  # refused: nothing was authorised
        plan = TransferRecovery(op_id, intent.idempotency_key, intent.data, entries=ops)
        if outcome is not None:
            plan.authorization_id = str(outcome.data.get("authorization_id", ""))
        decision = _last(ops, Effect.TRANSFER_DECISION, Phase.DECISION)
        if decision is not None:
            plan.decision = str(decision.data["action"])
            plan.action_key = decision.idempotency_key
        plans.append(plan)
    return plans


@dataclass(frozen=True)
class ReceiptRecovery:
    """A committed transfer whose receipt is missing or of unknown fate.

    ``reprint`` is True when a print was started before (its outcome is
    unknown or says not printed): the next receipt must be marked as a
    reprint, so that never two originals exist.
    """

    op_id: str
    authorization_id: str
    statement: Mapping[str, JsonValue]
    reprint: bool


def plan_receipts(entries: Iterable[JournalEntry]) -> list[ReceiptRecovery]:
    """Committed transfers whose receipt never printed for certain.

    A commit whose operation has no print intent (recovery committed it, or
    the agent died before printing) or whose last print intent has no
    outcome (it died while printing) needs a receipt. A print the flow saw
    fail (outcome ``printed: false``) was reported to the ATM application
    then, and is not retried.
    """
    plans = []
    for op_id, ops in _by_op(entries, "transfer").items():
        commit = _last(ops, Effect.TRANSFER_COMMIT, Phase.OUTCOME)
        if commit is None or commit.data.get("state") != "COMMITTED":
            continue
        prints = [e for e in ops if e.effect is Effect.RECEIPT_PRINT]
        if prints and prints[-1].phase is Phase.OUTCOME:
            continue  # printed, or a failure already reported
        intent = _last(ops, Effect.TRANSFER_AUTHORIZE, Phase.INTENT)
        plans.append(
            ReceiptRecovery(
                op_id,
                str(commit.data.get("authorization_id", "")),
                intent.data if intent is not None else {},
                reprint=bool(prints),
            )
        )
    return plans


def plan_resets(entries: Iterable[JournalEntry]) -> list[ResetRecovery]:
    """Resets where the card command's outcome or the ConfirmReset is not recorded."""
    plans = []
    for op_id, ops in _by_op(entries, "reset").items():
        card_intent = _last(ops, Effect.RESET_CARD, Phase.INTENT)
        if card_intent is None or _last(ops, Effect.RESET_CONFIRM, Phase.OUTCOME):
            continue
        card_outcome = _last(ops, Effect.RESET_CARD, Phase.OUTCOME)
        confirm = _last(ops, Effect.RESET_CONFIRM, Phase.INTENT)
        plans.append(
            ResetRecovery(
                op_id,
                str(card_intent.data.get("reservation_id", "")),
                None if card_outcome is None else bool(card_outcome.data.get("succeeded")),
                confirm.idempotency_key if confirm else f"{op_id}.reset.confirm",
            )
        )
    return plans
