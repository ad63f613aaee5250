# SPDX-License-Identifier: Apache-2.0
"""An asyncio loop on a daemon thread, and the verifier served from one.

Why: the demo, the benchmarks, the chaos scenarios and the tests drive
grpc.aio servers (the verifier, an agent) from synchronous code. One loop
thread with a bounded ``run`` and a ``close`` that joins keeps every such
place from growing its own copy of the start/stop dance.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from verifier.config import VerifierConfig
from verifier.core import Core
from verifier.server import VerifierServer, build_core

__all__ = ["LoopThread", "VerifierThread"]

_T = TypeVar("_T")


class LoopThread:
    """An asyncio loop on a daemon thread, for servers driven from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the loop thread still runs (``close`` not called yet)."""
        return self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 60.0) -> _T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class VerifierThread:
    """A real ``VerifierServer`` on 127.0.0.1, served from its own loop thread."""

    def __init__(self, config: VerifierConfig, core: Core | None = None) -> None:
        self.config = config
        self.core = core if core is not None else build_core(config)
        self.server = VerifierServer(config, self.core)
        self._thread: LoopThread | None = None
        self.port = 0

    def start(self) -> VerifierThread:
        """Start serving; returns self."""
        self._thread = LoopThread()
        self.port = self._thread.run(self.server.start(), timeout=30)
        return self

    def stop(self) -> None:
        """Drain and stop; harmless twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.run(self.server.stop(1.0), timeout=30)
        thread.close()
