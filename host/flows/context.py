# SPDX-License-Identifier: Apache-2.0
"""Per-step timeouts and cancellation shared by every flow.

Every await a flow makes goes through ``FlowContext.step``: it races the
step against the flow's cancel signal and the step's time budget, so a
prompt can always be cancelled and nothing waits forever. Verifier calls
are run with ``cancellable=False``: once sent, their outcome must be learnt
(their own deadline bounds them), never abandoned half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from host.errors import (
    CardRemovedError,
    FlowCancelledError,
    FlowError,
    FlowRefusedError,
    JournalError,
    PaymentCancelledError,
    PaymentTimeoutError,
    PeripheralError,
    PinBlockedError,
    ServiceError,
    StepTimeoutError,
)
from host.flows.codes import FailureCode
from host.flows.events import Event

__all__ = ["FlowContext", "StepTimeouts", "error_code", "failure_code"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class StepTimeouts:
    """Time budgets per kind of step, float seconds."""

    prompt: float = 60.0
    insert_card: float = 60.0
    card: float = 30.0
    service: float = 15.0
    printer: float = 15.0


class FlowContext:
    """Emits events and runs steps with a timeout and the cancel signal."""

    def __init__(self, emit: Callable[[Event], None], timeouts: StepTimeouts) -> None:
        self._emit = emit
        self.timeouts = timeouts
        self._cancelled = asyncio.Event()

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the listener; a failing listener never breaks the flow."""
        try:
            self._emit(event)
        except Exception:  # noqa: BLE001 - a UI bug must not strand a transfer
            _log.exception("event listener failed on %s", type(event).__name__)

    def cancel(self) -> None:
        """Ask the flow to stop at its next cancellable step."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel was asked."""
        return self._cancelled.is_set()

    async def step(
        self, name: str, awaitable: Awaitable[_T], timeout: float, *, cancellable: bool = True
    ) -> _T:
        """Await ``awaitable`` within ``timeout`` seconds, or until cancelled.

        Raises:
            FlowCancelledError: cancelled before or during the step.
            StepTimeoutError: the step ran out of time.
        """
        task = asyncio.ensure_future(awaitable)
        if cancellable and self.cancelled:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise FlowCancelledError(f"cancelled before {name}")
        waiter = asyncio.ensure_future(self._cancelled.wait()) if cancellable else None
        pending = {task} if waiter is None else {task, waiter}
        done, _ = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if waiter is not None:
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if waiter is not None and waiter in done:
            raise FlowCancelledError(f"cancelled during {name}")
        raise StepTimeoutError(f"{name} did not finish within {timeout:g} s")


def failure_code(exc: BaseException) -> str:
    """The ``FlowFailed`` code for ``exc``: the completion's error code, so the two agree.

    A verifier refusal is named by the verifier's reason (``CERTIFICATE_REVOKED``),
    as the completion names it, not by the generic ``refused``.
    """
    if isinstance(exc, FlowRefusedError):
        return exc.reason
    return error_code(exc)


#: Exceptions that are not ``FlowError``s -> their code; the first match wins.
_ERROR_CODES: list[tuple[type[BaseException], FailureCode]] = [
    (CardRemovedError, FailureCode.CARD_REMOVED),
    (PinBlockedError, FailureCode.PIN_BLOCKED),
    (ServiceError, FailureCode.SERVICE_UNAVAILABLE),
    # Before PeripheralError: the resident did not pay, or cancelled on the
    # device (money returned either way): not a device fault.
    (PaymentTimeoutError, FailureCode.PAYMENT_TIMEOUT),
    (PaymentCancelledError, FailureCode.CANCELLED),
    (PeripheralError, FailureCode.DEVICE_ERROR),
    # The terminal's own storage failed (disk full, read-only): out of
    # service until someone acts, not an agent bug.
    (JournalError, FailureCode.STORAGE_ERROR),
    (OSError, FailureCode.STORAGE_ERROR),
]


def error_code(exc: BaseException) -> FailureCode:
    """A stable event code for an exception that ended a flow."""
    if isinstance(exc, FlowError):
        # Every FlowError's code is a member (a test walks the subclasses);
        # the fallback only keeps a failure path from failing itself.
        return next((c for c in FailureCode if c.value == exc.code), FailureCode.FLOW_ERROR)
    return next((code for cls, code in _ERROR_CODES if isinstance(exc, cls)), FailureCode.FAILED)
