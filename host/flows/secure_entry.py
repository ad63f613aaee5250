# SPDX-License-Identifier: Apache-2.0
"""Secrets from the controller's secure PIN pad, for the ATM profile.

PCI PIN practice (docs/terminal-api.md §2): at an ATM the PIN is typed on
the secure entry device and reaches the host only as an encrypted,
authenticated PIN block; the touchscreen never sees it. ``ControllerSecureEntry``
is the ``SecureEntry`` the terminal API's user port calls: it runs the
controller driver's blocking ``secure_entry`` in the controller's own worker
thread (DESIGN "Concurrency"), chooses numeric or multi-tap alphanumeric
entry from the prompt, and opens the block only to hand the flow a
``Secret`` it wipes after the one card command. Cancelling the awaiting
task cancels the entry on the board.

Each key the board reports during the entry (pressed, deleted or refused,
with the length so far, never the key) becomes a ``PadKey`` event for the
flow that asked (``pad_keys_to``), so the touchscreen knows the person is
typing (issue 24: its idle timer, its live region).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Final

from host.flows.events import PadKey, PadKeyAction, Prompt, PromptKind
from host.peripherals import BoardStatus, Controller, EntryKey, EntryKind
from host.secret import Secret

__all__ = ["ENTRY_LIMITS", "ControllerSecureEntry", "pad_keys_to"]

PadKeyListener = Callable[[PadKey], None]

#: Who hears the pad's keys in this context: the flow asking for a secret.
#: A context variable, because the request reaches the pad through the
#: user port (``UserPort.secret(prompt)``, which touch entry shares and the
#: API layer implements) and that call has no place for a listener; the
#: flow's prompt step is a task, which copies the context it starts in.
_listener: ContextVar[PadKeyListener | None] = ContextVar("pad_key_listener", default=None)


@contextmanager
def pad_keys_to(listener: PadKeyListener) -> Iterator[None]:
    """Send ``PadKey`` events of secure entries started in this block to ``listener``.

    ``listener`` is called on the event loop that asked, in the order the
    board sent the keys, before the entry's own result is delivered.
    """
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def _relay(loop: asyncio.AbstractEventLoop, listener: PadKeyListener) -> Callable[[EntryKey], None]:
    """The driver's ``on_key`` (worker thread) handing ``PadKey`` events to ``loop``."""

    def on_key(key: EntryKey) -> None:
        event = PadKey(PadKeyAction[key.action.name], key.length)
        # A closed loop has nobody left to tell; the entry goes on regardless.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(listener, event)

    return on_key


#: prompt -> (entry kind, minimum length, maximum length)
ENTRY_LIMITS: Final = {
    PromptKind.SIGNING_PASSWORD: (EntryKind.ALNUM, 6, 16),
    PromptKind.AUTH_PIN: (EntryKind.NUMERIC, 4, 4),
    PromptKind.CARD_INFO_PIN: (EntryKind.NUMERIC, 4, 4),
    PromptKind.ONE_TIME_PASSWORD: (EntryKind.NUMERIC, 8, 8),
}


class ControllerSecureEntry:
    """A ``SecureEntry`` over an open, commissioned ``Controller``.

    Args:
        controller: the board driver (opened, with its key); used only from
            this object's worker thread from now on.
        entry_timeout: seconds the user has to finish one entry.
    """

    def __init__(self, controller: Controller, *, entry_timeout: float = 30.0) -> None:
        self._controller = controller
        self._timeout = entry_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="controller")

    def _collect(
        self,
        prompt: Prompt,
        cancelled: threading.Event,
        on_key: Callable[[EntryKey], None] | None,
    ) -> Secret:
        kind, low, high = ENTRY_LIMITS.get(prompt.kind, (EntryKind.NUMERIC, 4, 4))
        block = self._controller.secure_entry(
            kind,
            min_length=low,
            max_length=high,
            entry_timeout=self._timeout,
            on_key=on_key,
            cancel=cancelled.is_set,
        )
        with block.decrypted() as inner:
            # The flow owns (and wipes) this copy; the block's own is wiped here.
            return Secret(inner.reveal())

    async def __call__(self, prompt: Prompt) -> Secret:
        """Collect the secret ``prompt`` asks for on the board.

        Its keys go to the listener of ``pad_keys_to`` as ``PadKey`` events, if one is set.

        Raises:
            EntryCancelledError, EntryTimeoutError: the entry did not finish.
            BoardTamperedError, BoardNotCommissionedError: the board refused.
            InvalidPinBlockError: the block failed its MAC, binding or counter.
        """
        cancelled = threading.Event()
        loop = asyncio.get_running_loop()
        listener = _listener.get()
        on_key = None if listener is None else _relay(loop, listener)
        future = loop.run_in_executor(self._executor, self._collect, prompt, cancelled, on_key)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled.set()  # the board cancels the entry; the thread then returns
            try:
                secret = await future
            except Exception:  # noqa: BLE001 - the entry's own end is no news now
                raise asyncio.CancelledError from None
            secret.wipe()
            raise

    async def tampered(self) -> bool:
        """Whether the board's tamper flag is set (the agent's status monitor).

        Runs on this object's worker thread, after any entry in progress.

        Raises:
            PeripheralError: the board is silent or gone.
        """
        return (await self.board_status()).tampered

    async def board_status(self) -> BoardStatus:
        """The board's STATUS (flags, key check value, counter) for the status monitor.

        Runs on this object's worker thread, after any entry in progress.

        Raises:
            PeripheralError: the board is silent or gone.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._controller.status)

    async def aclose(self) -> None:
        """Stop the worker thread (the controller itself is the caller's to close)."""
        self._executor.shutdown(wait=True)
