# SPDX-License-Identifier: Apache-2.0
"""The XFS4IoT front end (issue 23 part 5): the agent's devices as XFS4IoT services.

Banks' ATM applications speak XFS4IoT (CEN: JSON over WebSocket, release
2024-3 shapes here). This process sits in front of the agent and talks to
it only through the terminal API (``protos/myna/edge/v1/terminal.proto``):
a service publisher, then ``CardReader`` (contactless chip: ReadRawData,
ChipIO, ChipPower, media events), ``PinPad`` (Keyboard.PinEntry and
PinPad.PresentIDC, the PIN never reaching the application), ``Printer``
(PrintRaw) and the vendor ``MynaEdge`` interface (the identity-verified
transfer, its cash question and past outcomes). Every message is checked
against the JSON schemas in ``schemas/``; it serves 127.0.0.1 only unless
explicitly configured (then TLS only). See docs/xfs4iot.md.

Layers: ``messages`` (sans-I/O envelope), ``schema`` (jsonschema),
``session`` (acknowledge, queue, timeout, cancel per connection),
``common`` and one module per service (``cash`` beside ``transfer``),
``agent`` (the gRPC client), ``server`` (websockets), ``cli``.
"""

from __future__ import annotations

from host.xfs4iot.messages import RELEASE, AckStatus, Command, CompletionCode, parse_command
from host.xfs4iot.schema import SchemaBook, schema_files
from host.xfs4iot.server import BASE_PATH, DEFAULT_PORT, Xfs4IotConfig, Xfs4IotServer

__all__ = [
    "BASE_PATH",
    "DEFAULT_PORT",
    "RELEASE",
    "AckStatus",
    "Command",
    "CompletionCode",
    "SchemaBook",
    "Xfs4IotConfig",
    "Xfs4IotServer",
    "parse_command",
    "schema_files",
]
