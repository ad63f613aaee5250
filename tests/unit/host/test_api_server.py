# SPDX-License-Identifier: Apache-2.0
"""The terminal API server's local-only binding and per-profile commands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from host.api import AgentRuntime, Profile, check_listen
from host.api.commands import CommandKind, command_kind
from host.api.runtime import RuntimeOptions
from host.journal import Journal
from myna.edge.v1 import terminal_pb2 as tpb


@pytest.mark.parametrize("address", ["unix:/run/myna.sock", "127.0.0.1:0", "127.0.0.1:50061"])
def test_local_addresses_are_accepted(address: str) -> None:
    assert check_listen(address) == address


@pytest.mark.parametrize(
    "address", ["0.0.0.0:50000", "[::]:1", "localhost:1", "unix:", "127.0.0.2:1", "10.0.0.1:1"]
)
def test_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        check_listen(address)


@pytest.mark.parametrize(
    ("profile", "offered"),
    [
        (Profile.KIOSK, {CommandKind.READ_CARD, CommandKind.PIN_RESET}),
        (Profile.ATM, {CommandKind.READ_CARD, CommandKind.TRANSFER}),
    ],
)
def test_profiles_offer_their_flows(
    tmp_path: Path, profile: Profile, offered: set[CommandKind]
) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://", profile=profile, terminal_id="t", verifier=None, journal=journal
        )
        assert {c for c in CommandKind if runtime.offers(c)} == offered
        capabilities = runtime.capabilities()
        assert capabilities.pin_reset == (CommandKind.PIN_RESET in offered)
        assert capabilities.transfer == (CommandKind.TRANSFER in offered)


def test_command_kinds_are_the_execute_request_commands() -> None:
    oneof = tpb.ExecuteRequest.DESCRIPTOR.oneofs_by_name["command"]
    assert {f.name for f in oneof.fields} == {kind.value for kind in CommandKind}
    assert command_kind(tpb.ExecuteRequest(request_id="r")) is None
    request = tpb.ExecuteRequest(request_id="r", pin_reset=tpb.PinResetCommand())
    assert command_kind(request) is CommandKind.PIN_RESET


def test_runtime_options_are_the_runtime_fields_but_the_cards() -> None:
    options = RuntimeOptions.__required_keys__ | RuntimeOptions.__optional_keys__
    fields = {f.name for f in dataclasses.fields(AgentRuntime)}
    assert options == fields - {"card_factory", "reader_url"}
    required = {
        f.name
        for f in dataclasses.fields(AgentRuntime)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert RuntimeOptions.__required_keys__ == required - {"card_factory"}
