# SPDX-License-Identifier: Apache-2.0
"""The centre's domain with no server: ``verifier.issuance`` on Core, SQLite, a fake municipality.

Why a behavioural fake (STYLE §8): the rules under test are the centre's
(one request, at most one document and one fee; the first of confirm and
failure wins; what the municipality is owed converges), so the layer below
is a small municipality that keeps a ledger, can be down, and can lose an
answer after acting on it, the failure that makes exactly-once hard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from tests.issuance_support import service_clock, set_jst
from tests.verifier_support import MutableClock, VerifierEnv, make_env
from verifier import issuance, issuance_outbox, issuance_requests
from verifier.codes import Reason
from verifier.core import Core
from verifier.errors import IdempotencyConflictError, PermissionDeniedError, PreconditionError
from verifier.issuance_codes import (
    DocumentKind,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceState,
    MunicipalRefusal,
    OutboxAction,
    PrintFailure,
)
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import (
    JST,
    DocumentChoice,
    IssueAnswer,
    IssueOrder,
    MunicipalityUnavailableError,
    MunicipalOffers,
    PrintedAnswer,
    in_service_hours,
)
from verifier.server import build_core

TERMINAL = "mfp-0001"
CODE = "131016"
FEE = 200


class FakeMunicipality:
    """A municipality with a ledger, idempotent by key; it can be down or lose an answer."""

    def __init__(self) -> None:
        self.by_key: dict[str, IssueAnswer] = {}
        self.states: dict[str, str] = {}
        self.down = False
        self.lose_next_answer = False
        self.refuse: MunicipalRefusal | None = None

    def codes(self) -> tuple[str, ...]:
        return (CODE,)

    async def list_offers(self, code: str, certificate_der: bytes) -> MunicipalOffers:
        if self.down:
            raise MunicipalityUnavailableError("down")
        return MunicipalOffers(MunicipalRefusal.NONE, code, "千代田区")

    async def issue(self, code: str, order: IssueOrder) -> IssueAnswer:
        if self.down:
            raise MunicipalityUnavailableError("down")
        answer = self.by_key.get(order.idempotency_key)
        if answer is None:
            if self.refuse is not None:
                return IssueAnswer(self.refuse)
            serial = f"{code}-2026-{len(self.by_key) + 1:06d}"
            pdf = f"%PDF-fake {serial}".encode()
            answer = IssueAnswer(
                MunicipalRefusal.NONE, serial, pdf, hashlib.sha256(pdf).digest(), order.fee_yen
            )
            self.by_key[order.idempotency_key] = answer
            self.states[serial] = "ISSUED"
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise MunicipalityUnavailableError("deadline exceeded after issuing")
        return answer

    async def record_printed(
        self, code: str, *, key: str, serial: str, document_sha256: bytes
    ) -> PrintedAnswer:
        if self.down:
            raise MunicipalityUnavailableError("down")
        if self.states[serial] == "ISSUED":
            self.states[serial] = "PRINTED"
        return PrintedAnswer(self.states[serial])

    async def void(
        self, code: str, *, key: str, serial: str, failure: PrintFailure
    ) -> PrintedAnswer:
        if self.down:
            raise MunicipalityUnavailableError("down")
        if self.states[serial] == "ISSUED":
            self.states[serial] = "VOID"
        return PrintedAnswer(self.states[serial])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("issuance-domain"))


@pytest.fixture
def hours() -> MutableClock:
    return service_clock()


@pytest.fixture
def core(env: VerifierEnv, hours: MutableClock) -> Iterator[Core]:
    route = MunicipalityRoute(code=CODE, address="127.0.0.1:1", plaintext=True)
    config = dataclasses.replace(
        env.config(),
        issuance=IssuanceConfig(municipalities=(route,), hours_clock=hours, outbox_max_attempts=3),
    )
    built = build_core(config, clock=MutableClock())
    yield built
    built.storage.close()


def _sign(nonce: bytes) -> bytes:
    key = TestPki.open(sim_home() / "pki").holder_key("default-auth")
    digest = issuance.challenge_digest(nonce)
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def _auth_der() -> bytes:
    return (sim_home() / "cards" / "default" / "auth-cert.der").read_bytes()


def _proven(core: Core, terminal: str = TERMINAL) -> str:
    with core.storage.transaction() as tx:
        opened = issuance.open_session(core, tx, terminal)
    assert opened.session is not None
    checked = core.check_certificate(issuance.PROOF_KIND, _auth_der(), core.now())
    with core.storage.transaction() as tx:
        outcome = issuance.prove_card(
            core,
            tx,
            terminal_id=terminal,
            session_id=opened.session.session_id,
            checked=checked,
            signature=_sign(opened.session.nonce),
        )
    assert outcome == issuance.ProveOutcome(IssuanceRefusal.NONE, Reason.OK)
    return opened.session.session_id


def _order(session_id: str, key: str = "k-1", fee: int = FEE) -> issuance_requests.DocumentOrder:
    return issuance_requests.DocumentOrder(
        idempotency_key=key,
        session_id=session_id,
        municipality_code=CODE,
        kind=DocumentKind.RESIDENT_RECORD,
        choice=DocumentChoice(household_scope=HouseholdScope.SELF),
        fee_yen=fee,
    )


def _request(
    core: Core, port: FakeMunicipality, order: issuance_requests.DocumentOrder
) -> issuance_requests.RequestOutcome:
    return asyncio.run(
        issuance_requests.request_document(core, port, terminal_id=TERMINAL, order=order)
    )


@pytest.mark.parametrize(
    ("local", "open_"),
    [
        ((12, 7, 6, 29), False),
        ((12, 7, 6, 30), True),
        ((12, 7, 22, 59), True),
        ((12, 7, 23, 0), False),
        ((12, 29, 12, 0), False),
        ((1, 3, 12, 0), False),
        ((1, 4, 6, 30), True),
    ],
)
def test_service_hours(local: tuple[int, int, int, int], open_: bool) -> None:
    month, day, hour, minute = local
    moment = dt.datetime(2026, month, day, hour, minute, tzinfo=JST)
    assert in_service_hours(moment.astimezone(dt.UTC)) is open_


def test_outside_hours_opens_nothing(core: Core, hours: MutableClock) -> None:
    set_jst(hours, 23, 30)
    with core.storage.transaction() as tx:
        opened = issuance.open_session(core, tx, TERMINAL)
        assert opened == issuance.Opened(IssuanceRefusal.OUTSIDE_SERVICE_HOURS)
        assert tx.count("issuance_sessions") == 0


def test_a_bad_signature_burns_the_nonce_and_a_stranger_leaves_the_session_alone(
    core: Core,
) -> None:
    with core.storage.transaction() as tx:
        opened = issuance.open_session(core, tx, TERMINAL)
    assert opened.session is not None
    session = opened.session
    checked = core.check_certificate(issuance.PROOF_KIND, _auth_der(), core.now())

    def prove(terminal: str, signature: bytes) -> issuance.ProveOutcome:
        with core.storage.transaction() as tx:
            return issuance.prove_card(
                core,
                tx,
                terminal_id=terminal,
                session_id=session.session_id,
                checked=checked,
                signature=signature,
            )

    stranger = prove("mfp-other", _sign(session.nonce))
    assert stranger == issuance.ProveOutcome(
        IssuanceRefusal.SESSION_INVALID, Reason.NONCE_OTHER_TERMINAL
    )
    bad = prove(TERMINAL, _sign(b"another nonce"))
    assert bad == issuance.ProveOutcome(IssuanceRefusal.CARD_REJECTED, Reason.SIGNATURE_INVALID)
    late = prove(TERMINAL, _sign(session.nonce))
    assert late == issuance.ProveOutcome(IssuanceRefusal.SESSION_INVALID, Reason.NONCE_REPLAYED)


def test_one_key_one_document_even_concurrently(core: Core) -> None:
    port = FakeMunicipality()
    session_id = _proven(core)

    async def twice() -> list[issuance_requests.RequestOutcome]:
        order = _order(session_id)
        return list(
            await asyncio.gather(
                *(
                    issuance_requests.request_document(
                        core, port, terminal_id=TERMINAL, order=order
                    )
                    for _ in range(4)
                )
            )
        )

    outcomes = asyncio.run(twice())
    rows = [o.request for o in outcomes]
    assert all(r is not None and r.state is IssuanceState.ISSUED for r in rows)
    assert {r.document for r in rows if r is not None} == {b"%PDF-fake 131016-2026-000001"}
    assert len(port.by_key) == 1
    with pytest.raises(IdempotencyConflictError):
        _request(core, port, _order(session_id, fee=FEE + 1))
    assert len(port.by_key) == 1


def test_a_refusal_is_stored_and_answers_the_retry(core: Core) -> None:
    port = FakeMunicipality()
    port.refuse = MunicipalRefusal.NO_REGISTERED_SEAL
    session_id = _proven(core)
    first = _request(core, port, _order(session_id))
    port.refuse = None
    again = _request(core, port, _order(session_id))
    expected = issuance_requests.RequestOutcome(
        IssuanceRefusal.MUNICIPALITY_REFUSED, MunicipalRefusal.NO_REGISTERED_SEAL
    )
    assert first == again == expected
    assert port.by_key == {}


def test_a_lost_answer_fails_the_request_and_the_outbox_voids_what_was_issued(core: Core) -> None:
    port = FakeMunicipality()
    port.lose_next_answer = True
    session_id = _proven(core)
    outcome = _request(core, port, _order(session_id))
    assert outcome.refusal is IssuanceRefusal.MUNICIPALITY_UNAVAILABLE
    assert port.states == {"131016-2026-000001": "ISSUED"}  # the municipality did act
    assert asyncio.run(issuance_outbox.deliver_due(core, port)) == 1
    assert port.states == {"131016-2026-000001": "VOID"}
    with core.storage.reading() as tx:
        (entry,) = tx.issuance.list_outbox()
    assert entry.action is OutboxAction.VOID_UNANSWERED
    assert entry.done_us is not None


def test_first_of_confirm_and_failure_wins_and_the_fee_moves_once(core: Core) -> None:
    port = FakeMunicipality()
    outcome = _request(core, port, _order(_proven(core)))
    row = outcome.request
    assert row is not None
    assert row.document_sha256 is not None
    with core.storage.transaction() as tx, pytest.raises(PreconditionError):
        issuance_requests.confirm_printed(
            core,
            tx,
            terminal_id=TERMINAL,
            request_id=row.request_id,
            document_sha256=bytes(32),
            print_job_id="",
        )
    with core.storage.transaction() as tx, pytest.raises(PermissionDeniedError):
        issuance_requests.report_failure(
            core,
            tx,
            terminal_id="mfp-other",
            request_id=row.request_id,
            failure=PrintFailure.JAM,
        )
    with core.storage.transaction() as tx:
        charged = issuance_requests.confirm_printed(
            core,
            tx,
            terminal_id=TERMINAL,
            request_id=row.request_id,
            document_sha256=row.document_sha256,
            print_job_id="7",
        )
        late = issuance_requests.report_failure(
            core, tx, terminal_id=TERMINAL, request_id=row.request_id, failure=PrintFailure.JAM
        )
    assert charged == issuance_requests.PrintOutcome(IssuanceState.CHARGED, FEE, 0)
    assert late == issuance_requests.PrintOutcome(IssuanceState.CHARGED, FEE, 0)
    asyncio.run(issuance_outbox.deliver_due(core, port))
    assert port.states[row.serial] == "PRINTED"
    with core.storage.reading() as tx:
        actions = [e.action for e in tx.audit_trail() if e.subject_id == row.request_id]
        (entry,) = tx.issuance.list_outbox()
    assert actions.count("CONFIRM_PRINTED") == 2  # the refused digest, then the charge
    assert actions.count("REPORT_PRINT_FAILURE") == 0
    assert entry.action is OutboxAction.RECORD_PRINTED


def test_an_unreachable_municipality_is_retried_with_backoff_then_given_up(core: Core) -> None:
    port = FakeMunicipality()
    outcome = _request(core, port, _order(_proven(core)))
    assert outcome.request is not None
    with core.storage.transaction() as tx:
        issuance_requests.report_failure(
            core,
            tx,
            terminal_id=TERMINAL,
            request_id=outcome.request.request_id,
            failure=PrintFailure.PAPER_OUT,
        )
    port.down = True
    clock = core.clock
    assert isinstance(clock, MutableClock)
    for _ in range(3):  # outbox_max_attempts
        assert asyncio.run(issuance_outbox.deliver_due(core, port)) == 0
        assert asyncio.run(issuance_outbox.deliver_due(core, port)) == 0  # backing off: not due
        clock.advance(400)
    port.down = False
    assert asyncio.run(issuance_outbox.deliver_due(core, port)) == 0  # bounded: no more tries
    with core.storage.reading() as tx:
        (entry,) = tx.issuance.list_outbox()
        gave_up = [e for e in tx.audit_trail() if e.action == "MUNICIPAL_GAVE_UP"]
    assert entry.attempts == 3
    assert entry.done_us is None
    assert len(gave_up) == 1
    assert port.states[outcome.request.serial] == "ISSUED"


def test_a_request_left_pending_by_a_crash_is_settled_and_voided(core: Core) -> None:
    port = FakeMunicipality()
    session_id = _proven(core)
    order = _order(session_id)
    begun = asyncio.run(
        core.storage.run(lambda tx: issuance_requests._begin(core, tx, TERMINAL, order))
    )
    assert begun.row is not None
    asyncio.run(port.issue(CODE, issuance_requests.issue_order(begun.row)))  # acted, then "crashed"
    clock = core.clock
    assert isinstance(clock, MutableClock)
    clock.advance(121)
    with core.storage.transaction() as tx:
        assert issuance_requests.settle_stale(core, tx) == 1
    asyncio.run(issuance_outbox.deliver_due(core, port))
    assert list(port.states.values()) == ["VOID"]
    assert _request(core, port, order).refusal is IssuanceRefusal.MUNICIPALITY_UNAVAILABLE
