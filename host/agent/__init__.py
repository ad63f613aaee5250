# SPDX-License-Identifier: Apache-2.0
"""The agent process: ``terminal.toml``, start-up recovery, the local API, signals.

``load_agent_config`` checks the file strictly; ``Agent`` opens the journal,
resolves what a crash left unresolved, then serves ``TerminalService``;
``cli.add_parser`` registers ``myna-edge agent --config terminal.toml``.
"""

from __future__ import annotations

from host.agent.config import AgentConfig, AgentConfigError, load_agent_config
from host.agent.runner import Agent, reverse_unconfirmed

__all__ = ["Agent", "AgentConfig", "AgentConfigError", "load_agent_config", "reverse_unconfirmed"]
