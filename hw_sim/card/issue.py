# SPDX-License-Identifier: Apache-2.0
"""Issuing a virtual card: keys and certificates from the test PKI, files, PINs.

``build_card`` turns a ``CardProfile`` into a ``CardImage`` (all that never
changes) and the PIN seeds (values and counters at issue). Holder keys come
from ``TestPki.holder_key`` under the labels ``<profile>-auth``,
``<profile>-sign``, ``<profile>-text-ap`` and ``<profile>-surface-ap``.

Issued certificates are cached as DER in ``<home>/cards/<profile>/`` so
serial numbers stay the same between runs. A cached certificate is reused
only while it still belongs to this PKI (signed by the current CA), holds
the current key and is in the state the profile asks for (valid or
expired); otherwise it is issued again. A ``revoked`` profile's
certificates are revoked in the PKI whenever they are not already.

GET DATA objects (jpki-card.md §3.5): ``5F51`` the contact ATR without TS,
``00F0`` the 5-digit municipality code, ``00F2`` the card expiry
``YYYYMMDD``; other tags are absent (``6A88``).

Phones (``build_phone``, differences in ``phones``): the caller passes the
*mobile* PKI; the image holds only the JPKI application (phone label, own
AID alias, auth certificate behind the PIN), no GET DATA objects and no
issuer key, and only the two JPKI PIN objects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hw_sim.card import issuer_commands, jpki_ap, surface_ap, text_ap
from hw_sim.card.constants import AID_JPKI, AID_SURFACE, AID_TEXT
from hw_sim.card.filesystem import CardImage
from hw_sim.card.jpki_ap import JpkiContent, build_jpki_application
from hw_sim.card.phones import (
    AID_JPKI_ANDROID,
    AID_JPKI_IPHONE,
    LABEL_ANDROID,
    LABEL_IPHONE,
    DeviceKind,
)
from hw_sim.card.pins import (
    AUTH_PIN,
    BIRTH_DATE_KEY,
    BLOCKED_KEY,
    CODE_A,
    CODE_B,
    SIGN_PASSWORD,
    TEXT_PIN,
    PinKey,
    PinSeed,
)
from hw_sim.card.profiles import CardProfile, CertStatus
from hw_sim.card.surface_ap import SurfaceContent, build_surface_application
from hw_sim.card.text_ap import TextContent, build_text_application
from hw_sim.files import atomic_write
from hw_sim.pki import CertKind, TestPki

__all__ = ["build_card", "build_phone", "card_serial_number", "pin_seeds"]

_log = logging.getLogger(__name__)

_CERT_FILES: Final = {CertKind.AUTH: "auth-cert.der", CertKind.SIGN: "sign-cert.der"}


def card_serial_number(profile: CardProfile) -> str:
    """Return the 16-digit card serial of ``profile`` (stable, derived from its name)."""
    digest = hashlib.sha256(b"myna-edge card serial:" + profile.name.encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**16:016d}"


def pin_seeds(profile: CardProfile) -> dict[PinKey, PinSeed]:
    """Return every PIN object's value and counter at issue for ``profile``."""

    def tries(policy_max: int, override: int | None) -> int:
        return policy_max if override is None else override

    return {
        (AID_JPKI, jpki_ap.EF_AUTH_PIN): PinSeed(
            AUTH_PIN, profile.auth_pin, tries(AUTH_PIN.max_tries, profile.auth_tries_left)
        ),
        (AID_JPKI, jpki_ap.EF_SIGN_PASSWORD): PinSeed(
            SIGN_PASSWORD,
            profile.sign_password,
            tries(SIGN_PASSWORD.max_tries, profile.sign_tries_left),
        ),
        (AID_TEXT, text_ap.EF_PIN): PinSeed(
            TEXT_PIN, profile.text_pin, tries(TEXT_PIN.max_tries, profile.text_tries_left)
        ),
        (AID_TEXT, text_ap.EF_BLOCKED_KEY): PinSeed(BLOCKED_KEY, None, 0),
        (AID_TEXT, text_ap.EF_CODE_A): PinSeed(
            CODE_A, profile.verification_code_a, CODE_A.max_tries
        ),
        (AID_TEXT, text_ap.EF_CODE_B): PinSeed(
            CODE_B, profile.verification_code_b, CODE_B.max_tries
        ),
        (AID_SURFACE, surface_ap.EF_BIRTH_DATE_KEY): PinSeed(
            BIRTH_DATE_KEY, profile.birth_date_key, BIRTH_DATE_KEY.max_tries
        ),
        (AID_SURFACE, surface_ap.EF_CODE_B): PinSeed(
            CODE_B, profile.verification_code_b, CODE_B.max_tries
        ),
        (AID_SURFACE, surface_ap.EF_CODE_A): PinSeed(
            CODE_A, profile.verification_code_a, CODE_A.max_tries
        ),
    }


def build_card(
    profile: CardProfile, pki: TestPki, card_dir: Path
) -> tuple[CardImage, dict[PinKey, PinSeed]]:
    """Return the image and PIN seeds of ``profile``'s card.

    Raises:
        OSError: the certificate cache cannot be written.
        hw_sim.pki.PkiCacheError: the PKI folder is damaged.
    """
    auth_key = pki.holder_key(f"{profile.name}-auth")
    sign_key = pki.holder_key(f"{profile.name}-sign") if profile.has_sign_certificate else None
    auth_cert = _certificate(pki, profile, CertKind.AUTH, auth_key, card_dir)
    sign_cert = _certificate(pki, profile, CertKind.SIGN, sign_key, card_dir) if sign_key else None
    serial = card_serial_number(profile)
    card_data_key = pki.card_data_key()
    jpki = build_jpki_application(
        JpkiContent(
            auth_certificate=_der(auth_cert),
            auth_ca=_der(pki.ca_certificate(CertKind.AUTH)),
            sign_certificate=_der(sign_cert) if sign_cert else None,
            sign_ca=_der(pki.ca_certificate(CertKind.SIGN)),
            auth_key=auth_key,
            sign_key=sign_key,
            serial_number=serial,
        )
    )
    text = build_text_application(
        TextContent(
            profile.person,
            serial,
            card_data_key,
            pki.holder_key(f"{profile.name}-text-ap"),
        )
    )
    surface = build_surface_application(
        SurfaceContent(
            profile.person,
            profile.card_expiry,
            profile.security_code,
            serial,
            card_data_key,
            pki.holder_key(f"{profile.name}-surface-ap"),
        )
    )
    data_objects = {
        0x5F51: profile.atr[1:],  # §1.2: stored without TS
        0x00F0: profile.person.municipality_code[:5].encode("ascii"),
        0x00F2: profile.card_expiry.strftime("%Y%m%d").encode("ascii"),
    }
    card_id = issuer_commands.card_id(_der(auth_cert))
    image = CardImage(
        (jpki, text, surface),
        profile.atr,
        data_objects,
        card_id=card_id,
        issuer_key=issuer_commands.diversify(
            issuer_commands.issuer_master_key(pki.directory), card_id
        ),
    )
    return image, pin_seeds(profile)


_PHONE_IDS: Final = {
    DeviceKind.ANDROID: (LABEL_ANDROID, AID_JPKI_ANDROID),
    DeviceKind.IPHONE: (LABEL_IPHONE, AID_JPKI_IPHONE),
}


def build_phone(
    profile: CardProfile, mobile_pki: TestPki, card_dir: Path
) -> tuple[CardImage, dict[PinKey, PinSeed]]:
    """Return the image and PIN seeds of phone ``profile`` (module docstring).

    Raises:
        ValueError: ``profile`` is not a phone.
        OSError: the certificate cache cannot be written.
        hw_sim.pki.PkiCacheError: the PKI folder is damaged.
    """
    if not profile.device.is_phone:
        raise ValueError(f"{profile.name} is not a phone")
    label, aid = _PHONE_IDS[profile.device]
    auth_key = mobile_pki.holder_key(f"{profile.name}-auth")
    sign_key = mobile_pki.holder_key(f"{profile.name}-sign")
    auth_cert = _certificate(mobile_pki, profile, CertKind.AUTH, auth_key, card_dir)
    sign_cert = _certificate(mobile_pki, profile, CertKind.SIGN, sign_key, card_dir)
    jpki = build_jpki_application(
        JpkiContent(
            auth_certificate=_der(auth_cert),
            auth_ca=_der(mobile_pki.ca_certificate(CertKind.AUTH)),
            sign_certificate=_der(sign_cert),
            sign_ca=_der(mobile_pki.ca_certificate(CertKind.SIGN)),
            auth_key=auth_key,
            sign_key=sign_key,
            serial_number=card_serial_number(profile),
            token_label=label,
            auth_cert_needs_pin=True,  # §3.1: MYNA verifies before reading on a phone
            aliases=(aid,),
        )
    )
    image = CardImage(
        (jpki,),
        profile.atr,
        device=profile.device,
        contactless=profile.contactless,
        approval=profile.approval,
    )
    seeds = pin_seeds(profile)
    return image, {key: seeds[key] for key in seeds if key[0] == AID_JPKI}


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _certificate(
    pki: TestPki, profile: CardProfile, kind: CertKind, key: rsa.RSAPrivateKey, card_dir: Path
) -> x509.Certificate:
    path = card_dir / _CERT_FILES[kind]
    certificate = _cached(path, pki, profile, kind, key)
    if certificate is None:
        if profile.certificates is CertStatus.EXPIRED:
            certificate = pki.issue_expired(kind, profile.person, key.public_key())
        else:
            certificate = pki.issue(kind, profile.person, key.public_key())
        atomic_write(path, _der(certificate), parents=True)
        _log.debug("issued a %s certificate for profile %s", kind.value, profile.name)
    if profile.certificates is CertStatus.REVOKED and not pki.is_revoked(certificate):
        pki.revoke(certificate)
    return certificate


def _cached(
    path: Path, pki: TestPki, profile: CardProfile, kind: CertKind, key: rsa.RSAPrivateKey
) -> x509.Certificate | None:
    try:
        certificate = x509.load_der_x509_certificate(path.read_bytes())
        certificate.verify_directly_issued_by(pki.ca_certificate(kind))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, InvalidSignature):
        _log.debug("cached %s certificate of %s is stale; reissuing", kind.value, profile.name)
        return None
    if certificate.public_key() != key.public_key():
        return None
    expired = certificate.not_valid_after_utc < dt.datetime.now(dt.UTC)
    if expired != (profile.certificates is CertStatus.EXPIRED):
        return None
    return certificate
