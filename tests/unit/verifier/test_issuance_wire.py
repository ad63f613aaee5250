# SPDX-License-Identifier: Apache-2.0
"""The issuance enum tables (``verifier.issuance_wire``) are total both ways; config and checks.

Why: a refusal, state or kind added to ``issuance.proto``/``municipal.proto``
and not to ``verifier.issuance_codes`` (or the other way round) must fail
here, not at run time in one rarely taken branch. Also the ``[issuance]``
section's schema and the request validators' refusals.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import municipal_pb2 as mpb
from verifier import issuance_validation as iv
from verifier import issuance_wire as w
from verifier.config import load_config
from verifier.errors import ConfigError, InvalidRequestError
from verifier.issuance_codes import IssuanceState
from verifier.issuance_config import check_plaintext
from verifier.issuance_port import JST, in_service_hours

# (table, the proto enum, the proto names' prefix, members deliberately not on the wire)
TABLES: list[tuple[Any, Any, str, frozenset[Any]]] = [
    (w.ISSUANCE_REFUSALS, ipb.IssuanceRefusal, "ISSUANCE_REFUSAL_", frozenset()),
    (w.ISSUANCE_STATES, ipb.IssuanceState, "ISSUANCE_STATE_", w.STATES_NOT_ON_THE_WIRE),
    (w.DOCUMENT_KINDS, mpb.DocumentKind, "DOCUMENT_KIND_", frozenset()),
    (w.HOUSEHOLD_SCOPES, mpb.HouseholdScope, "HOUSEHOLD_SCOPE_", frozenset()),
    (w.MUNICIPAL_REFUSALS, mpb.MunicipalRefusal, "MUNICIPAL_REFUSAL_", frozenset()),
    (w.PRINT_FAILURES, mpb.PrintFailure, "PRINT_FAILURE_", frozenset()),
]
IDS = [table.python.__name__ for table, _, _, _ in TABLES]


@pytest.mark.parametrize(("table", "proto", "prefix", "missing"), TABLES, ids=IDS)
def test_every_python_member_has_a_wire_value_and_comes_back(
    table: Any, proto: Any, prefix: str, missing: frozenset[Any]
) -> None:
    for member in table.python:
        if member in missing:
            with pytest.raises(KeyError):
                table.to_wire(member)
            continue
        value = table.to_wire(member)
        assert proto.Name(value).startswith(prefix)
        assert table.from_wire(value) is member


@pytest.mark.parametrize(("table", "proto", "prefix", "missing"), TABLES, ids=IDS)
def test_every_wire_value_but_unspecified_has_a_member(
    table: Any, proto: Any, prefix: str, missing: frozenset[Any]
) -> None:
    mapped = table.wire_values()
    for name, value in proto.items():
        if name.endswith("_UNSPECIFIED") and value not in mapped:
            continue
        assert value in mapped, name


def test_the_states_off_the_wire_are_the_ones_without_a_document() -> None:
    assert frozenset({IssuanceState.PENDING, IssuanceState.FAILED}) == w.STATES_NOT_ON_THE_WIRE


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "verifier.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issuance_section_routes_by_code_with_paths_relative_to_the_file(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        '[issuance]\nclient_cert = "c.pem"\nclient_key = "c.key"\nsession_ttl_seconds = 300\n'
        '[issuance.municipalities.131016]\naddress = "10.0.0.1:50061"\nca = "m.pem"\n',
    )
    config = load_config(path)
    assert config.issuance is not None
    route = config.issuance.routes["131016"]
    assert (route.address, route.ca, route.client_cert) == (
        "10.0.0.1:50061",
        tmp_path / "m.pem",
        tmp_path / "c.pem",
    )
    assert config.issuance.session_ttl_seconds == 300
    assert load_config(None).issuance is None


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[issuance.municipalities.13101]\naddress = "h:1"\nplaintext = true\n', "6-digit"),
        ('[issuance.municipalities.131016]\naddress = "h:1"\n', "ca, client_cert"),
        ("[issuance]\nsurprise = 1\n", "issuance.surprise: unknown key"),
        ("[issuance]\noutbox_max_attempts = 0\n", "issuance.outbox_max_attempts"),
        ('[issuance.service_hours]\nopens = "25:00"\n', "issuance.service_hours.opens"),
        ('[issuance.service_hours]\nopens = "23:00"\ncloses = "06:30"\n', "opens before closes"),
    ],
)
def test_a_bad_issuance_section_is_refused_by_name(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load_config(_write(tmp_path, text))


def test_the_service_hours_are_the_national_ones_unless_the_file_says(tmp_path: Path) -> None:
    national = load_config(_write(tmp_path, "[issuance]\n")).issuance
    assert national is not None
    night = dt.datetime(2026, 12, 7, 4, 30, tzinfo=JST)
    noon_year_end = dt.datetime(2026, 12, 30, 12, 0, tzinfo=JST)
    assert not in_service_hours(night, national.service_hours)
    assert not in_service_hours(noon_year_end, national.service_hours)
    text = '[issuance.service_hours]\nopens = "00:00"\ncloses = "24:00"\nyear_end_closed = false\n'
    all_day = load_config(_write(tmp_path, text)).issuance
    assert all_day is not None
    assert in_service_hours(night, all_day.service_hours)
    assert in_service_hours(noon_year_end, all_day.service_hours)
    assert in_service_hours(dt.datetime(2026, 12, 7, 23, 59, tzinfo=JST), all_day.service_hours)


def test_plaintext_routes_only_in_development_on_loopback(tmp_path: Path) -> None:
    text = '[issuance.municipalities.131016]\naddress = "{}"\nplaintext = true\n'
    loopback = load_config(_write(tmp_path, text.format("127.0.0.1:50061"))).issuance
    remote = load_config(_write(tmp_path, text.format("10.0.0.1:50061"))).issuance
    assert loopback is not None
    assert remote is not None
    check_plaintext(loopback, insecure_dev=True)
    with pytest.raises(ConfigError):
        check_plaintext(loopback, insecure_dev=False)
    with pytest.raises(ConfigError):
        check_plaintext(remote, insecure_dev=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"session_id": "ses_AAAAAAAAAAAAAAAAAAAA"}, "session_id"),
        ({"municipality_code": "13101x"}, "municipality_code"),
        ({"kind": 99}, "kind"),
        ({"options": mpb.DocumentOptions(copies=11)}, "options.copies"),
        ({"options": mpb.DocumentOptions(copies=1, household_scope=7)}, "options.household_scope"),
        ({"fee_yen": 0}, "fee_yen"),
    ],
)
def test_request_document_fields_are_refused_by_name(change: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "idempotency_key": "k",
        "session_id": "iss_AAAAAAAAAAAAAAAAAAAA",
        "municipality_code": "131016",
        "kind": mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        "options": mpb.DocumentOptions(copies=1),
        "fee_yen": 200,
    }
    iv.request_document_request(ipb.RequestDocumentRequest(**fields))
    fields.update(change)
    with pytest.raises(InvalidRequestError) as caught:
        iv.request_document_request(ipb.RequestDocumentRequest(**fields))
    assert caught.value.field == field
