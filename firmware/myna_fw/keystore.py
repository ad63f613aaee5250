# SPDX-License-Identifier: Apache-2.0
"""The board key: injected once, rotated under the old key, erased on tamper.

The record lives in the hardware layer's storage (flash on the RP2040, a
file standing in for flash under the unix port): ``MYK1 FLAGS COUNTER KEY``.
The PIN-block counter survives tamper and re-commissioning, so a PIN block
recorded before a tamper can never be replayed against the new key's host
state either (the host rejects counters it has already seen).
"""

import struct

from myna_fw import crypto
from myna_fw.proto import FLAG_COMMISSIONED, FLAG_TAMPERED

_MAGIC = b"MYK1"
KEY_LENGTH = 32


class KeyStoreError(Exception):
    """A key operation was refused; ``status`` is the RESULT status code."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class KeyStore:
    def __init__(self, storage):
        self._storage = storage
        self._key = bytearray()
        self.flags = 0
        self.counter = 0
        record = storage.load()
        if record and len(record) >= 9 and record[:4] == _MAGIC:
            self.flags = record[4]
            self.counter = struct.unpack(">I", record[5:9])[0]
            self._key = bytearray(record[9 : 9 + KEY_LENGTH])
            if len(self._key) != KEY_LENGTH:
                self._key = bytearray()
                self.flags &= ~FLAG_COMMISSIONED

    @property
    def commissioned(self):
        return bool(self.flags & FLAG_COMMISSIONED)

    @property
    def tampered(self):
        return bool(self.flags & FLAG_TAMPERED)

    def kcv(self):
        return crypto.kcv(self._key) if self.commissioned else b"\x00\x00\x00"

    def keys(self):
        """``(enc_key, mac_key)`` derived from the board key."""
        return crypto.derive_keys(self._key)

    def inject(self, key):
        """One-time commissioning: store ``key``; return its KCV."""
        if self.commissioned:
            raise KeyStoreError(6)  # ST_ALREADY_COMMISSIONED
        if len(key) != KEY_LENGTH:
            raise KeyStoreError(1)  # ST_BAD_REQUEST
        self._set(key)
        return self.kcv()

    def rotate(self, req_id, iv, ciphertext, mac):
        """Replace the key with one sent encrypted and MACed under the old one."""
        if not self.commissioned:
            raise KeyStoreError(3)  # ST_NOT_COMMISSIONED
        if len(iv) != 16 or len(ciphertext) != KEY_LENGTH or len(mac) != 32:
            raise KeyStoreError(1)
        enc_key, mac_key = self.keys()
        expected = crypto.hmac_sha256(mac_key, b"ROT1" + struct.pack(">I", req_id) + iv + ciphertext)
        if not crypto.equal(expected, mac):
            raise KeyStoreError(7)  # ST_AUTH_FAILED
        self._set(crypto.cbc_decrypt(enc_key, iv, ciphertext))
        return self.kcv()

    def next_counter(self):
        """Advance and persist the PIN-block counter before it is used."""
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self._save()
        return self.counter

    def erase(self):
        """Tamper response: overwrite the key in RAM and in storage."""
        for i in range(len(self._key)):
            self._key[i] = 0
        self._key = bytearray()
        self.flags = (self.flags & ~FLAG_COMMISSIONED) | FLAG_TAMPERED
        self._save()

    def _set(self, key):
        for i in range(len(self._key)):
            self._key[i] = 0
        self._key = bytearray(key)
        self.flags = FLAG_COMMISSIONED
        self._save()

    def _save(self):
        self._storage.save(_MAGIC + bytes((self.flags,)) + struct.pack(">I", self.counter) + bytes(self._key))


class RamStorage:
    """Storage that forgets at power-off (tests, boards without a flash file)."""

    def __init__(self, record=None):
        self.record = record

    def load(self):
        return self.record

    def save(self, record):
        self.record = bytes(record)
