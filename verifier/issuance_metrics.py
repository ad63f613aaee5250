# SPDX-License-Identifier: Apache-2.0
"""The centre's certificate-issuance metrics (``IssuanceService``, the municipal outbox).

Metrics (labels are enum names only, never a request id, a serial or a name)::

    myna_verifier_issuance_requests_total{method,state}    ISSUED / CHARGED / REFUNDED answered
    myna_verifier_issuance_refusals_total{method,reason}   every IssuanceRefusal answered
    myna_verifier_issuance_outbox_pending{state}           undelivered: retrying / gave_up
    myna_verifier_issuance_outbox_oldest_seconds           the issuance "audit-log lag"
    myna_verifier_issuance_outbox_gave_up_total            entries that ran out of attempts

Why counted from responses (as ``verifier.metrics`` counts transfers): the
state answered is the state stored, and ``method`` tells a first answer
(RequestDocument -> ISSUED, ConfirmPrinted -> CHARGED, ReportPrintFailure
-> REFUNDED) from the loser of a print/failure race (ConfirmPrinted ->
REFUNDED). A retried call is answered, and counted, again.

What "audit-log lag" means here: the centre's audit row is written in the
same transaction as the state change it records (``verifier.issuance.audit``),
so its lag is zero by construction. What can lag is the municipality's
ledger, which learns CHARGED/REFUNDED through the outbox: ``oldest_seconds``
is the age of the oldest undelivered decision (now minus the request's
``changed_us``), 0 when nothing waits. It is the time for which the two
ledgers disagree, the figure an operator must keep small.

Why sampled (every ``SAMPLE_SECONDS``, on the server's loop) and not read at
scrape time: the storage is not thread-safe for the listener's thread, and
one indexed count every few seconds costs nothing next to the calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from prometheus_client import Counter, Gauge

from myna.edge.v1 import issuance_pb2 as ipb
from myna_metrics.interceptors import Observer
from verifier.core import Core, to_us

__all__ = ["SAMPLE_SECONDS", "gave_up", "observers", "sample_outbox"]

_PREFIX: Final = "/myna.edge.v1.IssuanceService/"
#: How often the outbox backlog is read (seconds).
SAMPLE_SECONDS: Final = 5.0

REQUESTS: Final = Counter(
    "myna_verifier_issuance_requests",
    "Issuance requests by the state answered (ISSUED, CHARGED, REFUNDED) and method.",
    ("method", "state"),
)
REFUSALS: Final = Counter(
    "myna_verifier_issuance_refusals",
    "Issuance refusals answered, by method and reason.",
    ("method", "reason"),
)
OUTBOX_PENDING: Final = Gauge(
    "myna_verifier_issuance_outbox_pending",
    "Undelivered municipal Record/Void entries: retrying (attempts left) or gave_up.",
    ("state",),
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST: Final = Gauge(
    "myna_verifier_issuance_outbox_oldest_seconds",
    "Age of the oldest undelivered municipal decision (0: none waits).",
    multiprocess_mode="livemax",
)
OUTBOX_GAVE_UP: Final = Counter(
    "myna_verifier_issuance_outbox_gave_up",
    "Outbox entries that ran out of delivery attempts (MUNICIPAL_GAVE_UP audited).",
)


def _names(enum: Any, prefix: str) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def name(value: int) -> str:
        text = cache.get(value)
        if text is None:
            try:
                text = enum.Name(value).removeprefix(prefix)
            except ValueError:
                text = "UNKNOWN_VALUE"
            cache[value] = text
        return text

    return name


_refusal = _names(ipb.IssuanceRefusal, "ISSUANCE_REFUSAL_")
_state = _names(ipb.IssuanceState, "ISSUANCE_STATE_")


def _observer(method: str, *, refusal: bool, state: bool) -> Observer:
    def observe(_: str, __: Any, response: Any) -> None:
        if refusal and response.refusal:
            REFUSALS.labels(method, _refusal(response.refusal)).inc()
        elif state and response.state:
            REQUESTS.labels(method, _state(response.state)).inc()

    return observe


def observers() -> dict[str, Observer]:
    """The response hooks of the IssuanceService methods."""
    hooks = {
        _PREFIX + m: _observer(m, refusal=True, state=False)
        for m in ("OpenIssuanceSession", "ProveIssuanceCard", "ListDocuments")
    }
    hooks[_PREFIX + "RequestDocument"] = _observer("RequestDocument", refusal=True, state=True)
    for m in ("ConfirmPrinted", "ReportPrintFailure"):
        hooks[_PREFIX + m] = _observer(m, refusal=False, state=True)
    return hooks


def gave_up() -> None:
    """Count one outbox entry that ran out of attempts (after its transaction committed)."""
    OUTBOX_GAVE_UP.inc()


def sample_outbox(core: Core) -> None:
    """Read the outbox backlog into the gauges (nothing when issuance is off)."""
    config = core.config.issuance
    if config is None:
        return
    with core.storage.reading() as tx:
        retrying, given_up, oldest_us = tx.issuance.outbox_backlog(config.outbox_max_attempts)
    OUTBOX_PENDING.labels("retrying").set(retrying)
    OUTBOX_PENDING.labels("gave_up").set(given_up)
    age = 0.0 if oldest_us is None else max(0.0, (to_us(core.now()) - oldest_us) / 1e6)
    OUTBOX_OLDEST.set(age)
