// SPDX-License-Identifier: Apache-2.0
// The reference kiosk touchscreen application: drives the agent's TerminalService through
// the gateway (POST JSON, Server-Sent Events back). The app shows what the agent asks
// for and answers by prompt id; the flows themselves live in the agent. A typed PIN is
// kept only in a local variable (never in the DOM or storage), sealed to the prompt's key
// (seal.js) and forgotten. Idle for idle_seconds: cancel, clear the screen, start again.
"use strict";

const App = (() => {
  const $ = (id) => document.getElementById(id);
  const SECRET_TYPES = ["PROMPT_TYPE_CARD_INFO_PIN", "PROMPT_TYPE_AUTH_PIN",
    "PROMPT_TYPE_SIGNING_PASSWORD", "PROMPT_TYPE_ONE_TIME_PASSWORD", "PROMPT_TYPE_NEW_SECRET"];
  const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  // The demo ATM's payee (a real ATM takes it from its own screens or the bank's records).
  const PAYEE = {
    payee_bank_code: "0001", payee_branch_code: "123", payee_account_type: "ACCOUNT_TYPE_ORDINARY",
    payee_account_number: "1234567", payee_name: "ヤマダ　ハナコ", remitter_name: "ヤマダ　タロウ",
    remitter_phone: "03-1234-5678",
  };
  const params = new URLSearchParams(location.search);
  const state = {
    lang: params.get("lang") === "en" ? "en" : "ja",
    idleSeconds: 60, caps: null, screen: "start", command: null, prompt: null,
    newSecretKind: "alnum", lastTry: false, failure: "", amount: "", agentDown: false,
    verifierDown: false, render: null,
  };
  let entry = "";  // the secret being typed: this variable only, cleared after sealing
  let idleTimer = null;

  const t = (key, ...args) => format((TEXTS[state.lang] || TEXTS.ja)[key] ?? key, ...args);
  // The agent's own text (UserMessage: key, ja, en) in the screen's language, else a fallback:
  // one table of texts (host/messages.py) for the demo, this app and every ATM application.
  const say = (message, fallback) => (message && message[state.lang]) || fallback;

  function translate() {
    document.documentElement.lang = state.lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    if (state.render) state.render();
    banner();
  }

  function show(screen, render) {
    state.screen = screen;
    state.render = render || null;
    for (const el of document.querySelectorAll(".screen")) el.hidden = el.dataset.screen !== screen;
    $("cancel").hidden = screen === "start";
    document.body.dataset.screen = screen;
    if (render) render();
    armIdle();
  }

  // --- idle timeout (kiosk guidance: clear the screen and return to the start) -----------
  function armIdle() {
    clearTimeout(idleTimer);
    $("idle").textContent = state.screen === "start" ? "" : t("idle", state.idleSeconds);
    if (state.screen === "start" || state.screen === "working") return;
    idleTimer = setTimeout(() => reset(true), state.idleSeconds * 1000);
  }

  function reset(cancelRunning) {
    entry = "";
    if (cancelRunning && state.command) cancelCommand();
    if (state.command) state.command.ctrl.abort();
    state.command = null;
    state.prompt = null;
    state.amount = "";
    state.lastTry = false;
    state.failure = "";
    delete document.body.dataset.error;
    delete document.body.dataset.reason;
    for (const id of ["result", "statement", "entry-mask", "payee", "amount", "working-step"]) {
      $(id).textContent = "";
    }
    show("start", renderStart);
  }

  function renderStart() {
    const caps = state.caps;
    $("go-read").hidden = !!caps && !caps.read_card;
    $("go-reset").hidden = !caps || !caps.pin_reset;
    $("go-transfer").hidden = !caps || !caps.transfer;
    for (const id of ["go-read", "go-reset", "go-transfer"]) $(id).disabled = !caps || state.agentDown;
  }

  function banner() {
    const el = $("banner");
    const text = state.agentDown ? t("banner_agent") : state.verifierDown ? t("banner_verifier") : "";
    el.textContent = text;
    el.hidden = !text;
  }

  // --- talking to the gateway ----------------------------------------------------------
  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    return {status: response.status, data};
  }

  function cancelCommand() {
    const command = state.command;
    if (command) post("/api/cancel", {request_ids: [command.rid]}).catch(() => {});
  }

  async function execute(flow, command) {
    const rid = `ui-${crypto.randomUUID()}`;
    const ctrl = new AbortController();
    state.command = {rid, ctrl, flow};
    state.lastTry = false;
    state.failure = "";
    show("working", () => { $("working-step").textContent = ""; });
    // The customer's language goes with the command: the agent prints the receipt in it.
    const body = {request_id: rid, timeout_ms: 300000, language: state.lang, ...command};
    let completed = false;
    try {
      const response = await fetch("/api/execute", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
        signal: ctrl.signal,
      });
      if (!response.ok) throw new Error(`gateway ${response.status}`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const kind = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (kind && data && state.command && state.command.rid === rid) {
            completed = onMessage(kind, JSON.parse(data)) || completed;
          }
        }
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
    }
    if (!completed && state.command && state.command.rid === rid) failed("agent_unavailable");
  }

  function onMessage(kind, data) {
    if (kind === "acknowledgement") {
      if (!data.accepted) failed(data.refusal === "REFUSAL_REASON_BUSY" ? "busy" : "other");
      return !data.accepted;
    }
    if (kind === "error") {
      state.agentDown = true;
      banner();
      failed("agent_unavailable");
      return true;
    }
    if (kind === "completion") {
      completion(data);
      return true;
    }
    if (kind !== "event") return false;
    if (data.prompt) onPrompt(data.prompt);
    else if (data.last_try_warning) state.lastTry = true;
    else if (data.working) show("working", () => { $("working-step").textContent = data.working.step; });
    else if (data.remove_card) show("remove");
    else if (data.failure) state.failure = data.failure.code;
    return false;
  }

  function onPrompt(prompt) {
    state.prompt = prompt;
    const type = prompt.type;
    if (type === "PROMPT_TYPE_INSERT_CARD") show("insert");
    else if (type === "PROMPT_TYPE_CONFIRM_STATEMENT") {
      // The statement the card signs, in the screen's language (the agent builds both from
      // the signed fields; the bytes the card signs do not depend on the language).
      show("statement", () => { $("statement").textContent = say(prompt.message, prompt.text); });
    } else if (type === "PROMPT_TYPE_CONFIRM_MONEY_MOVED") show("cash");
    else if (SECRET_TYPES.includes(type) && prompt.entry_public_key) {
      // An OTP prompt with attempts left follows a refused OTP: say so.
      const otpWrong = type === "PROMPT_TYPE_ONE_TIME_PASSWORD" && prompt.tries_left;
      showEntry(prompt, otpWrong ? "otp_wrong" : "");
    }
    else if (SECRET_TYPES.includes(type)) showPad(prompt);
  }

  async function answerConfirm(yes) {
    const {command, prompt} = state;
    if (!command || !prompt || !prompt.prompt_id) return;
    state.prompt = null;
    show("working", () => { $("working-step").textContent = ""; });
    await post("/api/answer", {request_id: command.rid, prompt_id: prompt.prompt_id, confirmed: yes})
      .catch(() => failed("agent_unavailable"));
  }

  // --- secret entry ----------------------------------------------------------------------
  function entryRule(prompt) {
    const type = prompt.type;
    if (type === "PROMPT_TYPE_SIGNING_PASSWORD") return {alnum: true, min: 6, max: 16};
    if (type === "PROMPT_TYPE_ONE_TIME_PASSWORD") return {alnum: false, min: 8, max: 8};
    if (type === "PROMPT_TYPE_NEW_SECRET" && state.newSecretKind === "alnum") {
      return {alnum: true, min: 6, max: 16};
    }
    return {alnum: false, min: 4, max: 4};
  }

  function showEntry(prompt, error) {
    entry = "";
    const rule = entryRule(prompt);
    show("entry", () => {
      const key0 = prompt.message && prompt.message.key;
      const again = prompt.type === "PROMPT_TYPE_NEW_SECRET" &&
        (key0 ? key0.endsWith("_again") : /again/i.test(prompt.text));
      const key = `entry_${prompt.type.replace("PROMPT_TYPE_", "")}${again ? "_again" : ""}`;
      $("entry-title").textContent = t(key);
      $("entry-rule").textContent = rule.alnum ? t("rule_password") : t("rule_digits", rule.max);
      $("entry-tries").textContent = prompt.tries_left ? t("tries", prompt.tries_left) : "";
      const warn = state.lastTry || prompt.last_try;
      $("entry-warning").hidden = !warn;
      $("entry-warning").textContent = warn ? t("last_try") : "";
      $("entry-error").hidden = !error;
      $("entry-error").textContent = error ? t(error) : "";
      keys($("entry-keys"), rule.alnum, (k) => typeKey(k, rule));
      updateMask(rule);
    });
  }

  function typeKey(key, rule) {
    if (key === "back") entry = entry.slice(0, -1);
    else if (key === "clear") entry = "";
    else if (entry.length < rule.max) entry += key;
    updateMask(rule);
  }

  function updateMask(rule) {
    $("entry-mask").textContent = "●".repeat(entry.length) + "○".repeat(Math.max(0, rule.min - entry.length));
    $("entry-ok").disabled = entry.length < rule.min;
  }

  async function submitEntry() {
    const {command, prompt} = state;
    if (!command || !prompt || !prompt.entry_public_key) return;
    const rule = entryRule(prompt);
    if (entry.length < rule.min) return;
    let pin = entry;
    entry = "";  // out of the page's state before sealing starts; a second tap finds nothing
    updateMask(rule);
    state.prompt = null;
    state.lastTry = false;
    show("working", () => { $("working-step").textContent = ""; });
    let sealed;
    try {
      sealed = await TouchEntry.sealToJson(prompt.entry_public_key, command.rid, prompt.prompt_id, pin);
    } catch (err) {
      state.prompt = prompt;
      return showEntry(prompt, "entry_rejected");
    } finally {
      pin = "";  // forgotten as soon as it is sealed
    }
    const body = {request_id: command.rid, prompt_id: prompt.prompt_id, touch_entry: sealed};
    const reply = await post("/api/answer", body).catch(() => null);
    if (reply && reply.status === 422) {
      state.prompt = prompt;
      showEntry(prompt, "entry_rejected");
    } else if (!reply || reply.status === 503) failed("agent_unavailable");
  }

  function showPad(prompt) {
    show("pad", () => {
      $("pad-tries").textContent = prompt.tries_left ? t("tries", prompt.tries_left) : "";
      const warn = state.lastTry || prompt.last_try;
      $("pad-warning").hidden = !warn;
      $("pad-warning").textContent = warn ? t("last_try") : "";
    });
  }

  function keys(container, alnum, onKey) {
    container.textContent = "";
    container.className = alnum ? "keys alnum" : "keys numeric";
    const labels = alnum ? [...ALNUM] : [..."123456789", "back", "0", "clear"];
    if (alnum) labels.push("back", "clear");
    for (const label of labels) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = label.length > 1 ? "key fn" : "key";
      button.dataset.key = label;
      button.textContent = label.length > 1 ? t(label === "back" ? "backspace" : "clear") : label;
      button.addEventListener("click", () => onKey(label));
      container.appendChild(button);
    }
  }

  // --- results and errors ------------------------------------------------------------------
  function completion(done) {
    const command = state.command;
    state.command = null;
    state.prompt = null;
    if (done.code === "COMPLETION_CODE_SUCCESS") return showResult(command ? command.flow : "", done);
    // What to tell the person comes from the agent (done.message); codes pick the fallback.
    const message = done.message && done.message.key ? done.message : null;
    if (done.code === "COMPLETION_CODE_CANCELED") return failed("cancelled", "", message);
    if (done.code === "COMPLETION_CODE_TIME_OUT") return failed("timeout", done.error_code, message);
    const code = done.error_code || state.failure;
    if (code === "service_unavailable") { state.verifierDown = true; banner(); }
    if (done.code === "COMPLETION_CODE_COMMAND_ERROR") return failed("refused", code, message);
    if (done.code === "COMPLETION_CODE_HARDWARE_ERROR") return failed("device_error", code, message);
    return failed(code, code, message);
  }

  function failed(code, detail, message) {
    const known = ["card_removed", "service_unavailable", "agent_unavailable", "timeout", "pin_blocked",
      "cancelled", "busy", "device_error", "refused"];
    const key = known.includes(code) ? code : "other";
    if (state.command) state.command.ctrl.abort();
    state.command = null;
    entry = "";
    show("error", () => {
      $("error-title").textContent = t(key === "cancelled" ? "err_cancelled" : "error_title");
      $("error-text").textContent = say(message, t(`err_${key}`));
      $("error-code").textContent = detail || (key === "other" ? code : "");
      document.body.dataset.error = key;
      document.body.dataset.reason = message ? message.key : "";
    });
  }

  function fact(dl, label, value) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dl.append(dt, dd);
  }

  function showResult(flow, done) {
    show("result", () => {
      const dl = $("result");
      dl.textContent = "";
      if (done.read_card) {
        const r = done.read_card;
        $("result-title").textContent = t("result_read");
        if (r.name) {
          fact(dl, t("name"), r.name);
          fact(dl, t("address"), r.address);
          fact(dl, t("birth_date"), r.birth_date);
          fact(dl, t("sex"), t(`sex_${r.sex}`));
        }
        fact(dl, t("card_verified"), r.card_verified ? t("verified_yes") : t("verified_no"));
      } else if (done.pin_reset) {
        $("result-title").textContent = t("result_reset");
        fact(dl, t("reservation_id"), done.pin_reset.reservation_id);
      } else if (done.transfer) {
        const r = done.transfer;
        $("result-title").textContent = t("result_transfer");
        fact(dl, t("authorization_id"), r.authorization_id);
        fact(dl, t("state"), r.state.replace("TRANSFER_STATE_", ""));
        fact(dl, t("identity_verified"), r.identity_verified ? t("yes") : t("no"));
        fact(dl, t("receipt_printed"), r.receipt_printed ? t("yes") : t("no"));
      } else {
        $("result-title").textContent = t("result_" + flow);
      }
    });
  }

  // --- the screens before a command ------------------------------------------------------
  function yen(n) { return Number(n || 0).toLocaleString("ja-JP"); }

  function showTransferForm() {
    state.amount = "";
    show("transfer-form", () => {
      const dl = $("payee");
      dl.textContent = "";
      fact(dl, t("payee"), PAYEE.payee_name);
      fact(dl, t("bank"), `${PAYEE.payee_bank_code} / ${PAYEE.payee_branch_code}`);
      fact(dl, t("account"), PAYEE.payee_account_number);
      fact(dl, t("remitter"), PAYEE.remitter_name);
      const limit = state.caps ? Number(state.caps.transfer_identity_threshold_yen) : 100000;
      $("threshold").textContent = t("threshold", yen(limit));
      keys($("amount-keys"), false, (k) => {
        if (k === "back") state.amount = state.amount.slice(0, -1);
        else if (k === "clear") state.amount = "";
        else if (state.amount.length < 9 && !(k === "0" && !state.amount)) state.amount += k;
        amountShown();
      });
      amountShown();
    });
  }

  function amountShown() {
    $("amount").textContent = `¥${yen(state.amount)}`;
    $("transfer-next").disabled = !state.amount;
  }

  function watchStatus() {
    const source = new EventSource("/api/status");
    source.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      state.agentDown = false;
      if (s.device === "verifier") state.verifierDown = s.state === "DEVICE_STATE_OFFLINE";
      banner();
      if (!state.caps) loadConfig();
    });
    source.addEventListener("error", (e) => {
      if (e.data || source.readyState !== EventSource.OPEN) { state.agentDown = true; banner(); renderStart(); }
    });
  }

  async function loadConfig() {
    try {
      const response = await fetch("/api/config");
      const config = await response.json();
      state.idleSeconds = Number(params.get("idle")) || config.idle_seconds;
      state.caps = config.capabilities;
      state.agentDown = !config.capabilities;
    } catch (err) {
      state.agentDown = true;
    }
    banner();
    if (state.screen === "start") renderStart();
  }

  function wire() {
    $("lang").addEventListener("click", () => { state.lang = state.lang === "ja" ? "en" : "ja"; translate(); });
    $("go-read").addEventListener("click", () => show("consent"));
    $("go-reset").addEventListener("click", () => show("reset-choice"));
    $("go-transfer").addEventListener("click", showTransferForm);
    $("consent-ok").addEventListener("click", () =>
      execute("read", {read_card: {read_basic_four: true, verify_card: true}}));
    $("reset-sign").addEventListener("click", () => {
      state.newSecretKind = "alnum";
      execute("reset", {pin_reset: {operation: "RESET_OPERATION_SIGNING_PASSWORD"}});
    });
    $("reset-auth").addEventListener("click", () => {
      state.newSecretKind = "digits";
      execute("reset", {pin_reset: {operation: "RESET_OPERATION_AUTHENTICATION_PIN"}});
    });
    $("transfer-next").addEventListener("click", () =>
      execute("transfer", {transfer: {amount_yen: state.amount, ...PAYEE}}));
    $("entry-ok").addEventListener("click", submitEntry);
    $("statement-yes").addEventListener("click", () => answerConfirm(true));
    $("statement-no").addEventListener("click", () => answerConfirm(false));
    $("cash-yes").addEventListener("click", () => answerConfirm(true));
    $("cash-no").addEventListener("click", () => answerConfirm(false));
    $("cancel").addEventListener("click", () => {
      if (state.command) cancelCommand();
      else reset(false);
    });
    $("result-done").addEventListener("click", () => reset(false));
    $("error-done").addEventListener("click", () => reset(false));
    for (const name of ["pointerdown", "keydown"]) document.addEventListener(name, armIdle, true);
  }

  async function start() {
    wire();
    translate();
    show("start", renderStart);
    await loadConfig();
    watchStatus();
    document.body.dataset.ready = "1";
  }

  return {start};
})();

document.addEventListener("DOMContentLoaded", App.start);
