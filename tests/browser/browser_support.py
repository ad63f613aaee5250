# SPDX-License-Identifier: Apache-2.0
"""Drive the kiosk touchscreen app in headless Chromium against the real stack.

Why a thread: Playwright's sync API runs its own event loop, so the world
(``myna_edge.demo.ui.UiWorld``: the in-process verifier over mTLS, the
kiosk and ATM agents over real gRPC, their gateways, the receipt printer
and the controller firmware under MicroPython) runs in an asyncio loop of
its own thread, and tests reach it with ``WorldThread.call``. The browser
is the system Chromium (Debian ``chromium``), never a downloaded one,
with a fresh profile folder. Screenshots go to ``tests/browser/artifacts/``
(git-ignored) so a run leaves them to look at.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from myna_edge.demo.ui import UiWorld
from tests.prerequisites import missing_prerequisite

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "LogTrap",
    "WorldThread",
    "launch_browser",
    "plain_text",
    "secret_free",
    "shot",
    "tap_keys",
    "wait_screen",
]

_T = TypeVar("_T")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class WorldThread:
    """A ``UiWorld`` served from an asyncio loop in a background thread."""

    def __init__(self, root: Path, *, controller: bool = True, reset_otp: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ui-world", daemon=True)
        self._thread.start()
        self.world = UiWorld(root, controller=controller, idle_seconds=60.0, reset_otp=reset_otp)
        try:
            self.call(self.world.start(), 90.0)
        except BaseException:
            self.close()
            raise

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        """Run ``coro`` in the world's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def idle(self, timeout: float = 15.0) -> None:
        """Wait until neither agent runs a command (its card session closed)."""
        deadline = time.monotonic() + timeout
        for agent in (self.world.kiosk_agent, self.world.atm_agent):
            assert agent is not None
            assert agent.server is not None
            while agent.server.servicer.busy:
                assert time.monotonic() < deadline, "an agent stayed busy"
                time.sleep(0.05)

    def close(self) -> None:
        """Stop the world, then the loop and its thread."""
        try:
            self.call(self.world.stop(), 60.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10.0)
            self.loop.close()


def insert_cash(world: WorldThread, yen: int) -> None:
    """The resident puts ``yen`` in the kiosk MFP's cash slot once it opens (ccTalk emulator)."""
    issuance = world.world.issuance
    assert issuance is not None
    issuance.bus.wait_until(issuance.bus.accepting, 10.0)
    assert issuance.insert(yen), f"the cash slot refused {yen} yen"


@contextmanager
def launch_browser(profile_dir: Path) -> Iterator[Any]:
    """The system Chromium, headless, with a fresh user-data-dir; yields a browser context."""
    if shutil.which(CHROMIUM) is None:
        missing_prerequisite("Debian package chromium (/usr/bin/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_prerequisite("the playwright Python package (pip install playwright)")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, args=_ARGS, headless=True,
            viewport={"width": 1280, "height": 1024}, locale="ja-JP",
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def wait_screen(page: Any, screen: str, timeout: float = 20.0) -> None:
    """Wait until the app shows ``screen`` (``body[data-screen]``)."""
    page.wait_for_function(
        "s => document.body.dataset.screen === s", arg=screen, timeout=timeout * 1000
    )


def tap_keys(page: Any, text: str, keys: str = "#entry-keys") -> None:
    """Tap ``text`` on the on-screen keypad or keyboard."""
    for char in text:
        page.click(f"{keys} [data-key='{char}']")


def plain_text(page: Any, selector: str) -> str:
    """The element's text as read aloud: without the furigana (``<rt>``) above hard terms."""
    text: str = page.eval_on_selector(
        selector,
        "el => { const c = el.cloneNode(true); c.querySelectorAll('rt').forEach(r => r.remove());"
        " return c.textContent.trim(); }",
    )
    return text


def open_app(page: Any, url: str) -> list[str]:
    """Open the app; returns the list that collects every request body the page sends."""
    bodies: list[str] = []
    page.on("request", lambda r: bodies.append(r.post_data or ""))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    return bodies


def enter_secret(page: Any, secret: str) -> None:
    """Type ``secret`` on the entry screen's keys, see it masked, and confirm."""
    wait_screen(page, "entry")
    tap_keys(page, secret)
    assert page.inner_text("#entry-mask") == "●" * len(secret)
    page.click("#entry-ok")


def shot(page: Any, name: str) -> Path:
    """Save a screenshot as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def secret_free(page: Any, secrets: list[str]) -> None:
    """The secrets are nowhere in the DOM (text, attributes, values) or web storage."""
    html = page.content()
    values = page.evaluate(
        "() => [...document.querySelectorAll('input')].map(i => i.value).join(' ')"
    )
    storage = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    for secret in secrets:
        for where, text in (("DOM", html), ("inputs", values), ("storage", storage)):
            assert not re.search(re.escape(secret), text), f"a secret is in the page's {where}"


class LogTrap(logging.Handler):
    """Every record of the gateway and the demo world, formatted, while installed."""

    LOGGERS = ("host.gateway", "myna_edge.demo.ui")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @contextmanager
    def installed(self) -> Iterator[LogTrap]:
        """Attach to the loggers at DEBUG for the ``with`` block."""
        loggers = [logging.getLogger(name) for name in self.LOGGERS]
        levels = [log.level for log in loggers]
        for log in loggers:
            log.addHandler(self)
            log.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            for log, level in zip(loggers, levels, strict=True):
                log.removeHandler(self)
                log.setLevel(level)
