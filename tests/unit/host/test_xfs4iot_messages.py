# SPDX-License-Identifier: Apache-2.0
"""XFS4IoT envelopes and schemas: what is refused at acknowledge; every message has a schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from host.errors import XfsMessageError
from host.xfs4iot import (
    RELEASE,
    AckStatus,
    CompletionCode,
    SchemaBook,
    parse_command,
    schema_files,
)
from host.xfs4iot.common import COMMANDS, COMMON_EVENTS
from host.xfs4iot.messages import (
    MAX_MESSAGE_BYTES,
    acknowledge,
    completion,
    encode,
    event,
    unsolicited,
)
from host.xfs4iot.server import Xfs4IotConfig, Xfs4IotServer


def command(header: dict[str, Any], payload: object = None, **extra: object) -> str:
    message: dict[str, Any] = {"header": header, **extra}
    if payload is not None:
        message["payload"] = payload
    return json.dumps(message)


HEADER = {"name": "CardReader.ChipIO", "requestId": 7, "type": "command", "version": "3.0"}


def test_a_command_parses_with_its_header_fields() -> None:
    parsed = parse_command(command(HEADER | {"timeout": 5000}, {"chipProtocol": "chipTypeB"}))
    assert parsed.name == "CardReader.ChipIO"
    assert parsed.request_id == 7
    assert parsed.version == "3.0"
    assert parsed.timeout_ms == 5000
    assert parsed.payload == {"chipProtocol": "chipTypeB"}


def test_missing_version_timeout_and_null_payload_take_the_defaults() -> None:
    header = {"name": "Common.Status", "requestId": 1, "type": "command"}
    parsed = parse_command(json.dumps({"header": header, "payload": None}).encode())
    assert (parsed.version, parsed.timeout_ms, parsed.payload) == ("2.0", 0, {})


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        '{"header": 5}',
        "{}",
        command(HEADER | {"name": "ChipIO"}),  # no interface
        command(HEADER | {"type": "event"}),
        command(HEADER | {"version": "three"}),
        command(HEADER | {"timeout": -1}),
        command(HEADER | {"timeout": 1.5}),
        command(HEADER, [1]),
        command(HEADER, {}, extra=1),
        "\udcff",  # not valid UTF-8 once encoded by a client: never a crash
    ],
)
def test_unusable_messages_are_refused_invalid_message(data: str) -> None:
    with pytest.raises(XfsMessageError) as refused:
        parse_command(data.encode("utf-8", "surrogateescape"))
    assert refused.value.status == AckStatus.INVALID_MESSAGE


@pytest.mark.parametrize("rid", [0, -4, "7", 7.0, True, 2**31, None])
def test_bad_request_ids_are_refused_invalid_request_id(rid: object) -> None:
    with pytest.raises(XfsMessageError) as refused:
        parse_command(command(HEADER | {"requestId": rid}))
    assert refused.value.status == AckStatus.INVALID_REQUEST_ID
    assert refused.value.name == "CardReader.ChipIO"  # the acknowledge can name it
    assert refused.value.request_id == 0


def test_a_refusal_keeps_the_usable_name_and_id_only() -> None:
    with pytest.raises(XfsMessageError) as refused:
        parse_command(command(HEADER | {"version": "x"}))
    assert (refused.value.name, refused.value.request_id) == ("CardReader.ChipIO", 7)
    with pytest.raises(XfsMessageError) as nameless:
        parse_command(command(HEADER | {"name": "no dots here", "type": "event"}))
    assert (nameless.value.name, nameless.value.request_id) == ("", 7)


def test_an_oversized_message_is_refused_before_parsing() -> None:
    padding = "A" * MAX_MESSAGE_BYTES
    with pytest.raises(XfsMessageError, match="longer than"):
        parse_command(command(HEADER, {"chipData": padding}))


def test_built_messages_validate_against_the_published_envelopes() -> None:
    book = SchemaBook.load()
    built = [
        acknowledge("Common.Status", 3),
        acknowledge("", 0, status=AckStatus.INVALID_MESSAGE),
        event("CardReader.InsertCardEvent", 3),
        unsolicited("CardReader.MediaRemovedEvent"),
        completion("Common.Cancel", 3, CompletionCode.SUCCESS, {}),
        completion("CardReader.Move", 3, CompletionCode.INVALID_COMMAND, description="not here"),
    ]
    for message in built:
        assert book.message_errors(message) == [], message
        assert json.loads(encode(message)) == message
    assert built[1]["header"]["name"] == "Common.Unknown"
    assert "requestId" not in built[3]["header"]


def test_a_completion_outside_its_schema_is_caught_without_echoing_values() -> None:
    book = SchemaBook.load()
    secret_looking = "1234"
    bad = completion(
        "CardReader.ChipIO", 3, CompletionCode.SUCCESS,
        {"chipProtocol": "chipTypeB", "chipData": secret_looking + "!"},
    )  # fmt: skip
    errors = book.message_errors(bad)
    assert errors == ["chipData: pattern"]
    assert all(secret_looking not in e for e in errors)
    wrong_code = completion("Common.Status", 1, CompletionCode.SUCCESS, {})
    wrong_code["header"]["completionCode"] = "fine"
    assert book.message_errors(wrong_code)


def test_payload_errors_name_the_path_and_rule() -> None:
    book = SchemaBook.load()
    errors = book.payload_errors(
        "MynaEdge.IdentityVerifiedTransfer", "command", {"amountYen": "lots", "extra": 1}
    )
    assert "amountYen: type" in errors
    assert "(root): additionalProperties" in errors
    assert "(root): required" in errors
    assert all("lots" not in e for e in errors)
    with pytest.raises(KeyError):
        book.payload_errors("CardReader.Move", "command", {})


def test_every_message_the_front_end_offers_has_a_schema() -> None:
    """Commands (command + completion), command events and unsolicited events."""
    book = SchemaBook.load()
    server = Xfs4IotServer(Xfs4IotConfig(agent="unix:/nonexistent", port=0))
    services = [*server.services.values(), server.publisher]
    missing = []
    for name in COMMANDS:
        missing += [f"{name} {k}" for k in ("command", "completion") if not book.knows(name, k)]
    missing += [f"{n} unsolicited" for n in COMMON_EVENTS if not book.knows(n, "unsolicited")]
    for service in services:
        for name in service.commands:
            missing += [f"{name} {k}" for k in ("command", "completion") if not book.knows(name, k)]
        for name in service.events:
            if not (book.knows(name, "event") or book.knows(name, "unsolicited")):
                missing.append(name)
    assert missing == []
    assert book.knows("ServicePublisher.ServiceDetailEvent", "event")


def test_the_schemas_name_the_release_they_describe() -> None:
    book_ids = {doc["$id"] for doc in schema_files().values()}
    assert all(f"/{RELEASE}/" in i for i in book_ids)
    assert RELEASE == "2024-3"
