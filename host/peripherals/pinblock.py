# SPDX-License-Identifier: Apache-2.0
"""The board key on the host side, and the encrypted PIN object.

A PIN typed on the controller crosses the serial line only as a PIN block
(firmware/PROTOCOL.md §5): AES-256-CBC under a key derived from the board
key, then HMAC-SHA256 over the request id, the kind, a monotonic counter, the
IV and the ciphertext. ``EncryptedPin`` holds that block and opens it only
inside ``decrypted()``, the moment the card command is built; the plaintext
lives in a :class:`host.secret.Secret` that is wiped on leaving the block,
and the block itself is single-use. ``ReplayGuard`` remembers the highest
counter seen per board so a recorded block cannot be played again; with a
``persist`` hook (``host.peripherals.counters.CounterStore``) it remembers
across agent restarts too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host.errors import InvalidPinBlockError, PeripheralError
from host.peripherals.messages import EntryKind
from host.secret import Secret

__all__ = ["KEY_LENGTH", "BoardKey", "EncryptedPin", "ReplayGuard"]

KEY_LENGTH = 32
_BLOCK_LENGTH = 1 + 4 + 16 + 32 + 32  # kind, counter, IV, ciphertext, MAC


class BoardKey:
    """The 32-byte key injected into one board; never printed, wipeable."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LENGTH:
            raise ValueError(f"a board key is {KEY_LENGTH} bytes")
        self._key = bytearray(key)

    @classmethod
    def generate(cls) -> BoardKey:
        """A fresh random key (commissioning, rotation)."""
        return cls(os.urandom(KEY_LENGTH))

    def material(self) -> bytes:
        """The raw key, for the one command that injects it."""
        return bytes(self._key)

    def kcv(self) -> bytes:
        """Key check value: AES-ECB(key, 16 zero bytes)[:3]."""
        encryptor = Cipher(algorithms.AES(bytes(self._key)), modes.ECB()).encryptor()  # noqa: S305 - KCV is ECB by definition
        return (encryptor.update(bytes(16)) + encryptor.finalize())[:3]

    def derived(self) -> tuple[bytes, bytes]:
        """``(enc_key, mac_key)`` as the firmware derives them."""
        key = bytes(self._key)
        enc = hmac.new(key, b"\x01myna-edge enc", hashlib.sha256).digest()
        mac = hmac.new(key, b"\x02myna-edge mac", hashlib.sha256).digest()
        return enc, mac

    def wrap(self, new: BoardKey, request_id: int) -> bytes:
        """The ROTATE_KEY arguments carrying ``new`` under this key."""
        enc, mac = self.derived()
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(new.material()) + encryptor.finalize()
        tag = hmac.new(mac, b"ROT1" + struct.pack(">I", request_id) + iv + ciphertext, "sha256")
        return iv + ciphertext + tag.digest()

    def wipe(self) -> None:
        """Overwrite the key in place."""
        for i in range(len(self._key)):
            self._key[i] = 0

    def __repr__(self) -> str:
        return "BoardKey(<redacted>)"


class ReplayGuard:
    """The highest PIN-block counter accepted so far (per board).

    Args:
        last_counter: where to start (a block must carry a higher counter).
        persist: stores an accepted counter durably before the block is
            opened; when it raises, the block is refused.
    """

    def __init__(
        self, last_counter: int = 0, *, persist: Callable[[int], None] | None = None
    ) -> None:
        self.last_counter = last_counter
        self._persist = persist

    def accept(self, counter: int) -> None:
        """Record ``counter``.

        Raises:
            InvalidPinBlockError: ``counter`` is not above the last accepted one, or
                it could not be stored (the cause is chained).
        """
        if counter <= self.last_counter:
            raise InvalidPinBlockError("PIN block replayed (counter not above the last one)")
        if self._persist is not None:
            try:
                self._persist(counter)
            except (OSError, PeripheralError) as exc:
                raise InvalidPinBlockError("the PIN-block counter could not be stored") from exc
        self.last_counter = counter


class EncryptedPin:
    """A PIN block from the controller; decrypts once, inside ``decrypted()``.

    Args:
        block: the ENTRY_DONE payload after request id and outcome.
        request_id: the id of the SECURE_ENTRY request this block must answer.
        key: the board's key.
        guard: the board's replay guard.
    """

    __slots__ = ("_block", "_guard", "_key", "kind", "request_id")

    def __init__(self, block: bytes, request_id: int, key: BoardKey, guard: ReplayGuard) -> None:
        if len(block) != _BLOCK_LENGTH:
            raise InvalidPinBlockError(f"PIN block of {len(block)} bytes, expected {_BLOCK_LENGTH}")
        self._block: bytes | None = bytes(block)
        self._key = key
        self._guard = guard
        self.request_id = request_id
        try:
            self.kind = EntryKind(block[0])
        except ValueError:
            raise InvalidPinBlockError("PIN block of an unknown kind") from None

    @property
    def block(self) -> bytes:
        """The encrypted block as received (never logged; tests replay it)."""
        if self._block is None:
            raise InvalidPinBlockError("the PIN block was already used")
        return self._block

    @contextmanager
    def decrypted(self) -> Iterator[Secret]:
        """Check and open the block; the Secret is wiped when the block exits.

        Raises:
            InvalidPinBlockError: wrong MAC (altered or another key), another request
                id, a replayed counter, bad padding, or used twice.
        """
        block = self.block
        self._block = None
        enc, mac = self._key.derived()
        kind, counter = block[0], struct.unpack(">I", block[1:5])[0]
        iv, ciphertext, tag = block[5:21], block[21:53], block[53:]
        header = struct.pack(">IBI", self.request_id, kind, counter)
        expected = hmac.new(mac, b"PIN1" + header + iv + ciphertext, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, tag):
            raise InvalidPinBlockError("PIN block fails its MAC (altered, or not for this request)")
        self._guard.accept(counter)
        decryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).decryptor()
        plain = bytearray(decryptor.update(ciphertext) + decryptor.finalize())
        try:
            length = plain[0]
            if not 1 <= length <= len(plain) - 1:
                raise InvalidPinBlockError("PIN block has a bad length")
            secret = Secret(plain[1 : 1 + length])
        finally:
            for i in range(len(plain)):
                plain[i] = 0
        try:
            yield secret
        finally:
            secret.wipe()

    def wipe(self) -> None:
        """Drop the block unused."""
        self._block = None

    def __repr__(self) -> str:
        return f"EncryptedPin(kind={self.kind.name}, request_id={self.request_id}, <redacted>)"
