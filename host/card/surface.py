# SPDX-License-Identifier: Apache-2.0
"""The card-surface AP (券面事項確認AP) and the card-info AP opened with 照合番号.

A staffed desk checks a card in person with 照合番号B from the plastic (or A,
the My Number, when the holder gives it): VERIFY on the surface AP opens the
card face (EF 0002: birth date, sex, name and address images, photo, expiry,
security-code image, issuer signature), and VERIFY with the same code on the
card-info AP opens the basic four as text and the integrity record (jpki-card.md
§3.2, §3.3). B does not open the My Number; A does not open the basic four.

As with the PINs, the counter is read with the empty VERIFY before any VERIFY
with data, a blocked code is never sent, and the format is checked above
(``surface_codes.normalize_code``). Each function selects what it needs; the
one exception, as with ``jpki.prove``, is ``read_card_face(counter_read=True)``,
which relies on the code EF its caller just selected to read the tries, and
falls back to the full path when the card lost it. Nothing read here is
logged (it is all personal data).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import commands, files
from host.card import constants as c
from host.card.basic_four import parse_basic_four
from host.card.card_info import CardInfo
from host.card.files import ReadStrategy
from host.card.integrity import check_integrity, parse_integrity_record
from host.card.surface_codes import CODE_RULES, CodeKind, CodeTarget
from host.card.surface_face import CardFace, check_face_signature, parse_card_face
from host.channel import PIN_STATUS_WORDS, ApduChannel
from host.errors import CardError, PinBlockedError, WrongPinError

__all__ = [
    "FaceReading",
    "FaceVerdict",
    "assess_face",
    "code_tries_left",
    "read_basic_four_with_code",
    "read_card_face",
    "verify_code",
]

_log = logging.getLogger(__name__)

_SW_OK: Final = 0x9000
_SW_BLOCKED: Final = frozenset({0x63C0, 0x6984})


@dataclass(frozen=True, repr=False)
class FaceReading:
    """The card face and what was checked about it.

    Attributes:
        face: the parsed card face.
        signature_verified: DF28 was checked against a trusted issuer key
            (a failure raises; False means no key was given).
    """

    face: CardFace
    signature_verified: bool

    def __repr__(self) -> str:
        return f"FaceReading(<redacted>, signature_verified={self.signature_verified})"


class FaceVerdict(StrEnum):
    """What the chip says about the card in front of the staff."""

    GENUINE = "genuine"  # signed by the trusted issuer, in date, consistent
    EXPIRED = "expired"  # genuine data, but the card is past its expiry date
    NOT_CHECKED = "not-checked"  # no issuer key configured: the signature was not checked
    FORGED = "forged"  # the face's signature does not verify: do not accept the card
    REVOKED = "revoked"  # the verifier refused the authentication certificate (holder's PIN)
    INCONSISTENT = "inconsistent"  # the face and the card-info AP disagree


def assess_face(
    reading: FaceReading, *, today: dt.date, differences: tuple[str, ...] = ()
) -> FaceVerdict:
    """Return the verdict for a face that was read (a forged one raised ``IntegrityError``).

    The card is valid through its expiry date (DF29). DF29 is not covered by
    the signature (§3.3), but 照合番号B, which opened the face, contains the
    expiry year, so a face whose year was altered would not have opened.
    """
    if differences:
        return FaceVerdict.INCONSISTENT
    if not reading.signature_verified:
        return FaceVerdict.NOT_CHECKED
    if reading.face.expiry < today:
        return FaceVerdict.EXPIRED
    return FaceVerdict.GENUINE


def _read_tries(channel: ApduChannel, kind: CodeKind) -> tuple[int, int]:
    response = channel.send(commands.verify(), allow=PIN_STATUS_WORDS)
    if response.sw == _SW_OK:
        # Already verified in this session (SOL §4.1): a correct entry restores the counter.
        return CODE_RULES[kind].max_tries, response.sw
    if response.sw in _SW_BLOCKED:
        return 0, response.sw
    return response.sw & 0x0F, response.sw


def _select_code(channel: ApduChannel, kind: CodeKind, target: CodeTarget) -> None:
    files.select_application(channel, target.aid)
    files.select_file(channel, target.fid(kind))


def code_tries_left(channel: ApduChannel, kind: CodeKind, target: CodeTarget) -> int:
    """Return the tries left for ``kind`` in ``target`` (0 when blocked); spends none.

    Raises:
        CardError: the card refused the query.
    """
    _select_code(channel, kind, target)
    return _read_tries(channel, kind)[0]


def verify_code(channel: ApduChannel, kind: CodeKind, code: bytes, target: CodeTarget) -> None:
    """Select the code's EF, check it is not blocked, then VERIFY ``code``.

    ``code`` is the output of ``normalize_code``. The application stays selected.

    Raises:
        PinBlockedError: blocked before (nothing sent) or by this try.
        WrongPinError: wrong code; ``tries_left`` says how many remain.
        CardError: another refusal.
    """
    _select_code(channel, kind, target)
    tries, sw = _read_tries(channel, kind)
    name = CODE_RULES[kind].name
    if tries == 0:
        raise PinBlockedError(sw, "VERIFY", f"{name} is blocked; it was not sent")
    if tries == 1:
        _log.warning("%s (%s AP): one try left before it blocks", name, target.value)
    channel.send(commands.verify(code))
    _log.debug("%s verified on the %s AP", name, target.value)


def read_card_face(
    channel: ApduChannel,
    kind: CodeKind,
    code: bytes,
    *,
    issuer_key: rsa.RSAPublicKey | None = None,
    strategy: ReadStrategy = ReadStrategy.AUTO,
    counter_read: bool = False,
) -> FaceReading:
    """Verify ``code`` on the surface AP, read EF 0002, parse it, check DF28.

    ``counter_read`` is the caller's promise that the last command on this
    channel was the empty VERIFY of ``kind``'s EF on the surface AP
    (``code_tries_left``) and it was not 0: VERIFY is sent at once, saving
    the three commands of a second look (the counter check asks staff for
    the code between the two). Should the card have lost that state (a
    reset), the answer is neither a wrong nor a blocked code and the full
    select-check-verify path runs once instead.

    Raises:
        PinBlockedError, WrongPinError: the code was refused.
        IntegrityError: the face is not signed by ``issuer_key``.
        DataFormatError: the face does not parse.
        CardError: another refusal.
    """
    verified = False
    if counter_read:
        try:
            channel.send(commands.verify(code))
            verified = True
        except (WrongPinError, PinBlockedError):
            raise
        except CardError:
            _log.info("code EF no longer selected; verifying from the start")
    if not verified:
        verify_code(channel, kind, code, CodeTarget.SURFACE)
    files.select_file(channel, c.SURFACE_FID_FACE)
    face = parse_card_face(files.read_object(channel, strategy))
    if issuer_key is not None:
        check_face_signature(face, issuer_key)
    return FaceReading(face, signature_verified=issuer_key is not None)


def read_basic_four_with_code(
    channel: ApduChannel,
    code: bytes,
    *,
    issuer_key: rsa.RSAPublicKey | None = None,
    strategy: ReadStrategy = ReadStrategy.AUTO,
) -> CardInfo:
    """Open the card-info AP with 照合番号B instead of the 4-digit PIN; read the basic four.

    The integrity record (EF 0003) opens with B too, so the basic four is
    hash- and (with ``issuer_key``) signature-checked as with the PIN. The My
    Number stays closed (§3.2: only the PIN or A open EF 0001).

    Raises:
        PinBlockedError, WrongPinError: the code was refused.
        IntegrityError: EF 0002 does not match EF 0003.
        DataFormatError: a file does not parse.
        CardError: another refusal.
    """
    verify_code(channel, CodeKind.B, code, CodeTarget.TEXT)
    files.select_file(channel, c.FID_BASIC_FOUR)
    basic_four_ef = files.read_object(channel, strategy)
    files.select_file(channel, c.FID_INTEGRITY)
    record = parse_integrity_record(files.read_object(channel, strategy))
    status = check_integrity(record, basic_four_ef=basic_four_ef, issuer_key=issuer_key)
    return CardInfo(basic_four=parse_basic_four(basic_four_ef), my_number=None, integrity=status)
