# SPDX-License-Identifier: Apache-2.0
"""The terminal API's certificate-issuance command (MFP, kiosk profile): command to flow.

Apart from ``runtime`` (which stays within its size): ``issue_flow`` builds
the ``IssueFlow`` for an ``IssueCertificateCommand`` from the runtime's
centre, payment device and document printer, with the command's choice
checked against the centre's offers (``FixedChoice``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from host.api.prompts import ApiUser
from host.api.translate import issue_choice
from host.flows import CardPort, Event
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueOutcome
from myna.edge.v1 import terminal_pb2 as tpb

if TYPE_CHECKING:  # runtime imports this module
    from collections.abc import Awaitable

    from host.api.runtime import AgentRuntime

__all__ = ["issue_flow"]


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
    choice = issue_choice(command)
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
    return flow, lambda: flow.run(FixedChoice(choice))
