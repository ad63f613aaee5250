# SPDX-License-Identifier: Apache-2.0
"""Board cryptography on what MicroPython has: cryptolib AES and hashlib SHA-256.

MicroPython has no ``hmac`` module, so HMAC-SHA256 is built here from
RFC 2104 on ``hashlib.sha256``. AES-256-CBC comes from ``cryptolib.aes``
(mode 2); the key check value is the usual first three bytes of AES-ECB of a
zero block (mode 1). The injected board key is never used directly: it is
split into an encryption key and a MAC key with HMAC (key separation), so
the PIN block is encrypt-then-MAC (firmware/PROTOCOL.md §5).
"""

import hashlib

from cryptolib import aes

_BLOCK = 16
_MODE_ECB = 1
_MODE_CBC = 2


def sha256(data):
    return hashlib.sha256(data).digest()


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104)."""
    if len(key) > 64:
        key = sha256(key)
    key = bytes(key) + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(message)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def equal(a, b):
    """Compare MACs in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


def derive_keys(board_key):
    """Return ``(enc_key, mac_key)`` from the 32-byte injected key."""
    return hmac_sha256(board_key, b"\x01myna-edge enc"), hmac_sha256(board_key, b"\x02myna-edge mac")


def kcv(board_key):
    """Key check value: AES-ECB(key, 16 zero bytes)[:3]."""
    return aes(bytes(board_key), _MODE_ECB).encrypt(bytes(_BLOCK))[:3]


def cbc_encrypt(key, iv, plaintext):
    if len(plaintext) % _BLOCK:
        raise ValueError("not whole blocks")
    return aes(bytes(key), _MODE_CBC, bytes(iv)).encrypt(bytes(plaintext))


def cbc_decrypt(key, iv, ciphertext):
    if len(ciphertext) % _BLOCK:
        raise ValueError("not whole blocks")
    return aes(bytes(key), _MODE_CBC, bytes(iv)).decrypt(bytes(ciphertext))
