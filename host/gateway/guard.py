# SPDX-License-Identifier: Apache-2.0
"""Who may talk to the kiosk gateway: the local browser, on this page's own origin.

Three checks, each a 403 (``GatewayRequestError``), run before any route:

* the peer address must be loopback: the gateway binds 127.0.0.1, and a
  request relayed from elsewhere (a proxy, a port forward) is still refused;
* ``Host`` must name this gateway (127.0.0.1 or localhost and its port), so
  a hostile web page cannot reach it through DNS rebinding;
* a state-changing request (POST) must carry this gateway's own ``Origin``
  (a cross-site form or fetch carries its own), and a browser's
  ``Sec-Fetch-Site``, when sent, must be ``same-origin`` (or ``none`` for a
  page the kiosk opened directly). Event streams (GET) are checked for
  Origin too when the browser sends one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from host.errors import GatewayRequestError

__all__ = ["check_host", "check_origin", "check_peer", "own_origins"]

_LOCAL_NAMES = ("127.0.0.1", "localhost")


def check_peer(peer: object) -> None:
    """Refuse a connection whose peer is not a loopback address.

    ``peer`` is what ``transport.get_extra_info("peername")`` gives.

    Raises:
        GatewayRequestError: 403 for anything but a loopback IP peer.
    """
    host = peer[0] if isinstance(peer, tuple) and peer else None
    try:
        local = isinstance(host, str) and ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        local = False
    if not local:
        raise GatewayRequestError(403, "only local clients are served")


def own_origins(port: int) -> frozenset[str]:
    """The origins this gateway's pages have."""
    return frozenset(f"http://{name}:{port}" for name in _LOCAL_NAMES)


def check_host(headers: Mapping[str, str], port: int) -> None:
    """Refuse a request whose ``Host`` is not this gateway (DNS rebinding).

    Raises:
        GatewayRequestError: 403 for a missing or foreign Host.
    """
    if headers.get("host", "").lower() not in {f"{name}:{port}" for name in _LOCAL_NAMES}:
        raise GatewayRequestError(403, "unknown Host")


def check_origin(headers: Mapping[str, str], port: int, *, required: bool) -> None:
    """Refuse a cross-origin request; ``required``: the Origin header must be present.

    Raises:
        GatewayRequestError: 403 for a foreign, opaque ("null") or (when
            ``required``) missing Origin, or a cross-site ``Sec-Fetch-Site``.
    """
    origin = headers.get("origin")
    if origin is None:
        if required:
            raise GatewayRequestError(403, "Origin is required")
    elif origin.lower() not in own_origins(port):
        raise GatewayRequestError(403, "cross-origin request")
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise GatewayRequestError(403, "cross-site request")
