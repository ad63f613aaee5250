# SPDX-License-Identifier: Apache-2.0
"""The MFP's print engine for tests and the demo: a private CUPS and ``ippeveprinter``.

``engine.PrintEngine`` starts them (stopped by PID), registers an IPP
Everywhere queue and injects printer faults; ``command`` is the
job-processing program ``ippeveprinter`` runs for every document.
"""

from __future__ import annotations

from hw_sim.printing.engine import (
    EngineFault,
    PrintEngine,
    PrintEngineError,
    ReceivedDocument,
    engine_tools,
)

__all__ = ["EngineFault", "PrintEngine", "PrintEngineError", "ReceivedDocument", "engine_tools"]
