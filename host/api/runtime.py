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
from pathlib import Path
from typing import Final, TypedDict, Unpack

from cryptography.hazmat.primitives.asymmetric import rsa

from host.api.commands import CommandKind, command_kind
from host.api.firmware import FirmwareBoard
from host.api.issue import issue_flow
from host.api.prompts import ApiUser, SecureEntry
from host.api.recovery import RecoveryDesk
from host.api.staff import ApiStaff
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
from host.flows.aml_record import AmlFile, JsonLinesAmlFile
from host.flows.counter import (
    CounterCheckFlow,
    CounterOutcome,
    FaceMatcherPort,
    ThreadedCounterCard,
)
from host.flows.issuance_ports import DocumentPrinterPort, PaymentPort
from host.flows.issue import IssueFlow
from host.flows.issue_request import IssuanceCentre, IssueOutcome
from host.journal import ElectronicJournal, Journal
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = [
    "AgentRuntime",
    "Flow",
    "FlowRunner",
    "Profile",
    "RuntimeOptions",
    "build_flow",
    "check_listen",
    "counter_flow",
    "reading_flow",
    "reset_flow",
    "transfer_flow",
]

Flow = CardReadingFlow | PinResetFlow | TransferFlow | CounterCheckFlow | IssueFlow
FlowRunner = Callable[
    [], Awaitable[ReadOutcome | ResetOutcome | TransferOutcome | CounterOutcome | IssueOutcome]
]
#: The AML file's name beside the journal when the runtime names none.
AML_FILE_NAME: Final = "aml-checks.jsonl"
#: A staff id: 1-64 printable ASCII characters, no spaces (as a request id).
_STAFF_ID: Final = re.compile(r"[\x21-\x7e]{1,64}")


class Profile(StrEnum):
    """The terminal kind: what it offers and where PINs come from."""

    KIOSK = "kiosk"
    ATM = "atm"
    COUNTER = "counter"  # a staffed desk: counter checks, staff type on their screen


class _NeededOptions(TypedDict):
    profile: Profile
    terminal_id: str
    verifier: VerifierClient
    journal: Journal


class RuntimeOptions(_NeededOptions, total=False):
    """``AgentRuntime``'s fields but the card's, for ``AgentRuntime.for_reader``.

    Why a ``TypedDict``: the options are checked by name and type where they
    are given, with no ``type: ignore`` on a splatted dict; a test keeps its
    keys equal to the dataclass's fields. (The four needed ones are in a base
    class, not ``Required[]``: Python 3.11 cannot see that under postponed
    annotations.)
    """

    ejournal: ElectronicJournal | None
    printer: PrinterPort | None
    secure_entry: SecureEntry | None
    timeouts: StepTimeouts
    threshold_yen: int
    reset_otp_first: bool
    reset_hours: tuple[dt.time, dt.time] | None
    recovery: RecoveryDesk | None
    card_taken_seconds: float
    firmware: FirmwareBoard | None
    issuer_key: rsa.RSAPublicKey | None
    aml_file: AmlFile | None
    store_photo: bool
    staff_id: str
    face_matcher: FaceMatcherPort | None
    issuance: IssuanceCentre | None
    payment: PaymentPort | None
    document_printer: DocumentPrinterPort | None
    payment_timeout: float
    print_timeout: float


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
    #: The card-data issuer's public key for the counter check (None: "not checked").
    issuer_key: rsa.RSAPublicKey | None = None
    #: The business's AML file (None: ``aml-checks.jsonl`` beside the journal).
    aml_file: AmlFile | None = None
    #: Also store the chip's photo in each AML record (the operator's choice).
    store_photo: bool = False
    #: Who checks when a counter command names nobody.
    staff_id: str = "staff"
    #: The desk's face-matching reader (None: staff compare the photo).
    face_matcher: FaceMatcherPort | None = None
    #: The MFP's certificate issuance: the centre, the payment device and the
    #: document printer (all three, under the kiosk profile, offer the command).
    issuance: IssuanceCentre | None = None
    payment: PaymentPort | None = None
    document_printer: DocumentPrinterPort | None = None
    #: How long a resident has to pay, and one document to print, seconds.
    payment_timeout: float = 120.0
    print_timeout: float = 120.0

    @classmethod
    def for_reader(cls, reader_url: str, **options: Unpack[RuntimeOptions]) -> AgentRuntime:
        """A runtime whose cards come from ``reader_url`` (one worker thread each).

        A counter desk's cards can also read the card face (``ThreadedCounterCard``).
        """
        if options["profile"] is Profile.COUNTER:
            key = options.get("issuer_key")
            return cls(
                card_factory=lambda: ThreadedCounterCard(reader_url, issuer_key=key),
                reader_url=reader_url,
                **options,
            )
        return cls(card_factory=lambda: ThreadedCard(reader_url), reader_url=reader_url, **options)

    def capabilities(self) -> tpb.GetCapabilitiesResponse:
        """What this agent offers (GetCapabilities)."""
        return tpb.GetCapabilitiesResponse(
            profile=_PROFILES[self.profile],
            read_card=True,
            pin_reset=self.offers(CommandKind.PIN_RESET),
            transfer=self.offers(CommandKind.TRANSFER),
            counter_check=self.offers(CommandKind.COUNTER_CHECK),
            issue_certificate=self.offers(CommandKind.ISSUE_CERTIFICATE),
            touchscreen_secrets=self.touch_secrets,
            receipt_printer=self.printer is not None,
            transfer_identity_threshold_yen=self.threshold_yen,
            firmware_update=self.firmware is not None,
        )

    def offers(self, command: CommandKind) -> bool:
        """Whether this profile offers ``command``: a kiosk resets PINs, an ATM transfers.

        A kiosk (the MFP) issues certificates when its centre, payment device
        and document printer are all configured.
        """
        if command is CommandKind.ISSUE_CERTIFICATE:
            parts = (self.issuance, self.payment, self.document_printer)
            return self.profile is Profile.KIOSK and None not in parts
        return command in _OFFERED[self.profile]

    @property
    def touch_secrets(self) -> bool:
        """Secrets come sealed from a screen (kiosk, counter), not from the secure PIN pad."""
        return self.profile is not Profile.ATM


#: The commands each profile offers (reading the card everywhere).
_OFFERED: dict[Profile, frozenset[CommandKind]] = {
    Profile.KIOSK: frozenset({CommandKind.READ_CARD, CommandKind.PIN_RESET}),
    Profile.ATM: frozenset({CommandKind.READ_CARD, CommandKind.TRANSFER}),
    Profile.COUNTER: frozenset({CommandKind.READ_CARD, CommandKind.COUNTER_CHECK}),
}
#: Each profile on the wire.
_PROFILES: Final = {
    Profile.KIOSK: tpb.TERMINAL_PROFILE_KIOSK,
    Profile.ATM: tpb.TERMINAL_PROFILE_ATM,
    Profile.COUNTER: tpb.TERMINAL_PROFILE_COUNTER,
}


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
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[Flow, FlowRunner]:
    """The flow for ``request`` and how to run it.

    Raises:
        ValueError: no command set, or a field of the command is out of format
            (``TransferFieldError`` names it).
    """
    kind = command_kind(request)
    if kind is CommandKind.TRANSFER:
        return transfer_flow(rt, request, card=card, user=user, emit=emit)
    if kind is CommandKind.PIN_RESET:
        return reset_flow(rt, request.pin_reset, card=card, user=user, emit=emit)
    if kind is CommandKind.READ_CARD:
        return reading_flow(rt, request.read_card, card=card, user=user, emit=emit)
    if kind is CommandKind.COUNTER_CHECK:
        return counter_flow(rt, request.counter_check, card=card, user=user, emit=emit)
    if kind is CommandKind.ISSUE_CERTIFICATE:
        return issue_flow(rt, request.issue_certificate, card=card, user=user, emit=emit)
    raise ValueError("no command")


def counter_flow(
    rt: AgentRuntime,
    command: tpb.CounterCheckCommand,
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[CounterCheckFlow, FlowRunner]:
    """A counter check: staff on the API's prompts, the record in the AML file.

    Raises:
        ValueError: ``staff_id`` is out of format, or the card or user port
            cannot serve a counter check (a runtime built for another profile).
    """
    if command.staff_id and not _STAFF_ID.fullmatch(command.staff_id):
        raise ValueError("staff_id: 1-64 printable ASCII characters, no spaces")
    if not isinstance(card, ThreadedCounterCard) or not isinstance(user, ApiStaff):
        raise ValueError("this agent's reader or screen cannot run a counter check")
    aml = rt.aml_file or JsonLinesAmlFile(Path(rt.journal.path).with_name(AML_FILE_NAME))
    flow = CounterCheckFlow(
        card=card,
        staff=user,
        aml_file=aml,
        terminal_id=rt.terminal_id,
        staff_id=command.staff_id or rt.staff_id,
        journal=rt.journal,
        emit=emit,
        store_photo=rt.store_photo,
        ejournal=rt.ejournal,
        timeouts=rt.timeouts,
        verifier=rt.verifier,
        face_matcher=rt.face_matcher,
    )
    return flow, lambda: flow.run(holder_pin=command.holder_pin)


def transfer_flow(
    rt: AgentRuntime,
    request: tpb.ExecuteRequest,
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[TransferFlow, FlowRunner]:
    """A transfer, its cash question going to the recovery desk (if any).

    Raises:
        TransferFieldError: a field of the command is out of format.
    """
    treq = transfer_request(request.transfer)
    flow = TransferFlow(
        terminal_id=rt.terminal_id,
        verifier=rt.verifier,
        card=card,
        user=user,
        journal=rt.journal,
        emit=emit,
        ejournal=rt.ejournal,
        printer=rt.printer,
        timeouts=rt.timeouts,
        threshold_yen=rt.threshold_yen,
        request_id=request.request_id,
        cash_question=rt.recovery.ask if rt.recovery is not None else None,
        language=request_language(request.language),  # the receipt's
    )
    return flow, lambda: flow.run(treq)


def reset_flow(
    rt: AgentRuntime,
    command: tpb.PinResetCommand,
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[PinResetFlow, FlowRunner]:
    """A PIN reset, with the kiosk's OTP order and opening hours.

    Raises:
        ValueError: the command's operation is out of range.
    """
    operation = reset_operation(command)
    flow = PinResetFlow(
        verifier=rt.verifier,
        card=card,
        user=user,
        journal=rt.journal,
        emit=emit,
        ejournal=rt.ejournal,
        timeouts=rt.timeouts,
        ask_otp_first=rt.reset_otp_first,
        hours=rt.reset_hours,
    )
    return flow, lambda: flow.run(operation)


def reading_flow(
    rt: AgentRuntime,
    command: tpb.ReadCardCommand,
    *,
    card: CardPort,
    user: ApiUser,
    emit: Callable[[Event], None],
) -> tuple[CardReadingFlow, FlowRunner]:
    """A card reading, verified by the verifier when asked."""
    read = ReadRequest(read_basic_four=command.read_basic_four, verify_card=command.verify_card)
    flow = CardReadingFlow(
        verifier=rt.verifier,
        card=card,
        user=user,
        journal=rt.journal,
        emit=emit,
        ejournal=rt.ejournal,
        timeouts=rt.timeouts,
    )
    return flow, lambda: flow.run(read)
