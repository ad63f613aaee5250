# SPDX-License-Identifier: Apache-2.0
"""The agent's local TerminalService (DESIGN: host/api), for the touchscreen and the ATM app.

XFS4IoT-shaped (``protos/myna/edge/v1/terminal.proto``): a command gets an
acknowledgement (or a refusal), a stream of events and exactly one
completion; prompts are answered by id; commands are cancelled by request
id. Served only on a Unix socket or 127.0.0.1.
"""

from __future__ import annotations

from host.api.listener import TerminalServer
from host.api.prompts import ApiUser, SecureEntry
from host.api.runtime import AgentRuntime, Profile, check_listen
from host.api.server import TerminalServicer

__all__ = [
    "AgentRuntime",
    "ApiUser",
    "Profile",
    "SecureEntry",
    "TerminalServer",
    "TerminalServicer",
    "check_listen",
]
