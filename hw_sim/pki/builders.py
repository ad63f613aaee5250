# SPDX-License-Identifier: Apache-2.0
"""Build JPKI-shaped certificates and CRLs from keys, people and times.

Pure functions, no disk and no clock (callers pass every time in), so the
profile can be tested without a cache folder and ``TestPki`` stays a thin
shell that loads, stores and remembers. Profile facts live in ``profile``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hw_sim.identity import Person
from hw_sim.pki import profile
from hw_sim.pki.profile import CaFamily, CertKind

__all__ = [
    "Revocation",
    "birth_date_value",
    "build_ca_certificate",
    "build_crl",
    "build_holder_certificate",
    "check_key",
    "der_length",
    "fifth_birthday_after",
    "new_holder_id",
    "new_serial_number",
    "san_values",
    "utf8_string_der",
]


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate as the CRL lists it."""

    serial_number: int
    when: dt.datetime
    reason: x509.ReasonFlags


def der_length(length: int) -> bytes:
    """Encode ``length`` as a DER definite length (short form below 128)."""
    if length < 0:
        raise ValueError("a length cannot be negative")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def utf8_string_der(text: str) -> bytes:
    """Return the DER encoding of ``text`` as an ASN.1 UTF8String.

    This is the value inside an otherName's ``[0] EXPLICIT``; cryptography
    adds that wrapper itself.
    """
    body = text.encode("utf-8")
    return bytes([profile.SAN_VALUE_TAG]) + der_length(len(body)) + body


def birth_date_value(birth_date: dt.date) -> str:
    """Return the SAN birth-date value: era digit then ``YYYYMMDD`` (§6)."""
    return profile.era_code(birth_date) + birth_date.strftime("%Y%m%d")


def san_values(person: Person) -> dict[str, str]:
    """Return the signing certificate's otherName values, keyed like ``SAN_OIDS``."""
    # UNCONFIRMED: what the substitute-character fields (代替文字) hold. They
    # exist for characters outside the certificate's character set; a
    # simulated person has none, so they repeat the registered strings.
    return {
        "name": person.name,
        "name_substitute": person.name,
        "gender": person.sex.value,
        "birth_date": birth_date_value(person.birth_date),
        "address": person.address,
        "address_substitute": person.address,
    }


def fifth_birthday_after(birth_date: dt.date, start: dt.date) -> dt.date:
    """Return the holder's 5th birthday falling strictly after ``start``.

    A 29 February birthday falls on 28 February in common years.
    """
    year = start.year
    if _birthday_in(birth_date, year) <= start:
        year += 1
    return _birthday_in(birth_date, year + profile.HOLDER_VALIDITY_YEARS - 1)


def _birthday_in(birth_date: dt.date, year: int) -> dt.date:
    try:
        return birth_date.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 2, 28)


def new_holder_id() -> str:
    """Return a fresh opaque subject CN, like ``997794E9AGCIEG13221003A``."""
    return "".join(
        secrets.choice(profile.HOLDER_ID_ALPHABET) for _ in range(profile.HOLDER_ID_LENGTH)
    )


def new_serial_number() -> int:
    """Return a random positive 64-bit serial number.

    Random serials need no shared counter, so two processes issuing from one
    cache cannot collide in practice (2**-64 per pair).
    """
    while True:
        serial = secrets.randbits(64)
        if serial:
            return serial


def check_key(public_key: rsa.RSAPublicKey) -> None:
    """Raise ``ValueError`` unless ``public_key`` fits the profile (RSA-2048, e=65537)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError("JPKI keys are RSA keys")
    if public_key.key_size != profile.KEY_SIZE:
        raise ValueError(f"JPKI keys are RSA-{profile.KEY_SIZE}, not RSA-{public_key.key_size}")
    if public_key.public_numbers().e != profile.PUBLIC_EXPONENT:
        raise ValueError(f"JPKI keys use the public exponent {profile.PUBLIC_EXPONENT}")


def build_ca_certificate(
    kind: CertKind,
    key: rsa.RSAPrivateKey,
    *,
    not_before: dt.datetime,
    family: CaFamily = CaFamily.CARD,
) -> x509.Certificate:
    """Build the self-signed root of ``kind``, valid ``CA_VALIDITY`` from ``not_before``."""
    name = profile.ca_name(kind, family)
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(new_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + profile.CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(profile.CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def build_holder_certificate(
    kind: CertKind,
    person: Person,
    public_key: rsa.RSAPublicKey,
    *,
    ca_certificate: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    family: CaFamily = CaFamily.CARD,
) -> x509.Certificate:
    """Build a holder certificate of ``kind`` for ``person`` (§6).

    The auth certificate names nobody: its subject is only ``C=JP`` and an
    opaque CN. The signing certificate adds the municipality as ``L`` and
    carries the basic four items in subjectAltName otherNames.

    Raises:
        ValueError: the key is not RSA-2048 with e=65537, or the validity is
            empty.
        TypeError: ``public_key`` is not an RSA key.
    """
    check_key(public_key)
    if not_after <= not_before:
        raise ValueError("not_after must be later than not_before")
    subject: list[x509.NameAttribute[str]] = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if kind is CertKind.SIGN:
        subject.append(x509.NameAttribute(NameOID.LOCALITY_NAME, person.municipality))
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, new_holder_id()))
    policy = profile.SIGN_POLICY_OID if kind is CertKind.SIGN else profile.AUTH_POLICY_OID
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(new_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(profile.HOLDER_KEY_USAGE[kind], critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), critical=False
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(profile.crl_url(kind, family))],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    )
    if kind is CertKind.SIGN:
        values = san_values(person)
        names: list[x509.GeneralName] = [
            x509.OtherName(oid, utf8_string_der(values[field]))
            for field, oid in profile.SAN_OIDS.items()
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def build_crl(
    ca_certificate: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    revocations: Iterable[Revocation],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime,
    crl_number: int,
) -> x509.CertificateRevocationList:
    """Build a CRL signed by the CA, listing ``revocations``."""
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
            critical=False,
        )
    )
    for revocation in revocations:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(revocation.serial_number)
            .revocation_date(revocation.when)
        )
        # RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent.
        if revocation.reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca_key, hashes.SHA256())
