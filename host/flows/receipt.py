# SPDX-License-Identifier: Apache-2.0
"""The transfer receipt: built from the journaled statement, printed journal-first.

Why one module for the flow and for recovery: a crash between the commit and
the printed receipt must still end with a receipt (issue 12.7), and the one
recovery prints has to say the same as the one the flow would have printed.
So the lines come from what the journal holds (the statement sent with
AuthorizeTransfer), never from the flow's memory. Exactly one receipt is the
original: the print intent is journaled before the printer is driven, so any
later print of the same transfer (the intent exists, its outcome is unknown
or says not printed) is marked as a reprint (再発行).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from host.client import TransferState
from host.errors import FlowError, PeripheralError
from host.flows.context import error_code
from host.flows.ports import PrinterPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue
from host.messages import Language, language_of
from host.prompt_texts import receipt_words

__all__ = ["REPRINT_MARK", "print_receipt", "print_receipt_within", "receipt_lines"]

_log = logging.getLogger(__name__)

#: The line that marks a receipt that may not be the first one printed.
REPRINT_MARK: Final = "再発行 REPRINT"
_FLOW: Final = "transfer"


def receipt_lines(
    statement: Mapping[str, object], authorization_id: str, state: TransferState, *, reprint: bool
) -> list[str]:
    """The receipt's lines from the journaled AuthorizeTransfer data (``st_*`` fields).

    No secret and no card data: the statement the user agreed to, the
    reference and the ledger state, in the customer's language as journaled
    with it (``language``; English when none was recorded).
    """
    words = receipt_words(language_of(statement.get("language", Language.EN)))

    def field(name: str) -> str:
        value = statement.get(f"st_{name}")
        return "" if value is None else str(value)

    amount = statement.get("st_amount_yen")
    lines = [
        words.title,
        REPRINT_MARK if reprint else "",
        f"{words.terminal} {field('terminal_id')}" if field("terminal_id") else "",
        words.amount.format(amount=amount) if isinstance(amount, int) else "",
        f"{words.payee} {field('payee_bank_code')}-{field('payee_branch_code')} "
        f"{field('payee_account_number')}",
        field("payee_name"),
        f"REF {authorization_id}",
        f"{words.state} {state.value}",
    ]
    return [line for line in lines if line.strip()]


async def print_receipt(
    printer: PrinterPort,
    journal: Journal,
    *,
    op_id: str,
    lines: list[str],
    authorization_id: str,
    ejournal: ElectronicJournal | None = None,
) -> bool:
    """Journal the intent, print ``lines``, journal the outcome; whether it printed.

    A printer failure is journaled and reported (False), never raised: the
    money moved, and a missing receipt is not rolled back.

    Raises:
        JournalError: the journal cannot be written (nothing printed).
    """
    reprint = REPRINT_MARK in lines
    intent: dict[str, JsonValue] = {"ref": authorization_id, "reprint": reprint}
    journal.record(op_id, _FLOW, Effect.RECEIPT_PRINT, Phase.INTENT, data=intent)
    try:
        await printer.print_lines(lines, qr=authorization_id)
    except (PeripheralError, FlowError, TimeoutError) as exc:
        journal.record(op_id, _FLOW, Effect.RECEIPT_PRINT, Phase.OUTCOME, data={"printed": False})
        if ejournal is not None:
            ejournal.append(op_id, "RECEIPT-FAILED", reason=error_code(exc))
        _log.warning("receipt of %s not printed: %s", op_id, type(exc).__name__)
        return False
    journal.record(op_id, _FLOW, Effect.RECEIPT_PRINT, Phase.OUTCOME, data={"printed": True})
    if ejournal is not None:
        event = "RECEIPT-REPRINTED" if reprint else "RECEIPT-PRINTED"
        ejournal.append(op_id, event, reference=authorization_id)
    return True


async def print_receipt_within(
    printer: PrinterPort,
    journal: Journal,
    *,
    op_id: str,
    lines: list[str],
    authorization_id: str,
    timeout: float,
    ejournal: ElectronicJournal | None = None,
) -> bool:
    """``print_receipt`` bounded by ``timeout`` seconds (a printer that hangs).

    On the timeout whether paper came out is unknown: the intent stays
    without an outcome, so recovery prints a copy marked as a reprint.

    Raises:
        JournalError: the journal cannot be written.
    """
    try:
        printing = print_receipt(
            printer,
            journal,
            op_id=op_id,
            lines=lines,
            authorization_id=authorization_id,
            ejournal=ejournal,
        )
        return await asyncio.wait_for(printing, timeout)
    except TimeoutError:
        if ejournal is not None:
            ejournal.append(op_id, "RECEIPT-UNKNOWN", reason="timeout")
        return False
