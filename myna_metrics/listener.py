# SPDX-License-Identifier: Apache-2.0
"""``/metrics`` on its own port: loopback by default, other peers refused unless allowed.

Why its own port and not the gRPC one: Prometheus scrapes plain HTTP, and
the gRPC port is mTLS for terminals; a separate listener also keeps a slow
scrape away from the service's event loop (prometheus-client's WSGI server
runs in a daemon thread).

Why two checks: the address (``metrics.listen`` / ``--metrics``) defaults
to a loopback host, and a non-loopback one is refused unless
``metrics.allow`` names the scrapers' networks; at run time a peer that is
neither loopback nor in ``allow`` gets 403 (a wildcard bind must not open
the counters to every network). Nothing here is secret or personal (labels
are method names, codes and reasons), but the endpoint still is an
operator surface (issue 16, "Bad input").

Why ``PROMETHEUS_MULTIPROC_DIR`` is honoured: the verifier's ``--workers N``
runs N processes; its supervisor serves one ``/metrics`` that sums every
worker's files (``verifier.metrics``), so one scrape target per host
whatever the core count.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = [
    "DEFAULT_METRICS_HOST",
    "MetricsConfig",
    "MetricsListener",
    "default_registry",
    "is_loopback",
    "parse_metrics_address",
]

_log = logging.getLogger(__name__)

DEFAULT_METRICS_HOST: Final = "127.0.0.1"
_PATH: Final = "/metrics"
_MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_metrics_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[V6]:PORT`` as (host, port); a bare port is loopback.

    Raises:
        ValueError: not one of those shapes, or a port outside 0-65535.
    """
    if not isinstance(text, str) or not text or len(text) > 300:
        raise ValueError("a metrics address is PORT or HOST:PORT")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_METRICS_HOST, text
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise ValueError("a metrics address is PORT or HOST:PORT (port 0-65535)")
    port = int(port_text)
    if port > 65535:
        raise ValueError("a metrics port is 0-65535")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or c in "[]/" for c in host) or not host.isascii():
        raise ValueError("a metrics address needs a host name or an IP address")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class MetricsConfig:
    """Where ``/metrics`` listens and who besides loopback may scrape it.

    Args:
        listen: ``PORT`` or ``HOST:PORT`` (a bare port binds 127.0.0.1).
        allow: networks (``10.0.0.0/8``, ``192.0.2.7``) whose peers may scrape;
            required for a non-loopback ``listen``.

    Raises:
        ValueError: a bad address or network, or a non-loopback host without ``allow``.
    """

    listen: str
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        host, _ = parse_metrics_address(self.listen)
        self.networks()  # every entry parses
        if not is_loopback(host) and not self.allow:
            raise ValueError(
                f"metrics on a non-loopback address ({host}) needs metrics.allow: "
                "the networks of the Prometheus servers that may scrape it"
            )

    def networks(self) -> tuple[_Network, ...]:
        """``allow`` as IP networks.

        Raises:
            ValueError: an entry that is not an IP address or network.
        """
        out = []
        for entry in self.allow:
            try:
                out.append(ipaddress.ip_network(entry, strict=False))
            except (TypeError, ValueError):
                raise ValueError("metrics.allow holds IP networks like 10.0.0.0/8") from None
        return tuple(out)


def _peer_allowed(peer: str, networks: tuple[_Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer.removeprefix("::ffff:"))
    except ValueError:
        return False
    return address.is_loopback or any(address in net for net in networks)


_App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _guarded(app: _App, networks: tuple[_Network, ...]) -> _App:
    """``app`` for allowed peers on ``/metrics`` only; 403 / 404 otherwise."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not _peer_allowed(str(environ.get("REMOTE_ADDR", "")), networks):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"metrics: this peer is not allowed (metrics.allow)\n"]
        if environ.get("PATH_INFO") != _PATH or environ.get("REQUEST_METHOD") not in (
            "GET",
            "HEAD",
        ):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics: GET /metrics\n"]
        return app(environ, start_response)

    return guarded


class _QuietHandler(WSGIRequestHandler):
    """No access line per scrape on stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        return


def default_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """The process's registry, or in multiprocess mode one that sums every worker's files."""
    if os.environ.get(_MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    for collector in extra:
        registry.register(collector)
    return registry


class MetricsListener:
    """``/metrics`` served by a daemon thread: ``start`` gives the port; ``stop`` is idempotent."""

    def __init__(self, config: MetricsConfig, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else default_registry()
        self.port = 0
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind and serve; returns the bound port.

        Raises:
            OSError: the address cannot be bound.
        """
        host, port = parse_metrics_address(self.config.listen)
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]

        class _Server(ThreadingWSGIServer):
            address_family = family

        app = _guarded(make_wsgi_app(self.registry), self.config.networks())
        server = _Server((host, port), _QuietHandler)
        server.set_app(app)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, name="metrics-listener", daemon=True
        )
        self._thread.start()
        _log.info("metrics on http://%s:%d%s", host, self.port, _PATH)
        return self.port

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
