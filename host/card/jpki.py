# SPDX-License-Identifier: Apache-2.0
"""Operations of the JPKI application: certificates, signatures, token label.

Each function starts by selecting what it needs and verifies the secret it
is given itself, so none depends on state left by an earlier call: whether a
re-SELECT of the same application clears a VERIFY differs between cards
(jpki-card.md §2, UNCONFIRMED), and a card may have been reset in between.
The one exception, ``prove(counter_read=True)``, relies on the PIN EF its
caller just selected, and falls back to the full path when the card lost it.
"""

from __future__ import annotations

import logging

from cryptography import x509

from host.card import commands, files, pins
from host.card import constants as c
from host.card.certificates import parse_certificate
from host.card.commands import compute_signature
from host.card.files import ReadStrategy
from host.card.kinds import KeyKind
from host.channel import ApduChannel
from host.errors import (
    CardError,
    DataFormatError,
    FileNotFoundOnCardError,
    PinBlockedError,
    WrongPinError,
)

__all__ = [
    "certificate_present",
    "prove",
    "read_ca_certificate",
    "read_certificate",
    "sign",
    "token_label",
]

_log = logging.getLogger(__name__)


def read_certificate(
    channel: ApduChannel,
    kind: KeyKind,
    pin: bytes | None = None,
    strategy: ReadStrategy = ReadStrategy.AUTO,
) -> x509.Certificate:
    """Read the holder certificate of ``kind``.

    Args:
        pin: the secret of ``kind.pin``, already policy-checked. Required for
            SIGN (the card hides EF 0001 until the password is verified,
            §3.1); for AUTH it is verified when given (smartphone JPKI needs it).

    Raises:
        ValueError: SIGN without ``pin``.
        DataFormatError: the file is not a DER certificate.
        CardError: a refusal (wrong or blocked PIN, missing file).
    """
    if pin is None and kind.cert_needs_pin:
        raise ValueError("the signing certificate can only be read with the signing password")
    if pin is not None:
        pins.verify(channel, kind.pin, pin)
    else:
        files.select_application(channel, c.JPKI_AID)
    files.select_file(channel, kind.cert_fid)
    der = files.read_object(channel, strategy)
    _log.debug("%s certificate: %d bytes", kind.value, len(der))
    return parse_certificate(der)


def read_ca_certificate(
    channel: ApduChannel, kind: KeyKind, strategy: ReadStrategy = ReadStrategy.AUTO
) -> x509.Certificate:
    """Read the CA certificate the card carries for ``kind`` (EF 000B / 0002).

    Raises:
        DataFormatError: the file is not a DER certificate.
        CardError: a refusal.
    """
    files.select_application(channel, c.JPKI_AID)
    files.select_file(channel, kind.ca_cert_fid)
    return parse_certificate(files.read_object(channel, strategy))


def sign(channel: ApduChannel, kind: KeyKind, digest: bytes, pin: bytes) -> bytes:
    """Sign a SHA-256 ``digest`` with the ``kind`` key; return the RSA signature.

    The card adds PKCS#1 v1.5 type-1 padding around the DigestInfo it is
    sent, so the result verifies as ``sha256WithRSAEncryption`` (§4.1).

    Raises:
        ValueError: ``digest`` is not 32 bytes.
        CardError: a refusal (wrong or blocked PIN, 6985 for bad input).
        DataFormatError: the card answered 9000 with no signature.
    """
    if len(digest) != c.SHA256_DIGEST_LENGTH:
        raise ValueError("sign takes a 32-byte SHA-256 digest")
    pins.verify(channel, kind.pin, pin)
    files.select_file(channel, kind.key_fid)
    signature = channel.send(compute_signature(c.DIGEST_INFO_SHA256_PREFIX + digest)).data
    if not signature:
        raise DataFormatError("the card returned an empty signature")
    return signature


def prove(
    channel: ApduChannel,
    kind: KeyKind,
    digest: bytes,
    pin: bytes,
    *,
    counter_read: bool = False,
    strategy: ReadStrategy = ReadStrategy.AUTO,
) -> tuple[x509.Certificate, bytes]:
    """Read the ``kind`` certificate and sign ``digest`` after ONE verification.

    The card keeps the PIN verified while EFs of the same application are
    selected (§2), so the certificate is read and the digest signed in one
    verified session: 8 commands for the signing key instead of 15.
    ``counter_read`` is the caller's promise that the last command on this
    channel was the empty VERIFY of ``kind.pin``'s EF (``pins.tries_left``)
    and it was not 0: the PIN EF is still selected and the counter known,
    so VERIFY is sent at once. Should the card have lost that state (a
    reset), the answer is neither a wrong nor a blocked PIN and the full
    select-check-verify path runs once instead.

    Raises:
        ValueError: ``digest`` is not 32 bytes (nothing sent).
        PinBlockedError, WrongPinError: the secret was refused.
        DataFormatError: the certificate is not DER or the signature is empty.
        CardError: another refusal.
    """
    if len(digest) != c.SHA256_DIGEST_LENGTH:
        raise ValueError("sign takes a 32-byte SHA-256 digest")
    verified = False
    if counter_read:
        try:
            channel.send(commands.verify(pin))
            verified = True
        except (WrongPinError, PinBlockedError):
            raise
        except CardError:
            _log.info("PIN EF no longer selected; verifying from the start")
    if not verified:
        pins.verify(channel, kind.pin, pin)
    files.select_file(channel, kind.cert_fid)
    certificate = parse_certificate(files.read_object(channel, strategy))
    files.select_file(channel, kind.key_fid)
    signature = channel.send(compute_signature(c.DIGEST_INFO_SHA256_PREFIX + digest)).data
    if not signature:
        raise DataFormatError("the card returned an empty signature")
    return certificate, signature


def certificate_present(channel: ApduChannel, kind: KeyKind) -> bool:
    """Whether the card holds the ``kind`` certificate, from EF 0008 (no PIN, no try).

    Why EF 0008 and not the certificate EF: EF 0001 is hidden until the
    signing password is verified (§3.1), so asking it would spend the very
    try this check exists to save. A card without EF 0008 (6A82: a card
    generation or a smartphone that lacks it, UNCONFIRMED) or with a short
    file is taken to hold the certificate, so the flow goes on as before
    and the card itself refuses later.

    Raises:
        CardError: another refusal.
    """
    files.select_application(channel, c.JPKI_AID)
    try:
        files.select_file(channel, c.FID_CERT_AVAILABILITY)
    except FileNotFoundOnCardError:
        _log.info("no certificate availability file; assuming the certificates exist")
        return True
    flags = files.read_prefix(channel, 3)
    index = 0 if kind is KeyKind.SIGN else 1
    if len(flags) <= index:
        return True
    return flags[index] != c.CERT_ABSENT


def token_label(channel: ApduChannel) -> str:
    """Return the token label of EF 0006 (``JPKIAPICCTOKEN2`` on a card, §3.1).

    Raises:
        DataFormatError: the label is not ASCII.
        CardError: a refusal.
    """
    files.select_application(channel, c.JPKI_AID)
    files.select_file(channel, c.FID_TOKEN_INFO)
    raw = files.read_prefix(channel, c.TOKEN_LABEL_LENGTH)
    try:
        # MYNA trims NUL and spaces; TRET reads fewer bytes; both give the label.
        return raw.decode("ascii").strip("\x00 ")
    except UnicodeDecodeError:
        raise DataFormatError("token label is not ASCII") from None
