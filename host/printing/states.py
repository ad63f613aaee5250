# SPDX-License-Identifier: Apache-2.0
"""Printer and job states from IPP answers, mapped once to our enums (sans-I/O).

Why a module of its own: the CUPS backend (``host.printing.cups``) gets IPP
attributes as the dictionaries pycups builds (values ``str``, ``int``,
``bool`` or lists of them), from two sources it does not control: the CUPS
queue and the IPP Everywhere device behind it. Everything here is total:
any dictionary gives a status (unknown values become ``UNKNOWN`` or are
ignored), so a strange printer can refuse a job but never crash the agent.

The blocking conditions (RFC 8011 §5.4.12 and the PWG keyword registry):

=====================  ===========================================  ==============
condition              printer-state-reasons keywords                device status
=====================  ===========================================  ==============
``PAPER_OUT``          media-empty, media-needed                     ``paper_out``
``JAM``                media-jam                                     ``jam``
``COVER_OPEN``         door-open, cover-open, interlock-open         ``cover_open``
``OFFLINE``            offline, shutdown, paused, stopped, ...       ``offline``
=====================  ===========================================  ==============

Quirk: the severity suffix (``-report``, ``-warning``, ``-error``) is
ignored for these keywords. ``ippeveprinter`` reports ``media-empty-report``
while idle and ``-warning`` while printing, and a certificate kiosk must not
start a job whose paper tray is empty, whatever severity the printer chose.
Low-supply reasons (``media-low``, ``toner-low``) never block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from host.flows.issuance_ports import PrintOutcome

__all__ = [
    "JobState",
    "JobStatus",
    "PrinterCondition",
    "PrinterStatus",
    "fuzz_attributes",
    "parse_job_attributes",
    "parse_printer_attributes",
]


class JobState(IntEnum):
    """IPP ``job-state`` (RFC 8011 §5.3.7)."""

    UNKNOWN = 0
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def outcome(self) -> PrintOutcome | None:
        """The port's outcome for a final state; ``None`` while the job may still print."""
        return _OUTCOMES.get(self)


#: Final job states. A cancelled job did not print for the resident, so it is
#: ABORTED to the flow (refund), like a job the printer gave up on.
_OUTCOMES: Final = {
    JobState.COMPLETED: PrintOutcome.COMPLETED,
    JobState.ABORTED: PrintOutcome.ABORTED,
    JobState.CANCELED: PrintOutcome.ABORTED,
}


_JOB_STATES: Final = {state.value: state for state in JobState}


class PrinterCondition(Enum):
    """Why the printer cannot take a job now (or ``READY``).

    The value is the device status the agent reports (``ThreadedPrinter``'s
    vocabulary plus ``jam``).
    """

    READY = "online"
    PAPER_OUT = "paper_out"
    JAM = "jam"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"


#: printer-state-reasons keyword (suffix removed) → the condition it blocks with.
_BLOCKING: Final = {
    "media-empty": PrinterCondition.PAPER_OUT,
    "media-needed": PrinterCondition.PAPER_OUT,
    "input-tray-missing": PrinterCondition.PAPER_OUT,
    "media-jam": PrinterCondition.JAM,
    "door-open": PrinterCondition.COVER_OPEN,
    "cover-open": PrinterCondition.COVER_OPEN,
    "interlock-open": PrinterCondition.COVER_OPEN,
    "offline": PrinterCondition.OFFLINE,
    "shutdown": PrinterCondition.OFFLINE,
    "paused": PrinterCondition.OFFLINE,
    "moving-to-paused": PrinterCondition.OFFLINE,
    "stopped": PrinterCondition.OFFLINE,
    "timed-out": PrinterCondition.OFFLINE,
    "connecting-to-device": PrinterCondition.OFFLINE,
}

_SUFFIXES: Final = ("-error", "-warning", "-report")

#: IPP printer-state 5 (RFC 8011 §5.4.11): the queue or device does not print.
_PRINTER_STOPPED: Final = 5


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """A printer's state, reduced to what the kiosk decides on.

    Attributes:
        condition: the first blocking condition, or ``READY``.
        reason: the keyword that blocks (suffix removed), or ``"none"``;
            this is ``PrinterUnavailableError.state``.
        reasons: every printer-state-reasons keyword as reported.
    """

    condition: PrinterCondition
    reason: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's state and its job-state-reasons keywords."""

    state: JobState
    reasons: tuple[str, ...]


def _keywords(value: object) -> tuple[str, ...]:
    """A keyword attribute as a tuple of strings (pycups gives one value or a list)."""
    items: Iterable[object] = value if isinstance(value, list | tuple) else (value,)
    return tuple(item for item in items if isinstance(item, str))


def _integer(value: object) -> int | None:
    # bool is an int subclass; an enum attribute is never a boolean.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strip(keyword: str) -> str:
    for suffix in _SUFFIXES:
        if keyword.endswith(suffix):
            return keyword[: -len(suffix)]
    return keyword


def parse_printer_attributes(attrs: Mapping[str, object]) -> PrinterStatus:
    """The printer's condition from ``printer-state``, ``printer-state-reasons``
    and ``printer-is-accepting-jobs``.

    A queue that is stopped or refuses jobs with no blocking reason is
    ``OFFLINE`` (reason ``stopped`` or ``not-accepting-jobs``).
    """
    reasons = _keywords(attrs.get("printer-state-reasons"))
    for keyword in reasons:
        condition = _BLOCKING.get(_strip(keyword))
        if condition is not None:
            return PrinterStatus(condition=condition, reason=_strip(keyword), reasons=reasons)
    if _integer(attrs.get("printer-state")) == _PRINTER_STOPPED:
        return PrinterStatus(condition=PrinterCondition.OFFLINE, reason="stopped", reasons=reasons)
    if attrs.get("printer-is-accepting-jobs") is False:
        return PrinterStatus(
            condition=PrinterCondition.OFFLINE, reason="not-accepting-jobs", reasons=reasons
        )
    return PrinterStatus(condition=PrinterCondition.READY, reason="none", reasons=reasons)


def parse_job_attributes(attrs: Mapping[str, object]) -> JobStatus:
    """The job's ``job-state`` (``UNKNOWN`` if absent or not an IPP value) and reasons."""
    raw = _integer(attrs.get("job-state"))
    state = _JOB_STATES.get(raw, JobState.UNKNOWN) if raw is not None else JobState.UNKNOWN
    return JobStatus(state=state, reasons=_keywords(attrs.get("job-state-reasons")))


def _fuzz_value(chunk: bytes) -> object:
    """One attribute value of the shape pycups returns, chosen by the first byte."""
    kind, body = (chunk[0] % 4, chunk[1:]) if chunk else (0, b"")
    text = body.decode("latin-1")
    if kind == 0:
        return text
    if kind == 1:
        return int.from_bytes(body[:4], "big", signed=True)
    if kind == 2:
        return bool(body and body[0] & 1)
    return text.split(",")


def fuzz_attributes(data: bytes) -> None:
    """Fuzz harness: hostile bytes as printer and job attribute dictionaries.

    ``data`` is split on ``0x00`` into values for the attributes the parsers
    read (and a few they do not); both parsers must return, never raise.
    """
    names = (
        "printer-state",
        "printer-state-reasons",
        "printer-is-accepting-jobs",
        "job-state",
        "job-state-reasons",
        "device-uri",
    )
    chunks = data.split(b"\x00")
    attrs = {name: _fuzz_value(chunk) for name, chunk in zip(names, chunks, strict=False)}
    parse_printer_attributes(attrs)
    parse_job_attributes(attrs)
