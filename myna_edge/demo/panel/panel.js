// SPDX-License-Identifier: Apache-2.0
// The demo's simulator panel: posts actions to /sim/action and shows the simulated devices.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function render(s) {
    if (!s || s.error) return;
    $("kiosk-state").textContent = s.kiosk_profile ? `(${s.kiosk_profile} on the reader)` : "(empty)";
    $("atm-state").textContent = s.atm_profile ? `(${s.atm_profile} on the reader)` : "(empty)";
    $("approval-state").textContent = `(${s.approval})`;
    $("pad-display").textContent = s.pad ? s.pad.join("\n") : "(no PIN pad: MicroPython missing)";
    $("kiosk-link").textContent = `kiosk app: ${s.kiosk_url}`;
    $("atm-link").textContent = `ATM app: ${s.atm_url}`;
    $("fee-state").textContent = s.cash_open ? "(the cash slot is open)" : "";
  }

  // The phone's screen after booking: under the OTP policy it shows the one-time password.
  function booked(data) {
    const otp = data.one_time_password ? `, one-time password ${data.one_time_password}` : "";
    return `booked ${data.reservation_id}${otp}`;
  }

  async function act(action, value, profile) {
    const response = await fetch("/sim/action", {
      method: "POST", headers: {"Content-Type": "application/json"},
      // Coins are yen (a number); every other value is a name; a phone names its profile.
      body: JSON.stringify({action, value: action === "coins" ? Number(value) : value, profile}),
    });
    const data = await response.json();
    $("panel-log").textContent = `${action} ${action === "pad" ? "" : value}: ` +
      (response.ok ? (data.reservation_id ? booked(data) : "done") : data.error);
    if ("kiosk_card" in data) render(data);  // a booking answers with no device state
  }

  async function refresh() {
    const response = await fetch("/sim/state");
    render(await response.json());
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("button[data-action]")) {
      b.addEventListener("click", () => act(b.dataset.action, b.dataset.value, b.dataset.profile));
    }
    $("pad-type").addEventListener("click", () => {
      const text = $("pad-text").value;
      $("pad-text").value = "";
      act("pad", text);
    });
    refresh();
    setInterval(refresh, 1000);
  });
})();
