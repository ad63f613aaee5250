# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.guard``: only the local browser, on the gateway's own origin."""

from __future__ import annotations

import pytest

from host.errors import GatewayRequestError
from host.gateway.guard import check_host, check_origin, check_peer, own_origins


@pytest.mark.parametrize("peer", [("127.0.0.1", 5), ("127.8.9.1", 5), ("::1", 5, 0, 0)])
def test_loopback_peers_pass(peer: object) -> None:
    check_peer(peer)


@pytest.mark.parametrize(
    "peer",
    [("192.0.2.1", 5), ("0.0.0.0", 5), ("::ffff:10.0.0.1", 5, 0, 0), ("fe80::1%eth0", 5), "", None,
     ("not-an-ip", 5), ()],
)  # fmt: skip
def test_other_peers_are_403(peer: object) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        check_peer(peer)
    assert caught.value.status == 403


def test_host_must_name_this_gateway() -> None:
    check_host({"host": "127.0.0.1:8080"}, 8080)
    check_host({"host": "LOCALHOST:8080"}, 8080)
    for host in ("127.0.0.1:8081", "evil.example:8080", "127.0.0.1", ""):
        with pytest.raises(GatewayRequestError, match="Host"):
            check_host({"host": host}, 8080)
    with pytest.raises(GatewayRequestError):
        check_host({}, 8080)


def test_origin_rules() -> None:
    assert own_origins(9) == {"http://127.0.0.1:9", "http://localhost:9"}
    check_origin(
        {"origin": "http://127.0.0.1:9", "sec-fetch-site": "same-origin"}, 9, required=True
    )
    check_origin({}, 9, required=False)  # a page the kiosk opened directly
    check_origin({"sec-fetch-site": "none"}, 9, required=False)
    refused = [
        ({}, True),
        ({"origin": "null"}, False),
        ({"origin": "http://127.0.0.1:10"}, False),
        ({"origin": "https://127.0.0.1:9"}, False),
        ({"origin": "http://127.0.0.1:9", "sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site"}, False),
    ]
    for headers, required in refused:
        with pytest.raises(GatewayRequestError) as caught:
            check_origin(headers, 9, required=required)
        assert caught.value.status == 403
