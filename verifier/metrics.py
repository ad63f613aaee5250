# SPDX-License-Identifier: Apache-2.0
"""The verifier's Prometheus metrics: gRPC (``myna_metrics``) plus its domain.

Domain metrics (labels are enum names only, never a serial, an id or a name)::

    myna_verifier_verdicts_total{method,verdict,reason}      VerifyCard, resets, transfers
    myna_verifier_transfers_total{state}                     Commit/ReverseTransfer answers
    myna_verifier_late_commits_total                         CommitTransfer answers with late
    myna_verifier_resets_total{outcome}                      ConfirmReset: card said yes/no
    myna_verifier_revocation_checks_total{kind,source,status}
    myna_verifier_revocation_check_seconds{source}           OCSP round trip or CRL lookup
    myna_verifier_revocation_cache_total{result}             hit: answered with no I/O
    myna_verifier_ocsp_fallbacks_total{kind}                 OCSP configured, did not answer
    myna_verifier_group_commits_total, myna_verifier_group_commit_units_total
                                                              mean size = rate(units)/rate(commits)
    myna_verifier_workers                                    live worker processes (supervisor)
    myna_verifier_issuance_*                                 ``verifier.issuance_metrics``

Why counted from responses: a verdict or a final state is what the service
answered, so the ``ServerMetricsInterceptor`` observer reads it there and
``service.py`` carries no metrics code. Revocation is timed by wrapping the
core's ``RevocationChecker``; the group-commit figures the SQLite storage
already keeps are copied into counters once a second.

Why ``PROMETHEUS_MULTIPROC_DIR`` for ``--workers N`` (not one port per
worker): the worker count follows the cores, so per-worker ports would make
the scrape configuration depend on the machine, and a restarted worker
would zero its counters. The supervisor makes a private directory, the
spawned workers inherit it and write their samples to memory-mapped files
(a few microseconds per increment), and the supervisor alone serves
``/metrics``, summing the files: one target per host. With one process
(``--workers 1``, tests, the bench) the plain in-memory registry is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from myna.edge.v1 import verifier_pb2 as pb
from myna_metrics import MetricsListener, ServerMetricsInterceptor
from myna_metrics.interceptors import Observer
from myna_metrics.listener import default_registry
from verifier import issuance_metrics
from verifier.config import VerifierConfig
from verifier.core import Core
from verifier.errors import ConfigError
from verifier.revocation import RevocationAnswer, RevocationChecker

__all__ = ["MeteredRevocation", "VerifierMetrics", "observers", "supervisor_metrics"]

_log = logging.getLogger(__name__)
_PREFIX: Final = "/myna.edge.v1.VerifierService/"
_MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

VERDICTS: Final = Counter(
    "myna_verifier_verdicts",
    "Verdicts answered, by method and reason.",
    ("method", "verdict", "reason"),
)
TRANSFERS: Final = Counter(
    "myna_verifier_transfers", "Transfers by the final state answered.", ("state",)
)
#: Alert on any increase: cash moved for an authorisation whose hold had been
#: released (``verifier.transfers``, late completion); a repeat answer counts again.
LATE_COMMITS: Final = Counter(
    "myna_verifier_late_commits",
    "CommitTransfer answers committed after the authorisation expired.",
)
RESETS: Final = Counter(
    "myna_verifier_resets", "PIN resets confirmed, by what the card said.", ("outcome",)
)
REVOCATION_CHECKS: Final = Counter(
    "myna_verifier_revocation_checks",
    "Revocation checks by key kind, deciding source and status.",
    ("kind", "source", "status"),
)
REVOCATION_SECONDS: Final = Histogram(
    "myna_verifier_revocation_check_seconds",
    "Time of one revocation check (an OCSP round trip, or a CRL lookup).",
    ("source",),
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)
REVOCATION_CACHE: Final = Counter(
    "myna_verifier_revocation_cache",
    "Revocation answers known without I/O (hit: cached OCSP or loaded CRL).",
    ("result",),
)
OCSP_FALLBACKS: Final = Counter(
    "myna_verifier_ocsp_fallbacks",
    "Checks where a configured OCSP responder gave no answer (CRL decided or none).",
    ("kind",),
)
GROUP_COMMITS: Final = Counter("myna_verifier_group_commits", "SQLite group commits done.")
GROUP_UNITS: Final = Counter(
    "myna_verifier_group_commit_units", "Units of work committed by group commits."
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


_verdict = _names(pb.Verdict, "VERDICT_")
_reason = _names(pb.Reason, "REASON_")
_state = _names(pb.TransferState, "TRANSFER_STATE_")


def _verdicts(method: str) -> Observer:
    children: dict[tuple[int, int], Any] = {}

    def observe(_: str, __: Any, response: Any) -> None:
        key = (response.verdict, response.reason)
        child = children.get(key)
        if child is None:
            child = children[key] = VERDICTS.labels(method, _verdict(key[0]), _reason(key[1]))
        child.inc()

    return observe


def _transfer_state(_: str, __: Any, response: Any) -> None:
    TRANSFERS.labels(_state(response.state)).inc()


def _commit_state(method: str, request: Any, response: Any) -> None:
    _transfer_state(method, request, response)
    if response.late:
        LATE_COMMITS.inc()


def _reset_outcome(_: str, request: Any, response: Any) -> None:
    if response.recorded:
        RESETS.labels("succeeded" if request.succeeded else "failed").inc()


def observers() -> dict[str, Observer]:
    """The response hooks of the VerifierService methods that answer a domain outcome."""
    hooks: dict[str, Observer] = {
        _PREFIX + m: _verdicts(m)
        for m in ("VerifyCard", "ReserveReset", "RedeemReset", "AuthorizeTransfer")
    }
    hooks[_PREFIX + "CommitTransfer"] = _commit_state
    hooks[_PREFIX + "ReverseTransfer"] = _transfer_state
    hooks[_PREFIX + "ConfirmReset"] = _reset_outcome
    hooks.update(issuance_metrics.observers())
    return hooks


class MeteredRevocation(RevocationChecker):
    """``RevocationChecker`` that times and counts each check by its deciding source."""

    def peek(self, kind: str, serial: int, now: dt.datetime) -> RevocationAnswer | None:
        """As ``RevocationChecker.peek``, counting cache hits and misses."""
        answer = super().peek(kind, serial, now)
        REVOCATION_CACHE.labels("miss" if answer is None else "hit").inc()
        return answer

    def status(self, kind: str, serial: int, now: dt.datetime) -> RevocationAnswer:
        """As ``RevocationChecker.status``, timed."""
        start = time.perf_counter()
        answer = super().status(kind, serial, now)
        source = answer.source.value or "NONE"
        REVOCATION_SECONDS.labels(source).observe(time.perf_counter() - start)
        REVOCATION_CHECKS.labels(kind, source, answer.status.value).inc()
        if source != "OCSP" and self.ocsp.configured(kind):
            OCSP_FALLBACKS.labels(kind).inc()
        return answer


class VerifierMetrics:
    """One ``VerifierServer``'s metrics: interceptor, revocation timing, sampler, listener.

    Args:
        config: the service configuration (``config.metrics`` is set).
        core: the core whose revocation checker and storage are measured.
        serve: run the ``/metrics`` listener here (False in a worker: the
            supervisor serves).
    """

    def __init__(self, config: VerifierConfig, core: Core, *, serve: bool) -> None:
        self.config = config
        self.core = core
        self.listener: MetricsListener | None = None
        self._serve = serve
        self._sampler: asyncio.Task[None] | None = None
        self._seen = (0, 0)

    @classmethod
    def for_server(cls, config: VerifierConfig, core: Core, *, worker: bool) -> VerifierMetrics:
        """Metrics of one server process (a worker only writes: the supervisor serves)."""
        return cls(config, core, serve=not worker)

    def interceptors(self) -> tuple[ServerMetricsInterceptor, ...]:
        """The server's first (outermost) interceptor."""
        return (ServerMetricsInterceptor(observers()),)

    async def start(self) -> None:
        """Time revocation, sample the storage figures, serve ``/metrics`` when asked.

        Raises:
            ConfigError: the metrics address cannot be bound.
        """
        checker = self.core.revocation
        if type(checker) is RevocationChecker:
            self.core.revocation = MeteredRevocation(checker.crls, checker.ocsp)
        if self._serve and self.config.metrics is not None:
            self.listener = MetricsListener(self.config.metrics)
            try:
                await asyncio.to_thread(self.listener.start)
            except OSError as exc:
                self.listener = None
                where = self.config.metrics.listen
                raise ConfigError(f"cannot serve metrics on {where}: {exc}") from exc

        self._sampler = asyncio.create_task(self._sample_loop())

    def sample(self) -> None:
        """Copy the storage's group-commit figures into the counters (deltas)."""
        storage = self.core.storage
        now = (getattr(storage, "group_commits", 0), getattr(storage, "group_units", 0))
        commits, units = now[0] - self._seen[0], now[1] - self._seen[1]
        if commits > 0:
            GROUP_COMMITS.inc(commits)
        if units > 0:
            GROUP_UNITS.inc(units)
        self._seen = now

    async def _sample_loop(self, interval: float = 1.0) -> None:
        every = max(1, round(issuance_metrics.SAMPLE_SECONDS / interval))
        tick = 0
        while True:
            self.sample()
            if tick % every == 0:  # the outbox backlog (verifier.issuance_metrics)
                try:
                    issuance_metrics.sample_outbox(self.core)
                except Exception:  # noqa: BLE001 - a failed read must not stop the sampler
                    _log.exception("cannot read the issuance outbox backlog")
            tick += 1
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        """Stop sampling and serving; harmless twice."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
            self.sample()
        if self.listener is not None:
            await asyncio.to_thread(self.listener.stop)
            self.listener = None


class _Workers(Collector):
    """``myna_verifier_workers``: the supervisor's live worker count, read at scrape time."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "myna_verifier_workers", "Live verifier worker processes.", value=self._count()
        )


@contextlib.contextmanager
def supervisor_metrics(config: VerifierConfig, workers: Callable[[], int]) -> Iterator[None]:
    """Around spawning ``--workers N``: a private multiprocess directory and the listener.

    Enter before the workers are spawned (they inherit the directory through
    the environment); the supervisor serves their summed samples.

    Raises:
        ConfigError: the metrics address cannot be bound.
    """
    if config.metrics is None:
        yield
        return
    folder = tempfile.mkdtemp(prefix="myna-verifier-metrics-")
    previous = os.environ.get(_MULTIPROC_ENV)
    os.environ[_MULTIPROC_ENV] = folder
    listener = MetricsListener(config.metrics, default_registry([_Workers(workers)]))
    try:
        try:
            listener.start()
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {config.metrics.listen}: {exc}") from exc
        yield
    finally:
        listener.stop()
        if previous is None:
            os.environ.pop(_MULTIPROC_ENV, None)
        else:
            os.environ[_MULTIPROC_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)
