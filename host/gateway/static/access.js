// SPDX-License-Identifier: Apache-2.0
// Accessibility helpers of the kiosk app (issue 24) that hold no flow state: furigana on
// hard terms, 和暦 dates, key tones and voice guidance. Nothing here ever receives a
// secret: callers pass headings, prompts, results of the table and fixed tones only.
"use strict";

const Access = (() => {
  let audio = null;

  /**
   * Set ``el``'s text; with ``readings`` (term -> hiragana) the first use of each hard term
   * gets <ruby>, longest terms first, never overlapping (JIS X 8341-3 / WCAG 3.1.3, 3.1.5).
   */
  function setText(el, text, readings) {
    el.textContent = text;
    if (!readings || !text) return;
    const hits = [];
    for (const term of Object.keys(readings).sort((a, b) => b.length - a.length)) {
      let at = text.indexOf(term);
      while (at >= 0 && hits.some(([i, w]) => at < i + w.length && i < at + term.length)) {
        at = text.indexOf(term, at + 1);
      }
      if (at >= 0) hits.push([at, term]);
    }
    if (!hits.length) return;
    hits.sort((a, b) => a[0] - b[0]);
    el.textContent = "";
    let from = 0;
    for (const [at, term] of hits) {
      el.append(text.slice(from, at));
      const ruby = document.createElement("ruby");
      const rt = document.createElement("rt");
      rt.textContent = readings[term];
      rt.setAttribute("aria-hidden", "true");  // a screen reader reads the term, not twice
      ruby.append(term, rt);
      el.append(ruby);
      from = at + term.length;
    }
    el.append(text.slice(from));
  }

  /** The text a person hears or a test reads: without the furigana. */
  function plain(el) {
    const copy = el.cloneNode(true);
    for (const rt of copy.querySelectorAll("rt")) rt.remove();
    return copy.textContent.trim();
  }

  /** 1980-01-01 -> 昭和55年1月1日（1980年）, the 和暦 on the card; other text as it is. */
  function wareki(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return iso;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const n = y * 10000 + mo * 100 + d;
    const eras = [["令和", 20190501, 2019], ["平成", 19890108, 1989], ["昭和", 19261225, 1926],
      ["大正", 19120730, 1912], ["明治", 18680125, 1868]];
    for (const [name, from, first] of eras) {
      if (n >= from) {
        const year = y - first + 1;
        return `${name}${year === 1 ? "元" : year}年${mo}月${d}日（${y}年）`;
      }
    }
    return `${y}年${mo}月${d}日`;
  }

  /** A short tone (Web Audio): a key went in, one came out, or an error; never which key. */
  function beep(kind) {
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = {key: 880, back: 520, error: 220}[kind] || 880;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      const now = audio.currentTime;
      osc.start(now);
      osc.stop(now + (kind === "error" ? 0.3 : 0.05));
    } catch (err) {
      // no audio device: the visual mask and the live region still tell
    }
  }

  /** Speak ``text`` (a heading or a prompt) in ``lang`` through the browser's speech API. */
  function speak(text, lang) {
    if (!text || !window.speechSynthesis) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang === "ja" ? "ja-JP" : "en-US";
    speechSynthesis.cancel();
    speechSynthesis.speak(utterance);
  }

  /** The controls a jog dial or arrow keys move between: in the open dialog, else the page. */
  function focusables() {
    const dialog = document.querySelector("dialog[open]");
    const scope = dialog || document;
    return [...scope.querySelectorAll("button, [tabindex='0']")].filter(
      (el) => !el.disabled && !el.closest("[hidden]") && el.offsetParent !== null &&
        (dialog || !el.closest("dialog")));
  }

  /** Move focus ``step`` controls on (+1 next, -1 previous), wrapping round. */
  function moveFocus(step) {
    const list = focusables();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    const next = at < 0 ? (step > 0 ? 0 : list.length - 1) : (at + step + list.length) % list.length;
    list[next].focus();
  }

  /** The first enabled, shown button matching ``selector``. */
  function visibleButton(selector) {
    return [...document.querySelectorAll(selector)].find(
      (el) => !el.disabled && !el.closest("[hidden]") && !el.hidden);
  }

  return {setText, plain, wareki, beep, speak, moveFocus, visibleButton};
})();
