# SPDX-License-Identifier: Apache-2.0
"""Sealed touchscreen entry: a PIN typed on the kiosk never crosses the local API in clear.

DESIGN's invariant is "no PIN in any gRPC message", yet the kiosk profile
takes a PIN from the touchscreen application. So every secret prompt
carries a fresh X25519 public key of the agent (``PromptEvent.
entry_public_key``), used for that one prompt and dropped when it is
answered or abandoned; the application seals the typed value to it with an
ephemeral key of its own:

* ``shared = X25519(ephemeral_private, entry_public_key)``
* ``key = HKDF-SHA256(shared, salt = ephemeral_public || entry_public,
  info = "myna-edge/touch-entry/v1" 0x00 request_id 0x00 prompt_id, 32 bytes)``
* ``ciphertext = AES-256-GCM(key, nonce (12 random bytes), value, AAD = prompt_id)``

A ciphertext sealed to another prompt's key, another request or prompt id,
or altered in any byte does not open: ``TouchEntryError``, nothing changes.
A replay to the same prompt finds it answered (its private key is gone).
``seal`` is the client side (Python API clients, tests); the kiosk UI does
the same with WebCrypto (``host/api/touch-entry.md``).
"""

from __future__ import annotations

import logging
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from host.errors import TouchEntryError
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["INFO_LABEL", "EntryKey", "seal"]

_log = logging.getLogger(__name__)

#: The HKDF info prefix; request id and prompt id follow, each after a 0x00.
INFO_LABEL: Final = b"myna-edge/touch-entry/v1"
_KEY_LEN: Final = 32
_NONCE_LEN: Final = 12


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _derive(
    shared: bytes, ephemeral: bytes, entry: bytes, request_id: str, prompt_id: str
) -> bytes:
    info = b"\x00".join((INFO_LABEL, request_id.encode(), prompt_id.encode()))
    hkdf = HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=ephemeral + entry, info=info)
    return hkdf.derive(shared)


def seal(entry_public_key: bytes, request_id: str, prompt_id: str, value: bytes) -> tpb.TouchEntry:
    """The client side: seal ``value`` (the typed ASCII PIN) to a prompt's key.

    Raises:
        TouchEntryError: ``entry_public_key`` is not a usable X25519 key.
    """
    try:
        agent = X25519PublicKey.from_public_bytes(entry_public_key)
        ephemeral = X25519PrivateKey.generate()
        shared = ephemeral.exchange(agent)
    except ValueError:
        raise TouchEntryError("the prompt carries no usable entry key") from None
    eph = _raw(ephemeral.public_key())
    key = _derive(shared, eph, entry_public_key, request_id, prompt_id)
    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(key).encrypt(nonce, value, prompt_id.encode())
    return tpb.TouchEntry(ephemeral_public_key=eph, nonce=nonce, ciphertext=sealed)


class EntryKey:
    """The agent side: one prompt's X25519 key pair; opens the entry sealed to it.

    Args:
        request_id, prompt_id: what the entry is bound to (HKDF info, AAD).
    """

    __slots__ = ("_private", "prompt_id", "public_bytes", "request_id")

    def __init__(self, request_id: str, prompt_id: str) -> None:
        self.request_id, self.prompt_id = request_id, prompt_id
        self._private = X25519PrivateKey.generate()
        self.public_bytes = _raw(self._private.public_key())

    def __repr__(self) -> str:
        return f"EntryKey(request_id={self.request_id!r}, prompt_id={self.prompt_id!r})"

    def open(self, entry: tpb.TouchEntry) -> Secret:
        """Decrypt ``entry`` into a ``Secret`` (the caller wipes it).

        Raises:
            TouchEntryError: malformed, sealed to another key/request/prompt,
                or altered. The message never holds any of its bytes.
        """
        if len(entry.nonce) != _NONCE_LEN or len(entry.ephemeral_public_key) != _KEY_LEN:
            raise TouchEntryError("the touch entry is malformed")
        try:
            peer = X25519PublicKey.from_public_bytes(entry.ephemeral_public_key)
            shared = self._private.exchange(peer)
        except ValueError:
            raise TouchEntryError("the touch entry's key is not usable") from None
        key = _derive(
            shared, entry.ephemeral_public_key, self.public_bytes, self.request_id, self.prompt_id
        )
        try:
            value = bytearray(
                AESGCM(key).decrypt(entry.nonce, entry.ciphertext, self.prompt_id.encode())
            )
        except InvalidTag:
            _log.warning("touch entry for %s/%s did not open", self.request_id, self.prompt_id)
            raise TouchEntryError("the touch entry does not open with this prompt's key") from None
        try:
            return Secret(value)
        finally:
            value[:] = bytes(len(value))  # Secret copied it; wipe this copy
