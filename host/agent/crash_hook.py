# SPDX-License-Identifier: Apache-2.0
"""Test-only crash hook: SIGKILL the agent process right after one journal write.

Why: exactly-once settlement must survive a power cut at *every* journaled
step of a transfer, and the only faithful way to prove it for the whole
agent process is to kill that process dead (no ``finally``, no flush) right
after the write reaches the disk. ``MYNA_EDGE_TEST_KILL_AT="EFFECT:PHASE"``
(e.g. ``transfer.commit:intent``) arms it; ``EFFECT:PHASE:N`` kills at the
N-th matching write (default 1) of an operation this process started
(start-up recovery of an earlier process's operation never triggers it).
Unset - the production case - the plain ``Journal`` is used and nothing
here runs. The hook kills at most once per
process, so it can never loop.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from host.journal import Effect, Journal, Phase
from host.journal.records import JsonValue

__all__ = ["KILL_AT_ENV", "KillingJournal", "open_journal"]

_log = logging.getLogger(__name__)

#: The environment variable that arms the hook (tests only).
KILL_AT_ENV: Final = "MYNA_EDGE_TEST_KILL_AT"


class KillingJournal(Journal):
    """A ``Journal`` that SIGKILLs its own process after the chosen write."""

    def __init__(self, path: Path, effect: Effect, phase: Phase, nth: int = 1) -> None:
        super().__init__(path)
        self._at = (effect, phase)
        self._left = nth
        # Writes made by start-up recovery for operations an earlier process
        # left behind never trigger the hook: it kills this process's own flow.
        self._inherited = {entry.op_id for entry in self.entries()}

    def record(
        self,
        op_id: str,
        flow: str,
        effect: Effect,
        phase: Phase,
        *,
        idempotency_key: str = "",
        data: Mapping[str, JsonValue] | None = None,
    ) -> int:
        seq = super().record(op_id, flow, effect, phase, idempotency_key=idempotency_key, data=data)
        if (effect, phase) == self._at and op_id not in self._inherited:
            self._left -= 1
            if self._left == 0:
                _log.critical("test crash hook: SIGKILL after %s/%s", effect.value, phase.value)
                os.kill(os.getpid(), signal.SIGKILL)
        return seq


def open_journal(path: Path) -> Journal:
    """The agent's journal; a ``KillingJournal`` when ``MYNA_EDGE_TEST_KILL_AT`` is set.

    Raises:
        ValueError: the variable is set but malformed (the agent must not run
            with a half-understood test hook).
    """
    spec = os.environ.get(KILL_AT_ENV, "")
    if not spec:
        return Journal(path)
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{KILL_AT_ENV} must be EFFECT:PHASE[:N]")
    nth = int(parts[2]) if len(parts) == 3 else 1
    if nth < 1:
        raise ValueError(f"{KILL_AT_ENV}: N must be at least 1")
    _log.warning("test crash hook armed at %s", spec)
    return KillingJournal(path, Effect(parts[0]), Phase(parts[1]), nth)
