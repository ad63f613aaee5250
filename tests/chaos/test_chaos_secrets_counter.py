# SPDX-License-Identifier: Apache-2.0
"""Secrets of the counter check, in-process: 照合番号B and the My Number in no log or record.

The process-level campaign (``myna_edge.chaos.secrets.scenario``, run by
``test_chaos_secrets``) drives the counter check through a counter agent's
terminal API; this is its quick companion, which needs no MicroPython and
no processes: the flow on the virtual card with every logger of this process
at TRACE into a file, the journal, the electronic journal and the AML file
(photo stored) in the same folder, a wrong code first (an error path), then
the campaign's own scanner over the folder. The plant test proves the scan
would see 照合番号B in the wire-trace form a leak would take.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from host.cli import load_issuer_key
from host.flows import StepTimeouts
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, ThreadedCounterCard
from host.journal import ElectronicJournal, Journal
from host.transport.sim import sim_trust_dir
from hw_sim.card.profiles import get_profile
from myna_edge.chaos.secrets.scan import scan
from tests.unit.host.test_flows_counter import FakeStaff

PROFILE = get_profile("default")
SECRETS = {
    "code_b": PROFILE.verification_code_b,
    "wrong_code_b": PROFILE.verification_code_b[:10] + "0000",
    "my_number": PROFILE.person.my_number,
}


def run_counter_check(folder: Path, home: Path) -> None:
    url = f"sim://default?home={home}&persist=0"
    handler = logging.FileHandler(folder / "agent.log", encoding="utf-8")
    handler.setLevel(1)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(1)
    try:

        async def scenario() -> None:
            card = ThreadedCounterCard(url, issuer_key=load_issuer_key(sim_trust_dir(url)))
            staff = FakeStaff([SECRETS["wrong_code_b"], SECRETS["code_b"]])
            try:
                ejournal = ElectronicJournal(folder / "ej.txt", "desk-01")
                with Journal(folder / "journal.sqlite") as journal:
                    flow = CounterCheckFlow(
                        card=card,
                        staff=staff,
                        aml_file=JsonLinesAmlFile(folder / "aml" / "checks.jsonl"),
                        terminal_id="desk-01",
                        staff_id="staff-001",
                        journal=journal,
                        ejournal=ejournal,
                        emit=lambda event: logging.getLogger("events").info("%r", event),
                        store_photo=True,
                        timeouts=StepTimeouts(),
                    )
                    outcome = await flow.run()
                    logging.getLogger("outcome").info("%r", outcome)
                    assert outcome.outcome.value == "completed"
            finally:
                await card.aclose()

        asyncio.run(scenario())
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def test_counter_check_leaves_no_secret(tmp_path: Path, sim_home_dir: Path) -> None:
    folder = tmp_path / "stack"
    folder.mkdir()
    run_counter_check(folder, sim_home_dir)
    log = (folder / "agent.log").read_text(encoding="utf-8")
    assert "00 20 00 80" in log  # the wire trace was on: the VERIFYs were logged, redacted
    hits, files, _ = scan(folder, SECRETS)
    assert files >= 4
    assert hits == []


def test_scan_would_see_the_code_in_a_wire_trace(tmp_path: Path) -> None:
    code = SECRETS["code_b"].encode()
    (tmp_path / "leak.log").write_text(f"> 00 20 00 80 0E {code.hex(' ').upper()}\n")
    hits, _, _ = scan(tmp_path, SECRETS)
    assert {h.label for h in hits} == {"code_b"}
