# SPDX-License-Identifier: Apache-2.0
"""The municipality service's Prometheus metrics: gRPC (``myna_metrics``) plus its domain.

Domain metrics (labels are enum values only, never a serial, a key or a name)::

    myna_municipal_documents_issued_total{kind}        new documents stored (not retries)
    myna_municipal_documents_printed_total             ISSUED -> PRINTED (the fee is due)
    myna_municipal_documents_voided_total{failure}     ISSUED -> VOID, by the print failure
    myna_municipal_refusals_total{reason}              ListResidentDocuments / IssueDocument
    myna_municipal_render_seconds{kind}                building one new document (histogram)

Why counted in the office and not from responses (as the verifier does): a
retry with the same key answers the same document, and a repeated
print/void answers the final state again; counting answers would count the
centre's retries as documents. ``MeteredOffice`` counts what the ledger
stored: ``issue`` counts only when the ledger called the builder (a new
row), and print/void count a state that changed in this call.

Why printed and voided are not by kind: the ledger keeps a serial's state,
not its kind, and the print/void requests carry only the serial; voids are
labelled by the terminal's failure instead (paper out, jam ...), which is
what an operator acts on. Why ``render_seconds`` times the builder: it is
the rendering and signing of the PDF plus the registry look-up, the only
CPU-heavy step of an issue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import Counter, Histogram

from municipal.errors import RefusedError
from municipal.issuing import IssueRequest, IssuingOffice, Offer
from municipal.ledger import DocumentState, IssuedDocument, Ledger, PrintFailure
from municipal.registry import CertificateLink
from myna_metrics import ServerMetricsInterceptor

__all__ = ["MeteredLedger", "MeteredOffice", "interceptors"]

ISSUED: Final = Counter(
    "myna_municipal_documents_issued", "New documents stored, by kind.", ("kind",)
)
PRINTED: Final = Counter(
    "myna_municipal_documents_printed", "Documents whose print was recorded (fee due)."
)
VOIDED: Final = Counter(
    "myna_municipal_documents_voided", "Documents voided, by the print failure.", ("failure",)
)
REFUSALS: Final = Counter(
    "myna_municipal_refusals", "Refusals answered (nothing issued), by reason.", ("reason",)
)
RENDER_SECONDS: Final = Histogram(
    "myna_municipal_render_seconds",
    "Time to build one new document (registry look-up, PDF render and signature).",
    ("kind",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class MeteredLedger:
    """A ``Ledger`` that times the builder and says, per thread, whether it ran.

    Why per thread: the servicer runs each domain call in a worker thread, and
    ``IssuingOffice.issue`` calls ``issue_once`` synchronously in it, so the
    office reads back on the same thread what its own call did.
    """

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self._local = threading.local()

    def take_built(self) -> float | None:
        """Seconds the builder took in this thread's last ``issue_once``; None: not built."""
        seconds: float | None = getattr(self._local, "seconds", None)
        self._local.seconds = None
        return seconds

    def issue_once(
        self, key: str, fingerprint: bytes, build: Callable[[int], IssuedDocument]
    ) -> IssuedDocument:
        """As ``Ledger.issue_once``; a retry (the row exists) does not call the builder."""
        self._local.seconds = None
        built: list[float] = []

        def timed(number: int) -> IssuedDocument:
            start = time.perf_counter()
            document = build(number)
            built.append(time.perf_counter() - start)
            return document

        document = self.inner.issue_once(key, fingerprint, timed)
        # A builder that ran in a rolled-back attempt raised out of issue_once;
        # reaching here means the last build was stored.
        self._local.seconds = built[-1] if built else None
        return document

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """As ``Ledger.record_printed``."""
        return self.inner.record_printed(key, serial, sha256)

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """As ``Ledger.void``."""
        return self.inner.void(key, serial, failure)

    def state(self, serial: str) -> DocumentState:
        """As ``Ledger.state``."""
        return self.inner.state(serial)

    def count(self) -> int:
        """As ``Ledger.count``."""
        return self.inner.count()

    def close(self) -> None:
        """As ``Ledger.close``."""
        self.inner.close()


class MeteredOffice(IssuingOffice):
    """``IssuingOffice`` counting issues, prints, voids and refusals once each.

    Takes the same keyword arguments; its ledger is wrapped in ``MeteredLedger``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metered = MeteredLedger(self.ledger)
        self.ledger = self._metered

    def offers(self, link: CertificateLink) -> tuple[Offer, ...]:
        """As ``IssuingOffice.offers``, counting a refusal."""
        try:
            return super().offers(link)
        except RefusedError as refused:
            REFUSALS.labels(refused.refusal.value).inc()
            raise

    def issue(self, request: IssueRequest) -> IssuedDocument:
        """As ``IssuingOffice.issue``, counting a new document (not a retry) or a refusal."""
        try:
            document = super().issue(request)
        except RefusedError as refused:
            REFUSALS.labels(refused.refusal.value).inc()
            raise
        seconds = self._metered.take_built()
        if seconds is not None:
            ISSUED.labels(request.kind.value).inc()
            RENDER_SECONDS.labels(request.kind.value).observe(seconds)
        return document

    def record_printed(self, key: str, serial: str, sha256: bytes) -> DocumentState:
        """As ``IssuingOffice.record_printed``, counting ISSUED -> PRINTED once.

        The state is read before the change: two concurrent calls for one
        serial (the centre sends one at a time) could both count.
        """
        before = self.ledger.state(serial)
        after = super().record_printed(key, serial, sha256)
        if before is DocumentState.ISSUED and after is DocumentState.PRINTED:
            PRINTED.inc()
        return after

    def void(self, key: str, serial: str, failure: PrintFailure) -> DocumentState:
        """As ``IssuingOffice.void``, counting ISSUED -> VOID once (by the failure)."""
        before = self.ledger.state(serial)
        after = super().void(key, serial, failure)
        if before is DocumentState.ISSUED and after is DocumentState.VOID:
            VOIDED.labels(failure.value).inc()
        return after


def interceptors() -> tuple[ServerMetricsInterceptor, ...]:
    """The server's first (outermost) interceptor: ``grpc_server_*``."""
    return (ServerMetricsInterceptor(),)
