# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the reader integration tests: pcscd + vpcd, and the PN532 on a pty.

The rigs themselves are ``hw_sim.readers.stack`` (shared with the
benchmarks). pcscd allows one daemon per machine, so each test module that
needs it starts its own and stops it by PID when the module ends. Under CI
a missing tool is a failure; locally it is a skip with the reason
(STYLE §8).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator

import pytest

from hw_sim.readers.pcscd import PcscdBusyError
from hw_sim.readers.stack import PCSC_READER, PCSC_URL, PcscRig, Pn532Rig
from tests.prerequisites import IN_CI, missing_prerequisite

__all__ = ["IN_CI", "PCSC_READER", "PCSC_URL", "pcsc_stack", "pn532_stack", "require"]

#: pcscd allows one daemon per machine: a parallel test run's is waited for.
BUSY_WAIT_S = 300.0


def require(ok: bool, reason: str) -> None:
    """Fail under CI, skip locally, when a prerequisite is missing."""
    if not ok:
        missing_prerequisite(reason)


@pytest.fixture(scope="module")
def pcsc_stack() -> Iterator[PcscRig]:
    """A private pcscd with the vpcd bridge (``PcscRig``)."""
    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(importlib.util.find_spec("smartcard") is not None, "pyscard is not installed")
    rig = PcscRig(busy_wait=BUSY_WAIT_S)
    try:
        rig.start()
    except PcscdBusyError as error:
        require(False, str(error))
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture(scope="module")
def pn532_stack() -> Iterator[Pn532Rig]:
    """The PN532 emulator on a pty (``Pn532Rig``)."""
    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    with Pn532Rig() as rig:
        yield rig
