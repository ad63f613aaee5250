# SPDX-License-Identifier: Apache-2.0
"""A crashed issuance is finished from the journal by the one rule: charged iff printed.

The crash is a ``BaseException`` raised inside a port at a chosen point:
it escapes the flow as a killed process would leave it (no outcome entry,
no clean-up), and ``recover_issuances`` then runs on the same journal.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.client.issuance_models import IssuanceState
from host.errors import PaymentDeviceError, ServiceStateError, ServiceUnavailableError
from host.flows.issuance_ports import PrintOutcome
from host.flows.issue_request import FixedChoice
from host.flows.issue_settle import plan_issuances, recover_issuances
from host.journal import Effect, ElectronicJournal, Journal, Phase
from tests.unit.host.issue_fakes import FakeCentre, FakeDocumentPrinter, FakePayment
from tests.unit.host.test_flows_issue import WHOLE, Parts


class Crash(BaseException):
    """The agent process dies here."""


def _crash() -> None:
    raise Crash


def _run_until_crash(parts: Parts) -> None:
    async def scenario() -> None:
        with Journal(parts.tmp / "j.db") as journal:
            await parts.flow(journal).run(FixedChoice(WHOLE))

    with pytest.raises(Crash):
        asyncio.run(scenario())


def _recover(parts: Parts, payment: FakePayment | None = None) -> list[object]:
    async def scenario() -> list[object]:
        with Journal(parts.tmp / "j.db") as journal:
            done = await recover_issuances(
                journal, parts.centre, payment or parts.payment, ejournal=parts.ej
            )
            assert plan_issuances(journal.entries()) == []
            return list(done)

    return asyncio.run(scenario())


class CrashingCentre(FakeCentre):
    """Crashes the agent once inside ``crash_in``, after the centre acted."""

    crash_in: str = ""

    async def confirm_printed(self, request_id: str, **kw: object) -> object:  # type: ignore[override]
        answer = await super().confirm_printed(request_id, **kw)  # type: ignore[arg-type]
        if self.crash_in == "confirm_printed":
            self.crash_in = ""
            raise Crash
        return answer

    async def request_document(self, session_id: str, **kw: object) -> object:  # type: ignore[override]
        answer = await super().request_document(session_id, **kw)  # type: ignore[arg-type]
        if self.crash_in == "request_document":
            self.crash_in = ""
            raise Crash
        return answer


def test_crash_after_print_before_confirm_is_confirmed_and_charged(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "confirm_printed"
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    (request,) = centre.requests.values()
    assert parts.printer.jobs == [request.pdf]  # it printed
    assert parts.payment.box == 0  # the fee still in escrow
    (result,) = _recover(parts)
    assert result.charged  # type: ignore[attr-defined]
    assert request.state is IssuanceState.CHARGED
    assert parts.payment.box == 400
    assert parts.payment.returned == 0
    (line,) = [line for line in parts.ej.lines() if "ISSUE-RECONCILED" in line]
    assert "outcome=charged" in line
    assert f"serial={request.serial}" in line


def test_crash_after_the_print_answer_before_confirm_is_charged(tmp_path: Path) -> None:
    printer = FakeDocumentPrinter()
    parts = Parts(tmp_path, printer=printer)
    # Dies in ConfirmPrinted before the centre acts: the print's outcome is journaled.
    parts.centre.down = set()
    real_confirm = parts.centre.confirm_printed

    async def dying(*args: object, **kw: object) -> object:
        raise Crash

    parts.centre.confirm_printed = dying  # type: ignore[method-assign]
    _run_until_crash(parts)
    parts.centre.confirm_printed = real_confirm  # type: ignore[method-assign]
    (request,) = parts.centre.requests.values()
    assert request.state is IssuanceState.ISSUED
    _recover(parts)
    assert request.state is IssuanceState.CHARGED
    assert parts.payment.box == 400


def test_crash_after_request_before_print_is_refunded_and_voided(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "request_document"  # issued, answer lost with the process
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    assert parts.printer.titles == []  # never printed
    (request,) = centre.requests.values()
    (result,) = _recover(parts)
    assert not result.charged  # type: ignore[attr-defined]
    # The same key found the same request: one document, voided, none issued anew.
    assert len(centre.requests) == 1
    assert request.state is IssuanceState.REFUNDED
    assert parts.payment.returned == 500
    assert parts.payment.box == 0


def test_crash_while_printing_counts_as_not_printed(tmp_path: Path) -> None:
    printer = FakeDocumentPrinter(fail=Crash())
    parts = Parts(tmp_path, printer=printer)
    _run_until_crash(parts)
    with Journal(tmp_path / "j.db") as journal:
        prints = [e.phase for e in journal.entries() if e.effect is Effect.ISSUE_PRINT]
    assert prints == [Phase.INTENT]
    _recover(parts)
    (request,) = parts.centre.requests.values()
    assert request.state is IssuanceState.REFUNDED
    assert parts.payment.returned == 500
    assert parts.payment.box == 0


def test_crash_during_collect_gives_back_what_the_device_holds(tmp_path: Path) -> None:
    payment = FakePayment(on_collect=_crash)
    parts = Parts(tmp_path, payment=payment)
    _run_until_crash(parts)
    _recover(parts)
    assert payment.returned == 500
    assert payment.box == 0
    # Requested while paying: recovery learnt it with the key and voided it.
    assert len(parts.centre.requests) == 1
    assert all(r.state is IssuanceState.REFUNDED for r in parts.centre.requests.values())
    assert parts.printer.titles == []


def test_a_refund_the_device_failed_is_repeated_by_recovery(tmp_path: Path) -> None:
    class StuckRefund(FakePayment):
        stuck = True

        async def refund(self, escrow: object) -> int:  # type: ignore[override]
            if self.stuck:
                raise PaymentDeviceError("hopper jam")
            return await super().refund(escrow)  # type: ignore[arg-type]

    payment = StuckRefund()
    parts = Parts(tmp_path, payment=payment, printer=FakeDocumentPrinter(PrintOutcome.ABORTED))
    outcome, _ = parts.run()
    assert not outcome.refunded
    assert payment.returned == 0
    payment.stuck = False
    _recover(parts)
    assert payment.returned == 500


def test_a_device_that_cannot_settle_hands_the_decision_to_the_operator(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "confirm_printed"
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    (request,) = centre.requests.values()

    class Restarted(FakePayment):
        async def take(self, escrow: object) -> int:  # type: ignore[override]
            raise PaymentDeviceError("no money is held for this payment")

    results = _recover(parts, Restarted())  # _recover checks nothing is left open
    assert [r.charged for r in results] == [True]  # type: ignore[attr-defined]
    assert request.state is IssuanceState.CHARGED
    (line,) = [line for line in parts.ej.lines() if "ISSUE-MONEY-TO-OPERATOR" in line]
    assert "action=keep" in line
    assert "fee_yen=400" in line


def test_a_confirmation_the_centre_refuses_for_good_goes_to_the_operator(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "confirm_printed"
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    centre.down = set()

    async def refused(*args: object, **kw: object) -> object:
        raise ServiceStateError("ConfirmPrinted failed", code="FAILED_PRECONDITION")

    centre.confirm_printed = refused  # type: ignore[method-assign]
    _recover(parts)  # closes the plan instead of retrying for ever
    assert parts.payment.box == 400  # printed: the fee is still kept
    (line,) = [line for line in parts.ej.lines() if "ISSUE-CENTRE-TO-OPERATOR" in line]
    assert "error=FAILED_PRECONDITION" in line


def test_recovery_with_the_centre_down_leaves_everything_open(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "confirm_printed"
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    centre.down = {"confirm_printed"}

    async def scenario() -> None:
        with Journal(tmp_path / "j.db") as journal:
            with pytest.raises(ServiceUnavailableError):
                await recover_issuances(journal, centre, parts.payment)
            assert len(plan_issuances(journal.entries())) == 1

    asyncio.run(scenario())
    assert parts.payment.box == 0
    assert parts.payment.returned == 0
    centre.down = set()
    _recover(parts)
    assert parts.payment.box == 400


def test_recovery_never_writes_personal_data_to_the_operator_journal(tmp_path: Path) -> None:
    centre = CrashingCentre()
    centre.crash_in = "confirm_printed"
    parts = Parts(tmp_path, centre=centre)
    _run_until_crash(parts)
    _recover(parts)
    (request,) = centre.requests.values()
    text = "\n".join(ElectronicJournal(tmp_path / "ej" / "ej.log", "mfp-01").lines())
    assert request.pdf.decode() not in text
    assert "1234" not in text
