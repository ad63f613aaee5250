# SPDX-License-Identifier: Apache-2.0
"""HMAC-SHA256 built on hashlib, AES via cryptolib, key check values."""

import unittest
from myna_fw import crypto


class TestHmac(unittest.TestCase):
    def test_rfc4231_case_2(self):
        mac = crypto.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
        self.assertEqual(mac.hex(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")

    def test_long_key_is_hashed(self):
        # RFC 4231 case 6: 131-byte key
        mac = crypto.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")
        self.assertEqual(mac.hex(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")

    def test_equal(self):
        self.assertTrue(crypto.equal(b"abc", b"abc"))
        self.assertFalse(crypto.equal(b"abc", b"abd"))
        self.assertFalse(crypto.equal(b"abc", b"ab"))


class TestAes(unittest.TestCase):
    def test_kcv_matches_cpython_cryptography(self):
        self.assertEqual(crypto.kcv(bytes(range(32))).hex(), "f29000")

    def test_cbc_known_answer_and_round_trip(self):
        key = bytes(range(32))
        ct = crypto.cbc_encrypt(key, bytes(16), b"A" * 32)
        self.assertEqual(ct.hex(), "72ada3664473c418c917a496fcc370669131a14c85233fbc08c4ba7a4dd3fceb")
        self.assertEqual(crypto.cbc_decrypt(key, bytes(16), ct), b"A" * 32)

    def test_partial_block_refused(self):
        with self.assertRaises(ValueError):
            crypto.cbc_encrypt(bytes(32), bytes(16), b"short")

    def test_derived_keys_differ(self):
        enc, mac = crypto.derive_keys(bytes(32))
        self.assertNotEqual(enc, mac)
        self.assertEqual(len(enc), 32)
