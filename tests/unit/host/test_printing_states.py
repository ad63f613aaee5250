# SPDX-License-Identifier: Apache-2.0
"""IPP printer and job attributes → the kiosk's conditions (``host.printing.states``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.flows.issuance_ports import PrintOutcome
from host.printing.states import (
    JobState,
    PrinterCondition,
    fuzz_attributes,
    parse_job_attributes,
    parse_printer_attributes,
)


@pytest.mark.parametrize(
    ("reasons", "condition", "reason"),
    [
        (["none"], PrinterCondition.READY, "none"),
        ("media-empty-report", PrinterCondition.PAPER_OUT, "media-empty"),
        (["media-low-warning", "media-empty-error"], PrinterCondition.PAPER_OUT, "media-empty"),
        (["media-needed"], PrinterCondition.PAPER_OUT, "media-needed"),
        (["media-jam-warning"], PrinterCondition.JAM, "media-jam"),
        (["door-open"], PrinterCondition.COVER_OPEN, "door-open"),
        (["cover-open-report"], PrinterCondition.COVER_OPEN, "cover-open"),
        (["offline-report"], PrinterCondition.OFFLINE, "offline"),
        (["paused"], PrinterCondition.OFFLINE, "paused"),
        (["toner-low-report", "media-low-report"], PrinterCondition.READY, "none"),
    ],
)
def test_state_reasons_map_to_a_condition(
    reasons: object, condition: PrinterCondition, reason: str
) -> None:
    status = parse_printer_attributes({"printer-state": 3, "printer-state-reasons": reasons})
    assert (status.condition, status.reason) == (condition, reason)


def test_a_stopped_or_refusing_queue_is_offline() -> None:
    stopped = parse_printer_attributes({"printer-state": 5, "printer-state-reasons": ["none"]})
    assert (stopped.condition, stopped.reason) == (PrinterCondition.OFFLINE, "stopped")
    refusing = parse_printer_attributes({"printer-state": 3, "printer-is-accepting-jobs": False})
    assert (refusing.condition, refusing.reason) == (PrinterCondition.OFFLINE, "not-accepting-jobs")
    # A boolean is not a printer-state, and an absent one is not "stopped".
    assert parse_printer_attributes({"printer-state": True}).condition is PrinterCondition.READY


def test_condition_values_are_the_agents_device_states() -> None:
    assert [c.value for c in PrinterCondition] == [
        "online",
        "paper_out",
        "jam",
        "cover_open",
        "offline",
    ]


@pytest.mark.parametrize(
    ("raw", "state", "outcome"),
    [
        (9, JobState.COMPLETED, PrintOutcome.COMPLETED),
        (8, JobState.ABORTED, PrintOutcome.ABORTED),
        (7, JobState.CANCELED, PrintOutcome.ABORTED),
        (5, JobState.PROCESSING, None),
        (3, JobState.PENDING, None),
        (42, JobState.UNKNOWN, None),
        ("9", JobState.UNKNOWN, None),
        (None, JobState.UNKNOWN, None),
    ],
)
def test_job_state_and_outcome(raw: object, state: JobState, outcome: PrintOutcome | None) -> None:
    status = parse_job_attributes({"job-state": raw, "job-state-reasons": "job-printing"})
    assert status.state is state
    assert status.state.outcome is outcome
    assert status.reasons == ("job-printing",)


@given(st.binary(max_size=256))
def test_fuzz_harness_never_raises(data: bytes) -> None:
    fuzz_attributes(data)
