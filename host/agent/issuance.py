# SPDX-License-Identifier: Apache-2.0
"""The MFP's certificate-issuance parts, built from ``terminal.toml``'s ``[issuance]``.

Why a small factory with registries: the payment device and the document
printer each have one real backend today (ccTalk in ``host.peripherals``,
CUPS in ``host.printing``) and the flow must not know which
(``host.flows.issuance_ports``). A backend is picked by name (payment:
``protocol``) or URL scheme (printer), imported only when opened (STYLE §2:
a missing optional library fails on open, not at import), and a test or a
vendor adds one with ``PAYMENT_BACKENDS[...] = opener``. Example::

    [issuance]                                  # kiosk (MFP) only; off when absent
    payment = "/dev/ttyUSB2"                    # the ccTalk bus (a pyserial URL)
    payment_protocol = "cctalk"                 # the default
    document_printer = "ipp://localhost:631/printers/mfp"
    payment_timeout = 120                       # seconds to pay
    print_timeout = 120                         # seconds for one document
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict
from urllib.parse import urlsplit

import msgspec
from msgspec import UnsetType

from host.api import Profile
from host.client import ClientConfig
from host.client.issuance import IssuanceClient
from host.errors import AgentConfigError
from host.flows.issuance_ports import DocumentPrinterPort, PaymentPort
from host.flows.issue_request import IssuanceCentre
from host.flows.issue_settle import recover_issuances
from host.journal import ElectronicJournal, Journal

__all__ = [
    "PAYMENT_BACKENDS",
    "PRINTER_BACKENDS",
    "IssuanceDesk",
    "IssuanceFile",
    "IssuanceOptions",
    "IssuanceParts",
    "close_port",
    "issuance_desk",
    "open_document_printer",
    "open_payment",
]


@dataclass(frozen=True)
class IssuanceDesk:
    """``[issuance]``: where the MFP's payment device and document printer are."""

    payment: str
    document_printer: str
    payment_protocol: str = "cctalk"
    payment_timeout: float = 120.0
    print_timeout: float = 120.0


class IssuanceFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[issuance]``'s schema (``host.agent.config`` checks the file with it)."""

    payment: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    document_printer: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    payment_protocol: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] = "cctalk"
    payment_timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 120.0
    print_timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 120.0


def issuance_desk(
    path: Path, profile: Profile, section: IssuanceFile | UnsetType
) -> IssuanceDesk | None:
    """``[issuance]`` of the file ``path``, only under the kiosk profile (the MFP).

    Raises:
        AgentConfigError: ``[issuance]`` under another profile.
    """
    if isinstance(section, UnsetType):
        return None
    if profile is not Profile.KIOSK:
        raise AgentConfigError(f"{path}: issuance: only the kiosk profile (the MFP) issues")
    return IssuanceDesk(
        payment=section.payment,
        document_printer=section.document_printer,
        payment_protocol=section.payment_protocol,
        payment_timeout=section.payment_timeout,
        print_timeout=section.print_timeout,
    )


def _lazy(module: str, name: str) -> Callable[[str], Any]:
    def open_url(url: str) -> Any:
        return getattr(importlib.import_module(module), name)(url)

    return open_url


#: Payment protocols -> an opener taking the device's URL.
PAYMENT_BACKENDS: dict[str, Callable[[str], PaymentPort]] = {
    "cctalk": _lazy("host.peripherals.payment", "CcTalkPayment"),
}
#: Document-printer URL schemes -> an opener taking the URL.
PRINTER_BACKENDS: dict[str, Callable[[str], DocumentPrinterPort]] = {
    "ipp": _lazy("host.printing.ipp", "CupsDocumentPrinter"),
}


def open_payment(desk: IssuanceDesk) -> PaymentPort:
    """The payment device ``desk`` names.

    Raises:
        AgentConfigError: an unknown protocol or a URL the backend refuses.
    """
    opener = PAYMENT_BACKENDS.get(desk.payment_protocol)
    if opener is None:
        known = ", ".join(sorted(PAYMENT_BACKENDS))
        raise AgentConfigError(f"issuance.payment_protocol must be one of: {known}")
    try:
        return opener(desk.payment)
    except ValueError as exc:
        raise AgentConfigError(f"issuance.payment: {exc}") from None


def open_document_printer(desk: IssuanceDesk) -> DocumentPrinterPort:
    """The document printer ``desk`` names, by its URL's scheme.

    Raises:
        AgentConfigError: an unknown scheme or a URL the backend refuses.
    """
    opener = PRINTER_BACKENDS.get(urlsplit(desk.document_printer).scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(PRINTER_BACKENDS))
        raise AgentConfigError(f"issuance.document_printer must be one of: {known}")
    try:
        return opener(desk.document_printer)
    except ValueError as exc:
        raise AgentConfigError(f"issuance.document_printer: {exc}") from None


async def close_port(port: object) -> None:
    """Close a port that can be closed (``aclose`` or ``close``, maybe async); harmless twice."""
    closer = getattr(port, "aclose", None) or getattr(port, "close", None)
    if closer is None:
        return
    result = closer()
    if inspect.isawaitable(result):
        await result


class IssuanceOptions(TypedDict, total=False):
    """The ``AgentRuntime`` options of issuance (``host.api.runtime.RuntimeOptions``' keys)."""

    issuance: IssuanceCentre | None
    payment: PaymentPort | None
    document_printer: DocumentPrinterPort | None
    payment_timeout: float
    print_timeout: float


class IssuanceParts:
    """The agent's issuance parts: the centre's client, the payment device, the printer.

    Empty until ``open`` with an ``[issuance]`` section; every method is then
    a no-op, so the agent calls them whatever its profile.
    """

    def __init__(self) -> None:
        self.centre: IssuanceClient | None = None
        self.payment: PaymentPort | None = None
        self.printer: DocumentPrinterPort | None = None
        self._desk: IssuanceDesk | None = None

    def open(self, desk: IssuanceDesk | None, verifier: ClientConfig) -> None:
        """Open the parts ``desk`` names; the centre runs on the verifier (same identity).

        Raises:
            AgentConfigError: an unknown backend or a URL it refuses.
        """
        if desk is None:
            return
        self._desk = desk
        self.centre = IssuanceClient(verifier)
        self.payment = open_payment(desk)
        self.printer = open_document_printer(desk)

    def runtime_options(self) -> IssuanceOptions:
        """The ``AgentRuntime`` options that offer ``IssueCertificateCommand`` (none when empty)."""
        if self._desk is None:
            return {}
        return IssuanceOptions(
            issuance=self.centre,
            payment=self.payment,
            document_printer=self.printer,
            payment_timeout=self._desk.payment_timeout,
            print_timeout=self._desk.print_timeout,
        )

    async def recover(self, journal: Journal, ejournal: ElectronicJournal | None) -> None:
        """Finish the issuances the journal leaves open (charged iff printed).

        Raises:
            ServiceError: the centre is unreachable; they stay journaled.
        """
        if self.centre is not None:
            await recover_issuances(journal, self.centre, self.payment, ejournal=ejournal)

    async def close(self) -> None:
        """Close every part; harmless twice."""
        for port in (self.payment, self.printer, self.centre):
            if port is not None:
                await close_port(port)
        self.centre = self.payment = self.printer = None
        self._desk = None
