# SPDX-License-Identifier: Apache-2.0
"""The app over a fake hardware layer: handshake, commissioning, entry, tamper."""

import struct

import unittest
from myna_fw import crypto, link
from myna_fw import proto as p
from myna_fw.app import App
from support import FakeHardware

KEY = bytes(range(32))


class Harness:
    def __init__(self):
        self.hw = FakeHardware()
        self.app = App(self.hw)
        self.host = link.Link()
        self.req = 100
        self.inbox = []

    def tick(self, ms=1):
        self.hw.now += ms
        self.app.step(self.hw.now)
        for item in self.host.receive(bytes(self.hw.outbox), self.hw.now):
            self.inbox.append(item)
        self.hw.outbox = bytearray()
        self.hw.inbox.extend(self.host.take_output())

    def hello(self, nonce=b"\x01\x02\x03\x04"):
        self.host.send_control(link.HELLO, nonce + b"\x01\x01")
        self.hw.inbox.extend(self.host.take_output())
        self.tick()
        return self.inbox.pop()

    def command(self, cmd, args=b""):
        self.req += 1
        self.host.send(cmd, struct.pack(">I", self.req) + args, self.hw.now)
        self.hw.inbox.extend(self.host.take_output())
        for _ in range(4):
            self.tick()
        for i, (mtype, payload) in enumerate(self.inbox):
            if mtype == p.EV_RESULT and struct.unpack(">I", payload[:4])[0] == self.req:
                del self.inbox[i]
                return payload[4], payload[5:]
        raise AssertionError("no result")

    def press(self, code):
        self.hw.key = code
        for _ in range(3):
            self.tick(6)
        self.hw.key = -1
        for _ in range(3):
            self.tick(6)

    def events(self, mtype):
        return [payload for t, payload in self.inbox if t == mtype]


class TestHandshake(unittest.TestCase):
    def test_info(self):
        h = Harness()
        ftype, payload = h.hello()
        self.assertEqual(ftype, link.INFO)
        self.assertEqual(payload[:4], b"\x01\x02\x03\x04")
        self.assertEqual(payload[4], 1)
        self.assertIn(b"TEST-0001", payload)

    def test_unknown_command_and_short_payload(self):
        h = Harness()
        h.hello()
        self.assertEqual(h.command(0x7F)[0], p.ST_UNKNOWN_COMMAND)
        self.assertEqual(h.command(p.CMD_BUZZ, b"\x01")[0], p.ST_BAD_REQUEST)


class TestCommissioning(unittest.TestCase):
    def test_inject_once_then_rotate(self):
        h = Harness()
        h.hello()
        self.assertEqual(h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))[0], p.ST_NOT_COMMISSIONED)
        status, kcv = h.command(p.CMD_INJECT_KEY, KEY)
        self.assertEqual((status, kcv.hex()), (p.ST_OK, "f29000"))
        self.assertEqual(h.command(p.CMD_INJECT_KEY, KEY)[0], p.ST_ALREADY_COMMISSIONED)
        new = bytes(range(100, 132))
        enc, mac = crypto.derive_keys(KEY)
        iv = bytes(16)
        ct = crypto.cbc_encrypt(enc, iv, new)
        tag = crypto.hmac_sha256(mac, b"ROT1" + struct.pack(">I", h.req + 1) + iv + ct)
        bad = bytes(32)
        self.assertEqual(h.command(p.CMD_ROTATE_KEY, iv + ct + bad)[0], p.ST_AUTH_FAILED)
        tag = crypto.hmac_sha256(mac, b"ROT1" + struct.pack(">I", h.req + 1) + iv + ct)
        status, kcv = h.command(p.CMD_ROTATE_KEY, iv + ct + tag)
        self.assertEqual((status, kcv), (p.ST_OK, crypto.kcv(new)))


class TestSecureEntry(unittest.TestCase):
    def setUp(self):
        self.h = Harness()
        self.h.hello()
        self.h.command(p.CMD_INJECT_KEY, KEY)

    def test_pin_block_is_bound_and_authenticated(self):
        h = self.h
        self.assertEqual(h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))[0], p.ST_OK)
        entry_req = h.req
        self.assertEqual(h.command(p.CMD_DISPLAY, b"\x00HI")[0], p.ST_BUSY)
        for c in b"4321":
            h.press(c)
        h.press(p.KEY_ENTER)
        keys = h.events(p.EV_ENTRY_KEY)
        self.assertEqual([k[4:] for k in keys], [b"\x01\x01", b"\x01\x02", b"\x01\x03", b"\x01\x04"])
        self.assertEqual(h.events(p.EV_KEY), [])
        done = h.events(p.EV_ENTRY_DONE)[0]
        self.assertNotIn(b"4321", done)
        req, outcome, kind, counter = struct.unpack(">IBBI", done[:10])
        self.assertEqual((req, outcome, kind, counter), (entry_req, 0, 1, 1))
        iv, ct, tag = done[10:26], done[26:58], done[58:]
        enc, mac = crypto.derive_keys(KEY)
        expected = crypto.hmac_sha256(mac, b"PIN1" + struct.pack(">IBI", req, kind, counter) + iv + ct)
        self.assertEqual(tag, expected)
        plain = crypto.cbc_decrypt(enc, iv, ct)
        self.assertEqual(plain[1 : 1 + plain[0]], b"4321")

    def test_cancel_from_host(self):
        h = self.h
        h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))
        entry_req = h.req
        self.assertEqual(h.command(p.CMD_CANCEL_ENTRY)[0], p.ST_OK)
        self.assertEqual(h.events(p.EV_ENTRY_DONE), [struct.pack(">IB", entry_req, p.OUTCOME_CANCELLED)])

    def test_timeout(self):
        h = self.h
        h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 50))
        for _ in range(20):
            h.tick(5)
        self.assertEqual(h.events(p.EV_ENTRY_DONE)[0][4], p.OUTCOME_TIMEOUT)

    def test_tamper_during_entry_erases_and_refuses(self):
        h = self.h
        h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))
        h.press(0x31)
        h.hw.tamper = True
        h.tick()
        h.tick()
        self.assertEqual(h.events(p.EV_ENTRY_DONE)[0][4], p.OUTCOME_TAMPER)
        self.assertEqual(h.events(p.EV_TAMPER), [bytes((p.FLAG_TAMPERED,))])
        self.assertFalse(h.app.keys.commissioned)
        self.assertNotIn(KEY, h.hw.storage.record)
        h.hw.tamper = False
        h.tick()
        self.assertEqual(h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))[0], p.ST_TAMPERED)
        self.assertEqual(h.command(p.CMD_INJECT_KEY, KEY)[0], p.ST_OK)
        self.assertEqual(h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 1, 4, 4, 0))[0], p.ST_OK)

    def test_bad_limits_refused(self):
        self.assertEqual(self.h.command(p.CMD_SECURE_ENTRY, struct.pack(">BBBI", 2, 4, 16, 0))[0], p.ST_BAD_REQUEST)

    def test_plain_keys_outside_entry(self):
        h = self.h
        h.press(p.KEY_F1)
        self.assertEqual(h.events(p.EV_KEY), [bytes((p.KEY_F1,))])


class TestHeartbeat(unittest.TestCase):
    def test_beats_then_bounded_when_host_stops_reading(self):
        h = Harness()
        h.hello()
        self.assertEqual(h.command(p.CMD_HEARTBEAT, struct.pack(">I", 10))[0], p.ST_BAD_REQUEST)
        self.assertEqual(h.command(p.CMD_HEARTBEAT, struct.pack(">I", 50))[0], p.ST_OK)
        for _ in range(3):
            h.tick(50)
        self.assertTrue(len(h.events(p.EV_HEARTBEAT)) >= 2)
        for _ in range(40):  # the host is gone: nothing is acknowledged
            h.hw.now += 50
            h.app.step(h.hw.now)
        self.assertTrue(h.app.link.pending() <= 2)
