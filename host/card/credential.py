# SPDX-License-Identifier: Apache-2.0
"""What a credential can do, and the on-phone approval: the one place phones differ.

Why a capability record and not ``if kind is IPHONE`` in every flow: a real
phone's differences must be a driver change, never a flow change (issue
15). Flows ask ``Credential`` three questions and never name a phone:

* ``verification``: is the secret typed at the terminal (``PIN_PAD``: a
  card, an Android phone with its own PIN and password), or does the holder
  approve on the device (``ON_DEVICE``: an iPhone, side button + Face ID)?
* ``secrets_at_terminal``: may a kiosk reset or change its secrets? A
  phone's are set, changed and reset on the phone (UNCONFIRMED: the
  simulator answers CHANGE REFERENCE DATA ``6985``; no issuer reset).
* ``basic_four``: does it carry the card-info AP (the basic four items)?
  Phones do not in this model (``hw_sim/card/phones.py``: ``6A82``).

On-device approval (UNCONFIRMED, our model of a non-public interface): an
empty VERIFY of the authentication PIN EF answers the approval's state
(``9000`` approved, ``6600`` declined, ``6401`` no answer yet) and costs
nothing; once approved, protected reads and signatures need no VERIFY.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography import x509

from host.card import commands, files, pins
from host.card import constants as c
from host.card.certificates import parse_certificate
from host.card.detection import CredentialKind
from host.card.files import ReadStrategy
from host.card.kinds import KeyKind
from host.card.pin_policy import PinKind
from host.channel import ApduChannel
from host.errors import ApprovalRequiredError, DataFormatError, UnexpectedStatusError

__all__ = [
    "SW_APPROVAL_DECLINED",
    "SW_APPROVAL_PENDING",
    "ApprovalState",
    "Credential",
    "UserVerification",
    "approval_state",
    "credential_for",
    "prove_on_device",
]

_log = logging.getLogger(__name__)

# UNCONFIRMED: the same values as hw_sim/card/phones.py (host/ must not import hw_sim/).
SW_APPROVAL_DECLINED: Final = 0x6600
SW_APPROVAL_PENDING: Final = 0x6401
_APPROVAL_SWS: Final = frozenset({SW_APPROVAL_DECLINED, SW_APPROVAL_PENDING})
_SW_OK: Final = 0x9000


class UserVerification(StrEnum):
    """How the holder unlocks a key."""

    PIN_PAD = "pin_pad"  # the secret is typed at the terminal
    ON_DEVICE = "on_device"  # the holder approves on the phone; nothing is typed


class ApprovalState(StrEnum):
    """The on-device approval as the phone reports it."""

    APPROVED = "approved"
    DECLINED = "declined"
    PENDING = "pending"  # no answer yet


@dataclass(frozen=True)
class Credential:
    """What the presented credential is and can do (see the module docstring)."""

    kind: CredentialKind
    verification: UserVerification
    secrets_at_terminal: bool
    basic_four: bool

    @property
    def is_phone(self) -> bool:
        """Whether a smartphone was presented."""
        return self.kind.is_phone


_CREDENTIALS: Final = {
    CredentialKind.CARD: Credential(CredentialKind.CARD, UserVerification.PIN_PAD, True, True),
    CredentialKind.ANDROID: Credential(
        CredentialKind.ANDROID, UserVerification.PIN_PAD, False, False
    ),
    CredentialKind.IPHONE: Credential(
        CredentialKind.IPHONE, UserVerification.ON_DEVICE, False, False
    ),
}


def credential_for(kind: CredentialKind) -> Credential:
    """The capabilities of a credential of ``kind``."""
    return _CREDENTIALS[CredentialKind(kind)]


def approval_state(channel: ApduChannel) -> ApprovalState:
    """Ask the phone whether its holder approved; spends nothing (empty VERIFY).

    Raises:
        CardError: an answer that is no approval state (a card answers its
            PIN counter, ``63Cx``), or the SELECTs failed.
        TransportError: the phone left.
    """
    pins.select_pin(channel, PinKind.AUTH)
    allowed = _APPROVAL_SWS | {_SW_OK}
    sw = channel.send(commands.verify(), allow=allowed).sw
    if sw == _SW_OK:
        return ApprovalState.APPROVED
    return ApprovalState.DECLINED if sw == SW_APPROVAL_DECLINED else ApprovalState.PENDING


def prove_on_device(
    channel: ApduChannel,
    kind: KeyKind,
    digest: bytes,
    strategy: ReadStrategy = ReadStrategy.AUTO,
) -> tuple[x509.Certificate, bytes]:
    """The ``kind`` certificate and a signature over ``digest``, approved on the phone.

    No VERIFY is sent: the approval stands in for the secret. Should the
    holder withdraw it between the check and the signature, the phone's
    answer is raised as ``ApprovalRequiredError``, never retried.

    Raises:
        ValueError: ``digest`` is not 32 bytes (nothing sent).
        ApprovalRequiredError: declined (``.declined``) or no answer yet.
        DataFormatError: a malformed certificate or an empty signature.
        CardError, TransportError: another refusal, or the phone left.
    """
    if len(digest) != c.SHA256_DIGEST_LENGTH:
        raise ValueError("sign takes a 32-byte SHA-256 digest")
    files.select_application(channel, c.JPKI_AID)
    files.select_file(channel, kind.cert_fid)
    certificate = parse_certificate(_read_approved(channel, strategy))
    files.select_file(channel, kind.key_fid)
    command = commands.compute_signature(c.DIGEST_INFO_SHA256_PREFIX + digest)
    response = channel.send(command, allow=_APPROVAL_SWS | {_SW_OK})
    if response.sw in _APPROVAL_SWS:
        raise ApprovalRequiredError(response.sw, "COMPUTE DIGITAL SIGNATURE")
    if not response.data:
        raise DataFormatError("the phone returned an empty signature")
    _log.debug("%s signature approved on the device", kind.value)
    return certificate, response.data


def _read_approved(channel: ApduChannel, strategy: ReadStrategy) -> bytes:
    """Read the selected file, turning the phone's approval refusals into one error."""
    try:
        return files.read_object(channel, strategy)
    except UnexpectedStatusError as exc:
        if exc.sw in _APPROVAL_SWS:
            raise ApprovalRequiredError(exc.sw, "READ BINARY") from None
        raise
