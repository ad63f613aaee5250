# SPDX-License-Identifier: Apache-2.0
"""The small state machine every flow is built on.

Why a base: every flow shares one skeleton, and each used to re-implement
it. A run has one journal operation id, a current step and its history, and
a cancel signal; it asks for the card and for secrets the safe way
(``pin_entry``), calls the verifier without abandoning a call half-way, and
journals each side effect under the flow's name. And it ends one way: a
``FlowFailed`` when it stopped short, the card released whatever happened,
the operator's ``<FLOW>-END`` line and exactly one ``FlowResult``.

``FlowMachine.drive`` runs that ending around a flow's own steps; a flow
says only what it is (``flow``, ``steps``) and fills three hooks, like a
transport backend filling ``_transmit`` under ``CardTransport.transmit``:

* ``_stopped(ending)``: the outcome of a run that stopped short;
* ``_end_facts(outcome)``: the facts of its ``<FLOW>-END`` line;
* ``_after_release(op_id, outcome)`` (optional): clean-up that needs the
  card gone first (the transfer's reversal).

Every step enum has ``START``, ``REMOVE_CARD``, ``DONE`` and ``FAILED``
(values ``"start"``, ``"remove_card"``, ``"done"``, ``"failed"``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generic, NamedTuple, Protocol, TypeVar

from host.card import KeyKind, PinKind
from host.errors import (
    FlowCancelledError,
    FlowRefusedError,
    MynaEdgeError,
    NoSigningCertificateError,
)
from host.flows.context import FlowContext, StepTimeouts, error_code, failure_code
from host.flows.events import (
    Event,
    FlowFailed,
    FlowResult,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    Working,
)
from host.flows.pin_entry import use_secret
from host.flows.ports import CardPort, UserPort
from host.journal import Effect, ElectronicJournal, Journal, Phase
from host.journal.records import JsonValue
from host.prompt_texts import PromptKey, prompt_text
from host.secret import Secret

__all__ = ["Ending", "FlowMachine", "FlowOutcome", "StepTime"]

_log = logging.getLogger(__name__)

_StepT = TypeVar("_StepT", bound=StrEnum)
_OutcomeT = TypeVar("_OutcomeT", bound="FlowOutcome")
_T = TypeVar("_T")


class FlowOutcome(Protocol):
    """What every flow's outcome says: how it ended, why, and the reference."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def reason(self) -> str: ...

    @property
    def reference(self) -> str:
        """The ``FlowResult`` reference (authorisation, reservation or operation id)."""
        ...


class StepTime(NamedTuple):
    """One step of a run: its value and when it was entered and left (``time.monotonic_ns``)."""

    step: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Ending:
    """How a run stopped short: the outcome, its reason code and the exception."""

    outcome: Outcome
    reason: str
    error: BaseException


class FlowMachine(Generic[_StepT, _OutcomeT]):
    """Steps, history, cancel and the one ending shared by every flow.

    Args:
        card, user: the ports every flow uses (verifiers differ per flow).
        journal: the write-ahead journal; ``ejournal`` the operator's record.
        emit: receives every ``Event``.
        timeouts: per-step time budgets.
    """

    #: The flow's name in the journal and in ``FlowResult``.
    flow: ClassVar[str]
    #: The flow's step enum (with the four common steps, see the module).
    steps: type[_StepT]

    def __init__(
        self,
        *,
        card: CardPort,
        user: UserPort,
        journal: Journal,
        emit: Callable[[Event], None],
        ejournal: ElectronicJournal | None = None,
        timeouts: StepTimeouts | None = None,
    ) -> None:
        self._card, self._user = card, user
        self._journal, self._ej = journal, ejournal
        self._ctx = FlowContext(emit, timeouts or StepTimeouts())
        self.step: _StepT = self.steps("start")
        self.history: list[_StepT] = [self.step]
        # When each history entry was entered, and when the run ended (step_times).
        self._entered_ns: list[int] = [time.monotonic_ns()]
        self._ended_ns: int | None = None

    def step_times(self) -> list[StepTime]:
        """Each step of the history with its time (the last one ends with the run, or now).

        Why here: the step history is the flow's own record, so metrics and
        trace spans are made from it by the API layer, with no metrics or
        tracing code in the flows. Step values are enum values, never data.
        """
        ends = [*self._entered_ns[1:], self._ended_ns or time.monotonic_ns()]
        return [
            StepTime(step.value, start, end)
            for step, start, end in zip(self.history, self._entered_ns, ends, strict=True)
        ]

    def cancel(self) -> None:
        """Cancel at the next prompt or card step (never mid verifier call)."""
        self._ctx.cancel()

    # -- the run and its ending -------------------------------------------

    async def drive(self, op_id: str, steps: Awaitable[_OutcomeT]) -> _OutcomeT:
        """Await the flow's ``steps``, then end the run the one way.

        Never raises for a flow failure: it becomes ``FlowFailed`` and the
        outcome (``_stopped``).

        Raises:
            JournalError: the journal cannot be written.
        """
        try:
            outcome = await steps
        except FlowRefusedError as exc:
            outcome = self._stop(Ending(Outcome.REFUSED, exc.reason, exc))
        except (MynaEdgeError, OSError) as exc:
            cancelled = isinstance(exc, FlowCancelledError)
            kind = Outcome.CANCELLED if cancelled else Outcome.FAILED
            outcome = self._stop(Ending(kind, error_code(exc), exc))
        finally:
            await self._release_card()
        outcome = await self._after_release(op_id, outcome)
        if self._ej is not None:
            self._ej.append(op_id, f"{self.flow.upper()}-END", **self._end_facts(outcome))
        self._ctx.emit(
            FlowResult(
                flow=self.flow,
                outcome=outcome.outcome,
                reference=outcome.reference,
                reason=outcome.reason,
            )
        )
        self._ended_ns = time.monotonic_ns()
        return outcome

    def _stop(self, ending: Ending) -> _OutcomeT:
        self._to(self.steps("failed"))
        self._ctx.emit(FlowFailed(failure_code(ending.error), str(ending.error)))
        return self._stopped(ending)

    def _stopped(self, ending: Ending) -> _OutcomeT:
        """The outcome of a run that stopped short (the flow's hook)."""
        raise NotImplementedError

    def _end_facts(self, outcome: _OutcomeT) -> Mapping[str, JsonValue]:
        """The facts of the ``<FLOW>-END`` line (the flow's hook)."""
        raise NotImplementedError

    async def _after_release(self, op_id: str, outcome: _OutcomeT) -> _OutcomeT:
        """Clean-up once the card is released; may amend the outcome."""
        return outcome

    async def _release_card(self) -> None:
        try:
            await self._card.release()
        except MynaEdgeError:
            _log.warning("card release failed", exc_info=True)

    # -- the steps every flow takes ----------------------------------------

    def _to(self, step: _StepT) -> None:
        _log.debug("%s %s -> %s", self.flow, self.step.value, step.value)
        self.step = step
        self.history.append(step)
        self._entered_ns.append(time.monotonic_ns())

    def _ej_append(self, op_id: str, event: str, **facts: JsonValue) -> None:
        if self._ej is not None:
            self._ej.append(op_id, event, **facts)

    def _record(
        self,
        op_id: str,
        effect: Effect,
        phase: Phase,
        *,
        key: str = "",
        data: Mapping[str, JsonValue] | None = None,
    ) -> None:
        self._journal.record(op_id, self.flow, effect, phase, idempotency_key=key, data=data)

    async def _wait_card(self) -> None:
        t = self._ctx.timeouts
        insert = prompt_text(PromptKey.INSERT_CARD)
        self._ctx.emit(Prompt(PromptKind.INSERT_CARD, insert.en, message=insert))
        await self._ctx.step("card", self._card.wait_card(t.insert_card), t.insert_card + 1.0)

    async def _require_signing_certificate(self) -> None:
        # A holder under 15 has no signing certificate: learnt from the card
        # (EF 0008, no PIN) before any secret is asked for, so no try is spent.
        has = self._card.has_certificate(KeyKind.SIGN)
        if not await self._ctx.step("certificates", has, self._ctx.timeouts.card):
            raise NoSigningCertificateError("the card has no signing certificate")

    async def _use_secret(
        self,
        *,
        pin: PinKind,
        prompt: PromptKind,
        text: str,
        action: Callable[[Secret], Awaitable[_T]],
        working: str,
        entering: _StepT,
    ) -> _T:
        """``pin_entry.use_secret``, moving to ``entering`` at each prompt."""
        return await use_secret(
            self._ctx,
            card=self._card,
            user=self._user,
            pin=pin,
            prompt_kind=prompt,
            text=text,
            action=action,
            working=working,
            on_prompt=lambda: self._to(entering),
        )

    async def _call(self, name: str, call: Awaitable[_T], *, timeout: float | None = None) -> _T:
        """A verifier call: once sent, its outcome is learnt, never abandoned on cancel."""
        budget = self._ctx.timeouts.service if timeout is None else timeout
        return await self._ctx.step(name, call, budget, cancellable=False)

    def _working(self, what: str) -> None:
        self._ctx.emit(Working(what))

    def _remove_card(self) -> None:
        self._to(self.steps("remove_card"))
        self._ctx.emit(RemoveCard())
        self._to(self.steps("done"))
