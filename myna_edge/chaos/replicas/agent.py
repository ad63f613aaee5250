# SPDX-License-Identifier: Apache-2.0
"""A terminal agent process for the replicas scenario: ``myna-edge agent`` with a stand-in pad.

Why not ``myna-edge agent`` itself: over ¥100,000 the ATM profile takes the
signing password only from the secure PIN pad, and this scenario is about
the verifier side (replicas, channel, database), not the pad (the crash
scenario drives the real board firmware). So this process runs the same
``Agent`` — its ``terminal.toml``, journal, recovery, terminal API on a Unix
socket and its own gRPC channel to the replicas — with the pad replaced by
the test card's signing password, and its background recovery every second
instead of every 30 s, so leftovers settle within a CI run. Stops on
SIGTERM/SIGINT like the real agent::

    python -m myna_edge.chaos.replicas.agent --config terminal.toml
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from host.agent import Agent, AgentConfigError, load_agent_config
from host.flows import Prompt
from host.secret import Secret
from hw_sim.card import get_profile

__all__ = ["main"]

_log = logging.getLogger(__name__)


async def _pad(prompt: Prompt) -> Secret:
    """Stands in for the secure PIN pad: the test card's signing password."""
    return Secret.from_text(get_profile("default").sign_password)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent of ``--config`` until SIGTERM; 2 on a configuration error."""
    parser = argparse.ArgumentParser(prog="myna_edge.chaos.replicas.agent", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="terminal.toml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_agent_config(args.config)
    except AgentConfigError as exc:
        print(f"myna_edge.chaos.replicas.agent: {exc}", file=sys.stderr)
        return 2
    agent = Agent(config, secure_entry=_pad, retry_interval=0.2, recovery_interval=1.0)
    asyncio.run(agent.run())
    _log.info("agent %s stopped", config.terminal_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
