// SPDX-License-Identifier: Apache-2.0
// The reference kiosk touchscreen application: drives the agent's TerminalService through
// the gateway (POST JSON, Server-Sent Events back). The app shows what the agent asks
// for and answers by prompt id; the flows themselves live in the agent. A typed PIN is
// kept only in a local variable (never in the DOM or storage), sealed to the prompt's key
// (seal.js) and forgotten.
//
// Accessibility (issue 24, JIS X 8341-3 = WCAG 2.2 AA; many users are elderly):
// - idle: a dialog warns before the timeout, counts down and offers 続ける (2.2.1); the PIN
//   pad and statement screens allow longer; any message from the agent's stream (a prompt,
//   a pad key) restarts the timer; afterwards the start screen says why it came back;
// - each screen change moves focus to the new heading (2.4.3); errors such as a wrong PIN
//   are stated in live regions (3.3.1, 4.1.3); the mask announces how many characters are
//   in, never which (4.1.2), and key clicks sound through Web Audio;
// - a physical keypad or jog dial works everywhere: digits, letters, Backspace, Enter,
//   arrows (focus moves), Escape (取消); digits pick menu items;
// - 文字を大きく (150 %, 200 %), zoom allowed, layouts reflow; furigana on hard terms and
//   和暦 dates on Japanese screens; texts of results come from the one message table;
// - voice guidance (the operator's choice, gateway --voice) speaks headings and prompts in
//   the screen's language, never an entry, a mask or personal data.
// The stateless helpers (furigana, 和暦, tones, speech, focus moves) are in access.js, the
// warning dialog in timeout.js.
"use strict";

const App = (() => {
  const $ = (id) => document.getElementById(id);
  const SECRET_TYPES = ["PROMPT_TYPE_CARD_INFO_PIN", "PROMPT_TYPE_AUTH_PIN",
    "PROMPT_TYPE_SIGNING_PASSWORD", "PROMPT_TYPE_ONE_TIME_PASSWORD", "PROMPT_TYPE_NEW_SECRET",
    "PROMPT_TYPE_VERIFICATION_CODE"];
  const CODE_B = "PROMPT_TYPE_VERIFICATION_CODE";  // 照合番号B at a counter: typed like a PIN
  const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  // The demo ATM's payee (a real ATM takes it from its own screens or the bank's records).
  const PAYEE = {
    payee_bank_code: "0001", payee_branch_code: "123", payee_account_type: "ACCOUNT_TYPE_ORDINARY",
    payee_account_number: "1234567", payee_name: "ヤマダ　ハナコ", remitter_name: "ヤマダ　タロウ",
    remitter_phone: "03-1234-5678",
  };
  // Screens that need longer than the idle limit (multi-tap on the pad: up to ~80 presses;
  // reading the statement the card signs), as factors of it.
  const IDLE_FACTOR = {pad: 3, statement: 2, "entry-alnum": 2, photo: 2, "issue-pay": 2,
    "issue-options": 2};
  // Screens with no idle limit: the agent is working (printing cannot be cancelled).
  const UNTIMED = ["start", "working", "issue-printing"];
  // The warning dialog gives at least this long to answer (WCAG 2.2.1: 20 s).
  const GRACE_SECONDS = 20;
  const TEXT_SIZES = [1, 1.5, 2];
  // Screens whose choices a keypad's digits pick (the N-th visible button of .menu).
  const MENUS = ["start", "reset-choice", "issue-muni", "issue-cert"];
  // Codes the app meets without the agent's message -> the message table's ResultCode.
  const RESULT_OF = {
    card_removed: "card_removed", service_unavailable: "service_unavailable", timeout: "timeout",
    pin_blocked: "pin_blocked", cancelled: "cancelled", device_error: "device_error",
    refused: "refused", other: "internal_error",
  };
  const params = new URLSearchParams(location.search);
  const state = {
    lang: params.get("lang") === "en" ? "en" : "ja",
    idleSeconds: 60, caps: null, screen: "start", command: null, prompt: null,
    newSecretKind: "alnum", lastTry: false, failure: "", amount: "", agentDown: false,
    verifierDown: false, render: null, messages: null, voice: false, size: 0,
    tries: {}, notice: "",
  };
  let entry = "";  // the secret being typed: this variable only, cleared after sealing
  const idle = {timer: null};

  const t = (key, ...args) => format((TEXTS[state.lang] || TEXTS.ja)[key] ?? key, ...args);
  // The agent's own text (UserMessage: key, ja, en) in the screen's language, else a fallback:
  // one table of texts (host/messages.py) for the demo, this app and every ATM application.
  const say = (message, fallback) => (message && message[state.lang]) || fallback;

  // --- texts: furigana on Japanese screens, 和暦 dates (access.js) --------------------------
  const setText = (el, text) =>
    Access.setText(el, text, state.lang === "ja" && state.messages ? state.messages.furigana : null);
  const plain = Access.plain;
  const dateText = (iso) => (state.lang === "ja" ? Access.wareki(iso) : iso);
  const beep = Access.beep;
  /** Voice guidance, when the operator enabled it: only headings and prompts are passed. */
  const speak = (text) => { if (state.voice) Access.speak(text, state.lang); };

  function translate() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    $("lang").lang = state.lang === "ja" ? "en" : "ja";  // the toggle names the other language
    for (const el of document.querySelectorAll("[data-i18n]")) setText(el, t(el.dataset.i18n));
    textSizeShown();
    if (state.notice) setText($("start-notice"), t(state.notice));
    if (state.render) state.render();
    idleShown();
    banner();
  }

  function show(screen, render) {
    closeWarning();
    state.screen = screen;
    state.render = render || null;
    let section = null;
    for (const el of document.querySelectorAll(".screen")) {
      el.hidden = el.dataset.screen !== screen;
      if (!el.hidden) section = el;
    }
    // No cancel once a certificate is printing (charged iff printed: the flow runs to its end).
    $("cancel").hidden = ["start", "result", "error", "remove", "issue-printing", "issue-take"]
      .includes(screen);
    document.body.dataset.screen = screen;
    if (screen !== "start") { state.notice = ""; $("start-notice").textContent = ""; }
    if (render) render();
    armIdle();
    // Focus the new heading (2.4.3): a screen reader announces where the person now is.
    const heading = section && section.querySelector("h2");
    if (heading && document.body.dataset.ready) {
      heading.focus();
      speak(plain(heading));
    }
  }

  // --- idle timeout: warn, count down, 続ける; then clear the screen and say why -------------
  function idleLimit() {
    const key = state.screen === "entry" && $("entry-keys").classList.contains("alnum")
      ? "entry-alnum" : state.screen;
    return state.idleSeconds * (IDLE_FACTOR[key] || 1);
  }

  function grace() { return Math.min(GRACE_SECONDS, state.idleSeconds); }

  function idleShown() {
    const timed = !UNTIMED.includes(state.screen);
    const total = Math.round(idleLimit() + grace());
    $("idle").textContent = timed ? t("idle", total) : "";
    document.body.dataset.idleLimit = timed ? String(total) : "";
  }

  function armIdle() {
    clearTimeout(idle.timer);
    idleShown();
    if (UNTIMED.includes(state.screen)) return;
    idle.timer = setTimeout(openWarning, idleLimit() * 1000);
  }

  /** Activity: a touch, a key, or a message from the agent (its prompts, the pad's keys). */
  function activity() {
    if (TimeoutWarning.isOpen()) closeWarning();
    armIdle();
  }

  function openWarning() {
    setText($("timeout-text"), t("timeout_text"));
    const texts = {count: (n) => t("timeout_count", n), live: (n) => t("timeout_live", n)};
    TimeoutWarning.open(grace(), texts, timedOut);
    speak(`${t("timeout_title")}。${t("timeout_text")}`);
  }

  const closeWarning = TimeoutWarning.close;

  function timedOut() {
    closeWarning();
    // Say why the screen changed: a procedure cancelled, or only a finished screen cleared.
    reset(true, state.command ? "timed_out" : "timed_out_screen");
  }

  function reset(cancelRunning, notice) {
    entry = "";
    if (cancelRunning && state.command) cancelCommand();
    if (state.command) state.command.ctrl.abort();
    state.command = null;
    state.prompt = null;
    state.amount = "";
    state.lastTry = false;
    state.failure = "";
    state.tries = {};
    delete document.body.dataset.error;
    delete document.body.dataset.reason;
    for (const id of ["result", "statement", "entry-mask", "entry-count", "pad-count", "payee",
      "amount", "working-step", "photo-facts", "photo-verdict"]) {
      $(id).textContent = "";
    }
    $("photo-img").removeAttribute("src");  // the chip's photo leaves the page with the person
    Issue.reset();
    setSize(0);  // the next person starts with the standard text size
    show("start", renderStart);
    state.notice = notice || "";
    if (notice) {
      setText($("start-notice"), t(notice));
      speak(t(notice));
    }
  }

  function renderStart() {
    const caps = state.caps;
    $("go-read").hidden = !!caps && !caps.read_card;
    $("go-reset").hidden = !caps || !caps.pin_reset;
    $("go-transfer").hidden = !caps || !caps.transfer;
    $("go-counter").hidden = !caps || !caps.counter_check;
    $("go-issue").hidden = !caps || !caps.issue_certificate;
    for (const id of ["go-read", "go-reset", "go-transfer", "go-counter", "go-issue"]) {
      $(id).disabled = !caps || state.agentDown;
    }
  }

  function banner() {
    const el = $("banner");
    const text = state.agentDown ? t("banner_agent") : state.verifierDown ? t("banner_verifier") : "";
    el.textContent = text;
    el.hidden = !text;
  }

  // --- text size, sound, voice -----------------------------------------------------------
  function setSize(level) {
    state.size = level;
    document.documentElement.dataset.size = String(TEXT_SIZES[level] * 100);
    textSizeShown();
  }

  function textSizeShown() {
    $("textsize").setAttribute("aria-pressed", state.size > 0 ? "true" : "false");
    $("textsize-level").textContent = t(`size_${state.size + 1}`);
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
    state.tries = {};
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
    activity();  // the agent moved on (a prompt, a pad key): the person is there
    if (data.prompt) onPrompt(data.prompt);
    else if (data.pad_key) padKey(data.pad_key);
    else if (data.last_try_warning) state.lastTry = true;
    else if (data.working && state.command && state.command.flow === "issue") Issue.working(data.working.step);
    else if (data.working) show("working", () => { $("working-step").textContent = data.working.step; });
    else if (data.remove_card && state.command && state.command.flow === "issue") Issue.removeCard();
    else if (data.remove_card) show("remove");
    else if (data.failure) state.failure = data.failure.code;
    else if (data.payment) Issue.paid(data.payment);
    return false;
  }

  /** Whether this secret prompt follows a wrong try (fewer tries left than the last time). */
  function wrongTry(prompt) {
    const before = state.tries[prompt.type];
    if (prompt.tries_left) state.tries[prompt.type] = prompt.tries_left;
    return !!(before && prompt.tries_left && prompt.tries_left < before);
  }

  function onPrompt(prompt) {
    state.prompt = prompt;
    const type = prompt.type;
    if (type === "PROMPT_TYPE_INSERT_CARD") show("insert");
    else if (type === "PROMPT_TYPE_APPROVE_ON_PHONE") show("phone");  // the phone answers
    else if (type === "PROMPT_TYPE_CONFIRM_STATEMENT") {
      // The statement the card signs, in the screen's language (the agent builds both from
      // the signed fields; the bytes the card signs do not depend on the language).
      show("statement", () => { $("statement").textContent = say(prompt.message, prompt.text); });
    } else if (type === "PROMPT_TYPE_CONFIRM_MONEY_MOVED") show("cash");
    else if (type === "PROMPT_TYPE_CONFIRM_PHOTO") showPhoto(prompt.card_face || {});
    else if (type === "PROMPT_TYPE_CHOOSE_DOCUMENT") Issue.choose(prompt);
    else if (type === "PROMPT_TYPE_CONFIRM_FEE") Issue.fee(prompt);
    else if (type === "PROMPT_TYPE_INSERT_PAYMENT") Issue.pay(prompt);
    else if (type === "PROMPT_TYPE_TAKE_DOCUMENT") Issue.take(prompt);
    else if (SECRET_TYPES.includes(type) && prompt.entry_public_key) {
      // An OTP prompt with attempts left follows a refused OTP: say so.
      const otpWrong = type === "PROMPT_TYPE_ONE_TIME_PASSWORD" && prompt.tries_left;
      const wrong = wrongTry(prompt);
      showEntry(prompt, otpWrong ? "otp_wrong" : wrong ? "pin_wrong" : "");
    }
    else if (SECRET_TYPES.includes(type)) showPad(prompt, wrongTry(prompt));
  }

  async function answerConfirm(yes) {
    return answerWith({confirmed: yes});
  }

  /** Answer the waiting prompt with ``answer`` (confirmed, document_choice). */
  async function answerWith(answer) {
    const {command, prompt} = state;
    if (!command || !prompt || !prompt.prompt_id) return;
    state.prompt = null;
    show("working", () => { $("working-step").textContent = ""; });
    const body = {request_id: command.rid, prompt_id: prompt.prompt_id, ...answer};
    const reply = await post("/api/answer", body).catch(() => null);
    if (!reply || reply.status === 503) failed("agent_unavailable");
  }

  // --- secret entry ----------------------------------------------------------------------
  function entryRule(prompt) {
    const type = prompt.type;
    if (type === "PROMPT_TYPE_SIGNING_PASSWORD") return {alnum: true, min: 6, max: 16};
    if (type === "PROMPT_TYPE_ONE_TIME_PASSWORD") return {alnum: false, min: 8, max: 8};
    if (type === CODE_B) return {alnum: false, min: 14, max: 14};
    if (type === "PROMPT_TYPE_NEW_SECRET" && state.newSecretKind === "alnum") {
      return {alnum: true, min: 6, max: 16};
    }
    return {alnum: false, min: 4, max: 4};
  }

  function showEntry(prompt, error) {
    entry = "";
    const rule = entryRule(prompt);
    if (error) beep("error");
    show("entry", () => {
      const key0 = prompt.message && prompt.message.key;
      const again = prompt.type === "PROMPT_TYPE_NEW_SECRET" &&
        (key0 ? key0.endsWith("_again") : /again/i.test(prompt.text));
      const phone = key0 ? key0.startsWith("prompt.phone_") : false;  // the phone's own secret
      const key = `entry_${prompt.type.replace("PROMPT_TYPE_", "")}${again ? "_again" : ""}${phone ? "_phone" : ""}`;
      setText($("entry-title"), t(key));
      const ruleText = prompt.type === CODE_B ? t("rule_code_b")
        : rule.alnum ? t("rule_password") : t("rule_digits", rule.max);
      setText($("entry-rule"), ruleText);
      const code = prompt.type === CODE_B;
      $("entry-tries").textContent = prompt.tries_left ? t("tries", prompt.tries_left) : "";
      const warn = state.lastTry || prompt.last_try;
      $("entry-warning").hidden = !warn;
      setText($("entry-warning"), warn ? t(code ? "last_try_code" : "last_try") : "");
      $("entry-error").hidden = !error;
      const errorKey = code && error === "pin_wrong" ? "code_wrong" : error;
      setText($("entry-error"), error ? t(errorKey, prompt.tries_left) : "");
      keys($("entry-keys"), rule.alnum, (k) => typeKey(k, rule));
      updateMask(rule, false);
    });
  }

  function typeKey(key, rule) {
    if (!state.prompt || state.screen !== "entry") return;
    if (key === "back") entry = entry.slice(0, -1);
    else if (key === "clear") entry = "";
    else if (entry.length < rule.max) entry += key;
    else return beep("error");
    beep(key === "back" || key === "clear" ? "back" : "key");
    updateMask(rule, true);
  }

  function updateMask(rule, announce) {
    const n = entry.length;
    $("entry-mask").textContent = "●".repeat(n) + "○".repeat(Math.max(0, rule.min - n));
    // How many are in, never which (the live region carries a count only).
    const count = rule.alnum ? t("entry_count_chars", n) : t("entry_count_digits", n, rule.max);
    if (announce) $("entry-count").textContent = count;
    const short = Math.max(0, rule.min - n);
    $("entry-need").textContent = short ? t(rule.alnum ? "need_chars" : "need_digits", short) : "";
    $("entry-ok").disabled = n < rule.min;
  }

  async function submitEntry() {
    const {command, prompt} = state;
    if (!command || !prompt || !prompt.entry_public_key) return;
    const rule = entryRule(prompt);
    if (entry.length < rule.min) return;
    let pin = entry;
    entry = "";  // out of the page's state before sealing starts; a second tap finds nothing
    updateMask(rule, false);
    $("entry-count").textContent = "";
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

  function showPad(prompt, wrong) {
    if (wrong) beep("error");
    $("pad-count").textContent = "";
    show("pad", () => {
      $("pad-tries").textContent = prompt.tries_left ? t("tries", prompt.tries_left) : "";
      $("pad-error").hidden = !wrong;
      setText($("pad-error"), wrong ? t("pin_wrong", prompt.tries_left) : "");
      const warn = state.lastTry || prompt.last_try;
      $("pad-warning").hidden = !warn;
      setText($("pad-warning"), warn ? t("last_try") : "");
    });
  }

  /** A key on the secure PIN pad (what it did and the count so far, never which key). */
  function padKey(key) {
    if (state.screen !== "pad" || !state.prompt) return;
    const rule = entryRule(state.prompt);
    const n = Number(key.length) || 0;
    $("pad-count").textContent =
      rule.alnum ? t("entry_count_chars", n) : t("entry_count_digits", n, rule.max);
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
    if (done.code === "COMPLETION_CODE_SUCCESS" && done.issue_certificate) return Issue.result(done);
    if (done.code === "COMPLETION_CODE_SUCCESS") return showResult(command ? command.flow : "", done);
    // What to tell the person comes from the agent (done.message); codes pick the fallback.
    const message = done.message && done.message.key ? done.message : null;
    if (done.code === "COMPLETION_CODE_CANCELED") return failed("cancelled", message);
    if (done.code === "COMPLETION_CODE_TIME_OUT") return failed("timeout", message);
    const code = done.error_code || state.failure;
    if (code === "service_unavailable") { state.verifierDown = true; banner(); }
    if (done.code === "COMPLETION_CODE_COMMAND_ERROR") return failed("refused", message, code);
    if (done.code === "COMPLETION_CODE_HARDWARE_ERROR") return failed("device_error", message, code);
    return failed(code, message);
  }

  /** The message table's text for a code the app met itself (no message from the agent). */
  function tableText(key) {
    const results = state.messages && state.messages.results;
    const code = RESULT_OF[key];
    return code && results && results[code] ? results[code][state.lang] : t(`err_${key}`);
  }

  function failed(code, message, detail) {
    const known = ["card_removed", "service_unavailable", "agent_unavailable", "timeout", "pin_blocked",
      "cancelled", "busy", "device_error", "refused"];
    const key = known.includes(code) ? code : "other";
    if (state.command) state.command.ctrl.abort();
    state.command = null;
    entry = "";
    // Codes stay out of sight (2.4.6): they go to data attributes for staff tools and tests.
    show("error", () => {
      setText($("error-title"), t(key === "cancelled" ? "err_cancelled" : "error_title"));
      setText($("error-text"), say(message, tableText(key)));
      document.body.dataset.error = key;
      document.body.dataset.code = detail || code || "";
      document.body.dataset.reason = message ? message.key : "";
    });
    speak(plain($("error-text")));
  }

  function fact(dl, label, value, lang) {
    const dt = document.createElement("dt");
    setText(dt, label);
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (lang && lang !== state.lang) dd.lang = lang;
    dl.append(dt, dd);
  }

  function showResult(flow, done) {
    show("result", () => {
      const dl = $("result");
      dl.textContent = "";
      if (done.read_card) {
        const r = done.read_card;
        setText($("result-title"), t("result_read"));
        if (r.name) {
          fact(dl, t("name"), r.name, "ja");
          fact(dl, t("address"), r.address, "ja");
          fact(dl, t("birth_date"), dateText(r.birth_date));
          fact(dl, t("sex"), t(`sex_${r.sex}`));
        }
        // A phone is not a card: say what was checked (the agent names what was presented).
        const phone = ["CREDENTIAL_KIND_ANDROID", "CREDENTIAL_KIND_IPHONE"].includes(done.credential_kind);
        fact(dl, t(phone ? "phone_verified" : "card_verified"),
          r.card_verified ? t("verified_yes") : t("verified_no"));
      } else if (done.pin_reset) {
        setText($("result-title"), t("result_reset"));
        fact(dl, t("reservation_id"), done.pin_reset.reservation_id);
      } else if (done.counter_check) {
        const r = done.counter_check;
        const face = r.card_face || {};
        setText($("result-title"), t("result_counter"));
        fact(dl, t("verdict"), t(`verdict_${r.verdict || "FACE_VERDICT_UNSPECIFIED"}`));
        if (face.name) fact(dl, t("name"), face.name, "ja");
        fact(dl, t("photo_compared"), r.photo_compared ? t("yes") : t("no"));
        fact(dl, t("check_id"), r.check_id);
      } else if (done.transfer) {
        const r = done.transfer;
        setText($("result-title"), t("result_transfer"));
        fact(dl, t("state"), t(`state_${r.state}`));
        fact(dl, t("identity_verified"), r.identity_verified ? t("yes") : t("no"));
        fact(dl, t("receipt_printed"), r.receipt_printed ? t("yes") : t("no"));
        fact(dl, t("authorization_id"), r.authorization_id);
      } else {
        setText($("result-title"), t("result_" + flow));
      }
    });
  }

  /** The counter check: the chip's face and photo for the staff to compare with the person. */
  function showPhoto(face) {
    show("photo", () => {
      const verdict = face.verdict || "FACE_VERDICT_UNSPECIFIED";
      setText($("photo-verdict"), `${t("verdict")}: ${t(`verdict_${verdict}`)}`);
      $("photo-verdict").dataset.verdict = verdict;
      const img = $("photo-img");
      if (face.photo_png) img.src = `data:image/png;base64,${face.photo_png}`;
      img.alt = t("photo_alt");
      const dl = $("photo-facts");
      dl.textContent = "";
      fact(dl, t("name"), face.name || "", "ja");
      fact(dl, t("address"), face.address || "", "ja");
      fact(dl, t("birth_date"), face.birth_date ? dateText(face.birth_date) : "");
      fact(dl, t("sex"), t(`sex_${face.sex}`));
      fact(dl, t("expiry"), face.expiry ? dateText(face.expiry) : "");
      if (face.differences && face.differences.length) {
        fact(dl, t("differences"), face.differences.join(", "));
      }
    });
  }

  // --- the screens before a command ------------------------------------------------------
  function yen(n) { return Number(n || 0).toLocaleString("ja-JP"); }

  function amountKey(k) {
    if (k === "back") state.amount = state.amount.slice(0, -1);
    else if (k === "clear") state.amount = "";
    else if (state.amount.length < 9 && !(k === "0" && !state.amount)) state.amount += k;
    else return beep("error");
    beep(k === "back" || k === "clear" ? "back" : "key");
    amountShown();
  }

  function showTransferForm() {
    state.amount = "";
    show("transfer-form", () => {
      const dl = $("payee");
      dl.textContent = "";
      fact(dl, t("payee"), PAYEE.payee_name, "ja");
      fact(dl, t("bank"), `${PAYEE.payee_bank_code} / ${PAYEE.payee_branch_code}`);
      fact(dl, t("account"), PAYEE.payee_account_number);
      fact(dl, t("remitter"), PAYEE.remitter_name, "ja");
      const limit = state.caps ? Number(state.caps.transfer_identity_threshold_yen) : 100000;
      setText($("threshold"), t("threshold", yen(limit)));
      keys($("amount-keys"), false, amountKey);
      amountShown();
    });
  }

  function amountShown() {
    $("amount").textContent = `¥${yen(state.amount)}`;
    $("transfer-next").disabled = !state.amount;
  }

  // --- a physical keypad or jog dial ------------------------------------------------------
  function onKeyDown(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    const k = e.key;
    if (k.startsWith("Arrow")) {
      Access.moveFocus(k === "ArrowDown" || k === "ArrowRight" ? 1 : -1);
      e.preventDefault();
      return;
    }
    if ($("timeout").open) return;  // Tab, Enter and Escape (= 続ける) work natively there
    const onButton = e.target instanceof HTMLButtonElement;
    const screen = state.screen;
    let handled = true;
    if (screen === "entry" && state.prompt) {
      const rule = entryRule(state.prompt);
      if (/^[0-9]$/.test(k) || (rule.alnum && /^[a-zA-Z]$/.test(k))) typeKey(k.toUpperCase(), rule);
      else if (k === "Backspace") typeKey("back", rule);
      else if (k === "Delete") typeKey("clear", rule);
      else if (k === "Enter" && !onButton) submitEntry();
      else handled = false;
    } else if (screen === "transfer-form" && /^[0-9]$/.test(k)) amountKey(k);
    else if (screen === "transfer-form" && k === "Backspace") amountKey("back");
    else if (/^[1-9]$/.test(k) && MENUS.includes(screen)) {
      // Menu screens: digit N picks the N-th choice, as on a bank's keypad.
      const choices = [...document.querySelectorAll(`#screen-${screen} .menu button`)].filter(
        (el) => !el.hidden && !el.disabled);
      const choice = choices[Number(k) - 1];
      if (choice) choice.click();
      else handled = false;
    } else if (k === "Enter" && !onButton) {
      const primary = Access.visibleButton(`#screen-${screen} button.primary`);
      if (primary) primary.click();
      else handled = false;
    } else if (k === "Escape" && !$("cancel").hidden) $("cancel").click();
    else handled = false;
    if (handled) e.preventDefault();
  }

  // --- status and configuration -----------------------------------------------------------
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
      state.voice = !!config.voice_guidance;
      state.caps = config.capabilities;
      state.agentDown = !config.capabilities;
    } catch (err) {
      state.agentDown = true;
    }
    banner();
    if (state.screen === "start") renderStart();
  }

  async function loadMessages() {
    try {
      const response = await fetch("/api/messages");
      if (response.ok) state.messages = await response.json();
    } catch (err) {
      // the app's own fallback texts (i18n.js) stand in
    }
  }

  function wire() {
    $("lang").addEventListener("click", () => { state.lang = state.lang === "ja" ? "en" : "ja"; translate(); });
    $("textsize").addEventListener("click", () => setSize((state.size + 1) % TEXT_SIZES.length));
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
    $("go-counter").addEventListener("click", () => execute("counter", {counter_check: {}}));
    $("go-issue").addEventListener("click", () => show("issue-intro"));
    $("issue-start").addEventListener("click", () =>
      execute("issue", {issue_certificate: {choose_on_screen: true}}));
    $("issue-done").addEventListener("click", () => reset(false));
    Issue.init({
      t, show, setText, fact, yen, beep, speak, say, answer: answerWith,
      idleSeconds: () => state.idleSeconds, prompt: () => state.prompt,
    });
    $("photo-yes").addEventListener("click", () => answerConfirm(true));
    $("photo-no").addEventListener("click", () => answerConfirm(false));
    $("cancel").addEventListener("click", () => {
      if (state.command) cancelCommand();
      else reset(false);
    });
    $("result-done").addEventListener("click", () => reset(false));
    $("error-done").addEventListener("click", () => reset(false));
    $("timeout-continue").addEventListener("click", activity);
    $("timeout-end").addEventListener("click", timedOut);
    // Escape in the dialog means "not yet": keep going rather than closing silently.
    $("timeout").addEventListener("cancel", (e) => { e.preventDefault(); activity(); });
    for (const name of ["pointerdown", "keydown"]) {
      document.addEventListener(name, (e) => {
        // Inside the dialog only its buttons answer it (a stray Tab does not close it).
        if (!$("timeout").open || !$("timeout").contains(e.target)) activity();
      }, true);
    }
    document.addEventListener("keydown", onKeyDown);
  }

  async function start() {
    wire();
    await loadMessages();
    translate();
    show("start", renderStart);
    await loadConfig();
    watchStatus();
    document.body.dataset.ready = "1";
  }

  return {start};
})();

document.addEventListener("DOMContentLoaded", App.start);
