# SPDX-License-Identifier: Apache-2.0
"""The storage contract, run on SQLite and on a real PostgreSQL cluster.

One suite, parametrised over backends (STYLE §8 contract suites): what the
service's exactly-once guarantees rest on (atomic key claims, single-use
nonces, conditional state changes, an append-only audit log, migrations
applied once) must hold the same on both.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from verifier.codes import (
    Purpose,
    ReservationState,
    ResetOperation,
    ResetPolicy,
    RevocationSource,
    TransferState,
)
from verifier.errors import ConfigError, StorageError
from verifier.storage import (
    AuditEntry,
    Reservation,
    Session,
    Storage,
    Transaction,
    Transfer,
    open_storage,
)
from verifier.storage.migrations import SCHEMA_VERSION

AUTHORIZED, COMMITTED, REVERSED, _ = TransferState  # EXPIRED unused here


def _session(sid: str = "ses_" + "a" * 22, expires: int = 10**15) -> Session:
    return Session(
        sid, "atm-01", Purpose.CARD_VERIFICATION, sid.encode().ljust(32, b"\0")[:32], expires
    )


def _transfer(aid: str = "aut_" + "b" * 22) -> Transfer:
    return Transfer(
        authorization_id=aid,
        terminal_id="atm-01",
        amount_yen=100,
        statement_digest=b"d" * 32,
        state=TransferState.AUTHORIZED,
        identity_verified=False,
        certificate_serial="",
        revocation_source=RevocationSource.NONE,
        created_us=1,
        expires_us=10**15,
    )


def test_migrations_are_applied_once(storage: Storage) -> None:
    assert storage.migrate() == SCHEMA_VERSION
    assert storage.migrate() == SCHEMA_VERSION


def test_idempotency_key_claim_and_replay(storage: Storage) -> None:
    with storage.transaction() as tx:
        assert tx.claim_key("atm-01", "M", "k", b"h1", 1) is None
        tx.finish_key("atm-01", "M", "k", 0, "", "", b"answer")
    with storage.transaction() as tx:
        record = tx.claim_key("atm-01", "M", "k", b"h2", 2)
        assert record is not None
        assert (record.request_hash, record.status_code, record.response) == (b"h1", 0, b"answer")
        # Keys are scoped per terminal and per method.
        assert tx.claim_key("atm-02", "M", "k", b"h1", 2) is None
        assert tx.claim_key("atm-01", "N", "k", b"h1", 2) is None


def test_a_failed_transaction_leaves_nothing(storage: Storage) -> None:
    def fail_midway() -> None:
        with storage.transaction() as tx:
            tx.insert_session(_session())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with storage.transaction() as tx:
        assert tx.get_session(_session().session_id) is None


def test_nonce_is_consumed_once(storage: Storage) -> None:
    session = _session()
    with storage.transaction() as tx:
        tx.insert_session(session)

    def take(tx: Transaction, now_us: int, nonce: bytes | None = None) -> Session | None:
        return tx.take_session(
            session.session_id,
            terminal_id=session.terminal_id,
            purpose=session.purpose,
            now_us=now_us,
            nonce=nonce,
        )

    with storage.transaction() as tx:
        assert take(tx, 4, nonce=b"another nonce".ljust(32, b"\0")) is None  # not this one
        assert take(tx, 5, nonce=session.nonce) == session
        assert take(tx, 6) is None
        stored = tx.get_session(session.session_id)
    assert stored is not None
    assert stored.used_us == 5


def test_duplicate_session_is_a_storage_error(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.insert_session(_session())
    with pytest.raises(StorageError), storage.transaction() as tx:
        tx.insert_session(_session())


def test_transfer_state_changes_are_conditional(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.insert_transfer(_transfer())
    with storage.transaction() as tx:
        assert tx.change_transfer_state(_transfer().authorization_id, AUTHORIZED, COMMITTED, 7)
        assert not tx.change_transfer_state(_transfer().authorization_id, AUTHORIZED, REVERSED, 8)
        stored = tx.get_transfer(_transfer().authorization_id)
    assert stored is not None
    assert (stored.state, stored.changed_us) == (2, 7)


def test_expired_transfers_are_listed(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.insert_transfer(_transfer())
        assert tx.expired_transfers(AUTHORIZED, 10**15 + 1) == [_transfer().authorization_id]
        assert tx.expired_transfers(AUTHORIZED, 10**15 - 1) == []


def test_concurrent_claims_have_one_winner(storage: Storage) -> None:
    winners: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait(timeout=10)
        with storage.transaction() as tx:
            won = tx.claim_key("atm-01", "M", "race", b"h", 1) is None
            if won:
                tx.finish_key("atm-01", "M", "race", 0, "", "", b"r")
        with lock:
            winners.append(won)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(winners) == [False] * 5 + [True]


def test_audit_is_append_only(storage: Storage) -> None:
    entry = AuditEntry(1, "atm-01", "VERIFY_CARD", "ACCEPTED", "OK", "1A", "")
    with storage.transaction() as tx:
        tx.append_audit(entry)
    with storage.transaction() as tx:
        assert tx.audit_entries() == [entry]
    for statement in ("UPDATE audit SET reason = 'X'", "DELETE FROM audit"):
        with pytest.raises(StorageError), storage.transaction() as tx:
            tx._x(statement)
    with storage.transaction() as tx:
        assert tx.audit_entries() == [entry]


def test_closed_storage_refuses_work(storage: Storage) -> None:
    storage.close()
    storage.close()
    with pytest.raises(StorageError), storage.transaction():
        pass


def test_unknown_url_scheme() -> None:
    with pytest.raises(ConfigError):
        open_storage("mysql://x")


def test_submitted_work_is_committed_before_its_future_resolves(storage: Storage) -> None:
    def work(tx: Transaction) -> str:
        tx.insert_session(_session())
        return "done"

    assert storage.submit(work).result(timeout=30) == "done"
    # A fresh transaction (another connection on PostgreSQL) sees it: committed.
    with storage.transaction() as tx:
        assert tx.get_session(_session().session_id) is not None


def test_submitted_work_that_raises_leaves_nothing(storage: Storage) -> None:
    def work(tx: Transaction) -> None:
        tx.insert_session(_session())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        storage.submit(work).result(timeout=30)
    with storage.transaction() as tx:
        assert tx.get_session(_session().session_id) is None


def test_a_database_error_in_submitted_work_is_a_storage_error(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.insert_session(_session())
    future = storage.submit(lambda tx: tx.insert_session(_session()))  # duplicate key
    with pytest.raises(StorageError):
        future.result(timeout=30)


def test_reading_sees_committed_state(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.insert_session(_session())
    with storage.reading() as tx:
        stored = tx.get_session(_session().session_id)
    assert stored is not None
    assert stored.nonce == _session().nonce


def test_the_read_only_views_list_what_was_stored(storage: Storage) -> None:
    # Issue 13.6: audits (chaos campaigns, tests) read the ledger through these.
    first = _transfer("aut_" + "1" * 22)
    second = dataclasses.replace(_transfer("aut_" + "2" * 22), terminal_id="atm-02", created_us=2)
    booking = Reservation(
        reservation_id="res_" + "r" * 22,
        terminal_id="phone-app",
        operation=ResetOperation.SIGNING_PASSWORD,
        policy=ResetPolicy.OTP,
        certificate_fingerprint=b"f" * 32,
        certificate_serial="1A",
        otp_hash=b"h" * 32,
        attempts_left=3,
        state=ReservationState.BOOKED,
        created_us=1,
        expires_us=10**15,
    )
    entries = [
        AuditEntry(1, "atm-01", "AUTHORIZE_TRANSFER", "ACCEPTED", "OK", "", first.authorization_id),
        AuditEntry(2, "atm-01", "VERIFY_CARD", "ACCEPTED", "OK", "1A", ""),
        AuditEntry(3, "atm-01", "COMMIT_TRANSFER", "ACCEPTED", "OK", "", first.authorization_id),
    ]
    with storage.transaction() as tx:
        tx.insert_transfer(second)
        tx.insert_transfer(first)
        tx.change_transfer_state(first.authorization_id, AUTHORIZED, COMMITTED, 5)
        tx.insert_reservation(booking)
        for entry in entries:
            tx.append_audit(entry)
    with storage.reading() as tx:
        everything = tx.list_transfers()
        mine = tx.list_transfers(terminal_id="atm-01")
        nobody = tx.list_transfers(terminal_id="atm-09")
        bookings = tx.list_reservations()
        trail = tx.audit_trail()
        settled = tx.audit_trail(actions={"COMMIT_TRANSFER", "REVERSE_TRANSFER"})
    assert [t.authorization_id for t in everything] == [
        first.authorization_id,
        second.authorization_id,
    ]
    assert mine == [dataclasses.replace(first, state=COMMITTED, changed_us=5)]
    assert nobody == []
    assert [(b.reservation_id, b.state) for b in bookings] == [
        (booking.reservation_id, ReservationState.BOOKED)
    ]
    assert trail == entries
    assert settled == entries[2:]
