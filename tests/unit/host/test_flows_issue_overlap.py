# SPDX-License-Identifier: Apache-2.0
"""The document is requested while the resident pays, and voided when no fee comes.

Concurrency is shown without timing: the payment below completes only once
the centre has received the request, so a flow that waited for the fee
before requesting would never finish paying (it would time out instead).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from host.client.issuance_models import IssuanceState, MunicipalRefusal, PrintFailure
from host.errors import PaymentTimeoutError
from host.flows import Outcome
from host.flows.issuance_ports import Escrow
from host.flows.issue_request import IssueStep
from host.flows.issue_settle import recover_issuances
from host.journal import Effect, Journal, Phase
from tests.unit.host.issue_fakes import FakeCentre, FakePayment
from tests.unit.host.test_flows_issue import Parts


class PaysAfterTheRequest(FakePayment):
    """The last coin drops only once the centre has the request (or the payment times out)."""

    centre: FakeCentre | None = None

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        assert self.centre is not None

        async def requested() -> None:
            while "request_document" not in self.centre.calls:  # type: ignore[union-attr]
                await asyncio.sleep(0.005)

        try:
            await asyncio.wait_for(requested(), timeout)
        except TimeoutError:
            raise PaymentTimeoutError("the resident did not pay") from None
        return await super().collect(payment_id=payment_id, fee_yen=fee_yen, timeout=timeout)


def _steps(tmp: Path) -> list[tuple[Effect, Phase]]:
    with Journal(tmp / "j.db") as journal:
        return [(e.effect, e.phase) for e in journal.entries()]


def test_the_request_runs_while_the_resident_pays(tmp_path: Path) -> None:
    payment = PaysAfterTheRequest()
    parts = Parts(tmp_path, payment=payment)
    payment.centre = parts.centre
    outcome, flow = parts.run()
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.charged
    assert outcome.printed
    (request,) = parts.centre.requests.values()
    assert request.state is IssuanceState.CHARGED
    assert parts.printer.jobs == [request.pdf]
    assert parts.payment.box == 400
    steps = _steps(tmp_path)
    # Both intents before either outcome; the request answered before the fee was in.
    collect_intent = steps.index((Effect.ISSUE_COLLECT, Phase.INTENT))
    request_intent = steps.index((Effect.ISSUE_REQUEST, Phase.INTENT))
    request_outcome = steps.index((Effect.ISSUE_REQUEST, Phase.OUTCOME))
    collect_outcome = steps.index((Effect.ISSUE_COLLECT, Phase.OUTCOME))
    assert collect_intent < request_intent < request_outcome < collect_outcome
    assert steps.index((Effect.ISSUE_PRINT, Phase.INTENT)) > collect_outcome
    paying = flow.history.index(IssueStep.PAYING)
    assert flow.history[paying : paying + 3] == [
        IssueStep.PAYING,
        IssueStep.REQUESTING,
        IssueStep.PRINTING,
    ]


def test_a_void_the_centre_does_not_answer_is_finished_by_recovery(tmp_path: Path) -> None:
    centre = FakeCentre(down={"report_print_failure"})
    parts = Parts(tmp_path, centre=centre, payment=FakePayment(fail=PaymentTimeoutError("none")))
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    (request,) = centre.requests.values()
    assert request.state is IssuanceState.ISSUED  # the void did not get through
    assert not [line for line in parts.ej.lines() if "ISSUE-VOIDED" in line]
    (plan,) = parts.open_plans()
    assert plan.money_done  # type: ignore[attr-defined]
    assert not plan.centre_done  # type: ignore[attr-defined]
    centre.down = set()

    async def recover() -> None:
        with Journal(tmp_path / "j.db") as journal:
            (done,) = await recover_issuances(journal, centre, parts.payment, ejournal=parts.ej)
            assert not done.charged

    asyncio.run(recover())
    assert request.state is IssuanceState.REFUNDED
    # Unpaid, not a print that timed out: recovery says so, as the flow would have.
    assert centre.failures[-1] is PrintFailure.CANCELLED
    assert parts.printer.titles == []
    assert parts.payment.box == 0
    assert parts.open_plans() == []


def test_a_refused_request_while_paying_gives_the_fee_back(tmp_path: Path) -> None:
    centre = FakeCentre(municipal_refusal=MunicipalRefusal.NO_REGISTERED_SEAL)
    payment = PaysAfterTheRequest()
    parts = Parts(tmp_path, centre=centre, payment=payment)
    payment.centre = centre
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == MunicipalRefusal.NO_REGISTERED_SEAL.value
    assert centre.requests == {}  # refused: nothing issued, nothing to void
    assert parts.payment.returned == 500
    assert parts.payment.box == 0
    assert parts.printer.titles == []
    assert parts.open_plans() == []


class SlowCentre(FakeCentre):
    """Answers RequestDocument only after the payment has already failed."""

    async def request_document(self, session_id: str, **kw: object) -> object:  # type: ignore[override]
        while "payment failed" not in self.calls:
            await asyncio.sleep(0.005)
        return await super().request_document(session_id, **kw)  # type: ignore[arg-type]


class FailsAtOnce(FakePayment):
    """The resident walks away: the collect fails before the centre has answered."""

    centre: FakeCentre | None = None

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        assert self.centre is not None
        self.centre.calls.append("payment failed")
        raise PaymentTimeoutError("the resident did not pay")


def test_a_request_still_in_flight_when_the_payment_fails_is_awaited_and_voided(
    tmp_path: Path,
) -> None:
    centre = SlowCentre()
    payment = FailsAtOnce()
    payment.centre = centre
    parts = Parts(tmp_path, centre=centre, payment=payment)
    outcome, _ = parts.run()
    assert outcome.outcome is Outcome.FAILED
    (request,) = centre.requests.values()
    assert request.state is IssuanceState.REFUNDED
    assert centre.calls.index("payment failed") < centre.calls.index("report_print_failure")
    assert parts.printer.titles == []
    assert parts.payment.box == 0
    assert parts.open_plans() == []
