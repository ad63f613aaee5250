# SPDX-License-Identifier: Apache-2.0
"""CardTransport base class and the URL registry, with a scripted backend."""

from __future__ import annotations

import logging

import pytest

from host.errors import (
    BackendUnavailableError,
    InvalidReaderUrlError,
    MalformedResponseError,
    TransportClosedError,
)
from host.transport import (
    BACKENDS,
    TRACE,
    ApduEvent,
    CardTransport,
    Direction,
    open_transports,
    transport_for_url,
)


class ScriptedTransport(CardTransport):
    """A backend that answers from a script and records what it was sent."""

    scheme = "scripted"

    def __init__(self, answers: list[bytes]) -> None:
        super().__init__("scripted://")
        self.answers = list(answers)
        self.sent: list[bytes] = []
        self.closes = 0

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3BE000FF8131FE4514")

    def _open(self) -> None:
        pass

    def _transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.answers.pop(0)

    def _close(self) -> None:
        self.closes += 1


def test_transmit_needs_open_and_close_twice_is_harmless() -> None:
    transport = ScriptedTransport([b"\x90\x00"])
    with pytest.raises(TransportClosedError):
        transport.transmit(b"\x00\xa4\x04\x0c")
    with transport:
        assert transport in open_transports()
        assert transport.transmit(b"\x00\xa4\x04\x0c") == b"\x90\x00"
    transport.close()
    assert transport.closes == 1
    assert transport not in open_transports()
    with pytest.raises(TransportClosedError):
        transport.open()


def test_response_without_status_word_is_a_typed_error() -> None:
    with ScriptedTransport([b"\x90"]) as transport, pytest.raises(MalformedResponseError):
        transport.transmit(b"\x00\xb0\x00\x00\x04")


def test_observers_and_trace_log_see_redacted_pin(caplog: pytest.LogCaptureFixture) -> None:
    events: list[ApduEvent] = []
    caplog.set_level(TRACE, logger="host.transport.base")
    with ScriptedTransport([b"\x63\xc2"]) as transport:
        transport.add_observer(events.append)
        transport.transmit(bytes.fromhex("0020008004") + b"4321")
        transport.remove_observer(events.append)
        transport.remove_observer(events.append)
    assert [e.direction for e in events] == [Direction.COMMAND, Direction.RESPONSE]
    assert events[0].apdu.redacted
    assert events[1].elapsed_s is not None
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "> 00 20 00 80 04 <4 bytes redacted>" in text
    assert "< 63 C2" in text
    for needle in ("4321", "34 33 32 31", "34333231"):
        assert needle not in text
        assert all(needle not in e.apdu.hex() for e in events)


def test_trace_level_is_below_debug() -> None:
    assert TRACE < logging.DEBUG
    assert logging.getLevelName(TRACE) == "TRACE"


def test_registry_rejects_unknown_schemes_and_reports_missing_backends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidReaderUrlError, match="sim://"):
        transport_for_url("nfc://whatever")
    with pytest.raises(InvalidReaderUrlError):
        transport_for_url("no-scheme")
    monkeypatch.setitem(BACKENDS, "ghost", "host.transport.ghost_backend:Ghost")
    with pytest.raises(BackendUnavailableError, match="ghost"):
        transport_for_url("ghost://x")


def test_repr_shows_url_and_state_only() -> None:
    transport = ScriptedTransport([])
    assert repr(transport) == "<ScriptedTransport scripted:// new>"
    transport.open()
    assert "open" in repr(transport)
    transport.close()
    assert "closed" in repr(transport)


@pytest.mark.parametrize("url", ["sim://[", "pcsc://[", "://", "[::1"])
def test_malformed_urls_are_typed_errors(url: str) -> None:
    with pytest.raises(InvalidReaderUrlError):
        transport_for_url(url).open()
