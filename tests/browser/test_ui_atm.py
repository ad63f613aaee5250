# SPDX-License-Identifier: Apache-2.0
"""The touchscreen app on the ATM agent in headless Chromium: the identity-verified transfer.

Over ¥100,000 the app shows the statement exactly as the agent sends it for
signing, asks for the card, and sends the user to the controller's secure
PIN pad (the real firmware under MicroPython): the ATM profile never takes
a password on the screen, and a wrong try on the pad shows the tries left.
Below the threshold no card is asked for.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from host.client import AccountType
from host.messages import UserText
from host.prompt_texts import statement_message
from tests.browser.browser_support import (
    WorldThread,
    open_app,
    secret_free,
    shot,
    tap_keys,
    wait_screen,
)

PASSWORD = "ABCD1234"


def _signed_statement(amount: int) -> UserText:
    """The agent's statement for the app's demo payee (what the card signs over), JA and EN."""
    return statement_message(
        SimpleNamespace(  # type: ignore[arg-type]
            amount_yen=amount, payee_name="ヤマダ　ハナコ", payee_bank_code="0001",
            payee_branch_code="123", payee_account_type=AccountType.ORDINARY,
            payee_account_number="1234567", remitter_name="ヤマダ　タロウ",
            remitter_phone="03-1234-5678",
        )
    )  # fmt: skip


def _start_transfer(page: Any, world: WorldThread, amount: str) -> None:
    w = world.world
    assert w.atm is not None
    open_app(page, w.atm.url)
    assert page.is_visible("#go-transfer")
    assert not page.is_visible("#go-reset")  # the ATM profile offers no reset
    page.click("#go-transfer")
    wait_screen(page, "transfer-form")
    tap_keys(page, amount, "#amount-keys")
    assert page.inner_text("#amount") == f"¥{int(amount):,}"


def test_ui_transfer_over_threshold(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.pad is not None
    assert w.printer is not None
    printed = len(w.printer.receipts)
    _start_transfer(page, world, "250000")
    shot(page, "11-transfer-form")
    page.click("#transfer-next")
    wait_screen(page, "statement")
    # The screen shows exactly the statement the agent has the card sign, in the
    # screen's language (金額, 振込先, 口座, 依頼人), and in English on the toggle.
    statement = _signed_statement(250_000)
    assert page.inner_text("#statement") == statement.ja
    assert "金額: 250,000円" in statement.ja
    shot(page, "12-transfer-statement")
    page.click("#lang")
    assert page.inner_text("#statement") == statement.en
    page.click("#lang")
    assert page.inner_text("#statement") == statement.ja
    page.click("#statement-yes")
    wait_screen(page, "insert")
    w.atm_reader.place()
    wait_screen(page, "pad")
    assert page.inner_text("#pad-tries") == "残り 5 回"
    shot(page, "13-transfer-pin-pad")
    assert page.locator("#screen-entry").is_hidden()  # never a password on screen
    w.pad.enter_password("WRONG9")  # a wrong try on the pad: the app shows what is left
    page.wait_for_function("() => document.getElementById('pad-tries').textContent === '残り 4 回'")
    assert page.evaluate("document.body.dataset.screen") == "pad"
    typist = threading.Thread(target=w.pad.enter_password, args=(PASSWORD,))
    typist.start()
    try:
        wait_screen(page, "cash", timeout=30)
    finally:
        typist.join(30)
    shot(page, "19-transfer-cash")
    page.click("#cash-yes")
    wait_screen(page, "result", timeout=30)
    result = page.inner_text("#result")
    assert "振込が完了しました" in result  # the state in words, never TRANSFER_STATE_COMMITTED
    assert "COMMITTED" not in result
    assert "本人確認\n済" in result or "本人確認\t済" in result
    assert page.is_hidden("#cancel")  # nothing left to cancel after success
    shot(page, "14-transfer-result")
    # The receipt is printed in the customer's language (the screen's: Japanese).
    receipt = w.printer.wait_receipts(printed + 1)[-1].text()
    assert "振込金額 250,000円" in receipt
    assert "AMOUNT JPY" not in receipt
    secret_free(page, [PASSWORD])


def test_ui_transfer_below_threshold_needs_no_card(world: WorldThread, page: Any) -> None:
    _start_transfer(page, world, "50000")
    page.click("#transfer-next")
    wait_screen(page, "cash", timeout=30)
    page.click("#cash-yes")
    wait_screen(page, "result", timeout=30)
    result = page.inner_text("#result")
    assert "振込が完了しました" in result
    assert "本人確認\nなし" in result or "本人確認\tなし" in result
