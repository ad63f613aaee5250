# SPDX-License-Identifier: Apache-2.0
"""Link layer: golden frames, COBS, CRC, and a lossy in-process link pair."""

import random

import unittest
from myna_fw import link
from support import load_vectors

CRCS, FRAMES = load_vectors()


class TestGoldenFrames(unittest.TestCase):
    def test_vectors_loaded(self):
        self.assertTrue(len(FRAMES) >= 10)

    def test_crc(self):
        for text, crc in CRCS:
            self.assertEqual(link.crc16(text), crc)

    def test_encode_matches_golden(self):
        for name, ftype, seq, payload, wire in FRAMES:
            self.assertEqual(link.encode_frame(ftype, seq, payload), wire, name)

    def test_decode_matches_golden(self):
        for name, ftype, seq, payload, wire in FRAMES:
            self.assertEqual(link.FrameDecoder().feed(wire), [(ftype, seq, payload)], name)

    def test_every_single_byte_corruption_is_caught(self):
        wire = FRAMES[4][4]
        for i in range(len(wire) - 1):
            damaged = bytearray(wire)
            damaged[i] ^= 0x5A
            for frame in link.FrameDecoder().feed(bytes(damaged)):
                self.assertIsNone(frame)


class TestCobs(unittest.TestCase):
    def test_round_trip(self):
        for data in (b"", b"\x00", b"\x00\x00", b"\x11\x00\x22", bytes(range(256)) * 2):
            encoded = link.cobs_encode(data)
            self.assertNotIn(0, encoded)
            self.assertEqual(link.cobs_decode(encoded), data)

    def test_bad_block(self):
        with self.assertRaises(ValueError):
            link.cobs_decode(b"\x05\x01")

    def test_payload_too_long(self):
        with self.assertRaises(ValueError):
            link.encode_frame(0x10, 0, bytes(link.MAX_PAYLOAD + 1))


def _lossy(data, rng, loss):
    out = bytearray()
    for byte in data:
        r = rng.random()
        if r < loss:
            continue
        if r < 2 * loss:
            byte ^= 0x41
        out.append(byte)
    return bytes(out)


class TestLinkPair(unittest.TestCase):
    def test_ack_frees_the_window(self):
        a, b = link.Link(), link.Link()
        a.send(0x10, b"one", 0)
        a.send(0x10, b"two", 0)
        self.assertEqual(b.receive(a.take_output(), 0), [(0x10, b"one")])
        a.receive(b.take_output(), 1)
        self.assertEqual(b.receive(a.take_output(), 1), [(0x10, b"two")])
        a.receive(b.take_output(), 2)
        self.assertTrue(a.idle)

    def test_duplicate_is_acked_but_not_delivered(self):
        a, b = link.Link(), link.Link()
        a.send(0x10, b"x", 0)
        wire = a.take_output()
        self.assertEqual(b.receive(wire, 0), [(0x10, b"x")])
        self.assertEqual(b.receive(wire, 0), [])
        self.assertEqual(b.stats_duplicates, 1)
        self.assertEqual(b.take_output(), link.encode_frame(link.ACK, 0) * 2)

    def test_timeout_retransmits_then_fails(self):
        a = link.Link(retransmit_ms=10, max_retries=2)
        a.send(0x10, b"x", 0)
        first = a.take_output()
        a.poll(5)
        self.assertEqual(a.take_output(), b"")
        a.poll(10)
        self.assertEqual(a.take_output(), first)
        a.poll(20)  # second and last retransmission
        self.assertFalse(a.failed)
        self.assertEqual(a.stats_retransmits, 2)
        a.poll(30)
        self.assertTrue(a.failed)

    def test_bad_frame_gets_nak_and_resend(self):
        a, b = link.Link(), link.Link()
        a.send(0x10, b"abc", 0)
        wire = bytearray(a.take_output())
        wire[3] ^= 0xFF
        self.assertEqual(b.receive(bytes(wire), 0), [])
        nak = b.take_output()
        self.assertEqual(nak, link.encode_frame(link.NAK, 0))
        a.receive(nak, 1)
        self.assertEqual(b.receive(a.take_output(), 1), [(0x10, b"abc")])

    def test_lossy_pair_delivers_in_order_exactly_once(self):
        rng = random.Random(7) if hasattr(random, "Random") else None
        if rng is None:
            random.seed(7)
            rng = random
        a, b = link.Link(retransmit_ms=20, max_retries=50), link.Link(retransmit_ms=20, max_retries=50)
        got = []
        now = 0
        n = 300
        for i in range(n):
            a.send(0x15, bytes((i & 0xFF, i >> 8)), now)
        while len(got) < n and now < 200000:
            now += 5
            for _, payload in b.receive(_lossy(a.take_output(), rng, 0.002), now):
                got.append(payload[0] | payload[1] << 8)
            a.receive(_lossy(b.take_output(), rng, 0.002), now)
            a.poll(now)
            b.poll(now)
        self.assertEqual(got, list(range(n)))
        self.assertFalse(a.failed)
