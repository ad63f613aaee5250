# SPDX-License-Identifier: Apache-2.0
"""``FlowMachine``: the one ending every flow shares, shown on a toy fourth flow.

The toy is what a new flow (certificate issuance, next) looks like: a step
enum, an outcome with a ``reference``, ``run`` handing its steps to
``drive``, and the two hooks. Whatever the steps do, the run ends with the
card released, one ``<FLOW>-END`` line and exactly one ``FlowResult``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

import pytest

from host.card import PinKind
from host.errors import CardRemovedError, FlowRefusedError
from host.flows import Event, FlowFailed, FlowResult, Outcome, PromptKind, StepTimeouts
from host.flows.codes import FailureCode, RefusalReason
from host.flows.machine import Ending, FlowMachine
from host.journal import ElectronicJournal, Journal
from host.journal.records import JsonValue
from tests.unit.host.flow_fakes import FakeCard, FakeUser

FAST = StepTimeouts(prompt=5, insert_card=5, card=5, service=5, printer=5)


class ToyStep(StrEnum):
    START = "start"
    WAIT_CARD = "wait_card"
    ENTER_PIN = "enter_pin"
    READING = "reading"
    REMOVE_CARD = "remove_card"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ToyOutcome:
    outcome: Outcome
    op_id: str
    reason: str = ""

    @property
    def reference(self) -> str:
        return f"ref-{self.op_id}"


class ToyFlow(FlowMachine[ToyStep, ToyOutcome]):
    flow: ClassVar[str] = "toy"
    steps = ToyStep

    #: What the steps raise after the PIN (None: they complete).
    fail_with: Exception | None = None
    _op_id = ""

    async def run(self) -> ToyOutcome:
        self._op_id = Journal.new_op_id()
        return await self.drive(self._op_id, self._steps())

    def _stopped(self, ending: Ending) -> ToyOutcome:
        return ToyOutcome(ending.outcome, self._op_id, reason=ending.reason)

    def _end_facts(self, outcome: ToyOutcome) -> Mapping[str, JsonValue]:
        return {"outcome": outcome.outcome.value, "reason": outcome.reason}

    async def _steps(self) -> ToyOutcome:
        self._to(ToyStep.WAIT_CARD)
        await self._wait_card()
        await self._use_secret(
            pin=PinKind.TEXT,
            prompt=PromptKind.CARD_INFO_PIN,
            text="PIN",
            action=self._read,
            working="reading",
            entering=ToyStep.ENTER_PIN,
        )
        if self.fail_with is not None:
            raise self.fail_with
        self._remove_card()
        return ToyOutcome(Outcome.COMPLETED, self._op_id)

    async def _read(self, pin: object) -> None:
        self._to(ToyStep.READING)


def _run(
    tmp_path: Path, fail_with: Exception | None = None
) -> tuple[ToyOutcome, ToyFlow, list[Event], FakeCard, str]:
    card, events = FakeCard(), []
    with Journal(tmp_path / "j.db") as journal:
        flow = ToyFlow(
            card=card,
            user=FakeUser(secrets=["5678"]),
            journal=journal,
            emit=events.append,
            ejournal=ElectronicJournal(tmp_path / "ej.txt", "k-01"),
            timeouts=FAST,
        )
        flow.fail_with = fail_with
        outcome = asyncio.run(flow.run())
    return outcome, flow, events, card, (tmp_path / "ej.txt").read_text()


def test_a_completed_run_ends_once_with_its_reference(tmp_path: Path) -> None:
    outcome, flow, events, card, ej = _run(tmp_path)
    assert outcome.outcome is Outcome.COMPLETED
    assert flow.history == [
        ToyStep.START,
        ToyStep.WAIT_CARD,
        ToyStep.ENTER_PIN,
        ToyStep.READING,
        ToyStep.REMOVE_CARD,
        ToyStep.DONE,
    ]
    assert events[-1] == FlowResult("toy", Outcome.COMPLETED, f"ref-{outcome.op_id}", "")
    assert sum(isinstance(e, FlowResult) for e in events) == 1
    assert not any(isinstance(e, FlowFailed) for e in events)
    assert card.released == 1
    assert f"{outcome.op_id} TOY-END outcome=completed" in ej


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (CardRemovedError("gone"), Outcome.FAILED, FailureCode.CARD_REMOVED),
        (
            FlowRefusedError(RefusalReason.CERTIFICATE_REVOKED),
            Outcome.REFUSED,
            "CERTIFICATE_REVOKED",
        ),
    ],
)
def test_a_run_stopped_short_fails_once_and_releases_the_card(
    tmp_path: Path, error: Exception, kind: Outcome, reason: str
) -> None:
    outcome, flow, events, card, ej = _run(tmp_path, fail_with=error)
    assert (outcome.outcome, outcome.reason) == (kind, reason)
    assert flow.step is ToyStep.FAILED
    failed = [e for e in events if isinstance(e, FlowFailed)]
    assert [f.code for f in failed] == [reason]
    assert events[-1] == FlowResult("toy", kind, f"ref-{outcome.op_id}", reason)
    assert card.released == 1
    assert f"TOY-END outcome={kind.value} reason={reason}" in ej


def test_a_cancel_before_the_card_ends_the_run_cancelled(tmp_path: Path) -> None:
    card, events = FakeCard(present=False), []
    with Journal(tmp_path / "j.db") as journal:
        flow = ToyFlow(card=card, user=FakeUser(), journal=journal, emit=events.append)

        async def scenario() -> ToyOutcome:
            task = asyncio.ensure_future(flow.run())
            await asyncio.sleep(0.01)
            flow.cancel()
            return await task

        outcome = asyncio.run(scenario())
    assert (outcome.outcome, outcome.reason) == (Outcome.CANCELLED, FailureCode.CANCELLED)
    assert card.released == 1
    assert isinstance(events[-1], FlowResult)
