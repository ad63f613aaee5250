# SPDX-License-Identifier: Apache-2.0
"""The kiosk touchscreen app in headless Chromium, against the real kiosk agent and verifier.

Card reading and both PIN-reset directions end to end, a wrong PIN with
tries left and the last-try warning, cancel, the card removed mid-flow,
the verifier down, the agent down, the idle timeout, and a sealed entry
the agent cannot open (the app asks again, no try spent). Every PIN goes
through the page's keypad, is sealed in the page (WebCrypto) and must
appear nowhere afterwards: not in the DOM, not in web storage, not in any
request the page sent, not in the gateway's logs.
"""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

from host.gateway import Gateway, GatewayConfig
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

PIN = "1234"  # the test card's card-info and authentication PIN
PASSWORD = "ABCD1234"
NEW_PASSWORD = "KIOSK2026"


def test_ui_read_card_happy_path(world: WorldThread, page: Any, trap: LogTrap) -> None:
    w = world.world
    assert w.kiosk is not None
    bodies = open_app(page, w.kiosk.url)
    assert page.is_visible("#go-read")
    assert page.is_visible("#go-reset")
    assert not page.is_visible("#go-transfer")  # the kiosk profile offers no transfer
    shot(page, "01-start")
    page.click("#go-read")
    wait_screen(page, "consent")
    assert "氏名" in page.inner_text("#screen-consent")
    shot(page, "02-consent")
    page.click("#consent-ok")
    wait_screen(page, "insert")
    shot(page, "03-insert-card")
    w.kiosk_reader.place()
    wait_screen(page, "entry")
    assert "残り 3 回" in page.inner_text("#entry-tries")
    tap_keys(page, PIN)
    shot(page, "04-pin-entry")
    page.click("#entry-ok")
    enter_secret(page, PIN)  # the authentication PIN proves the card to the verifier
    wait_screen(page, "result")
    result = page.inner_text("#result")
    # The birth date in 和暦, as on the card (the Western year follows in brackets).
    birth = "昭和55年1月1日（1980年）"
    for item in ("山田　太郎", "東京都千代田区霞が関１－１－１", birth, "男性", "確認済み"):
        assert item in result
    shot(page, "05-read-result")
    secret_free(page, [PIN])
    assert not any(PIN in body for body in bodies)
    assert any("touch_entry" in body for body in bodies)  # sealed, not absent
    assert not any(PIN in line for line in trap.lines)
    assert any("/api/answer -> 200" in line for line in trap.lines)
    page.click("#result-done")
    wait_screen(page, "start")
    assert "山田" not in page.content()  # personal data cleared with the screen


def test_ui_wrong_pin_tries_left_and_last_try_warning(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.place()
    open_app(page, w.kiosk.url)
    page.click("#go-read")
    page.click("#consent-ok")
    enter_secret(page, "9999")
    wait_screen(page, "entry")
    page.wait_for_function("() => document.getElementById('entry-tries').textContent.includes('2')")
    assert page.inner_text("#entry-tries") == "残り 2 回"
    assert not page.is_visible("#entry-warning")
    enter_secret(page, "9998")
    page.wait_for_function("() => document.getElementById('entry-tries').textContent.includes('1')")
    assert page.is_visible("#entry-warning")
    assert "ロック" in page.inner_text("#entry-warning")
    shot(page, "06-last-try-warning")
    secret_free(page, ["9999", "9998"])
    page.click("#cancel")
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "cancelled"


def test_ui_sealed_entry_refused_then_entered_again(
    world: WorldThread, page: Any, trap: LogTrap
) -> None:
    """The agent cannot open one sealed entry: the app asks again, no PIN try is spent."""
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.place()
    open_app(page, w.kiosk.url)
    armed: list[bool] = []

    def corrupt_once(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        if armed and "touch_entry" in body:
            armed.clear()
            sealed = bytearray(base64.b64decode(body["touch_entry"]["ciphertext"]))
            sealed[0] ^= 0x01  # one bit of ciphertext: AES-GCM's tag no longer matches
            body["touch_entry"]["ciphertext"] = base64.b64encode(sealed).decode()
            route.continue_(post_data=json.dumps(body))
        else:
            route.continue_()

    page.route("**/api/answer", corrupt_once)
    page.click("#go-read")
    page.click("#consent-ok")
    enter_secret(page, "9999")
    page.wait_for_function("() => document.getElementById('entry-tries').textContent.includes('2')")
    enter_secret(page, "9998")
    page.wait_for_function("() => document.getElementById('entry-tries').textContent.includes('1')")
    before = w.kiosk_reader.pin_tries()
    assert list(before.values()).count(1) == 1  # the card-info PIN, one try left
    armed.append(True)
    enter_secret(page, PIN)  # the right PIN, but the agent receives an altered ciphertext
    page.wait_for_selector("#entry-error:not([hidden])")
    assert not armed  # the one corrupted request was sent
    assert "もう一度入力してください" in page.inner_text("#entry-error")
    assert page.inner_text("#entry-tries") == "残り 1 回"
    assert page.is_visible("#entry-warning")  # the last-try warning survives the refusal
    assert page.inner_text("#entry-mask") == "○" * 4  # an empty entry to type again
    assert w.kiosk_reader.pin_tries() == before  # the card never saw the refused entry
    assert any("/api/answer -> 422" in line for line in trap.lines)
    shot(page, "26-entry-rejected")
    enter_secret(page, PIN)
    enter_secret(page, PIN)  # the authentication PIN proves the card
    wait_screen(page, "result")
    assert "山田　太郎" in page.inner_text("#result")
    secret_free(page, [PIN, "9999", "9998"])


def test_ui_english_toggle_and_cancel(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    open_app(page, w.kiosk.url)
    page.click("#lang")
    assert page.inner_text("#go-read") == "Read my card"
    page.click("#go-read")
    page.click("#consent-ok")
    wait_screen(page, "insert")
    assert page.inner_text("#screen-insert h2") == "Hold your card or smartphone over the reader"
    shot(page, "20-english-insert-card")
    page.click("#cancel")
    wait_screen(page, "error")
    assert page.inner_text("#error-title") == "The procedure was cancelled."
    shot(page, "21-cancelled")
    world.idle()
    page.click("#error-done")
    wait_screen(page, "start")


def test_ui_card_removed_mid_flow(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.place()
    open_app(page, w.kiosk.url)
    page.click("#go-read")
    page.click("#consent-ok")
    wait_screen(page, "entry")
    w.kiosk_reader.remove()
    enter_secret(page, PIN)
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "card_removed"
    assert "カードが取り外されました" in plain_text(page, "#error-text")
    shot(page, "07-card-removed")


def _reset(page: Any, world: WorldThread, button: str, old: str, new: str, name: str) -> None:
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.place()
    open_app(page, w.kiosk.url)
    page.click("#go-reset")
    wait_screen(page, "reset-choice")
    shot(page, "18-reset-choice")
    page.click(button)
    enter_secret(page, old)
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.startsWith('新しい')"
    )
    tap_keys(page, new)
    shot(page, name)
    page.click("#entry-ok")
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.includes('確認')"
    )
    enter_secret(page, new)
    wait_screen(page, "result")


def test_ui_reset_signing_password(world: WorldThread, page: Any, trap: LogTrap) -> None:
    world.call(world.world.book("sign"))
    _reset(page, world, "#reset-sign", PIN, NEW_PASSWORD, "08-new-password-keyboard")
    assert plain_text(page, "#result-title") == "暗証番号の再設定が完了しました"
    shot(page, "10-reset-done")
    secret_free(page, [PIN, NEW_PASSWORD])
    assert not any(NEW_PASSWORD in line or PIN in line for line in trap.lines)


def test_ui_reset_authentication_pin(world: WorldThread, page: Any, trap: LogTrap) -> None:
    world.call(world.world.book("auth"))
    _reset(page, world, "#reset-auth", PASSWORD, "2468", "09-new-pin-keypad")
    assert plain_text(page, "#result-title") == "暗証番号の再設定が完了しました"
    secret_free(page, [PASSWORD, "2468"])
    assert not any(PASSWORD in line or "2468" in line for line in trap.lines)


def test_ui_idle_timeout_clears_and_cancels(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    assert w.kiosk_agent is not None
    assert w.kiosk_agent.server is not None
    w.kiosk_reader.place()
    open_app(page, w.kiosk.url + "?idle=2")
    page.click("#go-read")
    page.click("#consent-ok")
    wait_screen(page, "entry")
    tap_keys(page, "12")
    assert w.kiosk_agent.server.servicer.busy
    wait_screen(page, "start", timeout=10)
    assert page.inner_text("#entry-mask") == ""
    world.idle()  # the running command was cancelled, the card released


def test_ui_service_down(world: WorldThread, page: Any) -> None:
    w = world.world
    assert w.kiosk is not None
    world.call(w.stop_verifier())
    try:
        w.kiosk_reader.place()
        open_app(page, w.kiosk.url)
        page.click("#go-read")
        page.click("#consent-ok")
        enter_secret(page, PIN)
        wait_screen(page, "error", timeout=40)
        assert page.evaluate("document.body.dataset.error") == "service_unavailable"
        assert page.is_visible("#banner")
        shot(page, "15-service-down")
    finally:
        world.call(w.start_verifier())


def test_ui_agent_down(world: WorldThread, page: Any) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]

    async def dead_gateway() -> Gateway:
        gateway = Gateway(GatewayConfig(agent=f"127.0.0.1:{dead}"))
        await gateway.start()
        return gateway

    gateway = world.call(dead_gateway())
    try:
        open_app(page, gateway.url)
        page.wait_for_selector("#banner:not([hidden])")
        assert "サービス停止中" in page.inner_text("#banner")
        assert page.is_disabled("#go-read")
        shot(page, "16-agent-down")
        reply = page.request.post(
            gateway.url + "api/execute",
            data=json.dumps({"request_id": "x1", "read_card": {"read_basic_four": True}}),
            headers={"Content-Type": "application/json", "Origin": gateway.url.rstrip("/")},
        )
        assert "agent_unavailable" in reply.text()
    finally:
        world.call(gateway.stop())


def test_ui_reset_on_a_card_without_a_signing_certificate(world: WorldThread, page: Any) -> None:
    # A holder under 15: the agent learns it from the card before any PIN is
    # asked, and the app shows the agent's own message in the screen's language.
    w = world.world
    assert w.kiosk is not None
    w.kiosk_reader.card = "minor"
    try:
        w.kiosk_reader.place()
        open_app(page, w.kiosk.url)
        page.click("#go-reset")
        wait_screen(page, "reset-choice")
        page.click("#reset-sign")
        wait_screen(page, "error")
        assert page.evaluate("document.body.dataset.reason") == "result.no_signing_certificate"
        texts = {"ja": "署名用電子証明書がありません", "en": "no signing certificate"}
        first = page.evaluate("document.documentElement.lang")
        assert texts[first] in plain_text(page, "#error-text")
        shot(page, "22-no-signing-certificate")
        page.click("#lang")
        second = page.evaluate("document.documentElement.lang")
        assert second != first
        assert texts[second] in plain_text(page, "#error-text")
        assert page.locator("#screen-entry").is_hidden()
        world.idle()
    finally:
        w.kiosk_reader.card = "default"
