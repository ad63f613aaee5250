// SPDX-License-Identifier: Apache-2.0
// The idle-timeout warning (WCAG 2.2.1, Timing Adjustable): a modal alertdialog that
// counts down, with 続ける focused, before the kiosk clears the screen. The app decides
// when the person has been idle; this file only shows the warning and counts.
"use strict";

const TimeoutWarning = (() => {
  const $ = (id) => document.getElementById(id);
  const run = {tick: null, left: 0, first: 0, back: null, texts: null};

  function isOpen() { return $("timeout").open; }

  function shown() {
    const {left, texts} = run;
    $("timeout-count").textContent = texts.count(left);
    document.body.dataset.countdown = String(left);
    // The live region speaks when it opens and at 10 and 5 seconds, not every second.
    if (left === run.first || left === 10 || left === 5) $("timeout-live").textContent = texts.live(left);
  }

  /**
   * Open the warning for ``seconds``; ``onExpire`` runs when they are over.
   * ``texts``: {count(n), live(n)} in the screen's language.
   */
  function open(seconds, texts, onExpire) {
    if (isOpen()) return;
    run.back = document.activeElement;
    run.first = run.left = Math.ceil(seconds);
    run.texts = texts;
    shown();
    $("timeout").showModal();
    $("timeout-continue").focus();
    run.tick = setInterval(() => {
      run.left -= 1;
      if (run.left <= 0) {
        close();
        onExpire();
      } else shown();
    }, 1000);
  }

  /** Close the warning (if open) and give focus back to where it was. */
  function close() {
    clearInterval(run.tick);
    run.tick = null;
    if (!isOpen()) return;
    $("timeout").close();
    $("timeout-live").textContent = "";
    delete document.body.dataset.countdown;
    const back = run.back;
    if (back && back.isConnected && !back.closest("[hidden]")) back.focus();
  }

  return {open, close, isOpen};
})();
