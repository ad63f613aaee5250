# SPDX-License-Identifier: Apache-2.0
"""The issuing office: what a resident may obtain, and issuing one document exactly once.

Domain logic with no gRPC (STYLE §11): the servicer (next step) validates a
request, calls this and translates. Each incident of 2023–24 is closed here:

- a document is built from the record the *request's own* certificate links
  to, inside the call that returns it, never picked from a shared queue by
  position (Yokohama: a timeout released the print-order lock and the next
  applicant's document printed for the wrong person);
- requests are keyed by the centre's idempotency key: two keys never share a
  document, and a retry gets the same bytes (Kawasaki: two stores in one
  second, the later overwrote the earlier);
- the number is reserved under the ledger's write lock and the document is
  stored with it and its key under unique keys (``municipal.ledger``), so a
  second process or replica on the same database cannot duplicate a serial
  (Takamatsu: a single-server build on a multi-server site); the render in
  between holds no lock, so documents render in parallel.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.content import DocumentContent, DocumentKind
from municipal.document.issue import issue_document
from municipal.document.render import japanese_date
from municipal.errors import Refusal, RefusedError
from municipal.fees import JST, FeeTable, check_service_hours
from municipal.ledger import DocumentState, IssuedDocument, Ledger, MemoryLedger, PrintFailure
from municipal.registry import CertificateLink, Registry, Resident

__all__ = [
    "HouseholdScope",
    "IssueRequest",
    "IssuedDocument",
    "IssuingOffice",
    "Municipality",
    "Offer",
]


class HouseholdScope(enum.Enum):
    """Whose entries a resident record shows (the wire's HouseholdScope)."""

    SELF = "self"
    WHOLE_HOUSEHOLD = "whole_household"


@dataclass(frozen=True)
class Municipality:
    """Who issues: the 6-digit local government code, the name and the mayor's line."""

    code: str
    name: str
    mayor: str


@dataclass(frozen=True)
class Offer:
    """One document a resident may obtain here."""

    kind: DocumentKind
    fee_yen_per_copy: int


@dataclass(frozen=True)
class IssueRequest:
    """One request from the centre; ``idempotency_key`` is the centre's request id."""

    idempotency_key: str
    link: CertificateLink
    kind: DocumentKind
    fee_yen: int
    copies: int = 1
    scope: HouseholdScope = HouseholdScope.SELF
    terminal_id: str = ""
    centre_request_id: str = ""

    def fingerprint(self) -> bytes:
        """SHA-256 over every field: a retry must match it exactly."""
        body = {
            "key": self.idempotency_key,
            "issuer": self.link.issuer,
            "serial": self.link.serial,
            "kind": self.kind.value,
            "fee": self.fee_yen,
            "copies": self.copies,
            "scope": self.scope.value,
            "terminal": self.terminal_id,
            "centre_request": self.centre_request_id,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()


class IssuingOffice:
    """One municipality's store service: offers, and issuing exactly once per key."""

    def __init__(
        self,
        *,
        municipality: Municipality,
        registry: Registry,
        fees: FeeTable,
        key: ec.EllipticCurvePrivateKey,
        clock: Callable[[], dt.datetime],
        ledger: Ledger | None = None,
    ) -> None:
        """``ledger``: where documents are kept; default in memory (unit tests only)."""
        self._municipality = municipality
        self._registry = registry
        self._fees = fees
        self._key = key
        self._clock = clock
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()

    @property
    def municipality(self) -> Municipality:
        """Who issues."""
        return self._municipality

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the document-signing key (``ListSigningKeys``)."""
        return self._key.public_key()

    def offers(self, link: CertificateLink) -> tuple[Offer, ...]:
        """The documents the certificate's holder may obtain here now.

        Raises:
            RefusedError: OUTSIDE_SERVICE_HOURS, NOT_A_RESIDENT, COUNTER_ONLY.
        """
        check_service_hours(self._clock(), self._fees.hours)
        resident = self._resident(link)
        return tuple(
            Offer(kind=kind, fee_yen_per_copy=fee)
            for kind, fee in self._fees.fees.items()
            if self._refusal_for(resident, kind) is None
        )

    def issue(self, request: IssueRequest) -> IssuedDocument:
        """Issue the document once; a retry with the same key returns the same bytes.

        Raises:
            RefusedError: any ``Refusal`` (nothing is issued).
            IdempotencyConflictError: the key was used for another request.
        """

        def build(number: int) -> IssuedDocument:
            now = self._clock()
            check_service_hours(now, self._fees.hours)
            resident = self._resident(request.link)
            refusal = self._refusal_for(resident, request.kind)
            if refusal is not None:
                raise RefusedError(refusal)
            fee = self._fees.fee(request.kind, request.copies)
            if fee != request.fee_yen:
                raise RefusedError(Refusal.FEE_CHANGED)
            today = now.astimezone(JST).date()
            serial = f"{self._municipality.code}-{today.year}-{number:06d}"
            content = self._content(resident, request, serial=serial, today=today)
            pdf = issue_document(content, self._key)
            return IssuedDocument(
                serial=serial,
                pdf=pdf,
                sha256=hashlib.sha256(pdf).digest(),
                fee_yen=fee,
                issued_at=now,
            )

        # The ledger looks the key up (a retry gets the row, never a render) and
        # reserves a number under its lock; ``build`` (checks, render, sign) runs
        # outside it; the store keeps the first document stored for the key. A
        # refusal stores nothing and releases the number (``issue_in_steps``).
        return self.ledger.issue_once(request.idempotency_key, request.fingerprint(), build)

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """The terminal printed these bytes: the fee is due (unless already void).

        Raises:
            UnknownDocumentError, DigestMismatchError, IdempotencyConflictError, LedgerError.
        """
        return self.ledger.record_printed(key, serial, sha256)

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """The terminal could not print: the serial is void (unless already printed).

        Raises:
            UnknownDocumentError, IdempotencyConflictError, LedgerError.
        """
        return self.ledger.void(key, serial, failure)

    def _resident(self, link: CertificateLink) -> Resident:
        resident = self._registry.resident(link)
        if resident.restricted:
            raise RefusedError(Refusal.COUNTER_ONLY)
        return resident

    def _refusal_for(self, resident: Resident, kind: DocumentKind) -> Refusal | None:
        if kind not in self._fees.fees:
            return Refusal.DOCUMENT_NOT_OFFERED
        if kind is DocumentKind.SEAL_REGISTRATION and not resident.seal_registered:
            return Refusal.NO_REGISTERED_SEAL
        own_domicile = resident.domicile_code == self._municipality.code
        if kind is DocumentKind.FAMILY_REGISTER and not own_domicile:
            # 戸籍 is kept by the 本籍地; that office answers (routing is the centre's).
            return Refusal.DOCUMENT_NOT_OFFERED
        return None

    def _content(
        self, resident: Resident, request: IssueRequest, *, serial: str, today: dt.date
    ) -> DocumentContent:
        return DocumentContent(
            kind=request.kind,
            serial=serial,
            municipality_code=self._municipality.code,
            municipality_name=self._municipality.name,
            mayor=self._municipality.mayor,
            issued_on=today,
            fields=self._rows(resident, request, today=today),
        )

    def _rows(
        self, resident: Resident, request: IssueRequest, *, today: dt.date
    ) -> tuple[tuple[str, str], ...]:
        if request.kind is DocumentKind.RESIDENT_RECORD:
            members = (
                self._registry.household(resident)
                if request.scope is HouseholdScope.WHOLE_HOUSEHOLD
                else (resident,)
            )
            head = next(
                (m.name for m in self._registry.household(resident) if m.relationship == "世帯主"),
                resident.name,
            )
            rows = [("住所", resident.address), ("世帯主", head)]
            for member in members:
                rows += [
                    ("氏名", member.name),
                    ("生年月日", japanese_date(member.birth_date)),
                    ("性別", member.sex),
                    ("続柄", member.relationship),
                    ("住民となった年月日", japanese_date(member.moved_in_on)),
                ]
            return tuple(rows)
        rows = [
            ("氏名", resident.name),
            ("生年月日", japanese_date(resident.birth_date)),
            ("住所", resident.address),
        ]
        if request.kind is DocumentKind.SEAL_REGISTRATION:
            rows.append(("印影", "登録印（印影は窓口で照合）"))
        elif request.kind is DocumentKind.TAX:
            # The reference registry holds no income data: every resident is 非課税.
            rows += [("年度", f"令和{today.year - 2018}年度"), ("課税区分", "非課税")]
        else:
            # The reference registry keeps 本籍 at the address for residents whose
            # 本籍地 is here; a separate 戸籍 register comes with the service step.
            rows += [("本籍", resident.address), ("筆頭者", resident.name)]
        return tuple(rows)
