# SPDX-License-Identifier: Apache-2.0
"""Building and running the grpc.aio server: mTLS, health, reflection, sweeper.

Why these defaults: terminals are authenticated by client certificates from
the terminal CA (mTLS required) unless ``--insecure-dev`` is given, which
logs a loud warning; the standard ``grpc.health.v1`` service reports
SERVING and flips to NOT_SERVING when shutdown starts, so load balancers
drain us; server reflection is always on so grpcurl works; ``stop`` waits
for in-flight RPCs up to a grace period. A background task reverses expired
authorisations and forgets old idempotency keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_metrics.access_log import access_logged
from myna_metrics.registration import WrappingServer
from verifier import transfers
from verifier.config import VerifierConfig, check_insecure_listen
from verifier.core import Core, to_us
from verifier.errors import ConfigError
from verifier.fleet import FleetRegistry, OperatorServer, report_status_tolerant
from verifier.fleet_store import FleetStore
from verifier.issuance_service import ISSUANCE_SERVICE_NAME, IssuanceServicer, attach_issuance
from verifier.metrics import VerifierMetrics
from verifier.pki import KINDS, TrustStore
from verifier.revocation import CrlStore, OcspClient, RevocationChecker
from verifier.service import INSECURE_DEV_METADATA_KEY, VerifierServicer
from verifier.storage import Transaction, open_storage
from verifier.tls import service_material
from verifier.tracing import VerifierTracing

__all__ = [
    "SERVICE_NAME",
    "WORKER_HEALTH_PREFIX",
    "VerifierServer",
    "build_core",
    "worker_health_name",
]

_log = logging.getLogger(__name__)
#: Rows one sweeper step expires or purges (one group-commit unit: a few ms of writer time).
_SWEEP_BATCH: Final = 64

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["VerifierService"].full_name
#: Health service names ``<prefix><pid>``: one per worker process.
WORKER_HEALTH_PREFIX = "myna-edge.verifier.worker/"


def worker_health_name(pid: int | None = None) -> str:
    """The health service name only worker ``pid`` reports SERVING (others: NOT_FOUND).

    Why: with several workers on one port a health check reaches whichever
    worker the kernel picked for the connection; asking for this name tells
    a probe (and the tests) which worker holds that connection.
    """
    return f"{WORKER_HEALTH_PREFIX}{os.getpid() if pid is None else pid}"


def _freeze_startup_heap() -> None:
    """Hide every object alive now from the cyclic garbage collector (``gc.freeze``).

    Why (issue 18, the VerifyCard p99 regression): a full (generation 2)
    collection walks every tracked object of the process, about 50,000 once
    the verifier, gRPC, protobuf and ``cryptography`` are loaded; it stops
    the event loop for 15-95 ms on the 2-core VM (more under load), and at
    32 calls in flight one such pause delays 32 calls at once, 1 % of a
    3,000-call run, so it *is* the p99 (measured: p99 = p50 + the pause).
    What start-up built (modules, descriptors, trust store, the server)
    lives as long as the process, so the collector has nothing to gain by
    walking it on every full collection; afterwards a full collection walks
    only what was allocated since (0.4-1.5 ms measured). Objects freed by reference
    counting are still freed; only a reference cycle among frozen objects
    would stay in memory, so the garbage is collected first.
    """
    gc.collect()
    gc.freeze()


def _read_key_file(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    try:
        key = bytes.fromhex(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{what} {path} must hold hex") from exc
    if len(key) < 16:
        raise ConfigError(f"{what} must be at least 16 bytes")
    return key


def _face_key(path: Path | None) -> rsa.RSAPublicKey | None:
    if path is None:
        return None
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load face provider key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError("the face provider key must be RSA")
    return key


def build_core(config: VerifierConfig, *, clock: Callable[[], dt.datetime] | None = None) -> Core:
    """Load trust, revocation sources and storage as ``config`` says.

    Raises:
        ConfigError: missing or unreadable trust material.
        StorageError: the database cannot be opened or migrated.
    """
    folder = config.trust_folder()
    trust = TrustStore.from_folder(folder)
    crls = CrlStore(
        trust,
        {kind: config.crl_sources(kind) for kind in KINDS},
        refresh_seconds=config.revocation.crl_refresh_seconds,
    )
    ocsp = OcspClient(
        trust, config.revocation.ocsp_urls, timeout=config.revocation.ocsp_timeout_seconds
    )
    master_path = config.issuer_master_key
    if master_path is None and (folder / "issuer-master.key").exists():
        master_path = folder / "issuer-master.key"
    face_path = config.face_provider_key
    if face_path is None and (folder / "face-provider.pub.pem").exists():
        face_path = folder / "face-provider.pub.pem"
    core = Core(
        config,
        trust,
        RevocationChecker(crls, ocsp),
        open_storage(config.database),
        issuer_master_key=_read_key_file(master_path, "issuer master key"),
        face_provider_key=_face_key(face_path),
    )
    if clock is not None:
        core.clock = clock
    return core


class VerifierServer:
    """One verifier process: ``await start()``, then ``await stop()``."""

    def __init__(
        self, config: VerifierConfig, core: Core | None = None, *, worker: bool = False
    ) -> None:
        """``worker``: one of several processes on one port (``verifier.workers``)."""
        self.config = config
        self.worker = worker
        self.core = core if core is not None else build_core(config)
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._sweeper: asyncio.Task[None] | None = None
        #: The centre role (``IssuanceService``) when ``[issuance]`` is configured.
        self.issuance: IssuanceServicer | None = None
        #: Prometheus metrics when ``config.metrics`` is set (``verifier.metrics``).
        self.metrics: VerifierMetrics | None = None
        if config.metrics is not None:
            self.metrics = VerifierMetrics.for_server(config, self.core, worker=worker)
        #: OpenTelemetry server spans when ``config.tracing`` is set (``verifier.tracing``).
        self.tracing = VerifierTracing.for_server(config, worker=worker)
        #: The terminals' status reports (``verifier.fleet``), and the operator listener.
        policy = config.policy
        store = FleetStore(
            self.core.storage,
            online_seconds=policy.fleet_online_seconds,
            write_seconds=policy.fleet_write_seconds,
            clock=self.core.now,
        )
        self.fleet = FleetRegistry(self.core.now, store=store)
        self.operator: OperatorServer | None = None

    def _credentials(self) -> grpc.ServerCredentials:
        key, cert, ca = service_material(self.config.tls)
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    async def start(self) -> int:
        """Bind, register services and start serving; returns the bound port.

        Raises:
            ConfigError: TLS material unreadable, or the address cannot be bound.
        """
        check_insecure_listen(self.config)
        # Several workers share the port (the kernel spreads connections over them).
        options = (("grpc.so_reuseport", 1),) if self.worker else ()
        metered = self.metrics.interceptors() if self.metrics is not None else ()
        interceptors = (*metered, *self.tracing.interceptors())
        server = grpc.aio.server(interceptors=interceptors, options=options)
        # The access log and the fleet's decoding wrap the handlers once, at
        # registration (issue 18: with no interceptor configured, grpc.aio runs
        # no chain per call). They run inside the interceptors: the access
        # log's line still carries the trace id.
        registrar = WrappingServer(
            server,
            (
                report_status_tolerant,  # undecodable stream messages: INVALID_ARGUMENT
                access_logged,
            ),
        )
        servicer = VerifierServicer(
            self.core, insecure_dev=self.config.insecure_dev, fleet=self.fleet
        )
        pb_grpc.add_VerifierServiceServicer_to_server(servicer, registrar)
        self.issuance = attach_issuance(registrar, servicer)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, registrar)
        names = (
            SERVICE_NAME,
            *((ISSUANCE_SERVICE_NAME,) if self.issuance is not None else ()),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, registrar)
        if self.config.insecure_dev:
            _log.warning(
                "INSECURE DEVELOPMENT MODE: plaintext gRPC on %s, terminals are not "
                "authenticated, the test PKI is trusted. Never use this in production. "
                "Every response carries the trailing metadata %s.",
                self.config.listen,
                INSECURE_DEV_METADATA_KEY,
            )
            port = server.add_insecure_port(self.config.listen)
        else:
            port = server.add_secure_port(self.config.listen, self._credentials())
        if port == 0:
            raise ConfigError(f"cannot listen on {self.config.listen}")
        await server.start()
        self._server, self.port = server, port
        if self.metrics is not None:
            await self.metrics.start()
        await self._start_operator()
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self._health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        if self.issuance is not None:
            await self._health.set(ISSUANCE_SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        if self.worker:
            await self._health.set(worker_health_name(), health_pb2.HealthCheckResponse.SERVING)
        self._sweeper = asyncio.create_task(self._sweep())
        _freeze_startup_heap()
        _log.info("verifier listening on port %d", port)
        return port

    async def _start_operator(self) -> None:
        # Every worker serves it, on one shared port, from the fleet table (verifier.fleet_store).
        if self.config.operator is None:
            return
        self.operator = OperatorServer(self.config.operator, self.fleet, shared_port=self.worker)
        try:
            await self.operator.start()
        except OSError as exc:
            raise ConfigError(f"cannot serve the operator listener: {exc}") from exc

    async def _sweep(self, interval: float = 5.0) -> None:
        policy = self.config.policy
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.sweep_once, policy.idempotency_ttl_seconds)
            except Exception:  # noqa: BLE001 - keep sweeping; the error is logged
                _log.exception("sweeper failed")

    def sweep_once(self, idempotency_ttl_seconds: float) -> int:
        """Expire authorisations past their TTL, purge old keys and sessions; returns expiries.

        A session is forgotten one nonce lifetime after it expired, so a late
        call still hears NONCE_EXPIRED for a while, and the table holds only
        live sessions plus that margin, however many a terminal opens.

        Why in small steps (issue 18): one transaction for the whole sweep
        held SQLite's writer (and its own fsync) for 150-195 ms after a burst
        of sessions expired, stalling every call queued behind it. Each step
        now handles at most ``_SWEEP_BATCH`` rows as one unit of the storage's
        group commit (``Storage.submit``: it shares a batch's fsync and waits
        its turn like a call), and the next step queues behind whatever
        arrived meanwhile. Each expiry still changes its state and writes its
        audit row in one unit. Blocks: call it off the event loop.
        """
        storage, policy = self.core.storage, self.config.policy

        def steps(work: Callable[[Transaction], int]) -> int:
            total = 0
            while True:
                count = storage.submit(work).result()
                total += count
                if count < _SWEEP_BATCH:
                    return total

        done = steps(lambda tx: transfers.expire(self.core, tx, _SWEEP_BATCH))
        now_us = to_us(self.core.now())
        keys_before = now_us - int(idempotency_ttl_seconds * 1_000_000)
        sessions_before = now_us - int(policy.nonce_ttl_seconds * 1_000_000)
        steps(lambda tx: tx.purge_keys(keys_before, _SWEEP_BATCH))
        steps(lambda tx: tx.purge_sessions(sessions_before, _SWEEP_BATCH))
        return done

    async def wait(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self, grace: float = 5.0, *, drain: float = 0.0) -> None:
        """Report NOT_SERVING, keep serving ``drain`` s, finish calls in flight, close storage.

        Why ``drain``: clients that watch our health (the agent's channel,
        ``host.client.channel``) stop sending here within milliseconds of
        NOT_SERVING; calls already on the way are still served for ``drain``
        seconds. Then new calls are refused and those in flight get up to
        ``grace`` seconds to finish (a rolling restart fails none).
        """
        await self._health.enter_graceful_shutdown()
        self.fleet.close_streams()  # the agents reopen their status streams on a replica
        if drain > 0:
            await asyncio.sleep(drain)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            await self._server.stop(grace)
        if self.issuance is not None:
            await self.issuance.close()
        if self.metrics is not None:
            await self.metrics.stop()
        if self.operator is not None:
            await self.operator.stop()
        await asyncio.to_thread(self.tracing.shutdown)  # sends the spans still batched
        # In a thread: SQLite's writer may be handing a transaction to this loop.
        await asyncio.to_thread(self.core.storage.close)
        # What start froze may be garbage now (a process that starts servers again, tests).
        gc.unfreeze()
