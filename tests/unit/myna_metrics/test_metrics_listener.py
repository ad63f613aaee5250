# SPDX-License-Identifier: Apache-2.0
"""``myna_metrics.listener``: addresses, the loopback rule, the peer check, a real scrape."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter

from myna_metrics import MetricsConfig, MetricsListener, parse_metrics_address
from myna_metrics.listener import _guarded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:9464", ("::1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_metrics_address(text) == expected


@pytest.mark.parametrize(
    "text", ["", ":9464", "host:", "host:65536", "host:-1", "host:９", "a b:1", "[::1:1", "x" * 400]
)
def test_bad_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="metrics"):
        parse_metrics_address(text)


def test_non_loopback_needs_allow() -> None:
    with pytest.raises(ValueError, match=r"metrics\.allow"):
        MetricsConfig("0.0.0.0:9464")
    with pytest.raises(ValueError, match=r"metrics\.allow"):
        MetricsConfig("10.0.0.5:9464", ("not a network",))
    assert MetricsConfig("0.0.0.0:9464", ("10.0.0.0/8",)).networks()[0].prefixlen == 8
    assert MetricsConfig("9464").networks() == ()


def _call(app: Callable[..., Iterable[bytes]], peer: str, path: str = "/metrics") -> str:
    status: list[str] = []

    def start_response(code: str, headers: list[tuple[str, str]], *_: Any) -> None:
        status.append(code)

    environ = {"REMOTE_ADDR": peer, "PATH_INFO": path, "REQUEST_METHOD": "GET"}
    b"".join(app(environ, start_response))
    return status[0]


def test_peers_outside_allow_are_refused() -> None:
    config = MetricsConfig("0.0.0.0:9464", ("10.0.0.0/8",))

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    app = _guarded(inner, config.networks())
    assert _call(app, "127.0.0.1").startswith("200")
    assert _call(app, "::1").startswith("200")
    assert _call(app, "10.1.2.3").startswith("200")
    assert _call(app, "::ffff:10.1.2.3").startswith("200")
    assert _call(app, "192.0.2.7").startswith("403")
    assert _call(app, "garbage").startswith("403")
    assert _call(app, "127.0.0.1", "/other").startswith("404")


def test_serves_metrics_on_loopback_and_stops() -> None:
    registry = CollectorRegistry()
    counter = Counter("myna_test_things", "Things.", registry=registry)
    counter.inc(3)
    listener = MetricsListener(MetricsConfig("127.0.0.1:0"), registry)
    port = listener.start()
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        assert "myna_test_things_total 3.0" in text
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert refused.value.code == 404
        refused.value.close()
    finally:
        listener.stop()
        listener.stop()  # harmless twice
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


@given(st.text(max_size=40))
def test_any_address_parses_or_raises_value_error(text: str) -> None:
    try:
        host, port = parse_metrics_address(text)
    except ValueError:
        return
    assert 0 <= port <= 65535
    assert host
    assert host.isascii()


@given(peer=st.text(max_size=40), path=st.text(max_size=20), method=st.text(max_size=8))
def test_any_request_is_answered_200_403_or_404(peer: str, path: str, method: str) -> None:
    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    app = _guarded(inner, MetricsConfig("9464").networks())
    status: list[str] = []
    environ = {"REMOTE_ADDR": peer, "PATH_INFO": path, "REQUEST_METHOD": method}
    b"".join(app(environ, lambda code, headers, *_: status.append(code)))
    assert status[0][:3] in {"200", "403", "404"}
    if status[0].startswith("200"):
        assert path == "/metrics"
