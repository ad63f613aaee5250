# SPDX-License-Identifier: Apache-2.0
"""Face-matcher driver <-> emulator over ptys, the CLI, and the counter flow using the device.

The flow runs over the virtual card (``sim://``) with the real
``ThreadedFaceMatcher`` talking to ``SimFaceMatcher`` on a pty; the staff are
the counter tests' behavioural fake, so "staff asked" is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import FaceVerdict
from host.flows import Outcome
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, CounterOutcome, CounterReason, ThreadedCounterCard
from host.journal import Journal
from host.peripherals.face_matcher import (
    FaceMatcher,
    MatcherState,
    MatchOutcome,
    MsgType,
    RejectCode,
    ThreadedFaceMatcher,
    encode_frame,
)
from hw_sim.devices.face_matcher import SimFaceMatcher, SimOutcome
from hw_sim.pki import TestPki
from tests.unit.host.test_flows_counter import CODE_B, FAST, NOW, FakeStaff

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def sim() -> Iterator[SimFaceMatcher]:
    with SimFaceMatcher(SimOutcome.MATCH) as device:
        yield device


def test_driver_and_emulator_agree_on_every_outcome(sim: SimFaceMatcher) -> None:
    with FaceMatcher(sim.url) as device:
        assert device.identity is not None
        assert (device.identity.version, device.identity.serial) == (1, "SIM-FM-0001")
        assert device.status() is MatcherState.READY
        result = device.match(PNG, timeout=0.5)
        assert (result.outcome, result.score) == (MatchOutcome.MATCH, 87)
        for outcome, wire in [
            (SimOutcome.NO_MATCH, MatchOutcome.NO_MATCH),
            (SimOutcome.NO_FACE, MatchOutcome.NO_FACE),
            (SimOutcome.BUSY, MatchOutcome.BUSY),
            (SimOutcome.ERROR, MatchOutcome.ERROR),
        ]:
            sim.set_outcome(outcome, 33)
            assert device.match(PNG, timeout=0.5).outcome is wire
        assert device.status() is MatcherState.READY
        sim.set_outcome(SimOutcome.BUSY)
        assert device.status() is MatcherState.BUSY
    assert sim.matches == 5
    assert sim.last_photo == PNG


def test_the_emulator_rejects_a_bad_frame_and_the_driver_carries_on(sim: SimFaceMatcher) -> None:
    with FaceMatcher(sim.url) as device:
        port = device._port
        assert port is not None
        port.write(b"\xa5\x02\x09\x00\x00\x00\x00")  # STATUS with a wrong CRC
        port.timeout = 2.0
        reject = encode_frame(MsgType.REJECT, 0, bytes((RejectCode.BAD_FRAME,)))
        assert port.read(len(reject)) == reject
        assert device.status() is MatcherState.READY
    assert sim.rejects == 1


def test_cli_outcome_is_changed_on_standard_input(tmp_path: Path) -> None:
    link = tmp_path / "fm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "sim", "face-matcher", "--link", str(link)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        assert "face matcher on" in proc.stdout.readline()
        with FaceMatcher(str(link)) as device:
            assert device.match(PNG, timeout=0.5).outcome is MatchOutcome.MATCH
            proc.stdin.write("outcome no-face\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "outcome no-face"
            assert device.match(PNG, timeout=0.5).outcome is MatchOutcome.NO_FACE
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
        assert not link.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            stream.close()


# -- the counter flow with the device -------------------------------------------


@pytest.fixture(scope="module")
def issuer(sim_home_dir: Path) -> rsa.RSAPublicKey:
    return TestPki.open(sim_home_dir / "pki").card_data_key().public_key()


def check(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey, matcher: ThreadedFaceMatcher
) -> tuple[CounterOutcome, FakeStaff, dict[str, object]]:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    staff = FakeStaff([CODE_B])

    async def scenario() -> CounterOutcome:
        with Journal(tmp_path / "j.db") as journal:
            flow = CounterCheckFlow(
                card=card,
                staff=staff,
                aml_file=JsonLinesAmlFile(tmp_path / "aml.jsonl"),
                terminal_id="desk-01",
                staff_id="staff-042",
                journal=journal,
                emit=lambda _: None,
                timeouts=FAST,
                clock=lambda: NOW,
                face_matcher=matcher,
            )
            try:
                return await flow.run()
            finally:
                await card.aclose()

    outcome = asyncio.run(scenario())
    (record,) = [json.loads(x) for x in (tmp_path / "aml.jsonl").read_text().splitlines()]
    return outcome, staff, record


def test_device_match_completes_without_asking_staff(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey, sim: SimFaceMatcher
) -> None:
    outcome, staff, record = check(tmp_path, sim_home_dir, issuer, ThreadedFaceMatcher(sim.url))
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.verdict is FaceVerdict.GENUINE
    assert staff.screens == []  # the device compared
    assert record["photo_compared"] is True
    assert record["method"] == "ic-chip/card-surface-ap/verification-code-b/face-matcher"
    assert sim.last_photo is not None
    assert sim.last_photo[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def test_device_no_match_is_a_photo_mismatch(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey, sim: SimFaceMatcher
) -> None:
    sim.set_outcome(SimOutcome.NO_MATCH)
    outcome, staff, record = check(tmp_path, sim_home_dir, issuer, ThreadedFaceMatcher(sim.url))
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == CounterReason.PHOTO_MISMATCH
    assert staff.screens == []
    assert record["photo_compared"] is False
    assert str(record["method"]).endswith("/face-matcher")


@pytest.mark.parametrize("outcome", [SimOutcome.NO_FACE, SimOutcome.ERROR])
def test_no_face_or_error_falls_back_to_staff(
    tmp_path: Path,
    sim_home_dir: Path,
    issuer: rsa.RSAPublicKey,
    sim: SimFaceMatcher,
    outcome: SimOutcome,
) -> None:
    sim.set_outcome(outcome)
    result, staff, record = check(tmp_path, sim_home_dir, issuer, ThreadedFaceMatcher(sim.url))
    assert len(staff.screens) == 1  # staff were asked
    assert result.outcome is Outcome.COMPLETED  # FakeStaff confirms
    assert record["method"] == "ic-chip/card-surface-ap/verification-code-b"
    assert sim.matches == 1
