# SPDX-License-Identifier: Apache-2.0
"""The staff screen of the counter check (issue 21) in headless Chromium.

A counter-profile agent (the virtual card over ``sim://``, the test PKI's
issuer key) behind a real gateway: staff pick 対面での本人確認, type
照合番号B on the screen's keys (sealed to the prompt's key, as a kiosk PIN;
a wrong code shows one try fewer), see the chip's photo, name, address,
dates and verdict, and confirm the person matches. axe finds no WCAG
violation on the new screens; the code is nowhere in the page or in what it
sent. Screenshots go to ``docs/screenshots/counter-*.png``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from host.api import AgentRuntime, Profile, TerminalServer
from host.cli import load_issuer_key
from host.client import VerifierClient
from host.flows.aml_record import JsonLinesAmlFile
from host.gateway import Gateway, GatewayConfig
from host.journal import Journal
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile
from tests.browser.browser_support import (
    open_app,
    plain_text,
    secret_free,
    shot,
    tap_keys,
    wait_screen,
)
from tests.browser.test_ui_a11y import AXE, audit
from tests.flows_support import client_config
from tests.prerequisites import missing_prerequisite
from tests.verifier_support import ServerThread, VerifierEnv, make_env

_T = TypeVar("_T")
READER = "sim://default?persist=0"
PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b
WRONG_B = CODE_B[:10] + ("0000" if CODE_B[10:] != "0000" else "1111")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class CounterDesk:
    """A counter agent and its gateway, served from an asyncio loop in a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        env = make_env(root / "pki")
        self.verifier = ServerThread(env.config()).start()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._journal = Journal(root / "journal.db")
        self.gateway = self.call(self._start(env))

    async def _start(self, env: VerifierEnv) -> Gateway:
        """Build and start inside the loop (grpc.aio binds its objects to it)."""
        root = self.root
        self._client = VerifierClient(client_config(env, self.verifier, "desk-01"))
        await self._client.__aenter__()
        runtime = AgentRuntime.for_reader(
            READER,
            profile=Profile.COUNTER,
            terminal_id="desk-01",
            verifier=self._client,
            journal=self._journal,
            issuer_key=load_issuer_key(sim_trust_dir(READER)),
            aml_file=JsonLinesAmlFile(root / "aml.jsonl"),
        )
        self.server = TerminalServer(runtime, f"unix:{root}/api.sock")
        await self.server.start()
        gateway = Gateway(GatewayConfig(agent=f"unix:{root}/api.sock"))
        await gateway.start()
        return gateway

    async def _stop(self) -> None:
        await self.gateway.stop()
        await self.server.stop()
        await self._client.__aexit__(None, None, None)

    def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` in the desk's loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        """Stop the gateway, the agent, the verifier and the loop."""
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            self._journal.close()
            self.verifier.stop()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CounterDesk]:
    running = CounterDesk(tmp_path_factory.mktemp("counter-desk"))
    try:
        yield running
    finally:
        running.close()


def test_staff_check_a_card_on_the_counter_screen(desk: CounterDesk, browser: Any) -> None:
    if not AXE.is_file():
        missing_prerequisite("axe-core in tests/browser/node_modules (make test runs npm ci)")
    axe = AXE.read_text(encoding="utf-8")
    page = browser.new_page()
    try:
        sent = open_app(page, desk.gateway.url)
        page.wait_for_selector("#go-counter:not([hidden]):not([disabled])")
        assert page.is_hidden("#go-transfer")
        assert page.is_hidden("#go-reset")
        page.click("#go-counter")
        wait_screen(page, "entry")
        assert "照合番号B" in plain_text(page, "#entry-title")
        before = page.inner_text("#entry-tries")
        tap_keys(page, WRONG_B)
        page.click("#entry-ok")
        page.wait_for_selector("#entry-error:not([hidden])")
        assert "照合番号Bが違います" in plain_text(page, "#entry-error")
        tries = page.inner_text("#entry-tries")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "counter-code-b.png"))
        audit(page, axe, "counter code B, wrong")
        tap_keys(page, CODE_B)
        page.click("#entry-ok")
        wait_screen(page, "photo")
        assert page.get_attribute("#photo-verdict", "data-verdict") == "FACE_VERDICT_GENUINE"
        assert page.evaluate("document.getElementById('photo-img').naturalWidth > 0")
        assert page.get_attribute("#photo-img", "alt")
        assert PROFILE.person.name in page.inner_text("#photo-facts")
        page.screenshot(path=str(SCREENSHOTS / "counter-photo.png"))
        audit(page, axe, "counter photo comparison")
        page.click("#photo-yes")
        wait_screen(page, "result")
        assert plain_text(page, "#result-title") == "対面での本人確認が完了しました"
        page.screenshot(path=str(SCREENSHOTS / "counter-result.png"))
        shot(page, "counter-result")
        page.click("#result-done")
        wait_screen(page, "start")
        assert page.get_attribute("#photo-img", "src") is None  # the photo left the page
        secret_free(page, [CODE_B, WRONG_B])
        assert not any(code in body for body in sent for code in (CODE_B, WRONG_B))
        # The wrong code cost one try, and the screen says so.
        assert int(tries.split()[1]) == int(before.split()[1]) - 1
    finally:
        page.close()
