# SPDX-License-Identifier: Apache-2.0
"""What the terminal API runs flows with: the profile, the devices, the verifier, the journals.

Apart from ``server`` so that the servicer stays about commands and streams;
``build_flow`` is the one place an ``ExecuteRequest`` becomes a flow, with
the transfer's cash question wired to the recovery desk (issue 23.1).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from host.api.firmware import FirmwareBoard
from host.api.prompts import ApiUser, SecureEntry
from host.api.recovery import RecoveryDesk
from host.api.translate import reset_operation, transfer_request
from host.api.user_text import request_language
from host.client import VerifierClient
from host.flows import (
    CardPort,
    CardReadingFlow,
    Event,
    PinResetFlow,
    PrinterPort,
    ReadOutcome,
    ReadRequest,
    ResetOutcome,
    StepTimeouts,
    ThreadedCard,
    TransferFlow,
    TransferOutcome,
)
from host.journal import ElectronicJournal, Journal
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["AgentRuntime", "Flow", "FlowRunner", "Profile", "build_flow", "check_listen"]

Flow = CardReadingFlow | PinResetFlow | TransferFlow
FlowRunner = Callable[[], Awaitable[ReadOutcome | ResetOutcome | TransferOutcome]]


class Profile(StrEnum):
    """The terminal kind: what it offers and where PINs come from."""

    KIOSK = "kiosk"
    ATM = "atm"


@dataclass
class AgentRuntime:
    """What the API needs to run flows: devices, the verifier, the journals."""

    profile: Profile
    terminal_id: str
    verifier: VerifierClient
    journal: Journal
    card_factory: Callable[[], CardPort]
    ejournal: ElectronicJournal | None = None
    printer: PrinterPort | None = None
    secure_entry: SecureEntry | None = None
    timeouts: StepTimeouts = field(default_factory=StepTimeouts)
    threshold_yen: int = 100_000
    reset_otp_first: bool = False
    reset_hours: tuple[dt.time, dt.time] | None = None
    recovery: RecoveryDesk | None = None
    #: The reader the device operations' chip session opens ("" = none).
    reader_url: str = ""
    #: How long a command waits for a removed card to be taken (0 = not at all).
    card_taken_seconds: float = 0.0
    #: The controller board for the operator's UpdateFirmware (None = no controller).
    firmware: FirmwareBoard | None = None

    @classmethod
    def for_reader(cls, reader_url: str, **kw: object) -> AgentRuntime:
        """A runtime whose cards come from ``reader_url`` (one worker thread each)."""
        return cls(
            card_factory=lambda: ThreadedCard(reader_url),
            reader_url=reader_url,
            **kw,  # type: ignore[arg-type]
        )

    def offers(self, command: str) -> bool:
        """Whether this profile offers ``command`` (read_card, pin_reset, transfer)."""
        return command == "read_card" or command == (
            "pin_reset" if self.profile is Profile.KIOSK else "transfer"
        )


def check_listen(address: str) -> str:
    """Return ``address`` when it is ``unix:PATH`` or ``127.0.0.1:PORT``.

    Raises:
        ValueError: any other address.
    """
    if address.startswith("unix:") and len(address) > 5:
        return address
    if re.fullmatch(r"127\.0\.0\.1:\d{1,5}", address):
        return address
    raise ValueError("the terminal API listens only on unix:PATH or 127.0.0.1:PORT")


def build_flow(
    rt: AgentRuntime,
    request: tpb.ExecuteRequest,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[Flow, FlowRunner]:
    """The flow for ``request`` and how to run it.

    Raises:
        ValueError: a field of the command is out of format (``TransferFieldError``
            names it).
    """
    common = {"card": card, "user": user, "journal": rt.journal, "emit": emit,
              "ejournal": rt.ejournal, "timeouts": rt.timeouts}  # fmt: skip
    which = request.WhichOneof("command")
    if which == "transfer":
        treq = transfer_request(request.transfer)
        language = request_language(request.language)  # the receipt's
        tflow = TransferFlow(
            terminal_id=rt.terminal_id, verifier=rt.verifier, printer=rt.printer,
            language=language,
            threshold_yen=rt.threshold_yen, request_id=request.request_id,
            cash_question=rt.recovery.ask if rt.recovery is not None else None,
            **common,  # type: ignore[arg-type]
        )  # fmt: skip
        return tflow, lambda: tflow.run(treq)
    if which == "pin_reset":
        operation = reset_operation(request.pin_reset)
        pflow = PinResetFlow(
            verifier=rt.verifier, ask_otp_first=rt.reset_otp_first, hours=rt.reset_hours,
            **common,  # type: ignore[arg-type]
        )  # fmt: skip
        return pflow, lambda: pflow.run(operation)
    rreq = ReadRequest(request.read_card.read_basic_four, request.read_card.verify_card)
    rflow = CardReadingFlow(verifier=rt.verifier, **common)  # type: ignore[arg-type]
    return rflow, lambda: rflow.run(rreq)
