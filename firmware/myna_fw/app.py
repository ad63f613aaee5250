# SPDX-License-Identifier: Apache-2.0
"""The controller application: link messages in, keypad/tamper/timers, events out.

Everything here is the same on the RP2040 and under the unix port; the
hardware layer (myna_fw/hw) is the only thing that differs. ``step`` does
one pass of the main loop so tests can drive the app with a fake clock.
Promises kept here (terminal-conventions.md §2): in secure entry the host
only hears that a key was pressed or deleted, the PIN leaves only as an
encrypt-then-MAC block bound to the host's request id and a monotonic
counter, and opening the tamper switch erases the key at once.
"""

import struct
from time import ticks_diff

from myna_fw import crypto
from myna_fw import proto as p
from myna_fw.keypad import ADD, CANCEL, DELETE, ENTER, REFUSE, Debouncer, SecureEntry
from myna_fw.keystore import KeyStore, KeyStoreError
from myna_fw.link import HELLO, INFO, Link
from myna_fw.version import CAPABILITIES, FIRMWARE_VERSION, PROTOCOL_VERSION

_ACTION_EVENT = {ADD: p.ACTION_PRESSED, DELETE: p.ACTION_DELETED, REFUSE: p.ACTION_REFUSED}
_LIMITS = {p.KIND_NUMERIC: (4, 12), p.KIND_ALNUM: (6, 16)}
_PROMPT = {p.KIND_NUMERIC: "ENTER PIN", p.KIND_ALNUM: "ENTER PASSWORD"}
_LINE_WIDTH = 20


class App:
    def __init__(self, hw, keystore=None, link=None, boot=None):
        self.hw = hw
        self.boot = boot  # myna_boot.boot.Boot: slots, trial confirmation, updates
        self.reboot = False  # main.py re-selects the image when this turns True
        self._reboot_pending = False
        self.keys = keystore if keystore is not None else KeyStore(hw.storage)
        self.link = link if link is not None else Link(getattr(hw, "retransmit_ms", 200))
        self.debouncer = Debouncer(hw.debounce_ms)
        self.entry = None
        self.entry_req = 0
        self.heartbeat_ms = 0
        self._beat_at = 0
        self._started = hw.ticks_ms()
        self._nonce = None
        self._tamper_open = False
        self.lines = ["", ""]
        self._show(0, "TAMPERED" if self.keys.tampered else "READY")

    # --- main loop ---------------------------------------------------------

    def run(self):  # pragma: no cover - forever loop, driven by step() in tests
        hw = self.hw
        while True:
            self.step(hw.ticks_ms())
            hw.wait(1 if self.entry is not None or hw.busy() else 5)

    def step(self, now):
        hw = self.hw
        data = hw.read_link()
        if data:
            for ftype, payload in self.link.receive(data, now):
                if ftype == HELLO:
                    self._hello(payload)
                elif ftype >= 0x10:
                    self._command(ftype, payload, now)
        self.link.poll(now)
        if hw.tamper_open() != self._tamper_open:
            self._tamper_open = not self._tamper_open
            if self._tamper_open:
                self._tamper(now)
        # Time the scan itself, not the start of the step: command handling
        # above can take milliseconds, and debounce is about the contacts.
        raw = hw.scan()
        key = self.debouncer.update(raw, hw.ticks_ms())
        if key is not None:
            self._key(key, now)
        if self.entry is not None and self.entry.poll(now):
            self._end_entry(p.OUTCOME_TIMEOUT, now)
        if self.heartbeat_ms and ticks_diff(now, self._beat_at) >= self.heartbeat_ms:
            self._beat_at = now
            # A host that stopped reading must not fill the board's RAM with
            # beats: skip one while earlier messages are still unacknowledged.
            if self.link.pending() < 2:
                uptime = ticks_diff(now, self._started) & 0xFFFFFFFF
                self._event(p.EV_HEARTBEAT, struct.pack(">IB", uptime, self.flags()), now)
        out = self.link.take_output()
        if out:
            hw.write_link(out)
        # After a commit, reboot as soon as its RESULT is on the wire: input
        # read later (the host's ACK, its next HELLO) belongs to the new image.
        self.reboot = self._reboot_pending

    def flags(self):
        return self.keys.flags | (p.FLAG_ENTRY_ACTIVE if self.entry is not None else 0)

    # --- link --------------------------------------------------------------

    def _hello(self, payload):
        if len(payload) < 6:
            return
        nonce = bytes(payload[:4])
        if nonce != self._nonce:
            # A new host session: forget sequence state and stale messages.
            self._nonce = nonce
            self.link.reset()
            if self.entry is not None:
                self.entry.wipe()
                self.entry = None
                self._show(0, "READY")
                self._show(1, "")
        serial = self.hw.serial.encode()
        info = nonce + struct.pack(">BBBBHB", PROTOCOL_VERSION, *FIRMWARE_VERSION, CAPABILITIES, self.flags())
        self.link.send_control(INFO, info + bytes((len(serial),)) + serial)
        if self.boot is not None and self.boot.trial and self._self_test():
            self.boot.confirm()

    def _self_test(self):
        """A trial image keeps itself only once a host handshook and the I/O answers."""
        return self.lines[0] in ("READY", "TAMPERED") and self.hw.scan() >= -1

    def _event(self, mtype, payload, now):
        self.link.send(mtype, payload, now)

    def _result(self, req_id, status, now, data=b""):
        self._event(p.EV_RESULT, struct.pack(">IB", req_id, status) + data, now)

    def _command(self, mtype, payload, now):
        if len(payload) < 4:
            self._result(0, p.ST_BAD_REQUEST, now)
            return
        req_id = struct.unpack(">I", payload[:4])[0]
        args = payload[4:]
        handler = _HANDLERS.get(mtype)
        if handler is None:
            self._result(req_id, p.ST_UNKNOWN_COMMAND, now)
            return
        try:
            status, data = handler(self, req_id, args, now)
        except (ValueError, IndexError, KeyStoreError) as error:
            status = error.status if isinstance(error, KeyStoreError) else p.ST_BAD_REQUEST
            data = b""
        self._result(req_id, status, now, data)

    # --- commands ----------------------------------------------------------

    def _cmd_status(self, req_id, args, now):
        return p.ST_OK, struct.pack(">B", self.flags()) + self.keys.kcv() + struct.pack(">I", self.keys.counter)

    def _cmd_display(self, req_id, args, now):
        if self.entry is not None:
            return p.ST_BUSY, b""  # the prompt belongs to the secure entry
        if not args or args[0] > 1 or len(args) - 1 > _LINE_WIDTH:
            return p.ST_BAD_REQUEST, b""
        self._show(args[0], bytes(args[1:]).decode())
        return p.ST_OK, b""

    def _cmd_leds(self, req_id, args, now):
        self.hw.leds(args[0])
        return p.ST_OK, b""

    def _cmd_buzz(self, req_id, args, now):
        freq, ms = struct.unpack(">HH", args[:4])
        self.hw.buzz(freq, ms)
        return p.ST_OK, b""

    def _cmd_heartbeat(self, req_id, args, now):
        period = struct.unpack(">I", args[:4])[0]
        if period and period < 50:
            return p.ST_BAD_REQUEST, b""
        self.heartbeat_ms = period
        self._beat_at = now
        return p.ST_OK, b""

    def _cmd_echo(self, req_id, args, now):
        return p.ST_OK, bytes(args)

    def _cmd_secure_entry(self, req_id, args, now):
        kind, min_len, max_len, timeout_ms = struct.unpack(">BBBI", args[:7])
        if self.keys.tampered or self._tamper_open:
            return p.ST_TAMPERED, b""
        if not self.keys.commissioned:
            return p.ST_NOT_COMMISSIONED, b""
        if self.entry is not None:
            return p.ST_BUSY, b""
        limits = _LIMITS.get(kind)
        if limits is None or not limits[0] <= min_len <= max_len <= limits[1]:
            return p.ST_BAD_REQUEST, b""
        self.entry = SecureEntry(kind, min_len, max_len, timeout_ms, now, self.hw.multitap_ms)
        self.entry_req = req_id
        self._show(0, _PROMPT[kind])
        self._show(1, "")
        return p.ST_OK, b""

    def _cmd_cancel_entry(self, req_id, args, now):
        if self.entry is None:
            return p.ST_NO_ENTRY, b""
        self._end_entry(p.OUTCOME_CANCELLED, now)
        return p.ST_OK, b""

    def _cmd_inject_key(self, req_id, args, now):
        if self._tamper_open:
            return p.ST_TAMPERED, b""
        return p.ST_OK, self.keys.inject(bytes(args))

    def _cmd_rotate_key(self, req_id, args, now):
        if self._tamper_open or self.keys.tampered:
            return p.ST_TAMPERED, b""
        return p.ST_OK, self.keys.rotate(req_id, bytes(args[:16]), bytes(args[16:48]), bytes(args[48:]))

    # --- firmware update (the boot platform's receiver does the work) -------

    def _update_refusal(self):
        if self.boot is None or self.boot.receiver is None:
            return p.ST_UNKNOWN_COMMAND
        if self.entry is not None:
            return p.ST_BUSY  # never while a PIN is being typed
        if self._tamper_open or self.keys.tampered:
            return p.ST_TAMPERED
        return p.ST_OK

    def _cmd_fw_status(self, req_id, args, now):
        if self.boot is None or self.boot.receiver is None:
            return p.ST_UNKNOWN_COMMAND, b""
        return self.boot.receiver.status(FIRMWARE_VERSION)

    def _cmd_fw_begin(self, req_id, args, now):
        refusal = self._update_refusal()
        return (refusal, b"") if refusal else self.boot.receiver.begin(bytes(args))

    def _cmd_fw_chunk(self, req_id, args, now):
        refusal = self._update_refusal()
        return (refusal, b"") if refusal else self.boot.receiver.chunk(bytes(args))

    def _cmd_fw_commit(self, req_id, args, now):
        refusal = self._update_refusal()
        if refusal:
            return refusal, b""
        status, data = self.boot.receiver.commit()
        if status == p.ST_OK:
            self._reboot_pending = True
        return status, data

    def _cmd_fw_abort(self, req_id, args, now):
        if self.boot is None or self.boot.receiver is None:
            return p.ST_UNKNOWN_COMMAND, b""
        return self.boot.receiver.abort()

    # --- keypad, entry, tamper ---------------------------------------------

    def _key(self, code, now):
        entry = self.entry
        if entry is None:
            self._event(p.EV_KEY, bytes((code,)), now)
            return
        action = entry.key(code, now)
        if action == ENTER:
            self._end_entry(p.OUTCOME_OK, now)
        elif action == CANCEL:
            self._end_entry(p.OUTCOME_CANCELLED, now)
        elif action is not None:
            if action == REFUSE:
                self.hw.buzz(440, 80)
            self._show(1, "*" * entry.length)
            event = struct.pack(">IBB", self.entry_req, _ACTION_EVENT[action], entry.length)
            self._event(p.EV_ENTRY_KEY, event, now)

    def _end_entry(self, outcome, now):
        entry = self.entry
        if entry is None:
            return
        self.entry = None
        payload = struct.pack(">IB", self.entry_req, outcome)
        if outcome == p.OUTCOME_OK:
            payload += self._pin_block(entry)
        entry.wipe()
        self._show(0, "READY" if outcome != p.OUTCOME_TAMPER else "TAMPERED")
        self._show(1, "")
        self._event(p.EV_ENTRY_DONE, payload, now)

    def _pin_block(self, entry):
        enc_key, mac_key = self.keys.keys()
        counter = self.keys.next_counter()
        iv = self.hw.random(16)
        value = entry.value()
        plain = bytearray(self.hw.random(32))
        plain[0] = len(value)
        plain[1 : 1 + len(value)] = value
        ciphertext = crypto.cbc_encrypt(enc_key, iv, plain)
        for i in range(len(plain)):
            plain[i] = 0
        header = struct.pack(">IBI", self.entry_req, entry.kind, counter)
        mac = crypto.hmac_sha256(mac_key, b"PIN1" + header + iv + ciphertext)
        return struct.pack(">BI", entry.kind, counter) + iv + ciphertext + mac

    def _tamper(self, now):
        self.keys.erase()
        if self.entry is not None:
            self._end_entry(p.OUTCOME_TAMPER, now)
        self._show(0, "TAMPERED")
        self._event(p.EV_TAMPER, bytes((self.flags(),)), now)

    def _show(self, line, text):
        text = text[:_LINE_WIDTH]
        if self.lines[line] != text:
            self.lines[line] = text
            self.hw.show(line, text)


_HANDLERS = {
    p.CMD_STATUS: App._cmd_status,
    p.CMD_DISPLAY: App._cmd_display,
    p.CMD_LEDS: App._cmd_leds,
    p.CMD_BUZZ: App._cmd_buzz,
    p.CMD_HEARTBEAT: App._cmd_heartbeat,
    p.CMD_ECHO: App._cmd_echo,
    p.CMD_SECURE_ENTRY: App._cmd_secure_entry,
    p.CMD_CANCEL_ENTRY: App._cmd_cancel_entry,
    p.CMD_INJECT_KEY: App._cmd_inject_key,
    p.CMD_ROTATE_KEY: App._cmd_rotate_key,
    p.CMD_FW_STATUS: App._cmd_fw_status,
    p.CMD_FW_BEGIN: App._cmd_fw_begin,
    p.CMD_FW_CHUNK: App._cmd_fw_chunk,
    p.CMD_FW_COMMIT: App._cmd_fw_commit,
    p.CMD_FW_ABORT: App._cmd_fw_abort,
}
