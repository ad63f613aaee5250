# SPDX-License-Identifier: Apache-2.0
"""The host agent's exception tree.

Every error the host raises on purpose is a ``MynaEdgeError``; callers catch a
branch, never a foreign library's exception (those are translated once, at the
boundary that met them, and chained with ``from``). Where a builtin means the
same thing the class inherits it too, so ``except TimeoutError`` still works.
Codes (status words, tries left) are attributes, never parsed from text, and
no message or repr ever carries a PIN, password or personal data::

    MynaEdgeError
    ├── TransportError
    │   ├── BackendUnavailableError        the backend's library/service is missing
    │   ├── InvalidReaderUrlError (ValueError)
    │   ├── ReaderNotFoundError
    │   ├── NoCardError
    │   ├── CardRemovedError               the card left mid-command
    │   ├── ReaderBusyError                another process holds the card (sharing violation)
    │   ├── TransportClosedError
    │   └── TransportTimeoutError (TimeoutError)
    ├── ProtocolError                      the card's answer cannot be understood
    │   ├── MalformedResponseError         shorter than a status word, bad chaining
    │   └── DataFormatError                a file's content does not parse (TLV, DER)
    ├── CardError                          the card answered with an error status word
    │   ├── FileNotFoundOnCardError        6A82
    │   ├── SecurityStatusError            6982: a PIN must be verified first
    │   ├── WrongPinError                  63Cx: .tries_left
    │   ├── PinBlockedError                6984 / 63C0
    │   ├── ConditionsNotSatisfiedError    6985
    │   ├── WrongLengthError               6700 / 6Cxx
    │   ├── WrongParametersError           6A86 / 6B00 / 6A80
    │   ├── InstructionNotSupportedError   6D00 / 6E00
    │   ├── ApprovalRequiredError          a phone's holder has not approved (6600 / 6401)
    │   └── UnexpectedStatusError          anything else not 9000
    ├── IntegrityError                     card data fails its integrity record
    ├── PinPolicyError (ValueError)        a PIN breaks the card's rules; nothing was sent
    ├── PeripheralError                    a serial peripheral (controller, printer) failed
    │   ├── BoardAbsentError               the serial port cannot be opened
    │   ├── BoardSilentError (TimeoutError) no handshake, no answer, link retries spent
    │   ├── IncompatibleBoardError         the board speaks another protocol version
    │   ├── BoardRefusedError              the board refused a command: .status
    │   │   ├── BoardTamperedError         tamper opened: keys erased until re-commissioned
    │   │   └── BoardNotCommissionedError  no key injected yet
    │   ├── InvalidPinBlockError           a PIN block is malformed, fails its MAC, or is replayed
    │   ├── EntryCancelledError            the user or the host cancelled secure entry
    │   ├── EntryTimeoutError (TimeoutError) the user did not finish in time
    │   ├── PrinterError                   the receipt printer cannot print
    │   │   ├── PaperOutError
    │   │   ├── CoverOpenError
    │   │   └── PrinterUnavailableError    the document printer cannot take a job: .state
    │   ├── PaymentError                   the coin/bill acceptor failed or was not paid
    │   │   ├── PaymentTimeoutError (TimeoutError) not paid in time; inserted money returned
    │   │   ├── PaymentCancelledError      cancelled while paying; inserted money returned
    │   │   └── PaymentDeviceError         the device failed or answered out of protocol
    │   └── FaceMatcherError               the face-matching reader failed or was refused
    │       └── FaceMatcherFrameError      a frame from the reader does not check
    ├── AgentConfigError (ValueError)      terminal.toml is unreadable or wrong (names the key)
    ├── GatewayRequestError (ValueError)   the kiosk gateway refuses a browser request: .status
    ├── XfsMessageError (ValueError)       an XFS4IoT message is refused at acknowledge: .status
    ├── TouchEntryError (ValueError)       an encrypted touchscreen entry cannot be opened
    ├── FlowError                          a terminal flow could not finish: .code
    │   ├── FlowCancelledError             the user or the application cancelled
    │   │   └── ApprovalDeclinedError      the holder declined on the phone
    │   ├── StepTimeoutError (TimeoutError) a step (prompt, card, service) ran out of time
    │   │   └── ApprovalTimeoutError       the phone gave no answer in time
    │   ├── FlowRefusedError               the verifier refused: .reason
    │   ├── NoSigningCertificateError      the card has no signing certificate (under 15)
    │   ├── ManagedOnPhoneError            a phone's secrets are managed on the phone only
    │   └── NotOnCredentialError           the credential does not carry what was asked
    ├── JournalError                       the agent's journal cannot be written or read
    │   └── JournalSecretError (ValueError) a write carried a secret; nothing was written
    ├── UnsafePathError (PermissionError) a key, journal or state folder another user could write
    └── ServiceError                       the verifier failed or refused: .code, .reason
        ├── ServiceUnavailableError        unreachable after the allowed retries
        ├── ServiceTimeoutError (TimeoutError) deadline passed: the outcome is unknown
        ├── ServiceAuthenticationError     UNAUTHENTICATED, PERMISSION_DENIED
        ├── InvalidServiceRequestError     INVALID_ARGUMENT: a malformed request
        ├── ServiceStateError              FAILED_PRECONDITION, NOT_FOUND: wrong state
        ├── IdempotencyConflictError       a key reused with another request (ALREADY_EXISTS)
        └── ServiceInternalError           anything else the service or the channel reported
"""

from __future__ import annotations

__all__ = [
    "AgentConfigError",
    "ApprovalDeclinedError",
    "ApprovalRequiredError",
    "ApprovalTimeoutError",
    "BackendUnavailableError",
    "BoardAbsentError",
    "BoardNotCommissionedError",
    "BoardRefusedError",
    "BoardSilentError",
    "BoardTamperedError",
    "CardError",
    "CardRemovedError",
    "ConditionsNotSatisfiedError",
    "CoverOpenError",
    "DataFormatError",
    "EntryCancelledError",
    "EntryTimeoutError",
    "FaceMatcherError",
    "FaceMatcherFrameError",
    "FileNotFoundOnCardError",
    "FlowCancelledError",
    "FlowError",
    "FlowRefusedError",
    "GatewayRequestError",
    "IdempotencyConflictError",
    "IncompatibleBoardError",
    "InstructionNotSupportedError",
    "IntegrityError",
    "InvalidPinBlockError",
    "InvalidReaderUrlError",
    "InvalidServiceRequestError",
    "JournalError",
    "JournalSecretError",
    "MalformedResponseError",
    "ManagedOnPhoneError",
    "MynaEdgeError",
    "NoCardError",
    "NoSigningCertificateError",
    "NotOnCredentialError",
    "PaperOutError",
    "PaymentCancelledError",
    "PaymentDeviceError",
    "PaymentError",
    "PaymentTimeoutError",
    "PeripheralError",
    "PinBlockedError",
    "PinPolicyError",
    "PrinterError",
    "PrinterUnavailableError",
    "ProtocolError",
    "ReaderBusyError",
    "ReaderNotFoundError",
    "SecurityStatusError",
    "ServiceAuthenticationError",
    "ServiceError",
    "ServiceInternalError",
    "ServiceStateError",
    "ServiceTimeoutError",
    "ServiceUnavailableError",
    "StepTimeoutError",
    "TouchEntryError",
    "TransportClosedError",
    "TransportError",
    "TransportTimeoutError",
    "UnexpectedStatusError",
    "UnsafePathError",
    "WrongLengthError",
    "WrongParametersError",
    "WrongPinError",
    "XfsMessageError",
]


class MynaEdgeError(Exception):
    """Root of every error the host raises on purpose."""


# --- transport -------------------------------------------------------------


class TransportError(MynaEdgeError):
    """The way to the card failed (reader, driver, link)."""


class BackendUnavailableError(TransportError):
    """A transport backend cannot run here (library or system service missing)."""


class InvalidReaderUrlError(TransportError, ValueError):
    """A reader URL does not follow its scheme's grammar."""


class ReaderNotFoundError(TransportError):
    """No reader matches the URL."""


class NoCardError(TransportError):
    """The reader has no card in its field or slot."""


class CardRemovedError(TransportError):
    """The card left the reader while a command was under way."""


class ReaderBusyError(TransportError):
    """Another process holds the card exclusively (PC/SC sharing violation)."""


class TransportClosedError(TransportError):
    """The transport was used after it was closed."""


class TransportTimeoutError(TransportError, TimeoutError):
    """The reader or card did not answer in time."""


# --- protocol --------------------------------------------------------------


class ProtocolError(MynaEdgeError):
    """The card's answer cannot be understood."""


class MalformedResponseError(ProtocolError):
    """A response APDU is malformed (shorter than a status word, broken chaining)."""


class DataFormatError(ProtocolError):
    """A file read from the card does not have the documented structure."""


# --- card status words -----------------------------------------------------


class CardError(MynaEdgeError):
    """The card answered a command with an error status word.

    Attributes:
        sw: the status word as an int (``0x6A82``).
        command: a short name of the command that failed (``"SELECT"``), never
            its data.
    """

    def __init__(self, sw: int, command: str = "", message: str = "") -> None:
        self.sw = sw
        self.command = command
        text = message or type(self).__doc__ or "card error"
        text = text.strip().splitlines()[0]
        where = f"{command}: " if command else ""
        super().__init__(f"{where}{text} (SW={sw:04X})")


class FileNotFoundOnCardError(CardError):
    """The application or file does not exist on this card."""


class SecurityStatusError(CardError):
    """Security status not satisfied: a PIN must be verified first."""


class WrongPinError(CardError):
    """The PIN was wrong.

    Attributes:
        tries_left: tries remaining before the PIN blocks.
    """

    def __init__(self, sw: int, command: str = "", message: str = "") -> None:
        self.tries_left = sw & 0x0F
        super().__init__(sw, command, message or f"wrong PIN, {self.tries_left} tries left")


class PinBlockedError(CardError):
    """The PIN is blocked; it is never retried."""


class ConditionsNotSatisfiedError(CardError):
    """Conditions of use not satisfied."""


class WrongLengthError(CardError):
    """Wrong length (Lc or Le)."""


class WrongParametersError(CardError):
    """Wrong parameters (P1/P2, offset, or data)."""


class InstructionNotSupportedError(CardError):
    """Instruction or class not supported by the card."""


class ApprovalRequiredError(CardError):
    """The phone's holder has not approved this use on the phone (UNCONFIRMED codes).

    ``6600``: declined on the phone; ``6401``: no answer yet. Nothing was
    typed at the terminal, so no try was spent (``host.card.credential``).
    """

    @property
    def declined(self) -> bool:
        """Whether the holder declined (else the phone has no answer yet)."""
        return self.sw == 0x6600


class UnexpectedStatusError(CardError):
    """The card answered with a status word this driver does not expect."""


# --- above the card --------------------------------------------------------


class IntegrityError(MynaEdgeError):
    """Data read from the card does not match its signed integrity record."""


class PinPolicyError(MynaEdgeError, ValueError):
    """A PIN breaks the card's rules; it was refused before touching the card."""


class PeripheralError(MynaEdgeError):
    """A serial peripheral failed (controller board, printer)."""


class BoardAbsentError(PeripheralError):
    """The serial port cannot be opened (unplugged, wrong path, no permission)."""


class BoardSilentError(PeripheralError, TimeoutError):
    """The board does not answer: no handshake, no result, link retries spent."""


class IncompatibleBoardError(PeripheralError):
    """The board speaks a protocol version this driver does not."""


class BoardRefusedError(PeripheralError):
    """The board refused a command.

    Attributes:
        status: the board's RESULT status code (firmware/PROTOCOL.md §4).
    """

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        text = message or (type(self).__doc__ or "refused").strip().splitlines()[0]
        super().__init__(f"{text} (status {status})")


class BoardTamperedError(BoardRefusedError):
    """The tamper switch was opened: keys are erased until re-commissioning."""


class BoardNotCommissionedError(BoardRefusedError):
    """The board has no injected key yet: secure entry is refused."""


class InvalidPinBlockError(PeripheralError):
    """A PIN block is malformed or fails its MAC, its request binding or its replay counter.

    Not to be confused with ``PinBlockedError``, the card's "this PIN is
    blocked" (issue 13.8 renamed this one from ``PinBlockError``).
    """


class EntryCancelledError(PeripheralError):
    """Secure entry was cancelled by the user or the host."""


class EntryTimeoutError(PeripheralError, TimeoutError):
    """The user did not finish secure entry in time."""


class PrinterError(PeripheralError):
    """The receipt printer cannot print."""


class PaperOutError(PrinterError):
    """The printer is out of paper."""


class CoverOpenError(PrinterError):
    """The printer's cover is open."""


class PrinterUnavailableError(PrinterError):
    """The document printer cannot take a job; nothing was printed.

    Attributes:
        state: what the print engine reported (IPP ``printer-state-reasons``
            keyword such as ``media-empty``, ``media-jam``, ``door-open``,
            or ``offline``).
    """

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


class PaymentError(PeripheralError):
    """The payment device failed, or the resident did not pay."""


class PaymentTimeoutError(PaymentError, TimeoutError):
    """The fee was not paid in time; whatever was inserted has been returned."""


class PaymentCancelledError(PaymentError):
    """Payment was cancelled; whatever was inserted has been returned."""


class PaymentDeviceError(PaymentError):
    """The payment device failed or answered outside its protocol."""


class FaceMatcherError(PeripheralError):
    """The face-matching reader failed, refused a request (``.code``) or answered out of turn.

    Attributes:
        code: the reader's REJECT code (``host/peripherals/FACE_MATCHER.md`` §4), 0 if none.
    """

    def __init__(self, message: str, *, code: int = 0) -> None:
        self.code = code
        super().__init__(message)


class FaceMatcherFrameError(FaceMatcherError):
    """A frame from the face-matching reader does not check (sync, length or CRC)."""


class AgentConfigError(MynaEdgeError, ValueError):
    """``terminal.toml`` is unreadable or wrong; the message names the key."""


class GatewayRequestError(MynaEdgeError, ValueError):
    """The kiosk gateway refuses a browser request (not local, bad origin, malformed).

    Attributes:
        status: the HTTP status code the gateway answers with (400, 403, 413...).
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class XfsMessageError(MynaEdgeError, ValueError):
    """An XFS4IoT command the front end refuses at acknowledge (``host/xfs4iot``).

    Attributes:
        status: the acknowledge status (``invalidMessage``, ``invalidRequestID``,
            ``tooManyRequests``).
        name: the command's name, "" when the message had none.
        request_id: the command's request id, 0 when it had none.
    """

    def __init__(self, status: str, message: str, *, name: str = "", request_id: int = 0) -> None:
        super().__init__(message)
        self.status, self.name, self.request_id = status, name, request_id


class TouchEntryError(MynaEdgeError, ValueError):
    """An encrypted touchscreen entry could not be opened (wrong key, replayed, altered)."""


class FlowError(MynaEdgeError):
    """A terminal flow could not finish.

    Attributes:
        code: a stable machine-readable name (``"cancelled"``, ``"timeout"``).
    """

    code = "flow_error"


class FlowCancelledError(FlowError):
    """The user or the application cancelled the flow."""

    code = "cancelled"


class StepTimeoutError(FlowError, TimeoutError):
    """A flow step (prompt, card, service call) did not finish in its time."""

    code = "timeout"


class FlowRefusedError(FlowError):
    """The verifier refused the request.

    Attributes:
        reason: the verifier's reason name (``"CERTIFICATE_REVOKED"``).
    """

    code = "refused"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the verifier refused: {reason}")


class NoSigningCertificateError(FlowError):
    """The card holds no signing certificate (holders under 15): found before any prompt."""

    code = "no_signing_certificate"


class ApprovalDeclinedError(FlowCancelledError):
    """The holder declined on the phone: a cancel by the person, no try spent."""

    code = "declined_on_phone"


class ApprovalTimeoutError(StepTimeoutError):
    """The phone gave no answer (approval) within the prompt's time; no try spent."""

    code = "phone_no_answer"


class ManagedOnPhoneError(FlowError):
    """A phone's PIN and password are reset or changed on the phone, never at a kiosk."""

    code = "managed_on_phone"


class NotOnCredentialError(FlowError):
    """The presented credential does not carry what the command asks (a phone's basic four)."""

    code = "not_on_credential"


class JournalError(MynaEdgeError):
    """The agent's journal cannot be written or read."""


class JournalSecretError(JournalError, ValueError):
    """A journal write named or carried a secret (PIN, password, OTP); nothing was written."""


class UnsafePathError(MynaEdgeError, PermissionError):
    """A secret or state file would live where another local user could plant or read it.

    The folder is writable by another user or belongs to one, or the file is
    a symbolic link or another user's (``host.private_files``); nothing was
    written.
    """


class ServiceError(MynaEdgeError):
    """The central verification service failed or refused.

    Attributes:
        code: the gRPC status code name (``"UNAVAILABLE"``), or ``""``.
        reason: the service's machine-readable reason from its ErrorInfo
            (``"IDEMPOTENCY_KEY_REUSED"``), or ``""``.
        metadata: the ErrorInfo's extra facts (``{"field": "amount_yen"}``).

    The message is built from these codes only: the service's free-text
    details are not copied, so nothing a request carried can leak into logs.
    """

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        reason: str = "",
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.metadata = dict(metadata or {})
        text = message or (type(self).__doc__ or "service error").strip().splitlines()[0]
        tags = ", ".join(t for t in (code, reason) if t)
        super().__init__(f"{text} ({tags})" if tags else text)


class ServiceUnavailableError(ServiceError):
    """The verification service is unreachable (the allowed retries are spent)."""


class ServiceTimeoutError(ServiceError, TimeoutError):
    """The call's deadline passed: the service may or may not have acted."""


class ServiceAuthenticationError(ServiceError):
    """The service refused this terminal's identity or permissions."""


class InvalidServiceRequestError(ServiceError):
    """The service cannot act on the request as sent (malformed field)."""


class ServiceStateError(ServiceError):
    """The request does not fit the object's state, or the object is unknown."""


class IdempotencyConflictError(ServiceError):
    """An idempotency key was reused with a different request."""


class ServiceInternalError(ServiceError):
    """The service or the channel failed in a way the caller cannot fix."""
