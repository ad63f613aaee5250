# SPDX-License-Identifier: Apache-2.0
"""The kiosk gateway (issue 8): the touchscreen app's local web server beside the agent.

It serves the reference touchscreen application (``static/``: plain HTML,
CSS and JavaScript, no build step) on 127.0.0.1 and bridges the browser to
the agent's TerminalService with JSON and Server-Sent Events. The gRPC
terminal API stays the source of truth: the gateway forwards commands,
events, prompt answers and cancels and adds no flow logic. PINs typed on
the touchscreen are sealed in the page to the agent's per-prompt key
(``host/api/touch-entry.md``), so the gateway only ever relays ciphertext.
"""

from __future__ import annotations

from host.gateway.bridge import AgentBridge
from host.gateway.server import STATIC_DIR, Gateway, GatewayConfig, Handler

__all__ = ["STATIC_DIR", "AgentBridge", "Gateway", "GatewayConfig", "Handler"]
