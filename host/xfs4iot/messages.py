# SPDX-License-Identifier: Apache-2.0
"""XFS4IoT messages, sans-I/O: parse a command, build acknowledge/event/completion.

Shapes follow the XFS4IoT 2024-3 release (``RELEASE``): every message is
``{"header": {...}, "payload": {...}}``; the header carries ``name``
(``Interface.Message``), ``requestId`` (a positive integer the client
chooses; absent on unsolicited events), ``type`` (command, acknowledge,
event, completion, unsolicited), ``version`` (``"2.0"``), ``timeout`` on
commands (milliseconds, 0 = none but cancellable), ``status`` on a refusing
acknowledge, and ``completionCode`` / ``errorDescription`` on completions.
Field names are the spec's, checked against the open-source KAL XFS4IoT
SP-Dev framework (``Framework/Core/Common/MessageHeader.cs`` and the
per-interface ``*_g.cs`` files generated from the spec's schemas).

``parse_command`` checks only the envelope: anything that is not a
usable command header is refused at acknowledge (``XfsMessageError``).
The payload is checked against the command's JSON schema by the
dispatcher, which then completes ``invalidData`` (the command was
accepted, its data was not).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeGuard

from host.errors import XfsMessageError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "RELEASE",
    "AckStatus",
    "Command",
    "CompletionCode",
    "MessageType",
    "acknowledge",
    "completion",
    "encode",
    "event",
    "parse_command",
    "unsolicited",
]

#: The XFS4IoT release whose message shapes this front end speaks.
RELEASE: Final = "2024-3"
#: Largest message accepted (a PrintRaw of 64 KiB is about 88 KiB of base64).
MAX_MESSAGE_BYTES: Final = 256 * 1024
#: Request ids are positive 32-bit integers (KAL's framework: ``int``).
_MAX_REQUEST_ID: Final = 2**31 - 1
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}\.[A-Za-z][A-Za-z0-9]{0,63}")
_VERSION: Final = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")
#: Name of the acknowledge sent for a message with no usable name.
UNKNOWN_NAME: Final = "Common.Unknown"


class MessageType(StrEnum):
    """The header's ``type``."""

    COMMAND = "command"
    ACKNOWLEDGE = "acknowledge"
    EVENT = "event"
    COMPLETION = "completion"
    UNSOLICITED = "unsolicited"


class AckStatus(StrEnum):
    """A refusing acknowledge's ``status``; nothing follows it."""

    INVALID_MESSAGE = "invalidMessage"
    INVALID_REQUEST_ID = "invalidRequestID"
    TOO_MANY_REQUESTS = "tooManyRequests"


class CompletionCode(StrEnum):
    """The completion header's ``completionCode`` (MessageHeader.cs, 2024-3)."""

    SUCCESS = "success"
    COMMAND_ERROR_CODE = "commandErrorCode"
    CANCELED = "canceled"
    DEVICE_NOT_READY = "deviceNotReady"
    HARDWARE_ERROR = "hardwareError"
    INTERNAL_ERROR = "internalError"
    INVALID_COMMAND = "invalidCommand"
    INVALID_REQUEST_ID = "invalidRequestID"
    TIME_OUT = "timeOut"
    UNSUPPORTED_COMMAND = "unsupportedCommand"
    INVALID_DATA = "invalidData"
    USER_ERROR = "userError"
    UNSUPPORTED_DATA = "unsupportedData"
    FRAUD_ATTEMPT = "fraudAttempt"
    SEQUENCE_ERROR = "sequenceError"
    AUTHORISATION_REQUIRED = "authorisationRequired"
    NO_COMMAND_NONCE = "noCommandNonce"
    INVALID_TOKEN = "invalidToken"  # noqa: S105 - a completion code
    INVALID_TOKEN_NONCE = "invalidTokenNonce"  # noqa: S105 - a completion code
    INVALID_TOKEN_HMAC = "invalidTokenHMAC"  # noqa: S105 - a completion code
    INVALID_TOKEN_FORMAT = "invalidTokenFormat"  # noqa: S105 - a completion code
    INVALID_TOKEN_KEY_NO_VALUE = "invalidTokenKeyNoValue"  # noqa: S105 - a completion code
    NOT_ENOUGH_SPACE = "notEnoughSpace"


@dataclass(frozen=True)
class Command:
    """A command whose header parsed; its payload is not checked yet.

    Attributes:
        name: ``Interface.Command``.
        request_id: the client's id (positive).
        version: the message version the client asked for.
        timeout_ms: 0 = none (still cancellable).
        payload: the payload object ({} when absent or null).
    """

    name: str
    request_id: int
    version: str
    timeout_ms: int = 0
    payload: dict[str, Any] = field(default_factory=dict)


def _refuse(message: str, name: object = "", request_id: object = 0) -> XfsMessageError:
    usable_name = name if isinstance(name, str) and _NAME.fullmatch(name) else ""
    rid = request_id if _is_request_id(request_id) else 0
    return XfsMessageError(
        AckStatus.INVALID_MESSAGE,
        message,
        name=usable_name,
        request_id=rid,
    )


def _is_request_id(value: object) -> TypeGuard[int]:
    return type(value) is int and 1 <= value <= _MAX_REQUEST_ID


def parse_command(data: str | bytes) -> Command:
    """Parse one WebSocket message as a command.

    Raises:
        XfsMessageError: ``invalidMessage`` (not JSON, not an object, no
            usable header, not a command) or ``invalidRequestID`` (the
            request id is not a positive integer). The error carries the
            name and id when the message had usable ones.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise _refuse(f"the message is longer than {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _refuse("the message is not JSON") from None
    if not isinstance(message, dict):
        raise _refuse("the message is not a JSON object")
    header = message.get("header")
    if not isinstance(header, dict):
        raise _refuse("the message has no header object")
    name, rid = header.get("name"), header.get("requestId")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _refuse("header.name is not Interface.Message", name, rid)
    if header.get("type") != MessageType.COMMAND:
        raise _refuse("header.type must be command", name, rid)
    if not _is_request_id(rid):
        raise XfsMessageError(
            AckStatus.INVALID_REQUEST_ID, "header.requestId is not a positive integer", name=name
        )
    version = header.get("version", "2.0")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise _refuse("header.version is not N.M", name, rid)
    timeout = header.get("timeout", 0)
    if type(timeout) is not int or not 0 <= timeout <= _MAX_REQUEST_ID:
        raise _refuse("header.timeout is not a non-negative integer", name, rid)
    payload = message.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise _refuse("payload is not an object", name, rid)
    extra = set(message) - {"header", "payload"}
    if extra:
        raise _refuse("the message has members besides header and payload", name, rid)
    return Command(name, rid, version, timeout, payload)


def _header(name: str, kind: MessageType, version: str, request_id: int | None) -> dict[str, Any]:
    header: dict[str, Any] = {"name": name}
    if request_id is not None:
        header["requestId"] = request_id
    header.update(type=kind.value, version=version)
    return header


def acknowledge(
    name: str, request_id: int, *, status: AckStatus | None = None, version: str = "2.0"
) -> dict[str, Any]:
    """An acknowledge: accepted (no status) or refused (``status``; nothing follows)."""
    header = _header(name or UNKNOWN_NAME, MessageType.ACKNOWLEDGE, version, request_id)
    if status is not None:
        header["status"] = status.value
    return {"header": header}


def event(
    name: str, request_id: int, payload: dict[str, Any] | None = None, *, version: str = "2.0"
) -> dict[str, Any]:
    """An event of a running command."""
    return {
        "header": _header(name, MessageType.EVENT, version, request_id),
        "payload": payload or {},
    }


def unsolicited(
    name: str, payload: dict[str, Any] | None = None, *, version: str = "2.0"
) -> dict[str, Any]:
    """An unsolicited event (no request id)."""
    return {
        "header": _header(name, MessageType.UNSOLICITED, version, None),
        "payload": payload or {},
    }


def completion(
    name: str,
    request_id: int,
    code: CompletionCode,
    payload: dict[str, Any] | None = None,
    *,
    description: str | None = None,
    version: str = "2.0",
) -> dict[str, Any]:
    """A command's one completion."""
    header = _header(name, MessageType.COMPLETION, version, request_id)
    header["completionCode"] = code.value
    if description:
        header["errorDescription"] = description
    message: dict[str, Any] = {"header": header}
    if payload is not None:
        message["payload"] = payload
    return message


def encode(message: dict[str, Any]) -> str:
    """The message as sent on the WebSocket (compact JSON, UTF-8 text)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
