# SPDX-License-Identifier: Apache-2.0
"""Building and running the municipality's grpc.aio server: mTLS, health, reflection, drain.

Why these defaults (as the verifier's): the centre is the only client and
proves itself with a client certificate from the centre's CA (mTLS
required); ``--insecure-dev`` serves plaintext on a loopback address only,
with a loud warning. The standard ``grpc.health.v1`` service reports SERVING
and flips to NOT_SERVING when shutdown starts, so a balancer drains us;
``stop`` waits for in-flight RPCs up to a grace period, then closes the
ledger (every answered issue is already committed). The access-log
interceptor is the verifier's (``myna_metrics.access_log``): one line per call
with no bodies, and undecodable bodies answered INVALID_ARGUMENT. With
``[metrics]`` (or ``--metrics``) the verifier's ``grpc_server_*`` interceptor
and ``/metrics`` listener run too, and the office counts its documents
(``municipal.metrics``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from municipal.config import MunicipalConfig, check_insecure_listen, load_signing_key
from municipal.document.assets import warm_up
from municipal.errors import MunicipalConfigError
from municipal.issuing import IssuingOffice
from municipal.ledger import open_ledger
from municipal.metrics import MeteredOffice, interceptors
from municipal.registry_file import load_registry
from municipal.service import MunicipalServicer
from municipal.topology import ReplicaLease
from myna.edge.v1 import municipal_pb2 as pb
from myna.edge.v1 import municipal_pb2_grpc as pb_grpc
from myna_metrics import MetricsListener
from myna_metrics.access_log import AccessLogInterceptor

__all__ = ["SERVICE_NAME", "MunicipalServer", "build_office"]

_log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["MunicipalService"].full_name


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_office(
    config: MunicipalConfig, *, clock: Callable[[], dt.datetime] = _now
) -> IssuingOffice:
    """Load the registry and the signing key, open the ledger.

    Raises:
        MunicipalConfigError: a bad registry, key or ledger URL.
        LedgerError: the database cannot be opened.
    """
    municipality, registry = load_registry(config.registry)
    key = load_signing_key(config.signing_key)
    # With metrics on, the office counts what its ledger stored (municipal.metrics).
    office = MeteredOffice if config.metrics is not None else IssuingOffice
    return office(
        municipality=municipality,
        registry=registry,
        fees=config.fees,
        key=key,
        clock=clock,
        ledger=open_ledger(config.database),
    )


def _read(path_name: str, path: object) -> bytes:
    try:
        with open(str(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise MunicipalConfigError(f"cannot read the TLS {path_name} {path}: {exc}") from exc


class MunicipalServer:
    """One municipality process: ``await start()``, then ``await stop()``."""

    def __init__(self, config: MunicipalConfig, office: IssuingOffice | None = None) -> None:
        self.config = config
        self.office = office if office is not None else build_office(config)
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._lease: ReplicaLease | None = None
        self._health = health.aio.HealthServicer()
        #: ``/metrics`` when ``config.metrics`` is set (``municipal.metrics``).
        self.metrics: MetricsListener | None = None

    def _credentials(self) -> grpc.ServerCredentials:
        tls = self.config.tls
        if tls is None:
            raise MunicipalConfigError("mTLS needs [tls]")
        return grpc.ssl_server_credentials(
            [(_read("server key", tls.server_key), _read("server certificate", tls.server_cert))],
            root_certificates=_read("centre CA", tls.centre_ca),
            require_client_auth=True,
        )

    async def start(self) -> int:
        """Bind, register services and start serving; returns the bound port.

        Raises:
            MunicipalConfigError: plaintext off loopback, TLS material unreadable,
                or the address cannot be bound.
            TopologyError: another live replica holds the storage this
                configuration believes exclusive (``municipal.topology``).
            DocumentFontError: no Japanese font to render documents with.
        """
        check_insecure_listen(self.config)
        # The topology check (municipal.topology): refuse before answering anyone.
        lease = ReplicaLease(self.config.database, self.config.replicas).acquire()
        try:
            # The document's shared parts (font, 地紋, 公印: municipal.document.assets)
            # are prepared now, so the first resident does not wait about a second.
            await asyncio.to_thread(warm_up, self.office.municipality.name)
            await self._start_metrics()
            port = await self._serve()
        except BaseException:
            await self._stop_metrics()
            lease.release()
            raise
        self._lease = lease
        return port

    async def _start_metrics(self) -> None:
        if self.config.metrics is None:
            return
        listener = MetricsListener(self.config.metrics)
        try:
            await asyncio.to_thread(listener.start)
        except OSError as exc:
            where = self.config.metrics.listen
            raise MunicipalConfigError(f"cannot serve metrics on {where}: {exc}") from exc
        self.metrics = listener

    async def _stop_metrics(self) -> None:
        listener, self.metrics = self.metrics, None
        if listener is not None:
            await asyncio.to_thread(listener.stop)

    async def _serve(self) -> int:
        # The verifier's interceptor: an access line per call (no bodies), and a
        # body that does not decode is INVALID_ARGUMENT, not UNKNOWN (found by fuzzing).
        # grpc_server_* first (outermost) so a refused body is counted too.
        metered = interceptors() if self.config.metrics is not None else ()
        server = grpc.aio.server(interceptors=(*metered, AccessLogInterceptor()))
        pb_grpc.add_MunicipalServiceServicer_to_server(
            MunicipalServicer(self.office, self.config.fees), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        if self.config.insecure_dev:
            _log.warning(
                "INSECURE DEVELOPMENT MODE: plaintext gRPC on %s, the centre is not "
                "authenticated. Never use this in production.",
                self.config.listen,
            )
            port = server.add_insecure_port(self.config.listen)
        else:
            port = server.add_secure_port(self.config.listen, self._credentials())
        if port == 0:
            raise MunicipalConfigError(f"cannot listen on {self.config.listen}")
        await server.start()
        self._server, self.port = server, port
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self._health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        _log.info("municipality %s listening on port %d", self.office.municipality.code, port)
        return port

    async def wait(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self, grace: float = 5.0) -> None:
        """Report NOT_SERVING, drain in-flight RPCs for ``grace`` seconds, close the ledger."""
        await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(grace)
        self.office.ledger.close()
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        await self._stop_metrics()
