# SPDX-License-Identifier: Apache-2.0
"""A started verifier hides its start-up heap from the garbage collector (issue 18).

Why it matters: a full collection that walks every object of the process
stopped the event loop for 15-95 ms, and at 32 calls in flight that pause
was the VerifyCard p99 (``docs/internals/benchmarks.md``). ``start`` freezes
what start-up built (``gc.freeze``); ``stop`` gives it back, so a process
that starts servers again (the tests) does not keep old servers' cycles.
"""

from __future__ import annotations

import gc
from pathlib import Path

from myna_edge.loop_thread import LoopThread
from tests.verifier_support import make_env
from verifier.server import VerifierServer


def test_start_freezes_the_start_up_heap_and_stop_gives_it_back(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    gc.unfreeze()  # whatever an earlier test left
    server = VerifierServer(env.config())
    loop = LoopThread()
    try:
        loop.run(server.start())
        frozen = gc.get_freeze_count()
        # The server's own objects are among the frozen: far more than a handful.
        assert frozen > 10_000
        loop.run(server.stop(1.0))
        assert gc.get_freeze_count() == 0
    finally:
        loop.run(server.stop(1.0))  # harmless twice
        loop.close()
        gc.unfreeze()
