# SPDX-License-Identifier: Apache-2.0
"""Certificate issuance on the kiosk touchscreen (コンビニ交付, issue 14 item 7), in Chromium.

On the shared world (``myna_edge.demo.ui``: its kiosk agent is an MFP with
the reference municipality 千代田区 behind the demo's centre, the ccTalk bus
emulator on a pty and the print engine, cupsd with ippeveprinter): the
whole path from 行政サービス to taking the certificate,
with the PIN sealed in the page and the choice answered as
``document_choice``; cancel on the choosing and fee screens (nothing paid,
nothing printed); a paper jam (refunded, said in plain Japanese); the
centre down. Money is counted where it lands (the hoppers' payouts, the
bills stacked or handed back) and documents where ``ippeveprinter`` kept
them. Screenshots go to ``docs/screenshots/issue-*.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hw_sim.printing import EngineFault
from myna_edge.demo.ui_issue import UiIssuance
from tests.browser.browser_support import (
    LogTrap,
    WorldThread,
    enter_secret,
    insert_cash,
    open_app,
    plain_text,
    secret_free,
    wait_screen,
)

PIN = "1234"  # the test card's authentication PIN
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"issue-{name}.png"))


def paid_out(issuance: UiIssuance) -> int:
    """Yen the hoppers paid so far (change and refunds in coins)."""
    return sum(issuance.bus.paid_out())


def printed(issuance: UiIssuance) -> list[str]:
    """The documents the printer received, by the flow's job title (the serial)."""
    return [doc.name for doc in issuance.engine.received()]


def panel_action(page: Any, url: str, action: str, value: object) -> Any:
    """POST one simulator-panel action (``/sim/action``) as the panel page would."""
    return page.request.post(
        url + "sim/action",
        data=json.dumps({"action": action, "value": value}),
        headers={"Content-Type": "application/json", "Origin": url.rstrip("/")},
    )


def to_choice(world: WorldThread, page: Any, *, shots: bool = False) -> None:
    """From the start screen to the municipality screen: card, PIN, card handed back."""
    w = world.world
    assert w.kiosk is not None
    page.wait_for_selector("#go-issue:not([hidden])")
    if shots:
        _shot(page, "01-start")
    page.click("#go-issue")
    wait_screen(page, "issue-intro")
    if shots:
        _shot(page, "02-intro")
    page.click("#issue-start")
    wait_screen(page, "insert")
    w.kiosk_reader.place()
    wait_screen(page, "entry")
    assert "利用者証明用" in plain_text(page, "#entry-title")
    assert page.inner_text("#entry-tries") == "残り 3 回"
    if shots:
        _shot(page, "03-pin")
    enter_secret(page, PIN)
    wait_screen(page, "remove")  # 取り忘れ対策: the card comes back before anything is chosen
    if shots:
        _shot(page, "04-remove-card")
    w.kiosk_reader.remove()
    wait_screen(page, "issue-muni")


def choose_resident_record(page: Any, *, shots: bool = False) -> None:
    """千代田区 → 住民票の写し → 世帯全員, 続柄, 2 copies → next."""
    munis = page.locator("#issue-munis button")
    assert munis.count() == 1
    assert "東京都千代田区（住所地）" in munis.first.inner_text()
    if shots:
        _shot(page, "05-municipality")
    page.keyboard.press("1")  # a keypad's digit picks the first choice
    wait_screen(page, "issue-cert")
    certs = page.locator("#issue-certs button")
    assert certs.count() >= 2
    assert "住民票の写し" in certs.first.inner_text()
    assert "円" in certs.first.inner_text()
    if shots:
        _shot(page, "06-certificate")
    page.click("#issue-certs button[data-kind='DOCUMENT_KIND_RESIDENT_RECORD']")
    wait_screen(page, "issue-options")
    self_only = "#issue-scope [data-scope='HOUSEHOLD_SCOPE_SELF']"
    household = "#issue-scope [data-scope='HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD']"
    assert page.get_attribute(self_only, "aria-pressed") == "true"  # the default: 本人のみ
    page.click(household)
    assert page.get_attribute(household, "aria-pressed") == "true"
    assert page.get_attribute(self_only, "aria-pressed") == "false"
    page.click("#issue-relationship")
    assert page.get_attribute("#issue-relationship", "aria-pressed") == "true"
    assert page.get_attribute("#issue-domicile", "aria-pressed") == "false"
    one = page.inner_text("#issue-total")
    page.click("#issue-more")
    assert page.inner_text("#issue-copies") == "2 通"
    two = page.inner_text("#issue-total")
    assert one != two
    assert "合計" in two
    if shots:
        _shot(page, "07-options")
    page.click("#issue-options-ok")
    wait_screen(page, "issue-fee")


def test_ui_issue_whole_path(world: WorldThread, page: Any, trap: LogTrap) -> None:
    w = world.world
    assert w.kiosk is not None
    assert w.issuance is not None
    printed_before = len(printed(w.issuance))
    paid_before = paid_out(w.issuance)
    # A short idle limit (12 s per screen) brings the left-document warning at 4 s.
    bodies = open_app(page, f"{w.kiosk.url}?idle=12")
    to_choice(world, page, shots=True)
    choose_resident_record(page, shots=True)
    fee = plain_text(page, "#issue-fee-text")
    assert "東京都千代田区 住民票の写し 2通" in fee, fee
    _shot(page, "08-fee")
    # The choice went as the command's fields, checked by the agent against the offers.
    choice = next(json.loads(b) for b in bodies if "document_choice" in b)["document_choice"]
    assert choice["kind"] == "DOCUMENT_KIND_RESIDENT_RECORD"
    assert choice["options"] == {
        "copies": 2,
        "show_registered_domicile": False,
        "show_relationship": True,
        "household_scope": "HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD",
    }
    w.issuance.engine.arm(EngineFault.HOLD)  # the printing screen stays until released below
    page.click("#issue-fee-yes")
    wait_screen(page, "issue-pay")
    pay = page.inner_text("#issue-pay-facts")
    assert "住民票の写し（2 通）" in pay, pay
    assert "400円" in pay, pay
    assert page.is_visible("#cancel")  # the payment can still be cancelled
    insert_cash(world, 100)
    page.wait_for_function(
        "() => document.getElementById('issue-pay-status').textContent.includes('100円')"
    )
    assert page.inner_text("#issue-pay-status") == "お預かり 100円　あと 300円"
    assert page.get_attribute("#issue-pay-status", "aria-live") == "polite"
    _shot(page, "09-pay")
    insert_cash(world, 500)  # 600 in for 400: 200 change
    wait_screen(page, "issue-printing")
    assert page.is_hidden("#cancel")  # printing: no cancel (charged iff printed)
    assert page.evaluate("document.body.dataset.idleLimit") == ""  # no idle timeout either
    _shot(page, "10-printing")
    w.issuance.engine.release()  # the held job prints
    wait_screen(page, "issue-take")  # paid, printed, take it
    assert page.is_hidden("#cancel")  # nothing to cancel once printed
    page.wait_for_selector("#issue-result dd")
    result = page.inner_text("#issue-result")
    assert "住民票の写し" in result
    assert "2 通" in result
    facts = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#issue-result dt')]"
        ".map(dt => [dt.textContent, dt.nextElementSibling.textContent]))"
    )
    assert facts["手数料"] == "400円"
    assert facts["お預かり"] == "600円"  # 100 + 500 inserted
    assert facts["おつり"] == "200円"
    assert "証明書とおつりのお取り忘れ" in plain_text(page, "#issue-take-warning")
    assert page.evaluate("document.body.dataset.charged") == "1"
    serial = printed(w.issuance)[-1]
    assert serial in result  # the serial the print engine received is the one shown
    assert len(printed(w.issuance)) == printed_before + 1
    assert paid_out(w.issuance) == paid_before + 200  # the change only: the fee is kept
    _shot(page, "11-take")
    # Still on the take screen: the certificate is left in the tray (取り忘れ), said again.
    page.wait_for_function("() => document.body.dataset.leftDocument === '1'")
    assert "取り出し口に残っています" in plain_text(page, "#issue-take-warning")
    assert page.get_attribute("#issue-take-warning", "role") == "alert"
    secret_free(page, [PIN])
    assert not any(PIN in body for body in bodies)
    assert not any(PIN in line for line in trap.lines)
    page.click("#issue-done")
    wait_screen(page, "start")
    assert serial not in page.content()  # the resident's facts leave with the screen


def test_ui_issue_cancel_on_choice_and_fee(world: WorldThread, page: Any) -> None:
    """取消 on the certificate screen, then やめる on the fee: nothing paid, nothing printed."""
    w = world.world
    assert w.kiosk is not None
    assert w.issuance is not None
    jobs, paid = len(printed(w.issuance)), paid_out(w.issuance)
    open_app(page, w.kiosk.url)
    to_choice(world, page)
    page.keyboard.press("1")
    wait_screen(page, "issue-cert")
    assert page.is_visible("#cancel")
    page.click("#cancel")
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "cancelled"
    page.click("#error-done")
    wait_screen(page, "start")
    world.idle()
    to_choice(world, page)
    choose_resident_record(page)
    page.click("#issue-fee-no")
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "cancelled"
    page.click("#error-done")
    world.idle()
    # 取消 while paying: what was inserted comes back.
    to_choice(world, page)
    choose_resident_record(page)
    page.click("#issue-fee-yes")
    wait_screen(page, "issue-pay")
    insert_cash(world, 100)
    page.wait_for_function(  # the coin was counted before 取消
        "() => document.getElementById('issue-pay-status').textContent.includes('100円')"
    )
    page.keyboard.press("Escape")  # a keypad's 取消
    wait_screen(page, "error")
    assert page.evaluate("document.body.dataset.error") == "cancelled"
    world.idle()
    assert paid_out(w.issuance) == paid + 100  # the 100 yen came back from the hoppers
    assert len(printed(w.issuance)) == jobs  # nothing printed


def test_ui_issue_printer_fault_is_refunded(world: WorldThread, page: Any) -> None:
    """A paper jam mid-job: the fee comes back, and the screen says so in plain words."""
    w = world.world
    assert w.kiosk is not None
    assert w.issuance is not None
    paid, jobs = paid_out(w.issuance), len(printed(w.issuance))
    open_app(page, w.kiosk.url)
    to_choice(world, page)
    choose_resident_record(page)
    closed = panel_action(page, w.kiosk.url, "coins", 100)
    assert closed.status == 409  # the emulator takes no coin while nothing is being paid
    assert panel_action(page, w.kiosk.url, "printer_fault", "").status == 200  # the engine is armed
    try:
        page.click("#issue-fee-yes")
        wait_screen(page, "issue-pay")
        w.issuance.bus.wait_until(w.issuance.bus.accepting, 10.0)
        coin = panel_action(page, w.kiosk.url, "coins", 500)  # the panel's "Insert 500 yen"
        assert coin.status == 200
        wait_screen(page, "error")
    finally:
        world.idle()
        w.issuance.clear_printer()  # the operator clears the jam for the next test
    assert page.evaluate("document.body.dataset.reason") == "result.print_failed_refunded"
    text = plain_text(page, "#error-text")
    assert "返" in text, text  # 手数料をお返し…
    _shot(page, "12-print-failed")
    page.click("#lang")
    assert "fee has been returned" in plain_text(page, "#error-text")
    page.click("#lang")
    assert paid_out(w.issuance) == paid + 500  # not charged: all of it came back
    # The job reached the printer (ippeveprinter keeps every document it
    # receives) and jammed mid-print: the flow was told "aborted", not "printed".
    assert len(printed(w.issuance)) == jobs + 1


def test_ui_issue_centre_down(world: WorldThread, page: Any) -> None:
    """The centre cannot be reached: the resident is told to come back later, in Japanese."""
    w = world.world
    assert w.kiosk is not None
    open_app(page, w.kiosk.url)
    page.wait_for_selector("#go-issue:not([hidden])")
    world.call(w.stop_verifier())
    try:
        page.click("#go-issue")
        page.click("#issue-start")
        wait_screen(page, "insert")
        w.kiosk_reader.place()
        wait_screen(page, "error", timeout=60)
        assert page.evaluate("document.body.dataset.error") == "service_unavailable"
        assert "センター" in plain_text(page, "#error-text")
        _shot(page, "13-centre-down")
    finally:
        w.kiosk_reader.remove()
        world.call(w.start_verifier())
