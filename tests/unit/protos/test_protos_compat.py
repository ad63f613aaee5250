# SPDX-License-Identifier: Apache-2.0
"""The v1 contract only grows: no breaking change against the released baseline.

Also checks the checker itself on hand-made breaking edits, so a checker
that always says "compatible" would fail here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[3]


def _compat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("protos_compat", ROOT / "protos" / "compat.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compat = _compat()


@pytest.fixture(scope="module")
def current() -> descriptor_pb2.FileDescriptorSet:
    result: descriptor_pb2.FileDescriptorSet = compat.compile_set()
    return result


def _copy(source: descriptor_pb2.FileDescriptorSet) -> descriptor_pb2.FileDescriptorSet:
    copy = descriptor_pb2.FileDescriptorSet()
    copy.CopyFrom(source)
    return copy


def _message(fds: descriptor_pb2.FileDescriptorSet, name: str) -> descriptor_pb2.DescriptorProto:
    return next(m for m in fds.file[0].message_type if m.name == name)


def test_current_contract_is_compatible_with_the_released_baseline(
    current: descriptor_pb2.FileDescriptorSet,
) -> None:
    baseline = descriptor_pb2.FileDescriptorSet()
    baseline.ParseFromString(compat.BASELINE.read_bytes())
    assert compat.breaking_changes(baseline, current) == []


def test_removing_a_field_needs_its_number_and_name_reserved(
    current: descriptor_pb2.FileDescriptorSet,
) -> None:
    edited = _copy(current)
    message = _message(edited, "OpenSessionRequest")
    removed = message.field[0]
    name, number = removed.name, removed.number
    del message.field[0]
    assert any("removed without reserving" in p for p in compat.breaking_changes(current, edited))
    message.reserved_range.add(start=number, end=number + 1)
    message.reserved_name.append(name)
    assert compat.breaking_changes(current, edited) == []


def test_renumbering_retyping_and_renaming_break(current: descriptor_pb2.FileDescriptorSet) -> None:
    edited = _copy(current)
    field = _message(edited, "VerifyCardRequest").field[0]
    field.name = field.name + "_renamed"
    problems = compat.breaking_changes(current, edited)
    assert any("changed its name" in p for p in problems)

    edited = _copy(current)
    field = _message(edited, "VerifyCardRequest").field[0]
    field.type = (
        descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        if field.type != descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        else descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    )
    assert any("changed its type" in p for p in compat.breaking_changes(current, edited))


def test_enum_values_methods_and_messages_may_not_vanish(
    current: descriptor_pb2.FileDescriptorSet,
) -> None:
    edited = _copy(current)
    enum = edited.file[0].enum_type[0]
    del enum.value[-1]
    assert any(p.startswith("enum value") for p in compat.breaking_changes(current, edited))

    edited = _copy(current)
    del edited.file[0].service[0].method[-1]
    assert any(p.startswith("method") for p in compat.breaking_changes(current, edited))

    edited = _copy(current)
    edited.file[0].service[0].method[0].server_streaming = True
    assert any("server_streaming" in p for p in compat.breaking_changes(current, edited))

    edited = _copy(current)
    del edited.file[0].message_type[-1]
    assert any(p.startswith("message") for p in compat.breaking_changes(current, edited))


def test_additions_are_compatible(current: descriptor_pb2.FileDescriptorSet) -> None:
    edited = _copy(current)
    message = _message(edited, "OpenSessionRequest")
    message.field.add(
        name="added_later",
        number=999,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    edited.file[0].message_type.add(name="BrandNew")
    assert compat.breaking_changes(current, edited) == []
