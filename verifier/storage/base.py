# SPDX-License-Identifier: Apache-2.0
"""The storage interface: one transaction object, the same SQL on both databases.

Why one ``Transaction`` class and not one per backend: the queries are plain
SQL both SQLite and PostgreSQL accept (``?`` placeholders are rewritten for
psycopg), so the behaviour that matters (atomic claims, conditional state
changes) is written and tested once. A backend supplies only a connection
and its transaction boundaries (``Storage._begin``).

``Storage.submit`` runs a unit of work in a transaction off the caller's
thread and resolves a future only after the commit is durable; the SQLite
backend batches concurrent submissions into one transaction (group commit,
each unit in its own SAVEPOINT), the default runs each in its own.

Exactly-once rests on three patterns, each one statement:

* idempotency keys are claimed with ``INSERT ... ON CONFLICT DO NOTHING`` in
  the same transaction as the work, so a concurrent duplicate waits for the
  first and then sees its stored answer;
* a nonce is consumed with ``UPDATE ... WHERE used_us IS NULL``;
* a transfer changes state with ``UPDATE ... WHERE state = <expected>``.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Final, Protocol, TypeVar

from verifier.codes import (
    Purpose,
    ReservationState,
    ResetOperation,
    ResetPolicy,
    RevocationSource,
    TransferState,
)
from verifier.storage.fleet import FleetTables
from verifier.storage.issuance import IssuanceTables

__all__ = [
    "AuditEntry",
    "IdempotencyRecord",
    "Reservation",
    "Session",
    "Storage",
    "Transaction",
    "Transfer",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class _Executor(Protocol):
    def __call__(self, sql: str, params: Sequence[Any] = ()) -> _Cursor: ...


@dataclass(frozen=True)
class Session:
    """An open session and its nonce."""

    session_id: str
    terminal_id: str
    purpose: Purpose
    nonce: bytes
    expires_us: int
    used_us: int | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    """A claimed key; ``status_code`` 0 means the stored response is a success."""

    request_hash: bytes
    status_code: int | None
    reason: str | None
    message: str | None
    response: bytes | None


@dataclass(frozen=True)
class Transfer:
    """An authorised transfer and its state."""

    authorization_id: str
    terminal_id: str
    amount_yen: int
    statement_digest: bytes
    state: TransferState
    identity_verified: bool
    certificate_serial: str
    revocation_source: RevocationSource
    created_us: int
    expires_us: int
    changed_us: int | None = None


@dataclass(frozen=True)
class Reservation:
    """A booked PIN reset."""

    reservation_id: str
    terminal_id: str
    operation: ResetOperation
    policy: ResetPolicy
    certificate_fingerprint: bytes
    certificate_serial: str
    otp_hash: bytes | None
    attempts_left: int
    state: ReservationState
    created_us: int
    expires_us: int
    changed_us: int | None = None
    redeemed_by: str | None = None

    def __repr__(self) -> str:
        # The OTP hash is still OTP-derived: keep it out of reprs.
        return f"Reservation(id={self.reservation_id!r}, state={self.state!r})"


@dataclass(frozen=True)
class AuditEntry:
    """One decision: who, what, verdict, reason, the certificate serial, the card id."""

    at_us: int
    terminal_id: str
    action: str
    verdict: str
    reason: str
    certificate_serial: str = ""
    subject_id: str = ""
    #: Hex issuer card id a PIN-reset authorisation is for ("" elsewhere).
    card_id: str = ""
    #: What carried the certificate, from its CA (``verifier.credentials``; "" unknown).
    credential_kind: str = ""
    #: What the terminal said it detected ("" when it said nothing); never trusted.
    credential_claim: str = ""


class Transaction:
    """The operations of one database transaction (see the module doc)."""

    def __init__(self, execute: _Executor) -> None:
        self._x = execute

    @property
    def issuance(self) -> IssuanceTables:
        """The centre role's tables in this same transaction (``verifier.storage.issuance``)."""
        return IssuanceTables(self._x)

    @property
    def fleet(self) -> FleetTables:
        """The terminals' latest status reports (``verifier.storage.fleet``)."""
        return FleetTables(self._x)

    # -- idempotency -----------------------------------------------------
    def claim_key(
        self, terminal_id: str, method: str, key: str, request_hash: bytes, now_us: int
    ) -> IdempotencyRecord | None:
        """Claim ``key``; None when newly claimed, else the earlier record."""
        cursor = self._x(
            "INSERT INTO idempotency (terminal_id, method, idem_key, request_hash, created_us)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (terminal_id, method, key, request_hash, now_us),
        )
        if cursor.rowcount == 1:
            return None
        row = self._x(
            "SELECT request_hash, status_code, reason, message, response FROM idempotency"
            " WHERE terminal_id = ? AND method = ? AND idem_key = ?",
            (terminal_id, method, key),
        ).fetchone()
        return IdempotencyRecord(bytes(row[0]), row[1], row[2], row[3], _bytes(row[4]))

    def finish_key(
        self,
        terminal_id: str,
        method: str,
        key: str,
        status_code: int,
        reason: str,
        message: str,
        response: bytes | None,
    ) -> None:
        """Store the answer for a claimed key."""
        self._x(
            "UPDATE idempotency SET status_code = ?, reason = ?, message = ?, response = ?"
            " WHERE terminal_id = ? AND method = ? AND idem_key = ?",
            (status_code, reason, message, response, terminal_id, method, key),
        )

    def purge_keys(self, before_us: int, limit: int | None = None) -> int:
        """Forget keys created before ``before_us`` (at most ``limit``); returns how many.

        Why a limit: the sweeper deletes in small units so that no purge holds
        the writer for long (issue 18); it calls again until fewer come back.
        """
        if limit is None:
            return self._x("DELETE FROM idempotency WHERE created_us < ?", (before_us,)).rowcount
        return self._x(
            "DELETE FROM idempotency WHERE (terminal_id, method, idem_key) IN"
            " (SELECT terminal_id, method, idem_key FROM idempotency WHERE created_us < ? LIMIT ?)",
            (before_us, limit),
        ).rowcount

    # -- sessions ----------------------------------------------------------
    def purge_sessions(self, expired_before_us: int, limit: int | None = None) -> int:
        """Forget sessions that expired before ``expired_before_us`` (at most ``limit``).

        Returns how many. Why (issue 22): every OpenSession adds a row, so
        without this an authenticated terminal could grow the table without
        bound; why a limit: as ``purge_keys``'s.
        """
        if limit is None:
            return self._x(
                "DELETE FROM sessions WHERE expires_us < ?", (expired_before_us,)
            ).rowcount
        return self._x(
            "DELETE FROM sessions WHERE session_id IN"
            " (SELECT session_id FROM sessions WHERE expires_us < ? LIMIT ?)",
            (expired_before_us, limit),
        ).rowcount

    def insert_session(self, session: Session) -> None:
        """Store a new session."""
        self._x(
            "INSERT INTO sessions (session_id, terminal_id, purpose, nonce, expires_us, used_us)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (*_values(session)[:2], int(session.purpose), *_values(session)[3:]),
        )

    def get_session(self, session_id: str) -> Session | None:
        """The session, or None."""
        row = self._x(
            "SELECT session_id, terminal_id, purpose, nonce, expires_us, used_us FROM sessions"
            " WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return (
            None
            if row is None
            else Session(row[0], row[1], Purpose(row[2]), bytes(row[3]), *row[4:])
        )

    def take_session(
        self,
        session_id: str,
        *,
        terminal_id: str,
        purpose: Purpose,
        now_us: int,
        nonce: bytes | None = None,
    ) -> Session | None:
        """Consume the nonce if the session may serve this terminal and purpose now.

        Returns the session as it was before (``used_us`` None), or None when it
        was not consumed (unknown, another terminal's or purpose's, used, expired:
        ``get_session`` then tells which). Why one statement (issue 18): the
        look-up and the conditional ``UPDATE`` were two round trips per call;
        ``UPDATE ... RETURNING`` (SQLite 3.35+, PostgreSQL) is one, and its
        ``WHERE`` is ``sessions.nonce_reason``'s OK, so a nonce is still used once.
        ``nonce``: taken only if it is this one too (a transfer's statement
        carries the nonce it was signed over).
        """
        sql = (
            "UPDATE sessions SET used_us = ? WHERE session_id = ? AND terminal_id = ?"
            " AND purpose = ? AND used_us IS NULL AND expires_us > ?"
        )
        params: tuple[object, ...] = (now_us, session_id, terminal_id, int(purpose), now_us)
        if nonce is not None:
            sql, params = sql + " AND nonce = ?", (*params, nonce)
        rows = self._x(
            sql + " RETURNING session_id, terminal_id, purpose, nonce, expires_us", params
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        return Session(row[0], row[1], Purpose(row[2]), bytes(row[3]), row[4])

    # -- transfers ---------------------------------------------------------
    def insert_transfer(self, transfer: Transfer) -> None:
        """Store a new authorisation."""
        values = list(_values(transfer))
        values[4] = int(transfer.state)
        values[5] = int(transfer.identity_verified)
        values[7] = _SOURCE_NUMBERS[transfer.revocation_source]
        self._x(
            "INSERT INTO transfers (authorization_id, terminal_id, amount_yen, statement_digest,"
            " state, identity_verified, certificate_serial, revocation_source, created_us,"
            " expires_us, changed_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )

    def get_transfer(self, authorization_id: str) -> Transfer | None:
        """The authorisation, or None."""
        row = self._x(
            f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE authorization_id = ?",  # noqa: S608
            (authorization_id,),
        ).fetchone()
        return None if row is None else _transfer(row)

    def change_transfer_state(
        self, authorization_id: str, expected: TransferState, new: TransferState, now_us: int
    ) -> bool:
        """Move from ``expected`` to ``new``; False when the state was not ``expected``."""
        return (
            self._x(
                "UPDATE transfers SET state = ?, changed_us = ?"
                " WHERE authorization_id = ? AND state = ?",
                (int(new), now_us, authorization_id, int(expected)),
            ).rowcount
            == 1
        )

    def expired_transfers(self, state: TransferState, now_us: int, limit: int = 100) -> list[str]:
        """Ids in ``state`` whose expiry is past."""
        rows = self._x(
            "SELECT authorization_id FROM transfers WHERE state = ? AND expires_us < ?"
            " ORDER BY expires_us LIMIT ?",
            (int(state), now_us, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def insert_identity(
        self,
        authorization_id: str,
        serial: str,
        four: tuple[str, str, str, str],
        source: RevocationSource,
        now_us: int,
    ) -> None:
        """Record an identity verification (the basic four items) for a transfer."""
        self._x(
            "INSERT INTO identity_verifications (authorization_id, certificate_serial, name,"
            " address, birth_date, gender, revocation_source, verified_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (authorization_id, serial, *four, _SOURCE_NUMBERS[source], now_us),
        )

    def count_identities(self) -> int:
        """How many identity verifications are recorded."""
        return int(self._x("SELECT COUNT(*) FROM identity_verifications").fetchone()[0])

    # -- reservations --------------------------------------------------------
    def insert_reservation(self, reservation: Reservation) -> None:
        """Store a new reservation."""
        self._x(
            "INSERT INTO reservations (reservation_id, terminal_id, operation, policy,"
            " certificate_fingerprint, certificate_serial, otp_hash, attempts_left, state,"
            " created_us, expires_us, changed_us, redeemed_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _reservation_row(reservation),
        )

    def find_reservation(self, fingerprint: bytes, operation: ResetOperation) -> Reservation | None:
        """The newest reservation (in any state) for this certificate and operation."""
        row = self._x(
            f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE certificate_fingerprint = ?"  # noqa: S608
            " AND operation = ? ORDER BY created_us DESC LIMIT 1",
            (fingerprint, int(operation)),
        ).fetchone()
        return None if row is None else _reservation(row)

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        """The reservation, or None."""
        row = self._x(
            f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE reservation_id = ?",  # noqa: S608
            (reservation_id,),
        ).fetchone()
        return None if row is None else _reservation(row)

    def update_reservation(
        self,
        reservation_id: str,
        expected_state: ReservationState,
        state: ReservationState,
        attempts_left: int,
        now_us: int,
        redeemed_by: str | None = None,
    ) -> bool:
        """Set state and attempts (and the redeeming terminal), only from ``expected_state``."""
        return (
            self._x(
                "UPDATE reservations SET state = ?, attempts_left = ?, changed_us = ?,"
                " redeemed_by = COALESCE(?, redeemed_by)"
                " WHERE reservation_id = ? AND state = ?",
                (
                    state.value,
                    attempts_left,
                    now_us,
                    redeemed_by,
                    reservation_id,
                    expected_state.value,
                ),
            ).rowcount
            == 1
        )

    # -- audit -----------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> None:
        """Append one decision to the audit log."""
        self._x(
            "INSERT INTO audit (at_us, terminal_id, action, verdict, reason, certificate_serial,"
            " subject_id, card_id, credential_kind, credential_claim)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _values(entry),
        )

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        """The newest ``limit`` entries, oldest first."""
        rows = self._x(
            f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT ?",  # noqa: S608
            (limit,),
        ).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]

    # -- read-only views for audits (chaos campaigns, tests) ---------------------
    def list_transfers(
        self, *, terminal_id: str = "", state: TransferState | None = None
    ) -> list[Transfer]:
        """Every authorisation (only ``terminal_id``'s, only in ``state``, if given), oldest first.

        Why here: campaigns, tests and the operator's ``verifier transfers``
        read the ledger through this interface, never with SQL of their own
        against the tables (STYLE §11). A ``state`` is served by the expiry
        sweep's index (state, expires_us).
        """
        conditions: list[str] = []
        params: list[object] = []
        if terminal_id:
            conditions.append("terminal_id = ?")
            params.append(terminal_id)
        if state is not None:
            conditions.append("state = ?")
            params.append(int(state))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._x(
            f"SELECT {_TRANSFER_COLUMNS} FROM transfers{where}"  # noqa: S608 - constant text
            " ORDER BY created_us, authorization_id",
            tuple(params),
        ).fetchall()
        return [_transfer(row) for row in rows]

    def list_reservations(self) -> list[Reservation]:
        """Every PIN-reset booking, oldest first."""
        rows = self._x(
            f"SELECT {_RESERVATION_COLUMNS} FROM reservations"  # noqa: S608 - constant text
            " ORDER BY created_us, reservation_id"
        ).fetchall()
        return [_reservation(row) for row in rows]

    def audit_trail(self, *, actions: Collection[str] = ()) -> list[AuditEntry]:
        """The whole audit log in the order it was written (only ``actions`` when given)."""
        wanted = sorted(actions)
        where = f" WHERE action IN ({', '.join('?' * len(wanted))})" if wanted else ""
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit{where} ORDER BY seq"  # noqa: S608 - only ?s
        rows = self._x(sql, wanted).fetchall()
        return [AuditEntry(*row) for row in rows]

    def count(self, table: str) -> int:
        """Rows in one of the service's tables (for tests and health figures)."""
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}")
        return int(self._x(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


_TABLES = frozenset(
    {
        "sessions",
        "idempotency",
        "transfers",
        "identity_verifications",
        "reservations",
        "audit",
        "issuance_sessions",
        "issuance_requests",
        "issuance_outbox",
        "fleet_status",
    }
)
_AUDIT_COLUMNS = (
    "at_us, terminal_id, action, verdict, reason, certificate_serial, subject_id, card_id,"
    " credential_kind, credential_claim"
)
_TRANSFER_COLUMNS = (
    "authorization_id, terminal_id, amount_yen, statement_digest, state, identity_verified,"
    " certificate_serial, revocation_source, created_us, expires_us, changed_us"
)
_RESERVATION_COLUMNS = (
    "reservation_id, terminal_id, operation, policy, certificate_fingerprint,"
    " certificate_serial, otp_hash, attempts_left, state, created_us, expires_us, changed_us,"
    " redeemed_by"
)


_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _values(record: Any) -> tuple[Any, ...]:
    """A dataclass's field values, in order, shallow.

    Why not ``dataclasses.astuple`` (issue 18): it deep-copies every field,
    which showed in the verifier's profile; rows need no copies.
    """
    getter = _GETTERS.get(type(record))
    if getter is None:
        getter = _GETTERS[type(record)] = attrgetter(*(f.name for f in fields(record)))
    return getter(record)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _transfer(row: Sequence[Any]) -> Transfer:
    return Transfer(
        row[0],
        row[1],
        row[2],
        bytes(row[3]),
        TransferState(row[4]),
        bool(row[5]),
        row[6],
        _SOURCES[row[7]],
        *row[8:],
    )


def _reservation(row: Sequence[Any]) -> Reservation:
    return Reservation(
        reservation_id=row[0],
        terminal_id=row[1],
        operation=ResetOperation(row[2]),
        policy=ResetPolicy(row[3]),
        certificate_fingerprint=bytes(row[4]),
        certificate_serial=row[5],
        otp_hash=_bytes(row[6]),
        attempts_left=row[7],
        state=ReservationState(row[8]),
        created_us=row[9],
        expires_us=row[10],
        changed_us=row[11],
        redeemed_by=row[12],
    )


def _reservation_row(reservation: Reservation) -> tuple[Any, ...]:
    values = list(_values(reservation))
    values[2] = int(reservation.operation)
    values[3] = int(reservation.policy)
    values[8] = reservation.state.value
    return tuple(values)


# How the revocation source is stored (the schema's numbers: 0 none, 1 OCSP, 2 CRL).
_SOURCE_NUMBERS: Final = {
    RevocationSource.NONE: 0,
    RevocationSource.OCSP: 1,
    RevocationSource.CRL: 2,
}
_SOURCES: Final = {number: source for source, number in _SOURCE_NUMBERS.items()}


class Storage(abc.ABC):
    """A database the service keeps its state in; ``open_storage`` picks the backend."""

    dialect: str = ""

    @abc.abstractmethod
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version.

        Raises:
            MigrationError: the database is newer than this code.
            StorageError: the database failed.
        """

    @abc.abstractmethod
    def _begin(self) -> AbstractContextManager[_Executor]:
        """Open a write transaction; commit on clean exit, roll back on error."""

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run a block in one transaction: ``with storage.transaction() as tx: ...``.

        Raises:
            StorageError: the database failed; nothing was committed.
        """
        with self._begin() as execute:
            yield Transaction(execute)

    def reading(self) -> AbstractContextManager[Transaction]:
        """A transaction for reads only (a backend may serve it without the write lock)."""
        return self.transaction()

    _executor: ThreadPoolExecutor | None = None
    _executor_lock = threading.Lock()

    def submit(self, work: Callable[[Transaction], _T]) -> Future[_T]:
        """Run ``work`` in a transaction on a storage thread.

        The future holds ``work``'s result once the transaction has
        committed, or its exception (then nothing of ``work`` was committed;
        database failures are ``StorageError``). This default runs each unit
        in its own transaction on a small pool.
        """
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(8, thread_name_prefix="storage")
            executor = self._executor
        return executor.submit(self._run_unit, work)

    async def run(self, work: Callable[[Transaction], _T]) -> _T:
        """``submit`` awaited from a coroutine (SQLite runs ``work`` on the loop itself)."""
        return await asyncio.wrap_future(self.submit(work))

    def _run_unit(self, work: Callable[[Transaction], _T]) -> _T:
        with self.transaction() as tx:
            return work(tx)

    def _stop_executor(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection; closing twice is harmless."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
