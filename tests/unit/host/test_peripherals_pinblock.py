# SPDX-License-Identifier: Apache-2.0
"""host.peripherals.pinblock: PIN blocks open once, bound, authenticated, never shown."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host.errors import InvalidPinBlockError
from host.peripherals.messages import EntryKind
from host.peripherals.pinblock import BoardKey, EncryptedPin, ReplayGuard

KEY = bytes(range(32))
PIN = b"4321"


def make_block(
    key: BoardKey, request_id: int, counter: int, pin: bytes = PIN, kind: int = 1
) -> bytes:
    """A PIN block built the way firmware/PROTOCOL.md section 5 says."""
    enc, mac = key.derived()
    iv = os.urandom(16)
    plain = bytes((len(pin),)) + pin + os.urandom(31 - len(pin))
    encryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plain) + encryptor.finalize()
    header = struct.pack(">IBI", request_id, kind, counter)
    tag = hmac.new(mac, b"PIN1" + header + iv + ciphertext, hashlib.sha256).digest()
    return struct.pack(">BI", kind, counter) + iv + ciphertext + tag


def test_kcv_and_derivation_match_firmware_vectors() -> None:
    # The firmware test (firmware/tests/test_crypto.py) pins the same KCV.
    assert BoardKey(KEY).kcv().hex() == "f29000"


def test_decrypts_once_and_wipes() -> None:
    key, guard = BoardKey(KEY), ReplayGuard()
    pin = EncryptedPin(make_block(key, 7, 1), 7, key, guard)
    assert pin.kind is EntryKind.NUMERIC
    with pin.decrypted() as secret:
        assert secret.reveal() == PIN
    assert secret.wiped
    with pytest.raises(InvalidPinBlockError, match="already used"), pin.decrypted():
        pass


def test_altered_block_rejected() -> None:
    key = BoardKey(KEY)
    block = bytearray(make_block(key, 7, 1))
    block[30] ^= 1
    with (
        pytest.raises(InvalidPinBlockError, match="MAC"),
        EncryptedPin(bytes(block), 7, key, ReplayGuard()).decrypted(),
    ):
        pass


def test_other_request_rejected() -> None:
    key = BoardKey(KEY)
    pin = EncryptedPin(make_block(key, 7, 1), 8, key, ReplayGuard())
    with pytest.raises(InvalidPinBlockError, match="MAC"), pin.decrypted():
        pass


def test_replayed_counter_rejected_and_guard_unchanged() -> None:
    key, guard = BoardKey(KEY), ReplayGuard()
    block = make_block(key, 7, 5)
    with EncryptedPin(block, 7, key, guard).decrypted():
        pass
    assert guard.last_counter == 5
    with (
        pytest.raises(InvalidPinBlockError, match="replayed"),
        EncryptedPin(block, 7, key, guard).decrypted(),
    ):
        pass
    older = make_block(key, 9, 4)
    with (
        pytest.raises(InvalidPinBlockError, match="replayed"),
        EncryptedPin(older, 9, key, guard).decrypted(),
    ):
        pass
    assert guard.last_counter == 5


def test_wrong_key_rejected() -> None:
    block = make_block(BoardKey(KEY), 7, 1)
    other = BoardKey(bytes(32))
    with (
        pytest.raises(InvalidPinBlockError),
        EncryptedPin(block, 7, other, ReplayGuard()).decrypted(),
    ):
        pass


def test_malformed() -> None:
    key = BoardKey(KEY)
    with pytest.raises(InvalidPinBlockError, match="bytes"):
        EncryptedPin(b"\x01", 1, key, ReplayGuard())
    with pytest.raises(InvalidPinBlockError, match="kind"):
        EncryptedPin(b"\x09" + bytes(84), 1, key, ReplayGuard())
    with pytest.raises(ValueError, match="32 bytes"):
        BoardKey(b"short")


def test_secrets_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    key = BoardKey(KEY)
    pin = EncryptedPin(make_block(key, 7, 1), 7, key, ReplayGuard())
    caplog.set_level(logging.DEBUG)
    assert "redacted" in repr(key)
    assert KEY.hex() not in repr(key)
    assert "4321" not in repr(pin)
    assert pin.block.hex() not in repr(pin)
    with pin.decrypted() as secret:
        assert "4321" not in repr(secret)
        logging.getLogger("test").info("pin %r key %r", secret, key)
    assert "4321" not in caplog.text
    assert KEY.hex() not in caplog.text


def test_rotation_wrap_is_authenticated() -> None:
    old, new = BoardKey(KEY), BoardKey.generate()
    wrapped = old.wrap(new, 42)
    assert len(wrapped) == 16 + 32 + 32
    assert new.material() not in wrapped
    _enc, mac = old.derived()
    iv, ciphertext, tag = wrapped[:16], wrapped[16:48], wrapped[48:]
    expected = hmac.new(
        mac, b"ROT1" + struct.pack(">I", 42) + iv + ciphertext, hashlib.sha256
    ).digest()
    assert tag == expected
    key = BoardKey(KEY)
    key.wipe()
    assert key.material() == bytes(32)
