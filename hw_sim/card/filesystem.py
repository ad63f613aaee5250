# SPDX-License-Identifier: Apache-2.0
"""The card's file system model: applications (DFs) holding elementary files.

A My Number card has no useful MF; it is a set of applications selected by
AID, each with 2-byte file ids in ``0001``-``001E`` (jpki-card.md §2, §3), so
SFI n is simply FID ``00nn``. Files come in three kinds:

* ``TransparentEf``: bytes read with READ BINARY; the content is the whole
  physical file, object plus ``FF`` filler (§3.2, §6). A read condition is a
  set of PIN objects of the same application, any one of which opens it.
* ``PinEf``: an internal EF holding reference data for VERIFY (§3). Its live
  counter and verifier are in ``hw_sim.card.pins.PinStore``.
* ``KeyEf``: an internal EF holding a private key, used by COMPUTE DIGITAL
  SIGNATURE after SELECT when one of its PIN objects is verified.

Internal EFs cannot be read (``6981``). Everything here is immutable: what
changes at run time lives in the PIN store and the security state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import rsa

from hw_sim.card.constants import MIN_AID_PREFIX
from hw_sim.card.contactless import Contactless
from hw_sim.card.phones import Approval, DeviceKind
from hw_sim.card.pins import PinPolicy

__all__ = ["Application", "CardImage", "Ef", "KeyEf", "PinEf", "TransparentEf"]

_NO_CONDITION: frozenset[int] = frozenset()


@dataclass(frozen=True)
class TransparentEf:
    """A transparent EF.

    Attributes:
        fid: file id.
        content: the physical content, filler included (hidden from repr).
        read_condition: PIN objects (file ids) any one of which must be
            verified to read; empty = always readable.
    """

    fid: int
    content: bytes = field(repr=False)
    read_condition: frozenset[int] = _NO_CONDITION


@dataclass(frozen=True)
class PinEf:
    """An internal EF holding a PIN, password or verification code."""

    fid: int
    policy: PinPolicy


@dataclass(frozen=True)
class KeyEf:
    """An internal EF holding an RSA private key.

    Attributes:
        fid: file id.
        key: the private key, or None when the card holds no key there (an
            under-15 holder's signing key).
        use_condition: PIN objects any one of which must be verified to sign.
    """

    fid: int
    key: rsa.RSAPrivateKey | None = field(repr=False)
    use_condition: frozenset[int] = _NO_CONDITION


Ef = TransparentEf | PinEf | KeyEf


@dataclass(frozen=True)
class Application:
    """An application (DF) and its files.

    Attributes:
        name: a short human name (``"jpki"``, ``"text"``, ``"surface"``).
        aid: the DF name.
        files: file id to EF.
        self_sign_key: the application's own key for ``80 2A 00 00`` with no
            credential (券面 APs, §3.3), or None.
        aliases: further DF names that select it by exact match (a phone's
            own JPKI AID, ``phones``); PIN objects stay keyed by ``aid``.
    """

    name: str
    aid: bytes
    files: Mapping[int, Ef]
    self_sign_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    aliases: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        for fid, ef in self.files.items():
            if fid != ef.fid:
                raise ValueError(f"file {ef.fid:04X} registered under {fid:04X}")

    def file(self, fid: int) -> Ef | None:
        """Return the EF with ``fid``, or None."""
        return self.files.get(fid)

    def file_by_sfi(self, sfi: int) -> Ef | None:
        """Return the EF whose short id is ``sfi`` (FID ``00`` ‖ SFI), or None."""
        return self.files.get(sfi) if 1 <= sfi <= 30 else None


@dataclass(frozen=True)
class CardImage:
    """Everything a card holds that never changes after issue.

    Attributes:
        applications: in the card's DF order, which decides prefix matches.
        atr: the answer to reset.
        data_objects: GET DATA tag (``P1 P2``) to value, at any level.
        card_id: the issuer-facing card id (``issuer_commands``), or None.
        issuer_key: the card's AES-128 issuer key, or None (no issuer reset).
        device: what carries the credential (card, Android, iPhone).
        contactless: the RF answers (Type A/B), or None for the readers'
            own defaults (the card's Type B).
        approval: the iPhone's user verification at power-on, or None for
            credentials without one (``phones``).
    """

    applications: tuple[Application, ...]
    atr: bytes
    data_objects: Mapping[int, bytes] = field(default_factory=dict)
    card_id: bytes | None = None
    issuer_key: bytes | None = field(default=None, repr=False)
    device: DeviceKind = DeviceKind.CARD
    contactless: Contactless | None = None
    approval: Approval | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_objects", MappingProxyType(dict(self.data_objects)))

    def find_application(self, name: bytes) -> Application | None:
        """Return the first application whose AID is ``name`` or starts with it.

        SELECT by a DF-name prefix is legal in JICSAP (§2); prefixes shorter
        than ``MIN_AID_PREFIX`` match nothing.
        """
        for application in self.applications:
            if application.aid == name or name in application.aliases:
                return application
        if len(name) < MIN_AID_PREFIX:
            return None
        for application in self.applications:
            if application.aid.startswith(name):
                return application
        return None
