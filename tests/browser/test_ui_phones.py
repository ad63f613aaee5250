# SPDX-License-Identifier: Apache-2.0
"""The kiosk app's smartphone screens (issue 15) in headless Chromium, against the real stack.

An iPhone takes no PIN at the terminal: the holder approves on the phone
(side button + Face ID), so the app shows 「スマートフォンで認証してください」
while the agent waits for the phone's answer. The simulator panel (a second
tab, as a demo runs it) holds the iPhone over the reader and sets that
answer: no answer at first, then approved (the reading completes), declined
(the transfer stops before anything is authorised) or still no answer when
the prompt's time runs out. Every screen is captured, as the other browser
tests do, in ``tests/browser/artifacts/phone-*.png`` and, for the
documentation, ``docs/screenshots/kiosk-phone-*.png``; with
``MYNA_EDGE_SCREENSHOTS=DIR`` also in DIR (a closing note's pictures).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from host.journal import Effect, JournalEntry, Phase
from tests.browser.browser_support import WorldThread, open_app, plain_text, shot, wait_screen
from tests.browser.test_ui_a11y import audit, axe_source, focus_on_heading

__all__ = ["axe_source"]  # the fixture, imported so pytest finds it here

DOCS_SHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOTS_ENV: Final = "MYNA_EDGE_SCREENSHOTS"
READER_PROMPT: Final = "カードまたはスマートフォンをかざしてください"
PHONE_TITLE: Final = "スマートフォンで認証してください"
#: How long the phone may stay silent in the no-answer case (the prompt's time, seconds).
SHORT_PROMPT: Final = 3.0


def _shot(page: Any, name: str) -> Path:
    """Capture the screen as a test artefact, for the docs, and in $MYNA_EDGE_SCREENSHOTS."""
    path = shot(page, f"phone-{name}")
    DOCS_SHOTS.mkdir(exist_ok=True)
    shutil.copyfile(path, DOCS_SHOTS / f"kiosk-phone-{name}.png")
    extra = os.environ.get(SHOTS_ENV)
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / f"kiosk-phone-{name}.png")
    return path


@pytest.fixture
def panel(world: WorldThread, browser: Any) -> Iterator[Any]:
    """The simulator panel in its own tab; the phone's answer and the timeouts restored after."""
    w = world.world
    assert w.kiosk is not None
    runtimes = [a.server.servicer.runtime for a in (w.kiosk_agent, w.atm_agent) if a and a.server]
    timeouts = [rt.timeouts for rt in runtimes]
    tab = browser.new_page()
    try:
        tab.goto(w.kiosk.url + "sim")
        tab.wait_for_selector("#approval-state")
        yield tab
    finally:
        tab.close()
        for rt, before in zip(runtimes, timeouts, strict=True):
            rt.timeouts = before
        w.kiosk_reader.approval = w.atm_reader.approval = None


def _answer(panel: Any, answer: str) -> None:
    """The holder's answer on the iPhone, set on the panel."""
    panel.click(f"button[data-action='approval'][data-value='{answer}']")
    panel.wait_for_function(
        "a => document.getElementById('approval-state').textContent === `(${a})`", arg=answer
    )


def _hold_iphone(panel: Any, reader: str) -> None:
    panel.click(
        f"button[data-action='place'][data-value='{reader}'][data-profile='iphone-default']"
    )
    panel.wait_for_function(
        "r => document.getElementById(`${r}-state`).textContent.includes('iphone-default')",
        arg=reader,
    )


def _read_until_phone_screen(page: Any, panel: Any, world: WorldThread) -> None:
    """Start a card reading at the kiosk and hold the iPhone over the reader."""
    w = world.world
    assert w.kiosk is not None
    open_app(page, w.kiosk.url)
    page.click("#go-read")
    wait_screen(page, "consent")
    page.click("#consent-ok")
    wait_screen(page, "insert")
    assert plain_text(page, "#screen-insert h2") == READER_PROMPT
    _hold_iphone(panel, "kiosk")
    wait_screen(page, "phone")


def _entries(world: WorldThread, agent: str) -> list[JournalEntry]:
    a = world.world.kiosk_agent if agent == "kiosk" else world.world.atm_agent
    assert a is not None
    assert a.server is not None
    return a.server.servicer.runtime.journal.entries()


def test_ui_iphone_approves_on_the_phone(
    world: WorldThread, page: Any, panel: Any, axe_source: str
) -> None:
    """No answer at first: the phone screen stays, accessible; approved: the reading completes."""
    _answer(panel, "no-answer")
    w = world.world
    assert w.kiosk is not None
    open_app(page, w.kiosk.url)
    page.click("#go-read")
    page.click("#consent-ok")
    wait_screen(page, "insert")
    assert plain_text(page, "#screen-insert h2") == READER_PROMPT
    assert "スマートフォン" in page.inner_text("#screen-insert p")
    _shot(page, "01-reader-prompt")
    _hold_iphone(panel, "kiosk")
    wait_screen(page, "phone")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert plain_text(page, "#screen-phone h2") == PHONE_TITLE
    assert "顔認証" in page.inner_text("#screen-phone p")
    assert page.get_attribute("#phone-status", "role") == "status"  # announced, nothing to tap
    focus_on_heading(page)
    assert page.is_visible("#cancel")
    for _ in range(10):  # the cancel button is reachable with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "cancel":
            break
    assert page.evaluate("document.activeElement.id") == "cancel"
    _shot(page, "02-approve-on-phone")
    page.click("#lang")
    assert plain_text(page, "#screen-phone h2") == "Authenticate on your phone"
    page.click("#lang")
    audit(page, axe_source, "approve on the phone")
    assert page.evaluate("document.body.dataset.screen") == "phone"  # still waiting
    _answer(panel, "approved")
    wait_screen(page, "result", timeout=30)
    result = page.inner_text("#result")
    assert "スマートフォンの電子証明書\n確認済み" in result.replace("\t", "\n")
    assert "カードの有効性" not in result  # a phone is not called a card
    assert "山田" not in result  # a phone carries no basic four: only the proof
    _shot(page, "03-read-result")
    verify = [e for e in _entries(world, "kiosk") if e.effect is Effect.CARD_VERIFY]
    assert verify[-1].phase is Phase.OUTCOME
    assert verify[-1].data.get("accepted") is True
    intent = [e for e in verify if e.phase is Phase.INTENT]
    assert intent[-1].data.get("credential_kind") == "iphone"


def test_ui_iphone_declined_transfer_moves_nothing(
    world: WorldThread, page: Any, panel: Any
) -> None:
    """Declined on the phone during an ATM transfer: the declined message, nothing authorised."""
    w = world.world
    assert w.atm is not None
    _answer(panel, "no-answer")
    before = _entries(world, "atm")
    open_app(page, w.atm.url)
    page.click("#go-transfer")
    wait_screen(page, "transfer-form")
    for digit in "250000":
        page.click(f"#amount-keys [data-key='{digit}']")
    page.click("#transfer-next")
    wait_screen(page, "statement")
    page.click("#statement-yes")
    wait_screen(page, "insert")
    assert plain_text(page, "#screen-insert h2") == READER_PROMPT
    _hold_iphone(panel, "atm")
    wait_screen(page, "phone")
    assert plain_text(page, "#screen-phone h2") == PHONE_TITLE
    _answer(panel, "declined")
    wait_screen(page, "error", timeout=30)
    text = plain_text(page, "#error-text")
    assert "スマートフォンで認証が取り消されました" in text
    assert "試行回数は減っていません" in text
    assert page.evaluate("document.body.dataset.reason") == "result.declined_on_phone"
    _shot(page, "04-declined")
    new = _entries(world, "atm")[len(before) :]
    effects = {e.effect for e in new}
    assert Effect.TRANSFER_AUTHORIZE not in effects  # nothing was authorised, nothing moved
    assert Effect.TRANSFER_COMMIT not in effects
    assert page.is_hidden("#screen-cash")


def test_ui_iphone_no_answer_times_out(world: WorldThread, page: Any, panel: Any) -> None:
    """The phone never answers: when the prompt's time is up the app says so, nothing verified."""
    for agent in (world.world.kiosk_agent, world.world.atm_agent):
        assert agent is not None
        assert agent.server is not None
        runtime = agent.server.servicer.runtime
        runtime.timeouts = dataclasses.replace(runtime.timeouts, prompt=SHORT_PROMPT)
    _answer(panel, "no-answer")
    before = _entries(world, "kiosk")
    _read_until_phone_screen(page, panel, world)
    wait_screen(page, "error", timeout=SHORT_PROMPT + 30)
    text = plain_text(page, "#error-text")
    assert "スマートフォンでの認証が確認できませんでした" in text
    assert "試行回数は減っていません" in text
    assert page.evaluate("document.body.dataset.reason") == "result.phone_no_answer"
    _shot(page, "05-no-answer")
    new = _entries(world, "kiosk")[len(before) :]
    assert Effect.CARD_VERIFY not in {e.effect for e in new}


def test_ui_iphone_cancel_with_the_keyboard(world: WorldThread, page: Any, panel: Any) -> None:
    """Waiting for the phone, Escape (取消) cancels: nothing is sent to the verifier."""
    _answer(panel, "no-answer")
    before = _entries(world, "kiosk")
    _read_until_phone_screen(page, panel, world)
    page.keyboard.press("Escape")
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "cancelled"
    new = _entries(world, "kiosk")[len(before) :]
    assert Effect.CARD_VERIFY not in {e.effect for e in new}
