# SPDX-License-Identifier: Apache-2.0
"""The terminal API's certificate-issuance command (MFP, kiosk profile): command to flow.

Apart from ``runtime`` (which stays within its size): ``issue_flow`` builds
the ``IssueFlow`` for an ``IssueCertificateCommand`` from the runtime's
centre, payment device and document printer, with the command's choice
checked against the centre's offers (``FixedChoice``), or chosen on the
kiosk screen (``choose_on_screen``: ``ScreenChoice`` sends the offers in one
CHOOSE_DOCUMENT prompt, and the answer is checked the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from host.api.prompts import ApiUser
from host.api.translate import issue_choice
from host.client.issuance import DOCUMENT_KINDS, HOUSEHOLD_SCOPES, MUNICIPAL_REFUSALS
from host.client.issuance_models import MunicipalityOffer
from host.flows import CardPort, Event
from host.flows.issue import IssueFlow
from host.flows.issue_request import ChosenDocument, DocumentChooser, FixedChoice, IssueOutcome
from host.prompt_texts import PromptKey, prompt_text
from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import terminal_pb2 as tpb

if TYPE_CHECKING:  # runtime imports this module
    from collections.abc import Awaitable

    from host.api.runtime import AgentRuntime

__all__ = ["ScreenChoice", "issue_flow", "offers_message"]

_NO_REFUSAL: Final = mpb.MUNICIPAL_REFUSAL_UNSPECIFIED
_REFUSALS_TO_WIRE: Final = {
    refusal: wire for wire, refusal in MUNICIPAL_REFUSALS.items() if refusal is not None
}


def offers_message(offers: tuple[MunicipalityOffer, ...]) -> tpb.PromptEvent:
    """The CHOOSE_DOCUMENT prompt: what the centre offers, per municipality."""
    text = prompt_text(PromptKey.CHOOSE_DOCUMENT)
    return tpb.PromptEvent(
        type=tpb.PROMPT_TYPE_CHOOSE_DOCUMENT,
        text=text.en,
        message=tpb.UserMessage(key=text.key, ja=text.ja, en=text.en),
        offers=[
            ipb.MunicipalityOffer(
                municipality_code=m.municipality_code,
                municipality_name=m.municipality_name,
                refusal=_REFUSALS_TO_WIRE.get(m.refusal, _NO_REFUSAL) if m.refusal else _NO_REFUSAL,
                offers=[
                    mpb.DocumentOffer(
                        kind=DOCUMENT_KINDS[o.kind],
                        title=o.title,
                        fee_yen_per_copy=o.fee_yen_per_copy,
                        household_scopes=[HOUSEHOLD_SCOPES[s] for s in o.household_scopes],
                        max_copies=o.max_copies,
                    )
                    for o in m.offers
                ],
            )
            for m in offers
        ],
    )


class ScreenChoice:
    """The resident chooses on the kiosk screen, from the offers; checked as ``FixedChoice``.

    Why a port and not a flow step: the flow asks a ``DocumentChooser``
    whatever the source, so the same checks hold for a command's choice and
    for a screen's.
    """

    def __init__(self, user: ApiUser) -> None:
        self._user = user

    async def choose(self, offers: tuple[MunicipalityOffer, ...]) -> ChosenDocument | None:
        """The offer the resident picked, or None when they declined.

        Raises:
            FlowRefusedError: the pick is not among the offers.
        """
        choice = await self._user.choose_document(offers_message(offers))
        return None if choice is None else await FixedChoice(choice).choose(offers)


def issue_flow(
    rt: AgentRuntime,
    command: tpb.IssueCertificateCommand,
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[IssueFlow, Callable[[], Awaitable[IssueOutcome]]]:
    """A certificate issuance with the command's choice (checked against the offers).

    Raises:
        ValueError: the choice is out of format, or this runtime has no
            centre, payment device or document printer.
    """
    chooser: DocumentChooser = (
        ScreenChoice(user) if command.choose_on_screen else FixedChoice(issue_choice(command))
    )
    if rt.issuance is None or rt.payment is None or rt.document_printer is None:
        raise ValueError("this agent has no issuance centre, payment device or document printer")
    flow = IssueFlow(
        centre=rt.issuance,
        card=card,
        user=user,
        payment=rt.payment,
        printer=rt.document_printer,
        journal=rt.journal,
        emit=emit,
        ejournal=rt.ejournal,
        timeouts=rt.timeouts,
        payment_timeout=rt.payment_timeout,
        print_timeout=rt.print_timeout,
    )
    return flow, lambda: flow.run(chooser)
