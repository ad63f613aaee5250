# SPDX-License-Identifier: Apache-2.0
"""What a hardware-in-the-loop run may send to a real card, said before and enforced during.

Why: a real My Number card has three secrets whose counters cannot be
reset by the terminal, and a blocked signing password means a trip to the
municipal office. So a benchmark or calibration run against a card
(``myna-edge bench --reader URL``, ``myna-edge bench calibrate``) first
prints its ``CardPlan`` (every command it will send, how often), then runs
with a ``CardGuard`` on the transport: an observer that sees each command
*before* it goes out and stops the run (``SafetyStopError``) on anything
outside the plan's current phase. The rules:

* phase ``PREFLIGHT`` sends only SELECT and the empty VERIFY (``00 20 00
  80``, which reads a counter and never spends a try, jpki-card.md §4.1);
  any counter below its maximum stops the run there (``check_counters``);
* phase ``READS`` adds READ BINARY; never a VERIFY with data;
* phase ``PIN`` (only with ``--pin-env``) adds VERIFY with data and
  COMPUTE DIGITAL SIGNATURE;
* CHANGE REFERENCE DATA, RESET RETRY COUNTER and every other instruction
  are never allowed, in any phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Final

from host.card import MynaCard, PinKind
from host.transport.base import ApduEvent, CardTransport, Direction

__all__ = [
    "CardGuard",
    "CardPlan",
    "Ins",
    "Phase",
    "PlannedCommand",
    "SafetyStopError",
    "check_counters",
]

#: An APDU header is 4 bytes; a VERIFY longer than that carries a PIN.
_HEADER_LENGTH: Final = 4


class SafetyStopError(RuntimeError):
    """The run stopped to protect the card (a counter below its maximum, an unplanned command)."""


class Phase(StrEnum):
    """Where a run is; each phase allows more instructions than the one before."""

    PREFLIGHT = "preflight"
    READS = "reads"
    PIN = "pin"


class Ins(IntEnum):
    """The instructions a run may send (and the ones it refuses by name)."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    VERIFY = 0x20
    COMPUTE_DIGITAL_SIGNATURE = 0x2A
    CHANGE_REFERENCE_DATA = 0x24
    RESET_RETRY_COUNTER = 0x2C


_ALLOWED: Final[dict[Phase, frozenset[int]]] = {
    Phase.PREFLIGHT: frozenset({Ins.SELECT, Ins.VERIFY}),
    Phase.READS: frozenset({Ins.SELECT, Ins.VERIFY, Ins.READ_BINARY}),
    Phase.PIN: frozenset({Ins.SELECT, Ins.VERIFY, Ins.READ_BINARY, Ins.COMPUTE_DIGITAL_SIGNATURE}),
}


@dataclass(frozen=True)
class PlannedCommand:
    """One line of the plan: a command, its bytes (as a pattern) and how often."""

    phase: Phase
    name: str
    apdu: str
    times: str


@dataclass
class CardPlan:
    """The commands a run will send to the card, in order of phases."""

    commands: list[PlannedCommand] = field(default_factory=list)
    pin_env: str | None = None

    def add(self, phase: Phase, name: str, apdu: str, times: str) -> None:
        """Append a line."""
        if phase is Phase.PIN and self.pin_env is None:
            raise ValueError("a PIN-using command needs --pin-env")
        self.commands.append(PlannedCommand(phase, name, apdu, times))

    def describe(self) -> str:
        """The plan as text, printed before the first command is sent."""
        lines = ["Plan: the card will receive exactly these commands, and nothing else:"]
        for phase in Phase:
            rows = [c for c in self.commands if c.phase is phase]
            if not rows:
                continue
            lines.append(f"  {phase.value}:")
            lines += [f"    {c.name:<44} {c.apdu:<30} {c.times}" for c in rows]
        if self.pin_env is None:
            lines.append("  no VERIFY with a PIN, no signature (no --pin-env)")
        else:
            lines.append(
                f"  the PIN comes from ${self.pin_env}; a wrong PIN spends one try and "
                "stops the run at once"
            )
        lines.append("  never: CHANGE REFERENCE DATA, RESET RETRY COUNTER, any write")
        lines.append("  the run stops before any read if a PIN counter is below its maximum")
        return "\n".join(lines)

    def as_rows(self) -> list[dict[str, str]]:
        """The plan for the JSON report."""
        return [
            {"phase": c.phase.value, "name": c.name, "apdu": c.apdu, "times": c.times}
            for c in self.commands
        ]


class CardGuard:
    """An observer that stops any command outside the current phase before it is sent.

    ``CardTransport.transmit`` notifies observers of the command before it
    calls the backend, so raising here means the card never sees it.
    """

    def __init__(self, *, pin_allowed: bool) -> None:
        self.phase = Phase.PREFLIGHT
        self._pin_allowed = pin_allowed
        self.sent: dict[Phase, int] = dict.fromkeys(Phase, 0)

    def enter(self, phase: Phase) -> None:
        """Move to ``phase``.

        Raises:
            SafetyStopError: ``PIN`` without ``--pin-env``.
        """
        if phase is Phase.PIN and not self._pin_allowed:
            raise SafetyStopError("no PIN-using command runs without --pin-env")
        self.phase = phase

    def __call__(self, event: ApduEvent) -> None:
        if event.direction is not Direction.COMMAND:
            return
        header = event.apdu.data[:_HEADER_LENGTH]
        ins = header[1] if len(header) > 1 else -1
        if ins not in _ALLOWED[self.phase]:
            raise SafetyStopError(
                f"instruction {ins:02X} is not in the plan's {self.phase.value} phase; not sent"
            )
        if ins == Ins.VERIFY and event.apdu.length > _HEADER_LENGTH and self.phase is not Phase.PIN:
            raise SafetyStopError("a VERIFY with a PIN outside the PIN phase; not sent")
        self.sent[self.phase] += 1

    def attach(self, transport: CardTransport) -> CardGuard:
        """Observe ``transport`` from now on; return self."""
        transport.add_observer(self)
        return self


def check_counters(card: MynaCard, guard: CardGuard) -> dict[str, str]:
    """Read every PIN counter (no try spent) and stop if one is below its maximum.

    Returns:
        secret -> ``"left/max"`` for the report.

    Raises:
        SafetyStopError: a counter is below its maximum (the run must not go on).
    """
    guard.enter(Phase.PREFLIGHT)
    counters: dict[str, str] = {}
    low: list[str] = []
    for kind in PinKind:
        left = card.tries_left(kind)
        counters[kind.value] = f"{left}/{kind.max_tries}"
        if left < kind.max_tries:
            low.append(f"{kind.rule.name} {left}/{kind.max_tries}")
    if low:
        raise SafetyStopError(
            "PIN counter(s) below their maximum: "
            + ", ".join(low)
            + "; stopped before any other command (enter the PIN correctly once, "
            "e.g. with the JPKI user software, to reset a counter)"
        )
    return counters
