# SPDX-License-Identifier: Apache-2.0
"""Core checks without a server: nonce rules, proof checks, audit entries, transfer states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import MutableClock
from verifier import sessions, transfers
from verifier.codes import Purpose, RevocationSource, TransferState
from verifier.config import VerifierConfig
from verifier.core import Core, to_us
from verifier.errors import NotFoundError, PermissionDeniedError, PreconditionError
from verifier.pki import TrustStore
from verifier.revocation import CrlStore, OcspClient, RevocationChecker
from verifier.storage import Session, Transfer, open_storage


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    pki = TestPki.open(sim_home() / "pki")
    trust = TrustStore({k.value: [pki.ca_certificate(k)] for k in CertKind})
    checker = RevocationChecker(
        CrlStore(trust, {}, refresh_seconds=300), OcspClient(trust, {}, timeout=1)
    )
    storage = open_storage(f"sqlite:///{tmp_path / 'core.sqlite'}")
    yield Core(VerifierConfig(), trust, checker, storage, clock=MutableClock())
    storage.close()


def _session(core: Core, used_us: int | None = None) -> Session:
    return Session(
        session_id="ses_x",
        terminal_id="atm-01",
        purpose=Purpose.CARD_VERIFICATION,
        nonce=b"n" * 32,
        expires_us=to_us(core.now()) + 60_000_000,
        used_us=used_us,
    )


def test_nonce_rules(core: Core) -> None:
    now = core.now()
    card, transfer = Purpose.CARD_VERIFICATION, Purpose.TRANSFER
    assert sessions.nonce_reason(_session(core), "atm-01", card, now) == "OK"
    assert sessions.nonce_reason(None, "atm-01", card, now) == "NONCE_UNKNOWN"
    assert sessions.nonce_reason(_session(core), "atm-02", card, now) == "NONCE_OTHER_TERMINAL"
    assert sessions.nonce_reason(_session(core), "atm-01", transfer, now) == "NONCE_WRONG_PURPOSE"
    assert sessions.nonce_reason(_session(core, used_us=1), "atm-01", card, now) == "NONCE_REPLAYED"
    later = now + dt.timedelta(seconds=61)
    assert sessions.nonce_reason(_session(core), "atm-01", card, later) == "NONCE_EXPIRED"


def test_without_any_revocation_source_a_card_is_not_accepted(core: Core) -> None:
    pki = TestPki.open(sim_home() / "pki")
    from cryptography.hazmat.primitives.serialization import Encoding

    from hw_sim.card import get_profile

    cert = pki.issue(
        CertKind.AUTH, get_profile("default").person, pki.holder_key("core").public_key()
    )
    result = core.check_proof(
        "auth", cert.public_bytes(Encoding.DER), b"s" * 256, b"d" * 32, core.now()
    )
    assert result.reason == "REVOCATION_UNKNOWN"
    assert not result.accepted


def _authorised(core: Core, aid: str = "aut_" + "a" * 22) -> str:
    now_us = to_us(core.now())
    with core.storage.transaction() as tx:
        tx.insert_transfer(
            Transfer(
                authorization_id=aid,
                terminal_id="atm-01",
                amount_yen=10,
                statement_digest=b"d" * 32,
                state=TransferState.AUTHORIZED,
                identity_verified=False,
                certificate_serial="",
                revocation_source=RevocationSource.NONE,
                created_us=now_us,
                expires_us=now_us + 10**8,
            )
        )
    return aid


def test_commit_then_repeat_then_reverse(core: Core) -> None:
    aid = _authorised(core)
    with core.storage.transaction() as tx:
        first = transfers.commit(core, tx, terminal_id="atm-01", authorization_id=aid)
    assert first.state == pb.TRANSFER_STATE_COMMITTED
    core.clock.advance(5)  # type: ignore[attr-defined]  # Core.clock is a MutableClock here
    with core.storage.transaction() as tx:
        assert transfers.commit(core, tx, terminal_id="atm-01", authorization_id=aid) == first
    with pytest.raises(PreconditionError), core.storage.transaction() as tx:
        transfers.reverse(core, tx, terminal_id="atm-01", authorization_id=aid)


def test_unknown_and_foreign(core: Core) -> None:
    aid = _authorised(core)
    with pytest.raises(NotFoundError), core.storage.transaction() as tx:
        transfers.commit(core, tx, terminal_id="atm-01", authorization_id="aut_" + "z" * 22)
    with pytest.raises(PermissionDeniedError), core.storage.transaction() as tx:
        transfers.commit(core, tx, terminal_id="atm-02", authorization_id=aid)


def test_expiry_sweep_expires_and_audits(core: Core) -> None:
    # EXPIRED, never REVERSED: a late commit may follow (test_verifier_transfers_late.py).
    aid = _authorised(core)
    core.clock.advance(1000)  # type: ignore[attr-defined]  # Core.clock is a MutableClock here
    with core.storage.transaction() as tx:
        assert transfers.expire(core, tx) == 1
        assert transfers.expire(core, tx) == 0
        stored = tx.get_transfer(aid)
        audit = tx.audit_entries()
    assert stored is not None
    assert stored.state == pb.TRANSFER_STATE_EXPIRED
    assert [(e.action, e.subject_id) for e in audit] == [("EXPIRE_TRANSFER", aid)]


def test_the_cached_certificate_check_never_goes_to_the_network(core: Core, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils
    from cryptography.hazmat.primitives.serialization import Encoding

    from hw_sim.card import get_profile

    pki = TestPki.open(sim_home() / "pki")
    key = pki.holder_key("core-cached")
    der = pki.issue(CertKind.AUTH, get_profile("default").person, key.public_key()).public_bytes(
        Encoding.DER
    )
    now = core.now()
    # Decided without revocation: answered; revocation unknown without a lookup: None.
    malformed = core.check_certificate_cached("auth", b"\x30\x03bad", now)
    assert malformed is not None
    assert malformed.reason == "CERTIFICATE_MALFORMED"
    assert core.check_certificate_cached("auth", der, now) is None
    # With a CRL loaded, the cached path answers exactly what the full one does.
    pki.export_public(tmp_path / "trust")
    crls = CrlStore(
        core.trust, {"auth": (str(tmp_path / "trust" / "auth.crl.der"),)}, refresh_seconds=300
    )
    core.revocation = RevocationChecker(crls, OcspClient(core.trust, {}, timeout=1))
    full = core.check_certificate("auth", der, now)
    assert core.check_certificate_cached("auth", der, now) == full
    assert full.reason == "OK"
    digest = b"d" * 32
    signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert core.finish_proof(full, digest, signature).reason == "OK"
    assert core.finish_proof(full, b"e" * 32, signature).reason == "SIGNATURE_INVALID"
    assert core.check_proof("auth", der, signature, digest, now).reason == "OK"
