# SPDX-License-Identifier: Apache-2.0
"""The boot platform's pure parts: P-256 verification, image heads, the boot record, key erase."""

import struct

import unittest
from myna_boot import p256, trust
from myna_boot.boot import erase_keys
from myna_boot.image import Head, ImageError, factory_authority, key_id, trusted_key
from myna_boot.slots import FACTORY, BootRecord
from myna_fw.keystore import KeyStore, RamStorage

# Signed by firmware/keys/test-signing-key-2.pem with CPython's ``cryptography``.
_MESSAGE = b"myna-edge p256 known answer"
_SIGNATURE = bytes.fromhex(
    "1d153b1ef71d12049749721705269c687624c3ed171a21b059bd6c389e118111"
    "7e92eb6f04fc2b786f3ee68cbfdee9dbd6baca757c9127cb8cf710400c678641"
)


def _digest(data):
    import hashlib

    return hashlib.sha256(data).digest()


class TestP256(unittest.TestCase):
    def test_verifies_a_signature_made_by_cpython(self):
        self.assertTrue(p256.verify(trust.PUBLIC_KEYS[1], _digest(_MESSAGE), _SIGNATURE))

    def test_refuses_another_message_key_or_a_flipped_bit(self):
        self.assertFalse(p256.verify(trust.PUBLIC_KEYS[1], _digest(_MESSAGE + b"!"), _SIGNATURE))
        self.assertFalse(p256.verify(trust.PUBLIC_KEYS[0], _digest(_MESSAGE), _SIGNATURE))
        flipped = bytearray(_SIGNATURE)
        flipped[40] ^= 0x01
        self.assertFalse(p256.verify(trust.PUBLIC_KEYS[1], _digest(_MESSAGE), bytes(flipped)))

    def test_malformed_inputs_never_verify(self):
        digest = _digest(_MESSAGE)
        key = trust.PUBLIC_KEYS[1]
        self.assertFalse(p256.verify(key, digest, bytes(64)))  # r = s = 0
        self.assertFalse(p256.verify(key, digest, _SIGNATURE[:63]))
        self.assertFalse(p256.verify(key[:64], digest, _SIGNATURE))
        off_curve = bytearray(key)
        off_curve[64] ^= 0x01
        self.assertFalse(p256.public_key_valid(bytes(off_curve)))
        self.assertFalse(p256.verify(bytes(off_curve), digest, _SIGNATURE))


class TestHead(unittest.TestCase):
    def _refused(self, data):
        with self.assertRaises(ImageError) as caught:
            Head(data)
        self.assertEqual(caught.exception.status, 9)

    def test_malformed_heads_are_image_invalid(self):
        self._refused(b"")
        self._refused(b"MYFW")
        self._refused(b"XXXX\x01\x00\x00\x10\x00\x00\x00\x00" + bytes(100))
        self._refused(b"MYFW\x02\x00\x00\x10\x00\x00\x00\x00" + bytes(100))  # format 2
        self._refused(b"MYFW\x01\x00\x00\x10\x00\x00\x00\x00" + bytes(20))  # short
        # A manifest whose file sizes do not add up to the payload length.
        board = trust.BOARD_TYPE.encode()
        path = b"myna_fw/app.py"
        manifest = bytes((len(board),)) + board + bytes((1, 1, 0)) + struct.pack(">I", 1)
        manifest += bytes(16) + factory_authority() + b"\x01"
        manifest += bytes((len(path),)) + path + struct.pack(">I", 5) + bytes(32)
        header = b"MYFW\x01\x00" + struct.pack(">HI", len(manifest), 6)
        self._refused(header + manifest + bytes(64))

    def test_only_app_files_may_be_carried(self):
        board = trust.BOARD_TYPE.encode()
        for path in (b"main.py", b"myna_boot/trust.py", b"myna_fw/../main.py", b"myna_fw/x.txt"):
            manifest = bytes((len(board),)) + board + bytes((1, 1, 0)) + struct.pack(">I", 1)
            manifest += bytes(16) + factory_authority() + b"\x01"
            manifest += bytes((len(path),)) + path + struct.pack(">I", 1) + bytes(32)
            header = b"MYFW\x01\x00" + struct.pack(">HI", len(manifest), 1)
            self._refused(header + manifest + bytes(64))

    def test_unknown_signer_is_a_bad_signature(self):
        board = trust.BOARD_TYPE.encode()
        path = b"myna_fw/app.py"
        manifest = bytes((len(board),)) + board + bytes((1, 1, 0)) + struct.pack(">I", 1)
        manifest += bytes(16) + b"\x11" * 8 + b"\x01"
        manifest += bytes((len(path),)) + path + struct.pack(">I", 1) + bytes(32)
        header = b"MYFW\x01\x00" + struct.pack(">HI", len(manifest), 1)
        head = Head(header + manifest + bytes(64))
        with self.assertRaises(ImageError) as caught:
            head.check(0)
        self.assertEqual(caught.exception.status, 10)

    def test_trusted_keys_are_found_by_key_id(self):
        for point in trust.PUBLIC_KEYS:
            self.assertEqual(trusted_key(key_id(point)), point)
        self.assertEqual(trusted_key(bytes(8)), None)
        self.assertEqual(factory_authority(), key_id(trust.PUBLIC_KEYS[0]))


class TestBootRecord(unittest.TestCase):
    def test_round_trip(self):
        record = BootRecord(1, 0, 1, 7, "00112233aabbccdd")
        back = BootRecord.decode(record.encode())
        self.assertEqual((back.primary, back.pending, back.trial, back.floor, back.auth), (1, 0, 1, 7, "00112233aabbccdd"))

    def test_damaged_records_fall_back_to_the_factory_firmware(self):
        for data in (b"", b"{", b'{"primary": 5, "pending": -1, "trial": 0, "floor": 0}', b"[]"):
            record = BootRecord.decode(data)
            self.assertEqual((record.primary, record.pending), (FACTORY, FACTORY))

    def test_a_record_without_an_authority_belongs_to_the_factory_one(self):
        record = BootRecord.decode(b'{"primary": 0, "pending": -1, "trial": 0, "floor": 3}')
        self.assertEqual((record.primary, record.floor), (0, 3))
        self.assertEqual(bytes.fromhex(record.auth), factory_authority())


class TestEraseKeys(unittest.TestCase):
    def test_erases_the_key_and_keeps_the_pin_counter(self):
        storage = RamStorage()
        keys = KeyStore(storage)
        keys.inject(bytes(range(32)))
        keys.next_counter()
        keys.next_counter()
        self.assertTrue(erase_keys(storage))
        after = KeyStore(storage)
        self.assertFalse(after.commissioned)
        self.assertEqual(after.counter, 2)
        self.assertEqual(after.kcv(), b"\x00\x00\x00")
        self.assertFalse(erase_keys(storage))  # nothing left to erase

    def test_no_record_is_left_alone(self):
        storage = RamStorage()
        self.assertFalse(erase_keys(storage))
        self.assertEqual(storage.record, None)
