# SPDX-License-Identifier: Apache-2.0
"""The agent's journals: the write-ahead journal of side effects and the operator's record.

``Journal`` (SQLite, WAL, ``synchronous=FULL``) records every external side
effect before (intent, with its idempotency key) and after (outcome), so a
crash never loses or repeats a transfer: ``unresolved_transfers`` and
``unknown_resets`` tell recovery what to finish. ``ElectronicJournal`` is the
operator's append-only text record. Neither ever holds a PIN, password, OTP
or PIN block (``check_no_secrets`` guards every write).
"""

from __future__ import annotations

from host.journal.ejournal import ElectronicJournal
from host.journal.records import (
    Effect,
    JournalEntry,
    JournalSecretError,
    Phase,
    ReceiptRecovery,
    ResetRecovery,
    TransferRecovery,
    check_no_secrets,
    plan_receipts,
    plan_resets,
    plan_transfers,
)
from host.journal.store import Journal

__all__ = [
    "Effect",
    "ElectronicJournal",
    "Journal",
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
