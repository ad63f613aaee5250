# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.pki``: the JPKI-shaped test PKI and its cache.

RSA-2048 generation is slow, so one PKI folder serves the whole module; tests
that must start from nothing (concurrent first use, damaged cache) make their
own. The otherName values are decoded here by an independent little DER
reader, not by the package's encoder run backwards.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

import hw_sim.pki
from hw_sim.identity import Person, Sex
from hw_sim.pki import CertKind, PkiCacheError, TestPki, builders, profile

JST = dt.timezone(dt.timedelta(hours=9))
REPO_ROOT = Path(__file__).resolve().parents[3]

YAMADA = Person(
    name="山田　太郎",
    # Over 255 UTF-8 bytes, so its DER length needs the 82 HH LL form.
    address="東京都千代田区千代田１丁目１番１号　千代田パークサイドマンション東棟１２３４号室"
    "（管理事務所気付）北の丸公園前通り沿い　第二合同庁舎向かい"
    "　旧千代田区役所跡地再開発街区内南側",
    birth_date=dt.date(1990, 2, 17),
    sex=Sex.MALE,
    my_number="123456789018",
    municipality="Chiyoda-ku",
    municipality_code="131016",
)
SMITH = Person(
    name="SMITH JANE",
    address="大阪府大阪市北区中之島１－３－２０",
    birth_date=dt.date(1960, 7, 4),
    sex=Sex.FEMALE,
    my_number="987654321098",
    municipality="Osaka-shi Kita-ku",
    municipality_code="271276",
)


# --- helpers -------------------------------------------------------------------------------


def read_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """Split one DER TLV (single-byte tag) off ``data``: (tag, value, rest)."""
    tag, first = data[0], data[1]
    if first < 0x80:
        length, header = first, 2
    else:
        count = first & 0x7F
        length, header = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    end = header + length
    assert len(data) >= end, "truncated TLV"
    return tag, data[header:end], data[end:]


def decode_utf8_string(der: bytes) -> str:
    tag, value, rest = read_tlv(der)
    assert tag == 0x0C, f"expected UTF8String, got tag {tag:#04x}"
    assert rest == b""
    return value.decode("utf-8")


def other_names(certificate: x509.Certificate) -> list[tuple[str, str]]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [
        (name.type_id.dotted_string, decode_utf8_string(name.value))
        for name in san.get_values_for_type(x509.OtherName)
    ]


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def ext(
    certificate: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return certificate.extensions.get_extension_for_class(kind)


def ca_fingerprints(directory: Path) -> str:
    pki = TestPki.open(directory)
    return " ".join(pki.ca_certificate(k).fingerprint(hashes.SHA256()).hex() for k in CertKind)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="module")
def pki(pki_dir: Path) -> TestPki:
    return TestPki.open(pki_dir)


@pytest.fixture(scope="module")
def alice(pki: TestPki) -> rsa.RSAPrivateKey:
    return pki.holder_key("alice")


@pytest.fixture(scope="module")
def foreign_ca(pki: TestPki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A CA with our sign CA's exact DN but another key (as CA generations are)."""
    key = pki.holder_key("foreign-ca")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    return builders.build_ca_certificate(CertKind.SIGN, key, not_before=start), key


# --- the cache -----------------------------------------------------------------------------


def test_second_open_reuses_the_cache(
    pki: TestPki, pki_dir: Path, alice: rsa.RSAPrivateKey
) -> None:
    again = TestPki.open(pki_dir)
    for kind in CertKind:
        assert der(again.ca_certificate(kind)) == der(pki.ca_certificate(kind))
    assert again.card_data_key().private_numbers() == pki.card_data_key().private_numbers()
    assert again.holder_key("alice").private_numbers() == alice.private_numbers()


def test_concurrent_first_open_agrees(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    code = (
        "import sys\nfrom pathlib import Path\nfrom cryptography.hazmat.primitives import hashes\n"
        "from hw_sim.pki import CertKind, TestPki\n"
        "pki = TestPki.open(Path(sys.argv[1]))\n"
        "fingerprints = (pki.ca_certificate(k).fingerprint(hashes.SHA256()) for k in CertKind)\n"
        "print(' '.join(f.hex() for f in fingerprints))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1] == ca_fingerprints(folder)
    assert not list(folder.glob(".*.tmp")), "temporary files left behind"


def test_damaged_cache_raises_cache_error(pki: TestPki, pki_dir: Path, tmp_path: Path) -> None:
    # ``pki`` first: the folder must hold a whole PKI before it is copied
    copy = tmp_path / "copy"
    shutil.copytree(pki_dir, copy)
    (copy / "auth-ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n")
    with pytest.raises(PkiCacheError, match=r"auth-ca\.pem"):
        TestPki.open(copy)


def test_swapped_ca_key_is_detected(pki: TestPki, pki_dir: Path, tmp_path: Path) -> None:
    # ``pki`` first: the folder must hold a whole PKI before it is copied
    copy = tmp_path / "copy"
    shutil.copytree(pki_dir, copy)
    shutil.copy(copy / "sign-ca.key.pem", copy / "auth-ca.key.pem")
    with pytest.raises(PkiCacheError, match="does not match"):
        TestPki.open(copy)


def test_holder_key_is_rsa_2048_private_and_stable(
    pki: TestPki, pki_dir: Path, alice: rsa.RSAPrivateKey
) -> None:
    assert alice.key_size == 2048
    assert alice.public_key().public_numbers().e == 65537
    assert pki.holder_key("alice") is alice
    path = pki_dir / "holders" / "alice.key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pki.holder_key("bob").private_numbers() != alice.private_numbers()


@pytest.mark.parametrize("label", ["", "Alice", "../escape", "a/b", "a b", "ä", "x" * 201])
def test_bad_holder_label_is_refused(pki: TestPki, label: str) -> None:
    with pytest.raises(ValueError, match="label"):
        pki.holder_key(label)


def test_repr_has_no_key_material(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    text = repr(pki)
    assert text.startswith("TestPki(")
    assert "PRIVATE" not in text
    for key in (alice, pki.card_data_key()):
        numbers = key.private_numbers()
        for secret in (numbers.d, numbers.p, numbers.public_numbers.n):
            assert str(secret)[:16] not in text
            assert format(secret, "x")[:16] not in text


# --- CA certificates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ou"),
    [
        (CertKind.AUTH, "JPKI for user authentication"),
        (CertKind.SIGN, "JPKI for digital signature"),
    ],
)
def test_ca_certificate_profile(pki: TestPki, kind: CertKind, ou: str) -> None:
    ca = pki.ca_certificate(kind)
    assert ca.subject.rfc4514_string() == (
        f"OU=Japan Agency for Local Authority Information Systems,OU={ou},O=JPKI-TEST,C=JP"
    )
    assert ca.issuer == ca.subject
    assert ca.version is x509.Version.v3
    assert ca.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    ca.verify_directly_issued_by(ca)
    key = ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert (key.key_size, key.public_numbers().e) == (2048, 65537)
    basic = ext(ca, x509.BasicConstraints)
    assert basic.critical
    assert isinstance(basic.value, x509.BasicConstraints)
    assert basic.value.ca
    usage = ext(ca, x509.KeyUsage)
    assert usage.critical
    assert isinstance(usage.value, x509.KeyUsage)
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key)
    span = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=3650) <= span <= dt.timedelta(days=3653)


# --- holder certificates -------------------------------------------------------------------


def test_auth_certificate_names_nobody(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    cert = pki.issue(CertKind.AUTH, YAMADA, alice.public_key())
    assert [a.oid for a in cert.subject] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "JP"
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert re.fullmatch(r"[0-9A-Z]{23}", str(cn))
    assert not cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    body = der(cert)
    for personal in (YAMADA.name, YAMADA.address, YAMADA.municipality, "19900217"):
        assert personal.encode() not in body
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical
    assert isinstance(usage.value, x509.KeyUsage)
    assert usage.value.digital_signature
    assert not usage.value.content_commitment
    policies = ext(cert, x509.CertificatePolicies).value
    assert isinstance(policies, x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.392.200149.8.5.1.3.30"]


@pytest.mark.parametrize(
    ("person", "era_birth"), [(YAMADA, "419900217"), (SMITH, "319600704")], ids=["kanji", "alpha"]
)
def test_sign_certificate_carries_the_basic_four(
    pki: TestPki, alice: rsa.RSAPrivateKey, person: Person, era_birth: str
) -> None:
    cert = pki.issue(CertKind.SIGN, person, alice.public_key())
    assert other_names(cert) == [
        ("1.2.392.200149.8.5.5.1", person.name),
        ("1.2.392.200149.8.5.5.2", person.name),
        ("1.2.392.200149.8.5.5.3", person.sex.value),
        ("1.2.392.200149.8.5.5.4", era_birth),
        ("1.2.392.200149.8.5.5.5", person.address),
        ("1.2.392.200149.8.5.5.6", person.address),
    ]
    assert [a.oid for a in cert.subject] == [
        NameOID.COUNTRY_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.COMMON_NAME,
    ]
    assert (
        cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == person.municipality
    )
    usage = ext(cert, x509.KeyUsage).value
    assert isinstance(usage, x509.KeyUsage)
    assert usage.digital_signature
    assert usage.content_commitment
    policies = ext(cert, x509.CertificatePolicies).value
    assert isinstance(policies, x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.392.200149.8.5.1.1.20"]


def test_long_address_uses_two_byte_der_length() -> None:
    encoded = builders.utf8_string_der(YAMADA.address)
    assert len(YAMADA.address.encode()) > 255
    assert encoded[:2] == b"\x0c\x82"
    assert decode_utf8_string(encoded) == YAMADA.address


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, b"\x0c\x00"), (127, b"\x0c\x7f"), (128, b"\x0c\x81\x80"), (256, b"\x0c\x82\x01\x00")],
)
def test_utf8_string_der_lengths(length: int, header: bytes) -> None:
    encoded = builders.utf8_string_der("a" * length)
    assert encoded == header + b"a" * length


@pytest.mark.parametrize("kind", list(CertKind))
def test_holder_certificate_chains_and_links(
    pki: TestPki, alice: rsa.RSAPrivateKey, kind: CertKind
) -> None:
    cert = pki.issue(kind, YAMADA, alice.public_key())
    ca = pki.ca_certificate(kind)
    cert.verify_directly_issued_by(ca)
    other = pki.ca_certificate(CertKind.SIGN if kind is CertKind.AUTH else CertKind.AUTH)
    with pytest.raises(ValueError, match="issuer"):
        cert.verify_directly_issued_by(other)
    assert cert.issuer == ca.subject
    assert cert.version is x509.Version.v3
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert cert.public_key() == alice.public_key()
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    ca_ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert isinstance(ca_ski, x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.digest
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(alice.public_key())
    points = ext(cert, x509.CRLDistributionPoints).value
    assert isinstance(points, x509.CRLDistributionPoints)
    urls = [name.value for point in points for name in point.full_name or []]
    assert urls == [f"http://crl.jpki-test.invalid/{kind.value}.crl"]
    body = der(cert)
    assert body[:2] == b"\x30\x82"
    assert int.from_bytes(body[2:4], "big") + 4 == len(body)


def test_serials_and_identifiers_are_unique(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    certs = [pki.issue(CertKind.AUTH, YAMADA, alice.public_key()) for _ in range(8)]
    assert len({c.serial_number for c in certs}) == 8
    assert all(0 < c.serial_number < 2**64 for c in certs)
    assert len({c.subject.rfc4514_string() for c in certs}) == 8


def test_default_validity_runs_to_the_fifth_birthday(
    pki: TestPki, alice: rsa.RSAPrivateKey
) -> None:
    before = dt.datetime.now(dt.UTC)
    cert = pki.issue(CertKind.AUTH, YAMADA, alice.public_key())
    start = cert.not_valid_before_utc
    assert dt.timedelta(hours=23) < before - start <= dt.timedelta(days=1, seconds=2)
    end = cert.not_valid_after_utc.astimezone(JST)
    assert (end.month, end.day, end.time()) == (2, 17, dt.time(23, 59, 59))
    # Five birthdays fall after the start, the last one being the end.
    assert 4 * 365 < (end.date() - start.astimezone(JST).date()).days <= 5 * 366


def test_explicit_start_matches_the_test_card(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    # SOL's test card: issued 2025-10-27, holder's birthday 17 February, ends 2030-02-17.
    start = dt.datetime(2025, 10, 27, 10, 0, tzinfo=JST)
    cert = pki.issue(CertKind.AUTH, YAMADA, alice.public_key(), not_before=start)
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc.astimezone(JST).date() == dt.date(2030, 2, 17)


@pytest.mark.parametrize(
    ("birth", "start", "end"),
    [
        (dt.date(1990, 2, 17), dt.date(2025, 10, 27), dt.date(2030, 2, 17)),
        (dt.date(1990, 2, 17), dt.date(2025, 2, 17), dt.date(2030, 2, 17)),
        (dt.date(1990, 2, 17), dt.date(2025, 2, 16), dt.date(2029, 2, 17)),
        (dt.date(2000, 2, 29), dt.date(2024, 3, 1), dt.date(2029, 2, 28)),
        (dt.date(2000, 2, 29), dt.date(2023, 3, 1), dt.date(2028, 2, 29)),
    ],
)
def test_fifth_birthday_after(birth: dt.date, start: dt.date, end: dt.date) -> None:
    assert builders.fifth_birthday_after(birth, start) == end


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (dt.date(1912, 7, 29), "1"),
        (dt.date(1912, 7, 30), "2"),
        (dt.date(1926, 12, 24), "2"),
        (dt.date(1926, 12, 25), "3"),
        (dt.date(1989, 1, 7), "3"),
        (dt.date(1989, 1, 8), "4"),
        (dt.date(2019, 4, 30), "4"),
        (dt.date(2019, 5, 1), "5"),
    ],
)
def test_era_code_boundaries(day: dt.date, code: str) -> None:
    assert profile.era_code(day) == code


def test_era_code_refuses_dates_before_meiji() -> None:
    with pytest.raises(ValueError, match="Meiji"):
        profile.era_code(dt.date(1868, 10, 22))


def test_issue_expired_is_wholly_past(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    cert = pki.issue_expired(CertKind.SIGN, SMITH, alice.public_key())
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc < cert.not_valid_after_utc < now - dt.timedelta(hours=23)
    assert now - cert.not_valid_before_utc > dt.timedelta(days=4 * 365)
    cert.verify_directly_issued_by(pki.ca_certificate(CertKind.SIGN))


def test_bad_validity_is_refused(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.issue(CertKind.AUTH, YAMADA, alice.public_key(), not_before=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="later"):
        pki.issue(CertKind.AUTH, YAMADA, alice.public_key(), not_before=start, not_after=start)


def test_key_outside_the_profile_is_refused(pki: TestPki) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="RSA-2048"):
        pki.issue(CertKind.AUTH, YAMADA, small.public_key())


# --- revocation and CRLs -------------------------------------------------------------------


def test_revoked_certificate_is_on_the_crl(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    revoked = pki.issue(CertKind.SIGN, YAMADA, alice.public_key())
    kept = pki.issue(CertKind.SIGN, YAMADA, alice.public_key())
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    before = pki.crl(CertKind.SIGN)
    pki.revoke(revoked, reason=x509.ReasonFlags.key_compromise, when=when)
    assert pki.is_revoked(revoked)
    assert not pki.is_revoked(kept)
    crl = pki.crl(CertKind.SIGN)
    ca = pki.ca_certificate(CertKind.SIGN)
    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    assert crl.is_signature_valid(ca_key)
    assert crl.issuer == ca.subject
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == when
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value
    assert reason.reason is x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(kept.serial_number) is None
    assert (
        pki.crl(CertKind.AUTH).get_revoked_certificate_by_serial_number(revoked.serial_number)
        is None
    )
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    now = dt.datetime.now(dt.UTC)
    assert abs(crl.last_update_utc - now) < dt.timedelta(seconds=5)
    assert crl.next_update_utc == crl.last_update_utc + dt.timedelta(days=1)


def test_unspecified_reason_has_no_reason_code(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    cert = pki.issue(CertKind.AUTH, YAMADA, alice.public_key())
    pki.revoke(cert)
    entry = pki.crl(CertKind.AUTH).get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)


def test_revocation_persists_across_open(
    pki: TestPki, pki_dir: Path, alice: rsa.RSAPrivateKey
) -> None:
    cert = pki.issue(CertKind.AUTH, SMITH, alice.public_key())
    pki.revoke(cert, reason=x509.ReasonFlags.cessation_of_operation)
    again = TestPki.open(pki_dir)
    assert again.is_revoked(cert)
    assert again.crl(CertKind.AUTH).get_revoked_certificate_by_serial_number(cert.serial_number)


def test_revoking_twice_keeps_the_first_record(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    cert = pki.issue(CertKind.SIGN, SMITH, alice.public_key())
    first = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    pki.revoke(cert, reason=x509.ReasonFlags.superseded, when=first)
    pki.revoke(cert, reason=x509.ReasonFlags.key_compromise)
    entries = [e for e in pki.crl(CertKind.SIGN) if e.serial_number == cert.serial_number]
    assert len(entries) == 1
    assert entries[0].revocation_date_utc == first


def test_foreign_certificate_cannot_be_revoked(
    pki: TestPki,
    alice: rsa.RSAPrivateKey,
    foreign_ca: tuple[x509.Certificate, rsa.RSAPrivateKey],
) -> None:
    ca, ca_key = foreign_ca
    assert ca.subject == pki.ca_certificate(CertKind.SIGN).subject
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    stranger = builders.build_holder_certificate(
        CertKind.SIGN,
        SMITH,
        alice.public_key(),
        ca_certificate=ca,
        ca_key=ca_key,
        not_before=end - dt.timedelta(days=60),
        not_after=end,
    )
    assert not pki.is_revoked(stranger)
    with pytest.raises(ValueError, match="not issued by this PKI"):
        pki.revoke(stranger)


def test_remove_from_crl_and_naive_time_are_refused(pki: TestPki, alice: rsa.RSAPrivateKey) -> None:
    cert = pki.issue(CertKind.AUTH, SMITH, alice.public_key())
    with pytest.raises(ValueError, match="delta"):
        pki.revoke(cert, reason=x509.ReasonFlags.remove_from_crl)
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.revoke(cert, when=dt.datetime(2026, 1, 1))
    assert not pki.is_revoked(cert)


# --- export and API ------------------------------------------------------------------------


def test_export_public_writes_only_public_material(pki: TestPki, tmp_path: Path) -> None:
    out = tmp_path / "trust"
    pki.export_public(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "auth-ca.pem",
        "auth.crl.der",
        "card-data-issuer.pub.pem",
        "sign-ca.pem",
        "sign.crl.der",
    ]
    for path in out.iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes()
    for kind in CertKind:
        ca = pki.ca_certificate(kind)
        assert x509.load_pem_x509_certificate((out / f"{kind.value}-ca.pem").read_bytes()) == ca
        crl = x509.load_der_x509_crl((out / f"{kind.value}.crl.der").read_bytes())
        ca_key = ca.public_key()
        assert isinstance(ca_key, rsa.RSAPublicKey)
        assert crl.is_signature_valid(ca_key)
    public = serialization.load_pem_public_key((out / "card-data-issuer.pub.pem").read_bytes())
    assert public == pki.card_data_key().public_key()


def test_all_is_curated() -> None:
    assert sorted(hw_sim.pki.__all__) == sorted(
        ["CaFamily", "CertKind", "PkiCacheError", "SAN_OIDS", "TestPki", "open_mobile_pki"]
    )
    for name in hw_sim.pki.__all__:
        assert hasattr(hw_sim.pki, name)
    for module in (profile, builders):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert dict(profile.SAN_OIDS) == {
        "name": x509.ObjectIdentifier("1.2.392.200149.8.5.5.1"),
        "name_substitute": x509.ObjectIdentifier("1.2.392.200149.8.5.5.2"),
        "gender": x509.ObjectIdentifier("1.2.392.200149.8.5.5.3"),
        "birth_date": x509.ObjectIdentifier("1.2.392.200149.8.5.5.4"),
        "address": x509.ObjectIdentifier("1.2.392.200149.8.5.5.5"),
        "address_substitute": x509.ObjectIdentifier("1.2.392.200149.8.5.5.6"),
    }
