# SPDX-License-Identifier: Apache-2.0
"""``ChaosStack``: real verifier and agent processes, killed and restarted, all reaped by PID.

The campaign's finaliser must leave nothing running whatever happened, and
a killed verifier must come back on the same port and database.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import grpc

from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.chaos.stack import ChaosStack
from tests.integration.controller_support import require_micropython


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_chaos_stack_restarts_and_reaps_every_process(tmp_path: Path) -> None:
    require_micropython()
    with ChaosStack(tmp_path / "stack", printer=False) as stack:
        stack.start_verifier()
        port = stack.port
        stack.start_agent()
        with grpc.insecure_channel(f"unix:{stack.socket}") as channel:
            stack.wait_agent_ready(tpb_grpc.TerminalServiceStub(channel))
        assert stack.kill_verifier()
        assert not stack.kill_verifier()  # already dead: harmless
        stack.start_verifier()
        assert stack.port == port
        assert stack.database.exists()
        pids = [p.pid for p in stack.started]
        assert [_alive(pid) for pid in pids] == [False, True, True]
    assert not any(_alive(pid) for pid in pids)  # close() killed them by PID
    stack.close()  # twice: harmless


def test_chaos_stack_stops_the_agent_cleanly(tmp_path: Path) -> None:
    require_micropython()
    with ChaosStack(tmp_path / "stack", printer=False) as stack:
        stack.start_verifier()
        stack.start_agent(kill_at="transfer.authorize:intent")  # armed, never reached
        with grpc.insecure_channel(f"unix:{stack.socket}") as channel:
            stack.wait_agent_ready(tpb_grpc.TerminalServiceStub(channel))
        assert stack.agent_alive()
        assert stack.stop_agent() == 0  # SIGTERM: a clean shutdown
        assert not stack.agent_alive()
        stack.start_agent()
        assert stack.kill_agent()
        assert stack.started[-1].returncode == -signal.SIGKILL
