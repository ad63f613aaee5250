# SPDX-License-Identifier: Apache-2.0
"""The counter check flow over every reader path: ``pcsc://`` (pcscd + vpcd) and ``libnfc://``.

``test_read_face`` drives the surface driver over each path; this drives the
whole ``CounterCheckFlow`` on its ``ThreadedCounterCard`` there (``sim://``
is ``test_flows_counter``'s): a wrong 照合番号B first, counted down by the
card, then the right one, the face's signature checked with the sim PKI's
issuer key, staff shown the screen, the check recorded. Logs are at TRACE
and must hold no code, wrong or right, and no My Number.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from host.card import FaceVerdict
from host.cli import load_issuer_key
from host.flows import Outcome, StepTimeouts
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, CounterOutcome, ThreadedCounterCard
from host.journal import Journal
from host.transport.sim import sim_trust_dir
from hw_sim.card.profiles import get_profile
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, pn532_stack
from tests.unit.host.test_flows_counter import FakeStaff

__all__ = ["pcsc_stack", "pn532_stack"]  # fixtures used by name

PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b
WRONG_B = CODE_B[:10] + "0000"
TIMEOUTS = StepTimeouts(prompt=5, insert_card=10, card=30, service=5, printer=5)


def _check(url: str, home: Path, folder: Path, staff: FakeStaff) -> CounterOutcome:
    key = load_issuer_key(sim_trust_dir(f"sim://default?home={home}"))

    async def scenario() -> CounterOutcome:
        card = ThreadedCounterCard(url, issuer_key=key)
        try:
            with Journal(folder / "journal.sqlite") as journal:
                flow = CounterCheckFlow(
                    card=card,
                    staff=staff,
                    aml_file=JsonLinesAmlFile(folder / "aml.jsonl"),
                    terminal_id="desk-01",
                    staff_id="staff-007",
                    journal=journal,
                    emit=lambda event: None,
                    timeouts=TIMEOUTS,
                )
                return await flow.run()
        finally:
            await card.aclose()

    return asyncio.run(scenario())


@pytest.mark.parametrize("rig_fixture", ["pcsc_stack", "pn532_stack"])
def test_counter_check_over_the_reader_path(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    rig_fixture: str,
) -> None:
    caplog.set_level(1)  # TRACE: the wire trace too
    rig: PcscRig | Pn532Rig = request.getfixturevalue(rig_fixture)
    url = PCSC_URL if isinstance(rig, PcscRig) else rig.url
    staff = FakeStaff([WRONG_B, CODE_B])
    with rig.card("default") as card:
        outcome = _check(url, rig.home, tmp_path, staff)
        verifies = [e for e in card.apdu_log.entries if e.command[1] == 0x20]
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.verdict is FaceVerdict.GENUINE
    assert staff.asked == [(10, False), (9, False)]  # the card counted the wrong code
    assert [s.name for s in staff.screens] == [PROFILE.person.name]
    assert all(s.wiped for s in staff.handed_out)
    # the wrong and the right code on the surface AP, the right one on the text AP
    assert sum(e.command_length == 19 for e in verifies) == 3
    (record,) = [json.loads(line) for line in (tmp_path / "aml.jsonl").read_text().splitlines()]
    assert (record["verdict"], record["photo_compared"]) == ("genuine", True)
    assert "00 20 00 80" in caplog.text  # the VERIFYs were traced, redacted
    for secret in (CODE_B, WRONG_B, PROFILE.person.my_number):
        assert secret not in caplog.text
        assert secret.encode().hex(" ").upper() not in caplog.text
        assert secret.encode().hex().upper() not in caplog.text
