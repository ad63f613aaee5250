// SPDX-License-Identifier: Apache-2.0
// Sealed touchscreen entry (host/api/touch-entry.md, version 1), as the reference shows:
// X25519 with a fresh ephemeral key, HKDF-SHA256, AES-256-GCM with AAD = prompt id.
// The cleartext PIN exists only in the caller's variable until this returns; only
// ciphertext bound to one prompt of one request leaves the page.
"use strict";

const TouchEntry = (() => {
  const enc = new TextEncoder();

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  }

  function fromBase64(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function toBase64(bytes) {
    let raw = "";
    for (const b of bytes) raw += String.fromCharCode(b);
    return btoa(raw);
  }

  async function seal(entryPublicKey, requestId, promptId, pin) {
    const agent = await crypto.subtle.importKey("raw", entryPublicKey, {name: "X25519"}, false, []);
    const eph = await crypto.subtle.generateKey({name: "X25519"}, false, ["deriveBits"]);
    const ephRaw = new Uint8Array(await crypto.subtle.exportKey("raw", eph.publicKey));
    const shared = await crypto.subtle.deriveBits({name: "X25519", public: agent}, eph.privateKey, 256);
    const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    const info = concat(enc.encode("myna-edge/touch-entry/v1"), [0], enc.encode(requestId),
                        [0], enc.encode(promptId));
    const key = await crypto.subtle.deriveKey(
      {name: "HKDF", hash: "SHA-256", salt: concat(ephRaw, entryPublicKey), info},
      ikm, {name: "AES-GCM", length: 256}, false, ["encrypt"]);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt(
      {name: "AES-GCM", iv: nonce, additionalData: enc.encode(promptId)}, key, enc.encode(pin)));
    return {ephemeralPublicKey: ephRaw, nonce, ciphertext};
  }

  /** The TouchEntry message in proto3 JSON (bytes as base64), for AnswerPrompt. */
  async function sealToJson(entryPublicKeyBase64, requestId, promptId, pin) {
    const sealed = await seal(fromBase64(entryPublicKeyBase64), requestId, promptId, pin);
    return {
      ephemeral_public_key: toBase64(sealed.ephemeralPublicKey),
      nonce: toBase64(sealed.nonce),
      ciphertext: toBase64(sealed.ciphertext),
    };
  }

  return {seal, sealToJson};
})();
