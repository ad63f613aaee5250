# SPDX-License-Identifier: Apache-2.0
"""``[counter] face_matcher`` reaches the counter flow: config, runtime, flow (issue 21.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.agent.config import load_agent_config
from host.api.runtime import AgentRuntime, Profile, counter_flow
from host.api.staff import ApiStaff
from host.errors import AgentConfigError
from host.journal import Journal
from host.peripherals.face_matcher import ThreadedFaceMatcher
from myna.edge.v1 import terminal_pb2 as tpb
from tests.unit.host.test_agent_config import GOOD, write

COUNTER = GOOD.replace('profile = "atm"', 'profile = "counter"') + "\n[counter]\n"


def test_the_face_matcher_url_is_read_from_the_counter_section(tmp_path: Path) -> None:
    desk = load_agent_config(write(tmp_path, COUNTER + 'face_matcher = "/dev/ttyACM1"\n')).counter
    assert desk is not None
    assert desk.face_matcher == "/dev/ttyACM1"
    desk = load_agent_config(write(tmp_path, COUNTER)).counter
    assert desk is not None
    assert desk.face_matcher == ""
    with pytest.raises(AgentConfigError, match=r"counter\.face_matcher"):
        load_agent_config(write(tmp_path, COUNTER + 'face_matcher = ""\n'))


@pytest.mark.parametrize("configured", [True, False])
def test_the_runtime_hands_the_matcher_to_the_flow(tmp_path: Path, configured: bool) -> None:
    matcher = ThreadedFaceMatcher("/dev/ttyACM1") if configured else None
    with Journal(tmp_path / "j.db") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://",
            profile=Profile.COUNTER,
            terminal_id="t",
            verifier=None,  # type: ignore[arg-type]  # a counter check without the PIN needs none
            journal=journal,
            face_matcher=matcher,
        )
        staff = ApiStaff(lambda _: None, touch_secrets=True)
        flow, _ = counter_flow(
            runtime,
            tpb.CounterCheckCommand(),
            card=runtime.card_factory(),
            user=staff,
            emit=lambda _: None,
        )
        assert flow._matcher is matcher
