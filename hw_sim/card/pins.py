# SPDX-License-Identifier: Apache-2.0
"""PIN objects: their rules, their retry counters, and how their values are kept.

A card keeps a PIN as reference data it compares a VERIFY against. The
simulator keeps only a salted PBKDF2-SHA-256 verifier, so no PIN value is
held in memory after issue, in the saved state file, or in any repr; a
candidate is compared with ``hmac.compare_digest``. The salt is per card;
the application id and file id go into the derivation too, so the same PIN
in two places gives two verifiers.

Rules per credential come from jpki-card.md §5; counters survive power-off
(§5) and are saved by ``hw_sim.card.storage``. A VERIFY compares bytes: a
value of the wrong format (a letter in a 4-digit PIN, a lower-case
password) is simply a wrong PIN and spends a try, as a card that only
compares reference data would do. Formats are enforced only on CHANGE
REFERENCE DATA.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "AUTH_PIN",
    "BIRTH_DATE_KEY",
    "BLOCKED_KEY",
    "CODE_A",
    "CODE_B",
    "SIGN_PASSWORD",
    "TEXT_PIN",
    "Charset",
    "PinKey",
    "PinPolicy",
    "PinRecord",
    "PinSeed",
    "PinStore",
    "VerifyResult",
    "pin_key_name",
]

#: Few iterations on purpose: the state file holds test credentials, and
#: the hypothesis suite verifies thousands of times.
_ITERATIONS: Final = 1000
_SALT_BYTES: Final = 16

#: (application id, file id): where a PIN object lives.
PinKey = tuple[bytes, int]


def pin_key_name(key: PinKey) -> str:
    """Return the stable text name of a PIN object, ``"<AID hex>/<FID hex>"``."""
    aid, fid = key
    return f"{aid.hex().upper()}/{fid:04X}"


class Charset(enum.Enum):
    """The characters a credential may be made of."""

    DIGITS = "0123456789"
    UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class PinPolicy:
    """What a PIN object accepts and how many wrong tries it allows.

    Attributes:
        label: a human name for messages and docs (never the value).
        min_length, max_length: allowed length in ASCII characters.
        charset: allowed characters.
        max_tries: the retry counter's start value.
        changeable: whether CHANGE REFERENCE DATA may set a new value.
    """

    label: str
    min_length: int
    max_length: int
    charset: Charset
    max_tries: int
    changeable: bool

    def accepts(self, value: bytes) -> bool:
        """Return whether ``value`` (ASCII bytes) fits this policy's format."""
        if not self.min_length <= len(value) <= self.max_length:
            return False
        allowed = self.charset.value.encode("ascii")
        return all(byte in allowed for byte in value)


# §5: 4 digits, 3 tries (OSC-h, OSC-p15, P-pin).
AUTH_PIN: Final = PinPolicy("JPKI user-authentication PIN", 4, 4, Charset.DIGITS, 3, True)
# §5: 6-16 of A-Z 0-9, 5 tries. UNCONFIRMED: whether the card itself insists
# on at least one letter and one digit (the official pages ask people to);
# we enforce only charset and length, leaving the mix to the client.
SIGN_PASSWORD: Final = PinPolicy("JPKI signing password", 6, 16, Charset.UPPER_ALNUM, 5, True)
# §5: 券面事項入力補助用暗証番号, 4 digits, 3 tries.
TEXT_PIN: Final = PinPolicy("card-info input support PIN", 4, 4, Charset.DIGITS, 3, True)
# UNCONFIRMED: retry limit of 照合番号A (§5, §10); 10 chosen (a vendor note
# quoted second-hand gives 10 for B). Value = the 12-digit My Number.
CODE_A: Final = PinPolicy("verification code A (照合番号A)", 12, 12, Charset.DIGITS, 10, False)
# UNCONFIRMED: retry limit of 照合番号B (§5): 10, as the second-hand quote says.
CODE_B: Final = PinPolicy("verification code B (照合番号B)", 14, 14, Charset.DIGITS, 10, False)
# UNCONFIRMED: retry limit of the surface AP's birth-date key (§5): 10.
BIRTH_DATE_KEY: Final = PinPolicy("birth-date key", 6, 6, Charset.DIGITS, 10, False)
# Text AP EF 0012: a key reference blocked at issuance (§3.2, SOL): empty
# VERIFY gives 63C0 and VERIFY 6984. Its format is unknown and never used.
BLOCKED_KEY: Final = PinPolicy("key blocked at issuance", 4, 16, Charset.DIGITS, 3, False)


class VerifyResult(enum.Enum):
    """Outcome of comparing a candidate with a PIN object."""

    MATCH = "match"
    MISMATCH = "mismatch"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class PinSeed:
    """A PIN object's value and counter at issue; the value is never shown.

    Attributes:
        policy: the object's rules.
        value: the issued value, or None for a key blocked at issuance.
        tries_left: the counter at issue (0 = blocked).
    """

    policy: PinPolicy
    value: str | None = field(repr=False)
    tries_left: int


@dataclass
class PinRecord:
    """A PIN object's live state.

    Attributes:
        policy: the object's rules.
        tries_left: the retry counter; 0 means blocked.
        verifier: the salted verifier, or None when the object has no value.
        version: bumped on each change of value, so a snapshot can tell.
    """

    policy: PinPolicy
    tries_left: int
    verifier: bytes | None = field(repr=False)
    version: int = 0

    @property
    def blocked(self) -> bool:
        """Whether the object refuses every VERIFY."""
        return self.tries_left <= 0 or self.verifier is None


class PinStore:
    """Every PIN object of one card, with counters and verifiers.

    ``dirty`` is set by any change that must reach the state file; the card
    clears it once it has saved.
    """

    def __init__(self, salt: bytes, records: Mapping[PinKey, PinRecord]) -> None:
        """Wrap existing records; use ``PinStore.issue`` for a new card."""
        self._salt = bytes(salt)
        self._records = dict(records)
        self.dirty = False

    @classmethod
    def issue(cls, seeds: Mapping[PinKey, PinSeed], *, salt: bytes | None = None) -> PinStore:
        """Return the store of a freshly issued card with ``seeds``' values and counters."""
        salt = os.urandom(_SALT_BYTES) if salt is None else salt
        records = {
            key: PinRecord(
                seed.policy,
                seed.tries_left if seed.value is not None else 0,
                None if seed.value is None else _derive(salt, key, seed.value.encode("ascii")),
            )
            for key, seed in seeds.items()
        }
        return cls(salt, records)

    def __repr__(self) -> str:
        return f"PinStore({len(self._records)} objects)"

    @property
    def salt(self) -> bytes:
        """The card's salt (stored with the verifiers)."""
        return self._salt

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def __iter__(self) -> Iterator[PinKey]:
        return iter(self._records)

    def record(self, key: PinKey) -> PinRecord:
        """Return the live record of ``key``.

        Raises:
            KeyError: no PIN object at ``key``.
        """
        return self._records[key]

    def verify(self, key: PinKey, candidate: bytes) -> VerifyResult:
        """Compare ``candidate`` with ``key``'s value, spending a try on a mismatch.

        A match restores the counter to its maximum (§5: a correct entry resets
        the counter). A blocked object is not compared and loses nothing.
        """
        record = self._records[key]
        if record.blocked or record.verifier is None:
            return VerifyResult.BLOCKED
        if hmac.compare_digest(_derive(self._salt, key, candidate), record.verifier):
            if record.tries_left != record.policy.max_tries:
                record.tries_left = record.policy.max_tries
                self.dirty = True
            return VerifyResult.MATCH
        record.tries_left -= 1
        self.dirty = True
        return VerifyResult.MISMATCH

    def change(self, key: PinKey, new_value: bytes) -> None:
        """Set ``key``'s value to ``new_value`` and restore its counter.

        The caller has checked the security status and the policy.
        """
        record = self._records[key]
        record.verifier = _derive(self._salt, key, new_value)
        record.tries_left = record.policy.max_tries
        record.version += 1
        self.dirty = True


def _derive(salt: bytes, key: PinKey, value: bytes) -> bytes:
    aid, fid = key
    scope = salt + aid + fid.to_bytes(2, "big")
    return hashlib.pbkdf2_hmac("sha256", value, scope, _ITERATIONS)
