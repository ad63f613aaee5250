# SPDX-License-Identifier: Apache-2.0
"""Browser JSON <-> TerminalService messages, and the gRPC calls the gateway forwards.

Why protobuf's own JSON mapping: the browser speaks the terminal API's
messages in their canonical proto3 JSON form (field names as in the
.proto, enums by name, bytes as base64), so the gateway translates nothing
by hand and adds no flow logic: an ``ExecuteRequest`` in, each
``ExecuteResponse`` out as it comes, ``AnswerPrompt`` and ``Cancel``
forwarded as they are. A sealed touch entry crosses as base64 ciphertext;
the gateway never sees a PIN. A body that does not parse into the
message is a 400 and nothing is sent to the agent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Final, TypeVar

import grpc
import grpc.aio
from google.protobuf import json_format
from google.protobuf.message import Message

from host.errors import GatewayRequestError
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AGENT_UNAVAILABLE", "AgentBridge", "parse_message", "to_json"]

_log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=Message)

#: The error code the browser gets when the agent cannot be reached.
AGENT_UNAVAILABLE: Final = "agent_unavailable"
#: A command's stream may outlive its own timeout by this much (completion, card removal).
_STREAM_MARGIN_S: Final = 30.0
#: The bound of a stream whose command has no timeout (the flow's steps bound it anyway).
_STREAM_DEFAULT_S: Final = 900.0


def parse_message(value: object, message: _M) -> _M:
    """Fill ``message`` from the browser's JSON object (proto3 JSON mapping).

    Raises:
        GatewayRequestError: 400 when ``value`` is not an object or does not
            fit the message (unknown field, wrong type, bad base64).
    """
    if not isinstance(value, dict):
        raise GatewayRequestError(400, "the body must be a JSON object")
    try:
        return json_format.ParseDict(value, message)
    except (json_format.ParseError, ValueError, TypeError):
        # The parse error names the field, never echoes a value: keep it short anyway.
        raise GatewayRequestError(
            400, f"the body is not a valid {message.DESCRIPTOR.name}"
        ) from None


def to_json(message: Message) -> dict[str, object]:
    """The message as the browser reads it (every field present, proto names)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _unavailable(exc: grpc.aio.AioRpcError) -> GatewayRequestError:
    _log.warning("agent call failed: %s", exc.code().name)
    return GatewayRequestError(503, AGENT_UNAVAILABLE)


class AgentBridge:
    """A gRPC client of the agent's TerminalService, one channel for the gateway's life.

    Args:
        target: the agent's API address (``127.0.0.1:PORT`` or ``unix:PATH``).
        call_timeout: deadline of each unary call, seconds.
    """

    def __init__(self, target: str, *, call_timeout: float = 5.0) -> None:
        self.target = target
        self._timeout = call_timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: tpb_grpc.TerminalServiceAsyncStub | None = None

    def _require(self) -> tpb_grpc.TerminalServiceAsyncStub:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.target)
            self._stub = tpb_grpc.TerminalServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        """Close the channel; harmless twice."""
        if self._channel is not None:
            channel, self._channel, self._stub = self._channel, None, None
            await channel.close()

    async def capabilities(self) -> dict[str, object]:
        """GetCapabilities as JSON.

        Raises:
            GatewayRequestError: 503 when the agent cannot be reached.
        """
        try:
            reply = await self._require().GetCapabilities(
                tpb.GetCapabilitiesRequest(), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        return to_json(reply)

    async def answer(self, request: tpb.AnswerPromptRequest) -> dict[str, object]:
        """Forward AnswerPrompt.

        Raises:
            GatewayRequestError: 422 when the agent cannot open the sealed
                entry (the prompt keeps waiting), 503 when it is unreachable.
        """
        try:
            reply = await self._require().AnswerPrompt(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise GatewayRequestError(422, "entry_rejected") from None
            raise _unavailable(exc) from None
        return to_json(reply)

    async def cancel(self, request: tpb.CancelRequest) -> dict[str, object]:
        """Forward Cancel.

        Raises:
            GatewayRequestError: 503 when the agent cannot be reached.
        """
        try:
            reply = await self._require().Cancel(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        return to_json(reply)

    async def execute(self, request: tpb.ExecuteRequest) -> AsyncIterator[tuple[str, object]]:
        """Run Execute; yields ``(kind, json)`` per message, kind being the oneof's name.

        A failed call ends with ``("error", {"error": "agent_unavailable"})``.
        Closing the iterator early cancels the call, and the agent cancels
        the command (a client that went away).
        """
        seconds = request.timeout_ms / 1000 + _STREAM_MARGIN_S
        call = self._require().Execute(
            request, timeout=seconds if request.timeout_ms else _STREAM_DEFAULT_S
        )
        try:
            async for message in call:
                kind = message.WhichOneof("message") or "unknown"
                yield kind, to_json(getattr(message, kind)) if kind != "unknown" else {}
        except grpc.aio.AioRpcError as exc:
            yield "error", {"error": _unavailable(exc).args[0]}
        finally:
            call.cancel()

    async def watch_status(self) -> AsyncIterator[tuple[str, object]]:
        """Run WatchStatus; yields ``("status", json)``, then ``("error", ...)`` if it fails."""
        call = self._require().WatchStatus(tpb.WatchStatusRequest(), timeout=_STREAM_DEFAULT_S)
        try:
            async for message in call:
                yield "status", to_json(message.status)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.DEADLINE_EXCEEDED:
                yield "error", {"error": _unavailable(exc).args[0]}
        finally:
            call.cancel()
