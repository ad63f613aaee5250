# SPDX-License-Identifier: Apache-2.0
"""The enum tables of ``verifier.wire`` are total both ways, and the stored numbers hold.

Why: a reason added to the proto and not to ``verifier.codes`` (or the other
way round) must fail here, not at run time in one rarely taken branch.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest

from myna.edge.v1 import verifier_pb2 as pb
from verifier import wire
from verifier.codes import (
    CertKind,
    Purpose,
    Reason,
    ResetOperation,
    ResetPolicy,
    RevocationSource,
    TransferState,
)

# (table, the proto enum, the proto names' prefix)
TABLES: list[tuple[wire.EnumMap[Any, Any], Any, str]] = [
    (wire.REASONS, pb.Reason, "REASON_"),
    (wire.VERDICTS, pb.Verdict, "VERDICT_"),
    (wire.PURPOSES, pb.SessionPurpose, "SESSION_PURPOSE_"),
    (wire.CERT_KINDS, pb.CertificateKind, "CERTIFICATE_KIND_"),
    (wire.REVOCATION_STATUSES, pb.RevocationStatus, "REVOCATION_STATUS_"),
    (wire.REVOCATION_SOURCES, pb.RevocationSource, "REVOCATION_SOURCE_"),
    (wire.TRANSFER_STATES, pb.TransferState, "TRANSFER_STATE_"),
    (wire.RESET_OPERATIONS, pb.ResetOperation, "RESET_OPERATION_"),
    (wire.RESET_POLICIES, pb.ResetPolicy, "RESET_POLICY_"),
    (wire.CREDENTIAL_KINDS, pb.CredentialDevice, "CREDENTIAL_DEVICE_"),
]
IDS = [table.python.__name__ for table, _, _ in TABLES]


@pytest.mark.parametrize(("table", "proto", "prefix"), TABLES, ids=IDS)
def test_every_python_member_has_a_wire_value_and_comes_back(
    table: wire.EnumMap[Any, Any], proto: Any, prefix: str
) -> None:
    allowed_missing = wire.REASONS_NOT_ON_THE_WIRE if table is wire.REASONS else frozenset()
    for member in table.python:
        if member in allowed_missing:
            with pytest.raises(KeyError):
                table.to_wire(member)
            continue
        value = table.to_wire(member)
        assert proto.Name(value).startswith(prefix)
        assert table.from_wire(value) is member


@pytest.mark.parametrize(("table", "proto", "prefix"), TABLES, ids=IDS)
def test_every_wire_value_but_unspecified_has_a_member(
    table: wire.EnumMap[Any, Any], proto: Any, prefix: str
) -> None:
    for name, value in proto.items():
        if name == f"{prefix}UNSPECIFIED" and value not in table.wire_values():
            with pytest.raises(ValueError, match="no "):
                table.from_wire(value)
            continue
        assert table.to_wire(table.from_wire(value)) == value
    with pytest.raises(ValueError, match="no "):
        table.from_wire(max(proto.values()) + 1)


@pytest.mark.parametrize(
    ("table", "prefix"),
    [
        (wire.REASONS, "REASON_"),
        (wire.PURPOSES, "SESSION_PURPOSE_"),
        (wire.TRANSFER_STATES, "TRANSFER_STATE_"),
        (wire.RESET_OPERATIONS, "RESET_OPERATION_"),
        (wire.RESET_POLICIES, "RESET_POLICY_"),
        (wire.REVOCATION_STATUSES, "REVOCATION_STATUS_"),
        (wire.CREDENTIAL_KINDS, "CREDENTIAL_DEVICE_"),
    ],
)
def test_members_map_to_the_proto_value_of_the_same_name(
    table: wire.EnumMap[Any, Any], prefix: str
) -> None:
    proto = {
        wire.REASONS: pb.Reason,
        wire.PURPOSES: pb.SessionPurpose,
        wire.TRANSFER_STATES: pb.TransferState,
        wire.RESET_OPERATIONS: pb.ResetOperation,
        wire.RESET_POLICIES: pb.ResetPolicy,
        wire.REVOCATION_STATUSES: pb.RevocationStatus,
        wire.CREDENTIAL_KINDS: pb.CredentialDevice,
    }[table]
    for member in table.python:
        if member not in wire.REASONS_NOT_ON_THE_WIRE:
            assert proto.Name(table.to_wire(member)) == prefix + member.name


def test_the_other_tables_pair_the_expected_members() -> None:
    assert wire.CERT_KINDS.to_wire(CertKind.AUTH) == pb.CERTIFICATE_KIND_AUTHENTICATION
    assert wire.CERT_KINDS.to_wire(CertKind.SIGN) == pb.CERTIFICATE_KIND_SIGNING
    assert wire.REVOCATION_SOURCES.to_wire(RevocationSource.NONE) == 0
    assert wire.REVOCATION_SOURCES.to_wire(RevocationSource.CRL) == pb.REVOCATION_SOURCE_CRL


@pytest.mark.parametrize("stored", [Purpose, TransferState, ResetOperation, ResetPolicy])
def test_the_stored_numbers_are_the_v1_numbers(stored: type[enum.IntEnum]) -> None:
    # The schema keeps these numbers (and chaos campaigns read them): never renumber.
    table = {
        Purpose: wire.PURPOSES,
        TransferState: wire.TRANSFER_STATES,
        ResetOperation: wire.RESET_OPERATIONS,
        ResetPolicy: wire.RESET_POLICIES,
    }[stored]
    assert all(int(member) == table.to_wire(member) for member in stored)


def test_a_table_must_be_one_to_one() -> None:
    with pytest.raises(ValueError, match="two members"):
        wire.EnumMap(Reason, {Reason.OK: pb.REASON_OK, Reason.OTP_WRONG: pb.REASON_OK})
