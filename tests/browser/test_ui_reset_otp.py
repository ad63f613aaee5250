# SPDX-License-Identifier: Apache-2.0
"""The PIN reset under the OTP policy (the 2020 plan) in headless Chromium.

The verifier's reset policy asks for the 8-digit one-time password the
holder's phone shows when booking; the kiosk agent asks for it first
(``reset_otp_first``). The phone is the simulator panel: its booking button
shows the OTP, which the user types on the kiosk's keypad. The OTP is a
secret prompt like a PIN: sealed in the page, never in the kiosk page's
DOM or storage, in any request body or in the gateway's logs. A wrong OTP
is refused by the verifier and the app says so with the attempts left.
"""

from __future__ import annotations

import re
from typing import Any

from tests.browser.browser_support import (
    LogTrap,
    WorldThread,
    enter_secret,
    open_app,
    plain_text,
    secret_free,
    shot,
    tap_keys,
    wait_screen,
)

AUTH_PIN = "1234"  # the test card's authentication PIN: proves the card for a signing reset
NEW_PASSWORD = "OTPRESET26"
_OTP_TITLE = "() => document.getElementById('entry-title').textContent.includes('ワンタイム')"


def _book_on_panel(browser: Any, world: WorldThread) -> str:
    """Book a signing-password reset on the simulator panel (the phone); its OTP."""
    assert world.world.kiosk is not None
    phone = browser.new_page()
    try:
        phone.goto(world.world.kiosk.url + "sim")
        phone.click("button[data-action='book'][data-value='sign']")
        phone.wait_for_function(
            "() => document.getElementById('panel-log').textContent.includes('booked')"
        )
        log = phone.inner_text("#panel-log")
        assert phone.inner_text("#kiosk-link").endswith(world.world.kiosk.url)  # state kept
        shot(phone, "24-panel-booked-otp")
    finally:
        phone.close()
    found = re.search(r"one-time password (\d{8})\b", log)
    assert found, f"the panel shows no OTP: {log!r}"
    return found.group(1)


def _start(page: Any, world: WorldThread) -> list[str]:
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.place()
    bodies = open_app(page, w.kiosk.url)
    page.click("#go-reset")
    page.click("#reset-sign")
    wait_screen(page, "entry")
    page.wait_for_function(_OTP_TITLE)
    return bodies


def _finish(page: Any) -> None:
    """The card proof (authentication PIN), the new password twice, the result."""
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.startsWith('利用者証明用')"
    )
    enter_secret(page, AUTH_PIN)
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.startsWith('新しい')"
    )
    enter_secret(page, NEW_PASSWORD)
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.includes('確認')"
    )
    enter_secret(page, NEW_PASSWORD)
    wait_screen(page, "result")
    assert plain_text(page, "#result-title") == "暗証番号の再設定が完了しました"


def test_ui_reset_with_otp(
    otp_world: WorldThread, browser: Any, otp_page: Any, trap: LogTrap
) -> None:
    otp = _book_on_panel(browser, otp_world)
    page = otp_page
    bodies = _start(page, otp_world)
    assert page.inner_text("#entry-rule") == "数字8桁を入力してください"
    assert page.inner_text("#entry-tries") == ""  # no refusal yet
    assert page.is_hidden("#entry-error")
    tap_keys(page, otp[:7])
    assert page.is_disabled("#entry-ok")  # 8 digits, no fewer
    tap_keys(page, otp[7:])
    assert page.inner_text("#entry-mask") == "●" * 8
    shot(page, "22-otp-entry")
    page.click("#entry-ok")
    _finish(page)
    shot(page, "25-otp-reset-done")
    secret_free(page, [otp, AUTH_PIN, NEW_PASSWORD])
    # The OTP left the page only sealed (a touch entry), like the PINs.
    assert sum("touch_entry" in body for body in bodies) == 4
    assert not any(otp in body or AUTH_PIN in body for body in bodies)
    assert not any(otp in line or NEW_PASSWORD in line for line in trap.lines)
    assert sum("/api/answer -> 200" in line for line in trap.lines) == 4


def test_ui_reset_wrong_otp_shows_attempts_left(
    otp_world: WorldThread, browser: Any, otp_page: Any, trap: LogTrap
) -> None:
    otp = _book_on_panel(browser, otp_world)
    wrong = "".join(str((int(d) + 1) % 10) for d in otp)  # differs in every digit
    page = otp_page
    _start(page, otp_world)
    enter_secret(page, wrong)
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.startsWith('利用者証明用')"
    )
    enter_secret(page, AUTH_PIN)  # the card proof goes with the OTP to the verifier, which refuses
    page.wait_for_function(_OTP_TITLE)
    page.wait_for_selector("#entry-error:not([hidden])")
    assert page.inner_text("#entry-error").startswith("ワンタイムパスワードが違います")
    assert page.inner_text("#entry-tries") == "残り 2 回"  # the verifier allows 3
    shot(page, "23-otp-wrong")
    secret_free(page, [otp, wrong, AUTH_PIN])
    enter_secret(page, otp)  # the right one now: the booking still holds
    _finish(page)
    secret_free(page, [otp, wrong, AUTH_PIN, NEW_PASSWORD])
    assert not any(otp in line or wrong in line for line in trap.lines)
