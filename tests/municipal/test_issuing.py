# SPDX-License-Identifier: Apache-2.0
"""The issuing office: offers, typed refusals, and one document per key (the incidents).

Why real PDFs: the property that matters is that each printed document
belongs to its requester, which the tests read back from the signed code,
as a checker of the paper would.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from municipal import issuing
from municipal.document import DocumentKind, TrustStore, read_document, verify_input
from municipal.document.assets import warm_up
from municipal.document.content import DocumentContent
from municipal.errors import IdempotencyConflictError, Refusal, RefusedError
from municipal.fees import JST, FeeTable, check_service_hours
from municipal.issuing import HouseholdScope, IssueRequest, IssuingOffice, Municipality
from municipal.ledger import open_ledger
from municipal.registry import CertificateLink, Registry, Resident

CITY = Municipality(code="141003", name="横浜市", mayor="横浜市長　見本 一郎")
ISSUER = "CN=Test JPKI User Authentication CA"
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=JST)
KEY = ec.derive_private_key(0x6D756E69636970616C, ec.SECP256R1())


def _resident(n: int, **changes: object) -> Resident:
    base = {
        "resident_id": f"r{n}",
        "link": CertificateLink(ISSUER, 1000 + n),
        "name": f"見本 太郎{n}",
        "birth_date": dt.date(1985, 4, 1),
        "sex": "男",
        "address": "神奈川県横浜市中区本町6丁目50番地の10",
        "household_id": f"h{n}",
        "relationship": "世帯主",
        "moved_in_on": dt.date(2010, 4, 1),
    }
    base.update(changes)
    return Resident(**base)  # type: ignore[arg-type]


RESIDENTS = [
    _resident(1, seal_registered=True, domicile_code="141003"),
    _resident(2, household_id="h1", relationship="妻", name="見本 花子"),
    _resident(3, domicile_code="131016"),  # 本籍地 is Chiyoda
    _resident(4, restricted=True),
    *(_resident(n) for n in range(10, 18)),
]


def _office(now: dt.datetime = NOON) -> IssuingOffice:
    return IssuingOffice(
        municipality=CITY,
        registry=Registry(RESIDENTS),
        fees=FeeTable(),
        key=KEY,
        clock=lambda: now,
    )


def _request(n: int, key: str, **changes: object) -> IssueRequest:
    base: dict[str, object] = {
        "idempotency_key": key,
        "link": CertificateLink(ISSUER, 1000 + n),
        "kind": DocumentKind.RESIDENT_RECORD,
        "fee_yen": 200,
    }
    base.update(changes)
    return IssueRequest(**base)  # type: ignore[arg-type]


def _holder(pdf: bytes) -> str:
    # 150 dpi is plenty for a 110 mm code and halves the read-back.
    document = read_document(pdf, dpi=150)
    content = verify_input(document, TrustStore({CITY.code: KEY.public_key()})).content
    return dict(content.fields)["氏名"]


def test_offers_follow_the_record() -> None:
    office = _office()
    kinds = {o.kind for o in office.offers(CertificateLink(ISSUER, 1001))}
    assert kinds == set(DocumentKind)
    kinds = {o.kind for o in office.offers(CertificateLink(ISSUER, 1003))}
    assert kinds == {DocumentKind.RESIDENT_RECORD, DocumentKind.TAX}


@pytest.mark.parametrize(
    ("serial", "refusal"),
    [(999, Refusal.NOT_A_RESIDENT), (1004, Refusal.COUNTER_ONLY)],
)
def test_who_cannot_be_served_is_refused_by_type(serial: int, refusal: Refusal) -> None:
    with pytest.raises(RefusedError) as caught:
        _office().offers(CertificateLink(ISSUER, serial))
    assert caught.value.refusal is refusal


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (dt.datetime(2026, 12, 7, 6, 29, tzinfo=JST), False),
        (dt.datetime(2026, 12, 7, 6, 30, tzinfo=JST), True),
        (dt.datetime(2026, 12, 7, 22, 59, tzinfo=JST), True),
        (dt.datetime(2026, 12, 7, 23, 0, tzinfo=JST), False),
        (dt.datetime(2026, 12, 29, 12, 0, tzinfo=JST), False),
        (dt.datetime(2027, 1, 3, 12, 0, tzinfo=JST), False),
        (dt.datetime(2027, 1, 4, 12, 0, tzinfo=JST), True),
        (dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC), True),  # 12:00 in Japan
    ],
)
def test_service_hours(when: dt.datetime, open_: bool) -> None:
    if open_:
        check_service_hours(when)
    else:
        with pytest.raises(RefusedError, match="outside_service_hours"):
            check_service_hours(when)


@pytest.mark.parametrize(
    ("n", "changes", "refusal"),
    [
        (2, {"kind": DocumentKind.SEAL_REGISTRATION}, Refusal.NO_REGISTERED_SEAL),
        (3, {"kind": DocumentKind.FAMILY_REGISTER, "fee_yen": 350}, Refusal.DOCUMENT_NOT_OFFERED),
        (1, {"fee_yen": 300}, Refusal.FEE_CHANGED),
        (1, {"copies": 0, "fee_yen": 0}, Refusal.OPTIONS_INVALID),
    ],
)
def test_refused_requests_issue_nothing(
    n: int, changes: dict[str, object], refusal: Refusal
) -> None:
    office = _office()
    with pytest.raises(RefusedError) as caught:
        office.issue(_request(n, "k-refused", **changes))
    assert caught.value.refusal is refusal
    # The key was not consumed: the corrected request issues serial 1.
    assert office.issue(_request(1, "k-refused")).serial == "141003-2026-000001"


def test_a_retry_gets_the_same_bytes_and_a_reused_key_is_refused() -> None:
    office = _office()
    first = office.issue(_request(1, "k-1"))
    assert office.issue(_request(1, "k-1")) is first
    with pytest.raises(IdempotencyConflictError):
        office.issue(_request(10, "k-1"))
    assert _holder(first.pdf) == "見本 太郎1"


def test_two_stores_in_the_same_second_each_get_their_own_document() -> None:
    office = _office()  # one clock value: every request lands in the same second
    requests = [_request(n, f"store-{n}") for n in range(10, 14)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        issued = list(pool.map(office.issue, requests))
    assert len({d.serial for d in issued}) == len(requests)
    for n, document in zip(range(10, 14), issued, strict=True):
        assert _holder(document.pdf) == f"見本 太郎{n}"


def test_a_whole_household_record_lists_every_member() -> None:
    document = _office().issue(_request(1, "k-h", scope=HouseholdScope.WHOLE_HOUSEHOLD))
    content = verify_input(
        read_document(document.pdf), TrustStore({CITY.code: KEY.public_key()})
    ).content
    names = [value for label, value in content.fields if label == "氏名"]
    assert names == ["見本 太郎1", "見本 花子"]
    assert ("世帯主", "見本 太郎1") in content.fields


def _barrier_render(monkeypatch: pytest.MonkeyPatch, parties: int) -> threading.Barrier:
    """Make every render wait until ``parties`` renders are inside it at once.

    Why: renders that ran one at a time (inside the ledger's write lock) would
    never meet, and the barrier's timeout would break it: the test fails.
    Assets are prepared first, as the server's start does (``warm_up``): two
    first renders at once would each prepare them, and one copy is dropped.
    """
    warm_up(CITY.name)
    barrier = threading.Barrier(parties, timeout=30.0)
    real = issuing.issue_document

    def meeting(content: DocumentContent, key: ec.EllipticCurvePrivateKey) -> bytes:
        barrier.wait()
        return real(content, key)

    monkeypatch.setattr(issuing, "issue_document", meeting)
    return barrier


@pytest.mark.parametrize("ledger_url", ["memory:", "sqlite"])
def test_two_requests_with_different_keys_render_concurrently(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}" if ledger_url == "sqlite" else ledger_url
    office = IssuingOffice(
        municipality=CITY,
        registry=Registry(RESIDENTS),
        fees=FeeTable(),
        key=KEY,
        clock=lambda: NOON,
        ledger=open_ledger(url),
    )
    _barrier_render(monkeypatch, 2)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(office.issue, [_request(10, "a"), _request(11, "b")])
        assert first.serial != second.serial
        assert (_holder(first.pdf), _holder(second.pdf)) == ("見本 太郎10", "見本 太郎11")
        assert office.ledger.count() == 2
    finally:
        office.ledger.close()


@pytest.mark.parametrize("ledger_url", ["memory:", "sqlite"])
def test_concurrent_requests_with_one_key_get_one_document(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}" if ledger_url == "sqlite" else ledger_url
    office = IssuingOffice(
        municipality=CITY,
        registry=Registry(RESIDENTS),
        fees=FeeTable(),
        key=KEY,
        clock=lambda: NOON,
        ledger=open_ledger(url),
    )
    # Both renders run (neither finds the key stored); the first store wins.
    _barrier_render(monkeypatch, 2)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(office.issue, [_request(10, "same")] * 2)
        assert first.pdf == second.pdf
        assert first.serial == second.serial
        assert office.ledger.count() == 1
        assert office.issue(_request(10, "same")).pdf == first.pdf  # a later retry too
    finally:
        office.ledger.close()
