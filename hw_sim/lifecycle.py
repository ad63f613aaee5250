# SPDX-License-Identifier: Apache-2.0
"""The start/stop lifecycle of the simulator's long-running parts, as a context manager.

Why a base class: the reader rigs, the private pcscd, the vpcd bridge and
the PN532 pty each run a daemon or a thread that a test must stop (the
autouse leak check fails one left running); ``with`` starts them on entry
and stops them on exit, however the block ends. Subclasses fill ``start()``
and ``stop()``; ``stop()`` must be harmless when already stopped.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["StartStopABC"]


class StartStopABC(abc.ABC):
    """Something started and stopped; a context manager that starts on entry."""

    @abc.abstractmethod
    def start(self) -> Self:
        """Start; return ``self``."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop; harmless when already stopped."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
