# SPDX-License-Identifier: Apache-2.0
"""Idempotent units of work: claim the key, do the work, store the answer, in one transaction.

Why a unit is a function of the transaction: ``Storage.submit`` runs it
inside whatever transaction the backend chooses (on SQLite, a SAVEPOINT in a
group commit), and the answer must be stored in that same transaction as
the work (terminal-conventions §3). A refusal (``RequestError``) is stored
too, and *returned*, not raised, so that it is committed with the key; the
caller raises it. A retry with the same key and body gets the stored answer;
the same key with another body gets ``IDEMPOTENCY_KEY_REUSED``. The key is
identified by (terminal, method, key) and the body by the SHA-256 of its
deterministic serialisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, TypeVar

import grpc
from google.protobuf.message import Message

from verifier.codes import ErrorReason
from verifier.errors import IdempotencyConflictError, RequestError
from verifier.storage import Transaction

__all__ = ["idempotent_unit", "raise_refusal"]

_CODES: Final = {code.value[0]: code for code in grpc.StatusCode}

R = TypeVar("R", bound=Message)


def idempotent_unit(
    terminal: str,
    method: str,
    request: Message,
    response_type: type[R],
    work: Callable[[Transaction], R],
    now_us: Callable[[], int],
) -> Callable[[Transaction], R | RequestError]:
    """The storage unit for one state-changing call (see the module doc)."""
    key: str = getattr(request, "idempotency_key")  # noqa: B009
    digest = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()

    def unit(tx: Transaction) -> R | RequestError:
        record = tx.claim_key(terminal, method, key, digest, now_us())
        if record is not None:
            if record.request_hash != digest:
                return IdempotencyConflictError(
                    ErrorReason.IDEMPOTENCY_KEY_REUSED, "the key was used with a different request"
                )
            if record.status_code == 0 and record.response is not None:
                return response_type.FromString(record.response)
            code = _CODES.get(record.status_code or 9, grpc.StatusCode.UNKNOWN)
            return RequestError.replayed(record.reason or "UNKNOWN", record.message or "", code)
        try:
            response = work(tx)
        except RequestError as exc:
            # Stored and committed: a retry sees the same refusal.
            tx.finish_key(terminal, method, key, exc.code.value[0], exc.reason, str(exc), None)
            return exc
        body = response.SerializeToString(deterministic=True)
        tx.finish_key(terminal, method, key, 0, "", "", body)
        return response

    return unit


def raise_refusal(outcome: R | RequestError) -> R:
    """The response of a committed unit, or raise the refusal it stored."""
    if isinstance(outcome, RequestError):
        raise outcome
    return outcome
