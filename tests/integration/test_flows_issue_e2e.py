# SPDX-License-Identifier: Apache-2.0
"""The MFP's issuance flow end to end: virtual card, real centre and municipality over mTLS.

The card is the ``sim://`` virtual card behind ``ThreadedCard``, the centre
a real ``VerifierServer`` with ``[issuance]`` and the reference
municipality (``tests.issuance_support``), reached by ``IssuanceClient``
over mTLS; the payment device and the print engine are the unit tests'
behavioural doubles (their real backends have their own suites). Checked
from the municipality's ledger and the printed bytes: charged iff printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.client import ClientConfig
from host.client.issuance import IssuanceClient
from host.client.issuance_models import DocumentKind, DocumentOptions, HouseholdScope
from host.flows import Outcome, StepTimeouts, ThreadedCard
from host.flows.issuance_ports import PrintOutcome
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueChoice, IssueOutcome
from host.flows.issue_settle import plan_issuances
from host.journal import ElectronicJournal, Journal
from hw_sim.card.profiles import get_profile
from tests.issuance_support import MUNICIPALITY_CODE, IssuanceStack, issuance_stack
from tests.unit.host.flow_fakes import FakeUser
from tests.unit.host.issue_fakes import FakeDocumentPrinter, FakePayment
from tests.verifier_support import VerifierEnv, make_env
from verifier.tls import issue_terminal_certificate

TERMINAL = "mfp-e2e-01"
CHOICE = IssueChoice(
    MUNICIPALITY_CODE,
    DocumentKind.RESIDENT_RECORD,
    DocumentOptions(household_scope=HouseholdScope.SELF),
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("issue-e2e-env"))


@pytest.fixture
def stack(env: VerifierEnv, tmp_path: Path) -> Iterator[IssuanceStack]:
    with issuance_stack(env, tmp_path) as running:
        yield running


def _client(stack: IssuanceStack) -> IssuanceClient:
    issued = issue_terminal_certificate(stack.env.tls, TERMINAL)
    config = ClientConfig(
        f"127.0.0.1:{stack.verifier.port}",
        TERMINAL,
        ca_pem=issued.ca_pem,
        certificate_pem=issued.certificate_pem,
        key_pem=issued.key_pem,
        server_name_override="localhost",
        timeout=15.0,
    )
    return IssuanceClient(config)


def _issue(
    stack: IssuanceStack, tmp_path: Path, printer: FakeDocumentPrinter, payment: FakePayment
) -> IssueOutcome:
    pin = get_profile("default").auth_pin

    async def scenario() -> IssueOutcome:
        card = ThreadedCard("sim://default?persist=0")
        try:
            async with _client(stack) as centre:
                with Journal(tmp_path / "journal.sqlite") as journal:
                    flow = IssueFlow(
                        centre=centre,
                        card=card,
                        user=FakeUser(secrets=[pin]),
                        payment=payment,
                        printer=printer,
                        journal=journal,
                        emit=lambda event: None,
                        ejournal=ElectronicJournal(tmp_path / "ej" / "ej.txt", TERMINAL),
                        timeouts=StepTimeouts(prompt=10, insert_card=10, card=30, service=30),
                        payment_timeout=5,
                        print_timeout=5,
                    )
                    outcome = await flow.run(FixedChoice(CHOICE))
                    assert plan_issuances(journal.entries()) == []
                    return outcome
        finally:
            await card.aclose()

    return asyncio.run(scenario())


def test_a_resident_record_is_printed_once_and_charged(
    stack: IssuanceStack, tmp_path: Path
) -> None:
    printer, payment = FakeDocumentPrinter(), FakePayment(inserted=500)
    outcome = _issue(stack, tmp_path, printer, payment)
    assert outcome.outcome is Outcome.COMPLETED, outcome.reason
    assert outcome.charged
    (pdf,) = printer.jobs
    assert pdf.startswith(b"%PDF")
    assert printer.titles == [outcome.serial]
    assert stack.municipality.state(outcome.serial) == "PRINTED"
    assert payment.box == outcome.fee_yen > 0
    assert payment.change == 500 - outcome.fee_yen


def test_a_jammed_print_is_voided_and_refunded(stack: IssuanceStack, tmp_path: Path) -> None:
    printer, payment = FakeDocumentPrinter(outcome=PrintOutcome.ABORTED), FakePayment(inserted=500)
    outcome = _issue(stack, tmp_path, printer, payment)
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "print_failed"
    assert outcome.serial
    assert stack.municipality.state(outcome.serial) == "VOID"
    assert payment.box == 0
    assert payment.returned == 500
