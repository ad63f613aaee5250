# SPDX-License-Identifier: Apache-2.0
"""The centre's issuance tables: sessions, requests and the municipal outbox.

Why a module beside ``base``: the centre role (issue 14) has three tables of
its own, reached as ``tx.issuance`` from the same ``Transaction`` (same SQL
on SQLite and PostgreSQL, same executor), so ``base`` stays the verifier's.
Exactly-once rests on the base module's patterns:

* a nonce is consumed with ``UPDATE ... WHERE used_us IS NULL``;
* a request is claimed by ``INSERT ... ON CONFLICT DO NOTHING`` on
  (terminal, idempotency key): the row *is* the request's idempotency record,
  and holds the document, so a retry answers the same bytes;
* a request changes state with ``UPDATE ... WHERE state = <expected>``: the
  first of ConfirmPrinted and ReportPrintFailure wins;
* a municipality's serial is UNIQUE across requests: one document, one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from verifier.issuance_codes import IssuanceState, OutboxAction

__all__ = ["IssuanceRequest", "IssuanceSession", "IssuanceTables", "OutboxEntry"]


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class _Executor(Protocol):
    def __call__(self, sql: str, params: Sequence[Any] = ()) -> _Cursor: ...


@dataclass(frozen=True)
class IssuanceSession:
    """An issuance session: its nonce, then the card that proved it."""

    session_id: str
    terminal_id: str
    nonce: bytes
    expires_us: int
    used_us: int | None = None
    proven_us: int | None = None
    certificate_der: bytes | None = None
    certificate_fingerprint: bytes | None = None
    certificate_serial: str = ""

    def __repr__(self) -> str:
        return f"IssuanceSession(id={self.session_id!r}, terminal={self.terminal_id!r})"


@dataclass(frozen=True)
class IssuanceRequest:
    """One RequestDocument: its bindings, its document and where it stands."""

    request_id: str
    terminal_id: str
    idem_key: str
    request_hash: bytes
    session_id: str
    certificate_fingerprint: bytes
    certificate_serial: str
    certificate_der: bytes
    municipality_code: str
    kind: int
    options: str
    fee_yen: int
    state: IssuanceState
    created_us: int
    refusal: str = ""
    municipal_refusal: int = 0
    serial: str = ""
    document: bytes | None = None
    document_sha256: bytes | None = None
    print_job_id: str = ""
    failure: int = 0
    changed_us: int | None = None

    def __repr__(self) -> str:
        # The document is personal data: never in a repr.
        return (
            f"IssuanceRequest(id={self.request_id!r}, state={self.state!r},"
            f" serial={self.serial!r}, fee={self.fee_yen})"
        )


@dataclass(frozen=True)
class OutboxEntry:
    """A Record/Void the centre still owes a municipality."""

    request_id: str
    action: OutboxAction
    municipality_code: str
    serial: str
    document_sha256: bytes
    failure: int
    attempts: int
    next_us: int
    done_us: int | None = None


_REQUEST_COLUMNS: Final = (
    "request_id, terminal_id, idem_key, request_hash, session_id, certificate_fingerprint,"
    " certificate_serial, certificate_der, municipality_code, kind, options, fee_yen, state,"
    " created_us, refusal, municipal_refusal, serial, document, document_sha256, print_job_id,"
    " failure, changed_us"
)
_SESSION_COLUMNS: Final = (
    "session_id, terminal_id, nonce, expires_us, used_us, proven_us, certificate_der,"
    " certificate_fingerprint, certificate_serial"
)
_OUTBOX_COLUMNS: Final = (
    "request_id, action, municipality_code, serial, document_sha256, failure, attempts,"
    " next_us, done_us"
)


def _b(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _request(row: Sequence[Any]) -> IssuanceRequest:
    return IssuanceRequest(
        request_id=row[0],
        terminal_id=row[1],
        idem_key=row[2],
        request_hash=bytes(row[3]),
        session_id=row[4],
        certificate_fingerprint=bytes(row[5]),
        certificate_serial=row[6],
        certificate_der=bytes(row[7]),
        municipality_code=row[8],
        kind=row[9],
        options=row[10],
        fee_yen=row[11],
        state=IssuanceState(row[12]),
        created_us=row[13],
        refusal=row[14],
        municipal_refusal=row[15],
        serial=row[16],
        document=_b(row[17]),
        document_sha256=_b(row[18]),
        print_job_id=row[19],
        failure=row[20],
        changed_us=row[21],
    )


def _session(row: Sequence[Any]) -> IssuanceSession:
    return IssuanceSession(
        row[0], row[1], bytes(row[2]), row[3], row[4], row[5], _b(row[6]), _b(row[7]), row[8]
    )


def _outbox(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        row[0], OutboxAction(row[1]), row[2], row[3], bytes(row[4]), row[5], row[6], row[7], row[8]
    )


class IssuanceTables:
    """The issuance operations of one transaction (``tx.issuance``)."""

    def __init__(self, execute: _Executor) -> None:
        self._x = execute

    # -- sessions ------------------------------------------------------------
    def insert_session(self, session: IssuanceSession) -> None:
        """Store a new session (not yet proven)."""
        self._x(
            "INSERT INTO issuance_sessions (session_id, terminal_id, nonce, expires_us,"
            " certificate_serial) VALUES (?, ?, ?, ?, '')",
            (session.session_id, session.terminal_id, session.nonce, session.expires_us),
        )

    def get_session(self, session_id: str) -> IssuanceSession | None:
        """The session, or None."""
        row = self._x(
            f"SELECT {_SESSION_COLUMNS} FROM issuance_sessions WHERE session_id = ?",  # noqa: S608
            (session_id,),
        ).fetchone()
        return None if row is None else _session(row)

    def prove_session(
        self,
        session_id: str,
        *,
        now_us: int,
        expires_us: int,
        certificate_der: bytes,
        fingerprint: bytes,
        serial: str,
    ) -> bool:
        """Consume the nonce and bind the card; False when it was used already."""
        return (
            self._x(
                "UPDATE issuance_sessions SET used_us = ?, proven_us = ?, expires_us = ?,"
                " certificate_der = ?, certificate_fingerprint = ?, certificate_serial = ?"
                " WHERE session_id = ? AND used_us IS NULL",
                (now_us, now_us, expires_us, certificate_der, fingerprint, serial, session_id),
            ).rowcount
            == 1
        )

    def burn_session(self, session_id: str, now_us: int) -> bool:
        """Consume the nonce with no card bound (a failed proof spends it too)."""
        return (
            self._x(
                "UPDATE issuance_sessions SET used_us = ? WHERE session_id = ? AND used_us IS NULL",
                (now_us, session_id),
            ).rowcount
            == 1
        )

    def purge_sessions(self, expired_before_us: int) -> int:
        """Forget sessions that expired before ``expired_before_us``."""
        return self._x(
            "DELETE FROM issuance_sessions WHERE expires_us < ?", (expired_before_us,)
        ).rowcount

    # -- requests ------------------------------------------------------------
    def claim_request(self, request: IssuanceRequest) -> IssuanceRequest | None:
        """Insert ``request`` (PENDING); None when new, else the row its key already holds."""
        values = (
            request.request_id,
            request.terminal_id,
            request.idem_key,
            request.request_hash,
            request.session_id,
            request.certificate_fingerprint,
            request.certificate_serial,
            request.certificate_der,
            request.municipality_code,
            request.kind,
            request.options,
            request.fee_yen,
            request.state.value,
            request.created_us,
        )
        cursor = self._x(
            "INSERT INTO issuance_requests (request_id, terminal_id, idem_key, request_hash,"
            " session_id, certificate_fingerprint, certificate_serial, certificate_der,"
            " municipality_code, kind, options, fee_yen, state, created_us, refusal,"
            " municipal_refusal, serial, print_job_id, failure)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '', '', 0)"
            " ON CONFLICT DO NOTHING",
            values,
        )
        if cursor.rowcount == 1:
            return None
        return self.find_request(request.terminal_id, request.idem_key)

    def find_request(self, terminal_id: str, idem_key: str) -> IssuanceRequest | None:
        """The request this terminal's key claimed, or None."""
        row = self._x(
            f"SELECT {_REQUEST_COLUMNS} FROM issuance_requests"  # noqa: S608 - constant
            " WHERE terminal_id = ? AND idem_key = ?",
            (terminal_id, idem_key),
        ).fetchone()
        return None if row is None else _request(row)

    def get_request(self, request_id: str) -> IssuanceRequest | None:
        """The request, or None."""
        row = self._x(
            f"SELECT {_REQUEST_COLUMNS} FROM issuance_requests WHERE request_id = ?",  # noqa: S608
            (request_id,),
        ).fetchone()
        return None if row is None else _request(row)

    def settle_issued(
        self,
        request_id: str,
        *,
        serial: str,
        document: bytes,
        document_sha256: bytes,
        now_us: int,
    ) -> bool:
        """PENDING -> ISSUED with the document; False when no longer PENDING."""
        return (
            self._x(
                "UPDATE issuance_requests SET state = ?, serial = ?, document = ?,"
                " document_sha256 = ?, changed_us = ? WHERE request_id = ? AND state = ?",
                (
                    IssuanceState.ISSUED.value,
                    serial,
                    document,
                    document_sha256,
                    now_us,
                    request_id,
                    IssuanceState.PENDING.value,
                ),
            ).rowcount
            == 1
        )

    def settle_failed(
        self, request_id: str, *, refusal: str, municipal_refusal: int, now_us: int
    ) -> bool:
        """PENDING -> FAILED with why; False when no longer PENDING."""
        return (
            self._x(
                "UPDATE issuance_requests SET state = ?, refusal = ?, municipal_refusal = ?,"
                " changed_us = ? WHERE request_id = ? AND state = ?",
                (
                    IssuanceState.FAILED.value,
                    refusal,
                    municipal_refusal,
                    now_us,
                    request_id,
                    IssuanceState.PENDING.value,
                ),
            ).rowcount
            == 1
        )

    def finish_print(
        self,
        request_id: str,
        new: IssuanceState,
        *,
        now_us: int,
        print_job_id: str = "",
        failure: int = 0,
    ) -> bool:
        """ISSUED -> CHARGED or REFUNDED; False when no longer ISSUED (the other won)."""
        return (
            self._x(
                "UPDATE issuance_requests SET state = ?, print_job_id = ?, failure = ?,"
                " changed_us = ? WHERE request_id = ? AND state = ?",
                (
                    new.value,
                    print_job_id,
                    failure,
                    now_us,
                    request_id,
                    IssuanceState.ISSUED.value,
                ),
            ).rowcount
            == 1
        )

    def stale_pending(self, created_before_us: int, limit: int = 100) -> list[IssuanceRequest]:
        """Requests still PENDING that began before ``created_before_us``."""
        rows = self._x(
            f"SELECT {_REQUEST_COLUMNS} FROM issuance_requests"  # noqa: S608 - constant
            " WHERE state = ? AND created_us < ? ORDER BY created_us LIMIT ?",
            (IssuanceState.PENDING.value, created_before_us, limit),
        ).fetchall()
        return [_request(row) for row in rows]

    def list_requests(self) -> list[IssuanceRequest]:
        """Every request, oldest first (for audits and tests; STYLE §11)."""
        rows = self._x(
            f"SELECT {_REQUEST_COLUMNS} FROM issuance_requests"  # noqa: S608 - constant
            " ORDER BY created_us, request_id"
        ).fetchall()
        return [_request(row) for row in rows]

    # -- the outbox ----------------------------------------------------------
    def add_outbox(self, entry: OutboxEntry) -> None:
        """Owe a municipality a Record/Void (once per request and action)."""
        self._x(
            f"INSERT INTO issuance_outbox ({_OUTBOX_COLUMNS})"  # noqa: S608 - constant
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                entry.request_id,
                entry.action.value,
                entry.municipality_code,
                entry.serial,
                entry.document_sha256,
                entry.failure,
                entry.attempts,
                entry.next_us,
                entry.done_us,
            ),
        )

    def due_outbox(self, now_us: int, max_attempts: int, limit: int = 50) -> list[OutboxEntry]:
        """Undelivered entries due now that have attempts left."""
        rows = self._x(
            f"SELECT {_OUTBOX_COLUMNS} FROM issuance_outbox"  # noqa: S608 - constant
            " WHERE done_us IS NULL AND next_us <= ? AND attempts < ?"
            " ORDER BY next_us LIMIT ?",
            (now_us, max_attempts, limit),
        ).fetchall()
        return [_outbox(row) for row in rows]

    def list_outbox(self) -> list[OutboxEntry]:
        """Every entry, delivered or not."""
        rows = self._x(
            f"SELECT {_OUTBOX_COLUMNS} FROM issuance_outbox"  # noqa: S608 - constant
            " ORDER BY request_id, action"
        ).fetchall()
        return [_outbox(row) for row in rows]

    def outbox_backlog(self, max_attempts: int) -> tuple[int, int, int | None]:
        """Undelivered entries: (with attempts left, given up, oldest state change in us).

        The oldest is the ``changed_us`` of the request whose decision the
        entry carries (written in the same transaction); None when nothing waits.
        """
        row = self._x(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN o.attempts >= ? THEN 1 ELSE 0 END), 0),"
            " MIN(COALESCE(r.changed_us, r.created_us)) FROM issuance_outbox o"
            " LEFT JOIN issuance_requests r ON r.request_id = o.request_id"
            " WHERE o.done_us IS NULL",
            (max_attempts,),
        ).fetchone()
        total, gave_up, oldest = int(row[0]), int(row[1]), row[2]
        return total - gave_up, gave_up, None if oldest is None else int(oldest)

    def outbox_done(self, request_id: str, action: OutboxAction, now_us: int) -> bool:
        """Mark delivered; False when it was already."""
        return (
            self._x(
                "UPDATE issuance_outbox SET done_us = ? WHERE request_id = ? AND action = ?"
                " AND done_us IS NULL",
                (now_us, request_id, action.value),
            ).rowcount
            == 1
        )

    def outbox_retry(
        self, request_id: str, action: OutboxAction, *, attempts: int, next_us: int
    ) -> None:
        """Count a failed delivery and set when to try again."""
        self._x(
            "UPDATE issuance_outbox SET attempts = ?, next_us = ? WHERE request_id = ?"
            " AND action = ? AND done_us IS NULL",
            (attempts, next_us, request_id, action.value),
        )
