# SPDX-License-Identifier: Apache-2.0
"""Simulated serial peripherals: the controller board and the receipt printer.

``controller`` runs the real firmware under the MicroPython unix port on a
pty; ``printer`` emulates an ESC/POS receipt printer on a pty and renders
receipts; ``faults`` is the wire between device and host, with fault
injection, and ``base`` the relayed pty pair and lifecycle both share;
``memory_port`` is a scripted port in memory for driving host serial code
without a pty (fuzzing, unit tests).
``cli`` adds ``myna-edge sim controller`` and ``sim printer``.
"""

from __future__ import annotations

from hw_sim.devices.controller import SimController, find_micropython, password_taps
from hw_sim.devices.faults import LinkFaults, PtyRelay
from hw_sim.devices.printer import SimPrinter

__all__ = [
    "LinkFaults",
    "PtyRelay",
    "SimController",
    "SimPrinter",
    "find_micropython",
    "password_taps",
]
