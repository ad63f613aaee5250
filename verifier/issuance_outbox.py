# SPDX-License-Identifier: Apache-2.0
"""What the centre owes the municipalities, delivered until they converge (bounded).

Why an outbox: the centre decides CHARGED or REFUNDED in its own
transaction; telling the municipality (RecordDocumentPrinted, VoidDocument)
is a network call that may fail, so the duty is written in that same
transaction and delivered after it, by the servicer right away and by the
sweep later. Every delivery is idempotent at the municipality (the key is
``<request id>:<action>``), so delivering twice is harmless. A failed
delivery backs off exponentially (1 s doubling, at most 5 minutes); after
``outbox_max_attempts`` it stops, leaves the row and audits
MUNICIPAL_GAVE_UP for an operator. A definitive error answer (the
municipality holds another state) is delivered too: it is logged, never
retried, since retrying cannot change it.
"""

from __future__ import annotations

import functools
import logging
from typing import Final

from verifier import issuance_metrics
from verifier.core import Core, to_us
from verifier.issuance import audit
from verifier.issuance_codes import IssuanceAction, MunicipalRefusal, OutboxAction, PrintFailure
from verifier.issuance_port import MunicipalCallError, MunicipalityUnavailableError, MunicipalPort
from verifier.issuance_requests import issue_order
from verifier.storage import Transaction
from verifier.storage.issuance import OutboxEntry

__all__ = ["backoff_us", "deliver_due", "deliver_one"]

_log = logging.getLogger(__name__)
_MAX_BACKOFF_US: Final = 300 * 1_000_000


def backoff_us(attempts: int) -> int:
    """The wait before attempt ``attempts + 1``: 1 s, 2 s, 4 s ... at most 5 minutes."""
    return min(1_000_000 << min(attempts, 20), _MAX_BACKOFF_US)


def _failure(value: int) -> PrintFailure:
    try:
        return PrintFailure(value)
    except ValueError:
        return PrintFailure.CANCELLED


async def deliver_one(core: Core, port: MunicipalPort, entry: OutboxEntry) -> bool:
    """Deliver one entry; True when the municipality now knows (or cannot be told otherwise).

    Raises:
        MunicipalityUnavailableError: not delivered; try again later.
    """
    key = f"{entry.request_id}:{entry.action.value.lower()}"
    code = entry.municipality_code
    try:
        if entry.action is OutboxAction.RECORD_PRINTED:
            answer = await port.record_printed(
                code, key=key, serial=entry.serial, document_sha256=entry.document_sha256
            )
        elif entry.action is OutboxAction.VOID:
            answer = await port.void(
                code, key=key, serial=entry.serial, failure=_failure(entry.failure)
            )
        else:
            # The IssueDocument answer was lost: the same key returns what was
            # issued (or issues it now), and then it is voided.
            with core.storage.reading() as tx:
                row = tx.issuance.get_request(entry.request_id)
            if row is None:
                return True
            issued = await port.issue(code, issue_order(row))
            if issued.refusal is not MunicipalRefusal.NONE or not issued.serial:
                return True
            answer = await port.void(
                code, key=key, serial=issued.serial, failure=PrintFailure.CANCELLED
            )
    except MunicipalCallError as exc:
        _log.error(
            "municipality %s answered %s to %s of %s: not retried",
            code,
            exc.status,
            entry.action,
            entry.request_id,
        )
        return True
    _log.info("municipality %s: %s of %s -> %s", code, entry.action, entry.request_id, answer.state)
    return True


async def deliver_due(core: Core, port: MunicipalPort, *, limit: int = 50) -> int:
    """Deliver every due entry once; returns how many were delivered."""
    config = core.config.issuance
    if config is None:
        return 0
    now_us = to_us(core.now())
    with core.storage.reading() as tx:
        due = tx.issuance.due_outbox(now_us, config.outbox_max_attempts, limit)
    delivered = 0
    for entry in due:
        try:
            await deliver_one(core, port, entry)
        except MunicipalityUnavailableError as exc:
            _log.warning(
                "municipality %s unavailable for %s of %s: %s",
                entry.municipality_code,
                entry.action,
                entry.request_id,
                exc,
            )
            if await core.storage.run(functools.partial(_retry, core, entry=entry)):
                issuance_metrics.gave_up()  # counted once its transaction committed
            continue
        await core.storage.run(functools.partial(_done, core, entry=entry))
        delivered += 1
    return delivered


def _done(core: Core, tx: Transaction, *, entry: OutboxEntry) -> None:
    if tx.issuance.outbox_done(entry.request_id, entry.action, to_us(core.now())):
        audit(
            core,
            tx,
            IssuanceAction.MUNICIPAL_DELIVERED,
            entry.action,
            terminal_id="-",
            subject_id=entry.request_id,
        )


def _retry(core: Core, tx: Transaction, *, entry: OutboxEntry) -> bool:
    """Count a failed delivery; True when this one used the last attempt."""
    max_attempts = core.config.issuance.outbox_max_attempts if core.config.issuance else 1
    attempts = entry.attempts + 1
    next_us = to_us(core.now()) + backoff_us(entry.attempts)
    tx.issuance.outbox_retry(entry.request_id, entry.action, attempts=attempts, next_us=next_us)
    if attempts >= max_attempts:
        _log.error(
            "gave up telling municipality %s %s of %s after %d attempts",
            entry.municipality_code,
            entry.action,
            entry.request_id,
            attempts,
        )
        audit(
            core,
            tx,
            IssuanceAction.MUNICIPAL_GAVE_UP,
            "MUNICIPALITY_UNAVAILABLE",
            terminal_id="-",
            subject_id=entry.request_id,
        )
        return True
    return False
