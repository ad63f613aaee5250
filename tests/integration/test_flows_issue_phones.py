# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance with a smartphone (issue 15), end to end over ``sim://``.

The real issuance centre and reference municipality (``issuance_stack``),
the phone a virtual one behind ``ThreadedCard``. Android proves itself with
its own 4-digit PIN; an iPhone asks for nothing at the terminal: the MFP
shows "authenticate on your phone" and waits for the approval, bounded by
the prompt's time. Declined, no answer, pulled away during the wait and a
lost (revoked) phone end with their own codes, nothing charged, no try
spent, and the phone's PIN nowhere in the journals or logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.card import ApprovalState, CredentialKind
from host.client import ClientConfig
from host.client.issuance import IssuanceClient
from host.client.issuance_models import DocumentKind, DocumentOptions, HouseholdScope
from host.flows import Outcome, StepTimeouts, ThreadedCard
from host.flows.events import CredentialPresented, Event, Prompt, PromptKind
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueChoice, IssueOutcome
from host.flows.on_device import APPROVAL_POLL_SECONDS
from host.journal import ElectronicJournal, Journal
from host.transport.sim import SimTransport
from hw_sim.card import open_card
from hw_sim.card.phones import Approval
from hw_sim.card.profiles import get_profile
from hw_sim.home import sim_home
from hw_sim.pki import open_mobile_pki
from tests.issuance_support import MUNICIPALITY_CODE, IssuanceStack, issuance_stack
from tests.unit.host.flow_fakes import FakeUser
from tests.unit.host.issue_fakes import FakeDocumentPrinter, FakePayment
from tests.verifier_support import VerifierEnv, make_env
from verifier.tls import issue_terminal_certificate

TERMINAL = "mfp-phones-01"
CHOICE = IssueChoice(
    MUNICIPALITY_CODE,
    DocumentKind.RESIDENT_RECORD,
    DocumentOptions(household_scope=HouseholdScope.SELF),
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    made = make_env(tmp_path_factory.mktemp("issue-phones-env"))
    for profile in ("android-default", "iphone-default", "iphone-lost"):
        with open_card(profile, persist=False):
            pass
    open_mobile_pki(sim_home() / "pki").export_public(made.trust / "mobile")
    return made


@pytest.fixture
def stack(env: VerifierEnv, tmp_path: Path) -> Iterator[IssuanceStack]:
    with issuance_stack(env, tmp_path) as running:
        yield running


class Phone(ThreadedCard):
    """A sim:// phone: its approval when presented, then a change during the wait, or a pull."""

    def __init__(self, url: str, start: Approval | None, later: Approval | str | None) -> None:
        super().__init__(url)
        self.polls = 0
        self._start, self._later = start, later

    def _sim(self) -> SimTransport | None:
        transport = self._transport
        return transport if isinstance(transport, SimTransport) and transport.is_open else None

    def _open(self) -> None:
        super()._open()
        sim = self._sim()
        if sim is not None and self._start is not None:
            sim.virtual_card.set_approval(self._start)

    async def approval(self) -> ApprovalState:
        state = await super().approval()
        self.polls += 1
        sim = self._sim()
        if sim is not None and self._later == "pull":
            sim.virtual_card.power_off()  # taken away from the reader while waiting
        elif sim is not None and isinstance(self._later, Approval):
            sim.virtual_card.set_approval(self._later)
        return state


def _issue(
    stack: IssuanceStack,
    tmp_path: Path,
    profile: str,
    *,
    start: Approval | None = None,
    later: Approval | str | None = None,
) -> tuple[IssueOutcome, list[Event], FakeUser, FakePayment, Phone]:
    user = FakeUser(secrets=[get_profile(profile).auth_pin])
    payment = FakePayment(inserted=500)
    events: list[Event] = []
    card = Phone(f"sim://{profile}?persist=0", start, later)

    async def scenario() -> IssueOutcome:
        issued = issue_terminal_certificate(stack.env.tls, TERMINAL)
        config = ClientConfig(
            f"127.0.0.1:{stack.verifier.port}", TERMINAL,
            ca_pem=issued.ca_pem, certificate_pem=issued.certificate_pem,
            key_pem=issued.key_pem, server_name_override="localhost", timeout=15.0,
        )  # fmt: skip
        try:
            async with IssuanceClient(config) as centre:
                with Journal(tmp_path / "journal.sqlite") as journal:
                    flow = IssueFlow(
                        centre=centre, card=card, user=user, payment=payment,
                        printer=FakeDocumentPrinter(), journal=journal, emit=events.append,
                        ejournal=ElectronicJournal(tmp_path / "ej" / "ej.txt", TERMINAL),
                        timeouts=StepTimeouts(
                            prompt=4 * APPROVAL_POLL_SECONDS + 0.5, insert_card=10,
                            card=30, service=30,
                        ),
                        payment_timeout=5, print_timeout=5,
                    )  # fmt: skip
                    return await flow.run(FixedChoice(CHOICE))
        finally:
            await card.aclose()

    return asyncio.run(scenario()), events, user, payment, card


def _presented(events: list[Event]) -> list[CredentialKind]:
    return [e.kind for e in events if isinstance(e, CredentialPresented)]


def test_an_android_proves_with_its_own_pin_and_gets_its_certificate(
    stack: IssuanceStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        outcome, events, user, _, _ = _issue(stack, tmp_path, "android-default")
    assert outcome.outcome is Outcome.COMPLETED, outcome.reason
    assert outcome.charged
    assert _presented(events) == [CredentialKind.ANDROID]
    assert [p.kind for p in user.prompts if p.kind is PromptKind.AUTH_PIN] == [PromptKind.AUTH_PIN]
    assert all(s.wiped for s in user.handed_out)
    pin = get_profile("android-default").auth_pin
    ej = (tmp_path / "ej" / "ej.txt").read_text()
    assert "credential_kind=android" in ej
    assert pin not in caplog.text
    assert pin not in ej
    journal_entries = Journal(tmp_path / "journal.sqlite")
    try:
        assert pin not in repr([e.data for e in journal_entries.entries()])
        assert any(e.data.get("credential_kind") == "android" for e in journal_entries.entries())
    finally:
        journal_entries.close()


def test_an_iphone_asks_no_pin_and_waits_for_the_phone(
    stack: IssuanceStack, tmp_path: Path
) -> None:
    outcome, events, user, _, card = _issue(
        stack, tmp_path, "iphone-default", start=Approval.NO_ANSWER, later=Approval.APPROVED
    )
    assert outcome.outcome is Outcome.COMPLETED, outcome.reason
    assert _presented(events) == [CredentialKind.IPHONE]
    assert user.handed_out == []  # no PIN prompt at the terminal
    shown = [e.kind for e in events if isinstance(e, Prompt)]
    assert PromptKind.APPROVE_ON_PHONE in shown
    assert PromptKind.AUTH_PIN not in shown
    assert card.polls >= 2  # no answer first, then the approval during the wait
    assert "credential_kind=iphone" in (tmp_path / "ej" / "ej.txt").read_text()


@pytest.mark.parametrize(
    ("profile", "start", "later", "outcome", "reason"),
    [
        ("iphone-declined", None, None, Outcome.CANCELLED, "declined_on_phone"),
        ("iphone-default", Approval.NO_ANSWER, None, Outcome.FAILED, "phone_no_answer"),
        ("iphone-default", Approval.NO_ANSWER, "pull", Outcome.FAILED, "card_removed"),
        ("iphone-lost", None, None, Outcome.REFUSED, "CERTIFICATE_REVOKED"),
    ],
    ids=["declined", "no-answer", "pulled-while-waiting", "revoked"],
)
def test_an_iphone_that_does_not_approve_is_charged_nothing(
    stack: IssuanceStack,
    tmp_path: Path,
    profile: str,
    start: Approval | None,
    later: str | None,
    outcome: Outcome,
    reason: str,
) -> None:
    done, events, user, payment, _ = _issue(stack, tmp_path, profile, start=start, later=later)
    assert done.outcome is outcome, done
    assert done.reason == reason
    assert not done.charged
    assert payment.box == 0
    assert user.handed_out == []
    assert _presented(events) == [CredentialKind.IPHONE]
    assert stack.municipality.count() == 0  # nothing was requested
