# SPDX-License-Identifier: Apache-2.0
"""``verifier.transfers`` late completion (issue 20) on a real SQLite storage, no server.

The sweep releases the hold (EXPIRED); the holding terminal may still commit
(late) or reverse; whichever is first is final and a repeat answers the same.
A concurrent sweep or settlement between the read and the conditional
UPDATE is played by a transaction that lets the other side win once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki
from tests.verifier_support import MutableClock
from verifier import transfers
from verifier.codes import ErrorReason, RevocationSource, TransferState
from verifier.config import VerifierConfig
from verifier.core import Core, to_us
from verifier.errors import PreconditionError
from verifier.pki import TrustStore
from verifier.revocation import CrlStore, OcspClient, RevocationChecker
from verifier.storage import Transaction, Transfer, open_storage

AID = "aut_" + "L" * 22
TTL_US = 300 * 1_000_000


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    pki = TestPki.open(sim_home() / "pki")
    trust = TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})
    checker = RevocationChecker(
        CrlStore(trust, {}, refresh_seconds=300), OcspClient(trust, {}, timeout=1)
    )
    storage = open_storage(f"sqlite:///{tmp_path / 'late.sqlite'}")
    yield Core(VerifierConfig(), trust, checker, storage, clock=MutableClock())
    storage.close()


def _authorised(core: Core) -> None:
    now_us = to_us(core.now())
    with core.storage.transaction() as tx:
        tx.insert_transfer(
            Transfer(
                authorization_id=AID,
                terminal_id="atm-01",
                amount_yen=10_000,
                statement_digest=b"d" * 32,
                state=TransferState.AUTHORIZED,
                identity_verified=False,
                certificate_serial="",
                revocation_source=RevocationSource.NONE,
                created_us=now_us,
                expires_us=now_us + TTL_US,
            )
        )


def _advance(core: Core, seconds: float) -> None:
    clock = core.clock
    assert isinstance(clock, MutableClock)
    clock.advance(seconds)


def _commit(core: Core) -> transfers.StateChange:
    with core.storage.transaction() as tx:
        return transfers.commit(core, tx, terminal_id="atm-01", authorization_id=AID)


def _reverse(core: Core) -> transfers.StateChange:
    with core.storage.transaction() as tx:
        return transfers.reverse(core, tx, terminal_id="atm-01", authorization_id=AID)


def _trail(core: Core) -> list[str]:
    with core.storage.reading() as tx:
        return [e.action for e in tx.audit_entries() if e.subject_id == AID]


def _state(core: Core) -> TransferState:
    with core.storage.reading() as tx:
        found = tx.get_transfer(AID)
    assert found is not None
    return found.state


def test_late_commit_after_the_sweep_is_final_and_repeats_the_same(core: Core) -> None:
    _authorised(core)
    _advance(core, 301)
    with core.storage.transaction() as tx:
        assert transfers.expire(core, tx) == 1
    assert _state(core) is TransferState.EXPIRED
    _advance(core, 3600)  # the agent comes back an hour later
    first = _commit(core)
    assert (first.state, first.late) == (TransferState.COMMITTED, True)
    _advance(core, 5)
    assert _commit(core) == first  # the first result, its time and ``late`` included
    with pytest.raises(PreconditionError) as refused:
        _reverse(core)
    assert refused.value.reason == ErrorReason.TRANSFER_COMMITTED
    assert _trail(core) == ["EXPIRE_TRANSFER", "LATE_COMMIT_TRANSFER"]


def test_a_commit_within_the_ttl_is_not_late_even_when_repeated_after(core: Core) -> None:
    _authorised(core)
    first = _commit(core)
    assert (first.state, first.late) == (TransferState.COMMITTED, False)
    _advance(core, 301)
    with core.storage.transaction() as tx:
        assert transfers.expire(core, tx) == 0  # settled: the sweep leaves it
    assert _commit(core) == first
    assert _trail(core) == ["COMMIT_TRANSFER"]


def test_expired_then_reversed_refuses_a_commit(core: Core) -> None:
    _authorised(core)
    _advance(core, 301)
    with core.storage.transaction() as tx:
        transfers.expire(core, tx)
    reversed_ = _reverse(core)
    assert (reversed_.state, reversed_.late) == (TransferState.REVERSED, False)
    with pytest.raises(PreconditionError) as refused:
        _commit(core)
    assert refused.value.reason == ErrorReason.TRANSFER_REVERSED
    assert _trail(core) == ["EXPIRE_TRANSFER", "REVERSE_TRANSFER"]


class _OtherSideFirst:
    """A transaction where ``other`` commits first, between our read and our UPDATE."""

    def __init__(self, tx: Transaction, other: Callable[[Transaction], object]) -> None:
        self._tx = tx
        self._other: Callable[[Transaction], object] | None = other

    def change_transfer_state(self, *args: Any) -> bool:
        if self._other is not None:
            other, self._other = self._other, None
            other(self._tx)
        return self._tx.change_transfer_state(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


def _racing(core: Core, other: Callable[[Transaction], object]) -> transfers.StateChange:
    with core.storage.transaction() as tx:
        racing = cast(Transaction, _OtherSideFirst(tx, other))
        return transfers.commit(core, racing, terminal_id="atm-01", authorization_id=AID)


def test_a_commit_that_loses_to_the_sweep_commits_late(core: Core) -> None:
    _authorised(core)
    _advance(core, 301)
    change = _racing(core, lambda tx: transfers.expire(core, tx))
    assert (change.state, change.late) == (TransferState.COMMITTED, True)
    assert _trail(core) == ["EXPIRE_TRANSFER", "LATE_COMMIT_TRANSFER"]


def test_a_commit_that_loses_to_a_reversal_is_refused(core: Core) -> None:
    _authorised(core)

    def reverse_first(tx: Transaction) -> object:
        return transfers.reverse(core, tx, terminal_id="atm-01", authorization_id=AID)

    with pytest.raises(PreconditionError) as refused:
        _racing(core, reverse_first)
    assert refused.value.reason == ErrorReason.TRANSFER_REVERSED
    # (The played reversal shares our transaction, so the refusal rolls it back too.)
