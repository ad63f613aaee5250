// SPDX-License-Identifier: Apache-2.0
// Certificate issuance at the MFP (コンビニ交付, issue 14 item 7): the screens between the
// card and the printed certificate. The agent runs the flow (IssueCertificateCommand with
// choose_on_screen); this file shows its prompts and answers them:
//   CHOOSE_DOCUMENT (one prompt: the centre's offers) -> three screens here: municipality,
//   certificate, options (世帯全員/本人のみ, 本籍・続柄, copies); one document_choice answer,
//   which the agent checks against the offers;
//   CONFIRM_FEE -> the fee, 支払う / やめる; INSERT_PAYMENT -> insert the fee, with what is in
//   and what is missing as PaymentEvents come (devices that report insertions);
//   "printing" -> no cancel (from the request on the flow runs to its end: charged iff printed);
//   TAKE_DOCUMENT -> take it, with a warning repeated while the screen stays (取り忘れ).
// Accessibility as the rest of the app (issue 24): headings take focus, choices are buttons
// (digits pick them on a keypad), toggles say their state (aria-pressed), totals are live.
"use strict";

const Issue = (() => {
  const KIND_ORDER = ["DOCUMENT_KIND_RESIDENT_RECORD", "DOCUMENT_KIND_SEAL_REGISTRATION",
    "DOCUMENT_KIND_TAX", "DOCUMENT_KIND_FAMILY_REGISTER"];
  // The agent's working steps of this flow (English, for logs) -> the screen's text key.
  const STEPS = {
    "opening an issuance session": "step_session",
    "the card is proving itself": "step_proving",
    "checking the card with the issuance centre": "step_checking",
    "asking what this resident may obtain": "step_offers",
    "requesting the certificate": "step_requesting",
    "confirming the print": "step_confirming",
    "the certificate was not printed: refunding": "step_refunding",
  };
  const PRINTING = "printing the certificate";
  // The card comes back before anything is chosen (取り忘れ対策): its screen stays at least
  // this long, whatever the agent does meanwhile, so nobody walks off without it.
  const REMOVE_MS = 3000;
  let removedAt = 0;
  let app = null;  // the app's helpers (App.start passes them)
  let leftTimer = null;
  const pick = {munis: [], muni: null, offer: null, scope: "", domicile: false,
    relationship: false, copies: 1, fee: 0, inserted: 0, done: null};

  const $ = (id) => document.getElementById(id);
  const t = (...args) => app.t(...args);

  function button(label, onClick) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = "big";
    app.setText(el, label);
    el.addEventListener("click", onClick);
    return el;
  }

  /** RemoveCardEvent: take the card back; the screen holds for REMOVE_MS. */
  function removeCard() {
    removedAt = Date.now();
    app.show("remove");
  }

  /** CHOOSE_DOCUMENT: the offers arrive; the resident starts with the municipality. */
  function choose(prompt) {
    const wait = removedAt + REMOVE_MS - Date.now();
    if (wait > 0) {
      setTimeout(() => { if (app.prompt() === prompt) choose(prompt); }, wait);
      return;
    }
    // Municipalities that refuse this resident are not offered (the refusal is the agent's).
    pick.munis = (prompt.offers || []).filter(
      (m) => (!m.refusal || m.refusal === "MUNICIPAL_REFUSAL_UNSPECIFIED") && (m.offers || []).length);
    // Shown even for one: the resident sees whose certificate it is (address or 本籍地).
    showMunis();
  }

  function showMunis() {
    app.show("issue-muni", () => {
      const box = $("issue-munis");
      box.textContent = "";
      pick.munis.forEach((m, i) => {
        // The first is the address's municipality; another one is the 本籍地's (戸籍).
        const where = t(i === 0 ? "muni_address" : "muni_domicile");
        const el = button(`${m.municipality_name}（${where}）`, () => showCerts(m));
        el.dataset.code = m.municipality_code;
        box.appendChild(el);
      });
      if (!pick.munis.length) app.setText(box, t("issue_nothing"));
    });
  }

  function showCerts(muni) {
    pick.muni = muni;
    app.show("issue-cert", () => {
      app.setText($("issue-cert-muni"), t("issue_cert_muni", muni.municipality_name));
      const box = $("issue-certs");
      box.textContent = "";
      const offers = [...muni.offers].sort(
        (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
      for (const offer of offers) {
        const el = button(`${offer.title}\n${t("fee_per_copy", app.yen(offer.fee_yen_per_copy))}`,
          () => showOptions(offer));
        el.dataset.kind = offer.kind;
        box.appendChild(el);
      }
    });
  }

  function showOptions(offer) {
    pick.offer = offer;
    const scopes = offer.household_scopes || [];
    pick.scope = scopes.includes("HOUSEHOLD_SCOPE_SELF") ? "HOUSEHOLD_SCOPE_SELF" : scopes[0] || "";
    pick.domicile = pick.relationship = false;
    pick.copies = 1;
    app.show("issue-options", renderOptions);
  }

  function renderOptions() {
    const offer = pick.offer;
    app.setText($("issue-options-cert"), `${pick.muni.municipality_name}　${offer.title}`);
    const row = $("issue-scope");
    for (const old of row.querySelectorAll("button")) old.remove();
    const scopes = offer.household_scopes || [];
    row.hidden = !scopes.length;
    for (const scope of scopes) {
      const el = button(t(`scope_${scope}`), () => { pick.scope = scope; renderToggles(); });
      el.classList.add("toggle");
      el.dataset.scope = scope;
      row.appendChild(el);
    }
    // 本籍・続柄 are items of a resident record (住民票) only.
    $("issue-details").hidden = offer.kind !== "DOCUMENT_KIND_RESIDENT_RECORD";
    renderToggles();
  }

  function renderToggles() {
    for (const el of $("issue-scope").querySelectorAll("button")) {
      el.setAttribute("aria-pressed", String(el.dataset.scope === pick.scope));
    }
    $("issue-domicile").setAttribute("aria-pressed", String(pick.domicile));
    $("issue-relationship").setAttribute("aria-pressed", String(pick.relationship));
    const max = Number(pick.offer.max_copies) || 1;
    $("issue-copies").textContent = t("copies_n", pick.copies);
    $("issue-fewer").disabled = pick.copies <= 1;
    $("issue-more").disabled = pick.copies >= max;
    pick.fee = Number(pick.offer.fee_yen_per_copy) * pick.copies;
    $("issue-total").textContent = t("fee_total", app.yen(pick.fee));
  }

  function copies(delta) {
    const max = Number(pick.offer.max_copies) || 1;
    const next = Math.min(max, Math.max(1, pick.copies + delta));
    if (next === pick.copies) return app.beep("error");
    app.beep("key");
    pick.copies = next;
    renderToggles();
  }

  /** The resident's choice, as the command's fields (document_choice). */
  function submit() {
    const offer = pick.offer;
    const resident = offer.kind === "DOCUMENT_KIND_RESIDENT_RECORD";
    const options = {copies: pick.copies, show_registered_domicile: resident && pick.domicile,
      show_relationship: resident && pick.relationship};
    if (pick.scope) options.household_scope = pick.scope;
    app.answer({document_choice: {municipality_code: pick.muni.municipality_code,
      kind: offer.kind, options}});
  }

  /** CONFIRM_FEE: the agent's own text (certificate, municipality, copies, fee). */
  function fee(prompt) {
    app.show("issue-fee", () => app.setText($("issue-fee-text"), app.say(prompt.message, prompt.text)));
  }

  /** INSERT_PAYMENT: display only; the payment device answers it. */
  function pay(prompt) {
    app.show("issue-pay", () => {
      const dl = $("issue-pay-facts");
      dl.textContent = "";
      if (pick.offer) {
        app.fact(dl, t("certificate"), `${pick.offer.title}（${t("copies_n", pick.copies)}）`, "ja");
        app.fact(dl, t("fee"), t("yen", app.yen(pick.fee)));
      } else {
        app.fact(dl, t("fee"), app.say(prompt.message, prompt.text));
      }
      payStatus(Math.max(0, pick.fee - pick.inserted));
    });
  }

  /** PaymentEvent: what is in so far, and what is still missing (a live region). */
  function paid(payment) {
    pick.inserted = Number(payment.inserted_yen) || 0;
    const missing = Math.max(0, (Number(payment.fee_yen) || 0) - pick.inserted);
    if (document.body.dataset.screen === "issue-pay") payStatus(missing);
    app.beep("key");
  }

  function payStatus(missing) {
    const el = $("issue-pay-status");
    el.textContent = pick.inserted ? t("pay_status", app.yen(pick.inserted), app.yen(missing)) : "";
  }

  /** A working step of this flow: true when the screen is this file's (printing). */
  function working(step) {
    if (document.body.dataset.screen === "remove") return true;  // the card screen holds
    if (step === PRINTING) {
      app.show("issue-printing");
      return true;
    }
    const key = STEPS[step];
    app.show("working", () => app.setText($("working-step"), key ? t(key) : ""));
    return true;
  }

  /** TAKE_DOCUMENT: take it; the warning comes again while the screen stays (取り忘れ). */
  function take() {
    app.show("issue-take", renderTake);
    app.beep("key");
    clearTimeout(leftTimer);
    leftTimer = setTimeout(leftBehind, Math.max(2, app.idleSeconds() / 3) * 1000);
  }

  function leftBehind() {
    if (document.body.dataset.screen !== "issue-take") return;
    document.body.dataset.leftDocument = "1";
    app.setText($("issue-take-warning"), t("left_warning"));
    app.beep("error");
    app.speak(t("left_warning"));
  }

  function renderTake() {
    const left = document.body.dataset.leftDocument;
    app.setText($("issue-take-warning"), t(left ? "left_warning" : "take_warning"));
    const dl = $("issue-result");
    dl.textContent = "";
    const r = pick.done;
    if (!r) return;
    if (pick.offer) app.fact(dl, t("certificate"), pick.offer.title, "ja");
    app.fact(dl, t("copies"), t("copies_n", pick.copies));
    app.fact(dl, t("fee"), t("yen", app.yen(r.fee_yen)));
    if (Number(r.inserted_yen)) {
      app.fact(dl, t("inserted"), t("yen", app.yen(r.inserted_yen)));
      app.fact(dl, t("change"), t("yen", app.yen(r.change_yen)));
    }
    app.fact(dl, t("serial"), r.serial || "");
  }

  /** The completion of a printed certificate: its facts on the take screen. */
  function result(done) {
    pick.done = done.issue_certificate || {};
    document.body.dataset.charged = pick.done.charged ? "1" : "0";
    if (document.body.dataset.screen !== "issue-take") take();
    else renderTake();
  }

  function reset() {
    clearTimeout(leftTimer);
    leftTimer = null;
    removedAt = 0;
    pick.munis = [];
    pick.muni = pick.offer = pick.done = null;
    pick.inserted = 0;
    delete document.body.dataset.leftDocument;
    delete document.body.dataset.charged;
    for (const id of ["issue-munis", "issue-certs", "issue-result", "issue-pay-facts",
      "issue-fee-text", "issue-take-warning", "issue-total", "issue-copies", "issue-pay-status"]) {
      $(id).textContent = "";
    }
  }

  function init(helpers) {
    app = helpers;
    $("issue-cert-back").addEventListener("click", showMunis);
    $("issue-options-back").addEventListener("click", () => showCerts(pick.muni));
    $("issue-options-ok").addEventListener("click", submit);
    $("issue-fewer").addEventListener("click", () => copies(-1));
    $("issue-more").addEventListener("click", () => copies(1));
    $("issue-domicile").addEventListener("click", () => { pick.domicile = !pick.domicile; renderToggles(); });
    $("issue-relationship").addEventListener("click", () => {
      pick.relationship = !pick.relationship;
      renderToggles();
    });
    $("issue-fee-yes").addEventListener("click", () => app.answer({confirmed: true}));
    $("issue-fee-no").addEventListener("click", () => app.answer({confirmed: false}));
  }

  return {init, removeCard, choose, fee, pay, paid, working, take, result, reset};
})();
