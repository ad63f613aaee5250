# SPDX-License-Identifier: Apache-2.0
"""The service's files (registry, configuration) and its wire tables.

Why: both files come from outside the service, so each refusal is typed and
names no personal data; the enum tables must be total both ways, or a new
proto value would silently fall through the boundary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from municipal.config import load_config
from municipal.document.content import DocumentKind
from municipal.errors import MunicipalConfigError, Refusal
from municipal.fees import JST
from municipal.issuing import HouseholdScope, Municipality
from municipal.ledger import DocumentState, PrintFailure
from municipal.registry import CertificateLink, Resident
from municipal.registry_file import decode_registry, encode_registry
from municipal.wire import (
    KIND_FROM_WIRE,
    KIND_TO_WIRE,
    PRINT_FAILURE_FROM_WIRE,
    REFUSAL_TO_WIRE,
    SCOPE_FROM_WIRE,
    STATE_TO_WIRE,
)
from myna.edge.v1 import municipal_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
CITY = Municipality(code="131016", name="東京都千代田区", mayor="千代田区長　見本　一郎")
RESIDENT = Resident(
    resident_id="r-0001",
    link=CertificateLink("CN=Test JPKI User Authentication CA", 0x5D2C0E9F),
    name="山田　太郎",
    birth_date=dt.date(1980, 1, 1),
    sex="男",
    address="東京都千代田区霞が関１－１－１",
    household_id="h-0001",
    relationship="世帯主",
    moved_in_on=dt.date(2015, 4, 1),
    seal_registered=True,
    domicile_code="131016",
)


def _values(enum_name: str) -> set[int]:
    return {v.number for v in pb.DESCRIPTOR.enum_types_by_name[enum_name].values if v.number}


def test_the_wire_tables_are_total() -> None:
    assert set(REFUSAL_TO_WIRE) == set(Refusal)
    assert set(REFUSAL_TO_WIRE.values()) == _values("MunicipalRefusal")
    assert set(KIND_TO_WIRE) == set(DocumentKind)
    assert set(KIND_FROM_WIRE) == _values("DocumentKind")
    assert set(SCOPE_FROM_WIRE.values()) == set(HouseholdScope)
    assert set(SCOPE_FROM_WIRE) == _values("HouseholdScope") | {0}
    assert set(STATE_TO_WIRE) == set(DocumentState)
    assert set(PRINT_FAILURE_FROM_WIRE.values()) == set(PrintFailure)
    assert set(PRINT_FAILURE_FROM_WIRE) == _values("PrintFailure")


def test_a_registry_file_round_trips() -> None:
    city, registry = decode_registry(encode_registry(CITY, [RESIDENT]))
    assert city == CITY
    assert registry.resident(RESIDENT.link) == RESIDENT


PHONE = CertificateLink("CN=Test JPKI Mobile User Authentication CA", 0x0A)


def test_a_residents_phones_find_the_same_record_and_round_trip() -> None:
    resident = dataclasses.replace(RESIDENT, phone_links=(PHONE,))
    _, registry = decode_registry(encode_registry(CITY, [resident]))
    assert registry.resident(PHONE) == registry.resident(RESIDENT.link) == resident
    assert len(registry) == 1  # one person, two certificates


def test_a_phone_linked_to_two_residents_is_refused() -> None:
    first = dataclasses.replace(RESIDENT, phone_links=(PHONE,))
    other = dataclasses.replace(
        RESIDENT, resident_id="r-0002", link=CertificateLink(RESIDENT.link.issuer, 7),
        phone_links=(PHONE,),
    )  # fmt: skip
    with pytest.raises(MunicipalConfigError, match="share a certificate"):
        decode_registry(encode_registry(CITY, [first, other]))
    twice = dataclasses.replace(RESIDENT, phone_links=(RESIDENT.link,))
    with pytest.raises(MunicipalConfigError, match="share a certificate"):
        decode_registry(encode_registry(CITY, [twice]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.replace('"男"', '"X"'), "sex"),
        (lambda s: s.replace('"131016"', '"13101"', 1), "code"),
        (lambda s: s.replace('"format": 1', '"format": 2'), "format"),
        (lambda s: s.replace('"seal_registered": true', '"seal_registered": "yes"'), "seal"),
        (lambda s: s[:-5], "JSON"),
    ],
)
def test_a_bad_registry_file_is_refused_without_its_data(mutate: object, message: str) -> None:
    text = encode_registry(CITY, [RESIDENT]).decode()
    assert callable(mutate)
    with pytest.raises(MunicipalConfigError, match=message) as caught:
        decode_registry(mutate(text).encode())
    assert "山田" not in str(caught.value)


def test_two_residents_on_one_certificate_are_refused() -> None:
    with pytest.raises(MunicipalConfigError, match="share a certificate"):
        decode_registry(encode_registry(CITY, [RESIDENT, RESIDENT]))


def test_the_deploy_example_loads() -> None:
    config = load_config(ROOT / "deploy" / "municipal.toml")
    assert config.tls is not None
    assert not config.insecure_dev
    assert DocumentKind.TAX not in config.fees.fees
    assert config.fees.fee(DocumentKind.FAMILY_REGISTER, 2) == 700


@pytest.mark.parametrize(
    "text",
    [
        'registry = "r.json"\nsigning_key = "k.pem"\ninsecure_dev = true\n',  # a flag only
        'registry = "r.json"\nsigning_key = "k.pem"\n[fees]\ntax = "200"\n',
        'registry = "r.json"\n',
        "registry = [",
        'registry = "r.json"\nsigning_key = "k.pem"\n[service_hours]\ncloses = "24:30"\n',
        'registry = "r.json"\nsigning_key = "k.pem"\n[service_hours]\nopens = "23:00"\n'
        'closes = "22:00"\n',
    ],
)
def test_a_bad_configuration_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "municipal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MunicipalConfigError):
        load_config(path)


def test_service_hours_come_from_the_file(tmp_path: Path) -> None:
    base = 'registry = "r.json"\nsigning_key = "k.pem"\n'
    path = tmp_path / "municipal.toml"
    path.write_text(base, encoding="utf-8")
    night = dt.datetime(2026, 12, 7, 4, 30, tzinfo=JST)
    assert not load_config(path).fees.hours.open_at(night)  # the national hours by default
    path.write_text(base + '[service_hours]\nopens = "09:00"\ncloses = "17:00"\n', encoding="utf-8")
    office_hours = load_config(path).fees.hours
    assert not office_hours.open_at(dt.datetime(2026, 12, 7, 8, 59, tzinfo=JST))
    assert office_hours.open_at(dt.datetime(2026, 12, 7, 16, 59, tzinfo=JST))
    path.write_text(
        base + '[service_hours]\nopens = "00:00"\ncloses = "24:00"\nyear_end_closed = false\n',
        encoding="utf-8",
    )
    assert load_config(path).fees.hours.open_at(dt.datetime(2026, 12, 31, 4, 30, tzinfo=JST))
