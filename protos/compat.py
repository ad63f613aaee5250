# SPDX-License-Identifier: Apache-2.0
"""Breaking-change check of the gRPC contracts against the released baseline.

Banks and kiosk vendors build against ``myna.edge.v1`` for years, so a
released contract may only grow (STYLE §6: reserve removed field numbers,
check breaking changes against main). ``buf breaking`` is not packaged for
Debian or PyPI, so this is the same idea in a page of Python over protoc's
descriptors: ``protos/baseline/v1.binpb`` is the FileDescriptorSet of the
contract as last released, and every change since must be wire- and
JSON-compatible with it:

* no file, message, enum, service or method disappears;
* a field number keeps its name, type, message/enum type and label, or, if
  the field is removed, both its number and its name are reserved;
* an enum value number keeps its name, or is reserved by number and name;
* a method keeps its request and response types and its streaming shape.

Usage: ``python protos/compat.py`` checks; ``--update-baseline`` records the
current contract as released (do that only when a release is cut).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

__all__ = ["BASELINE", "breaking_changes", "compile_set", "main"]

PROTO_ROOT = Path(__file__).resolve().parent
BASELINE = PROTO_ROOT / "baseline" / "v1.binpb"

_Message = descriptor_pb2.DescriptorProto
_Enum = descriptor_pb2.EnumDescriptorProto


def compile_set(root: Path = PROTO_ROOT) -> descriptor_pb2.FileDescriptorSet:
    """Compile every ``.proto`` under ``root`` (baseline folder excluded) to descriptors.

    Raises:
        SystemExit: protoc failed.
    """
    sources = sorted(p for p in root.rglob("*.proto") if "baseline" not in p.parts)
    well_known = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        args = ["protoc", f"-I{root}", f"-I{well_known}", f"--descriptor_set_out={out}"]
        if protoc.main([*args, *(str(s) for s in sources)]) != 0:
            raise SystemExit("protoc failed")
        result = descriptor_pb2.FileDescriptorSet()
        result.ParseFromString(out.read_bytes())
    return result


def breaking_changes(
    old: descriptor_pb2.FileDescriptorSet, new: descriptor_pb2.FileDescriptorSet
) -> list[str]:
    """Every way ``new`` breaks clients built against ``old`` (empty: compatible)."""
    problems: list[str] = []
    new_files = {f.name: f for f in new.file}
    for old_file in old.file:
        new_file = new_files.get(old_file.name)
        if new_file is None:
            problems.append(f"file {old_file.name} removed")
            continue
        prefix = old_file.package
        _compare_messages(prefix, old_file.message_type, new_file.message_type, problems)
        _compare_enums(prefix, old_file.enum_type, new_file.enum_type, problems)
        new_services = {s.name: s for s in new_file.service}
        for service in old_file.service:
            _compare_service(prefix, service, new_services.get(service.name), problems)
    return problems


def _compare_messages(
    scope: str, old: Iterable[_Message], new: Iterable[_Message], problems: list[str]
) -> None:
    current = {m.name: m for m in new}
    for message in old:
        name = f"{scope}.{message.name}"
        other = current.get(message.name)
        if other is None:
            problems.append(f"message {name} removed")
            continue
        fields = {f.number: f for f in other.field}
        for field in message.field:
            _compare_field(name, field, fields.get(field.number), other, problems)
        _compare_messages(name, message.nested_type, other.nested_type, problems)
        _compare_enums(name, message.enum_type, other.enum_type, problems)


def _compare_field(
    message: str,
    field: descriptor_pb2.FieldDescriptorProto,
    other: descriptor_pb2.FieldDescriptorProto | None,
    owner: _Message,
    problems: list[str],
) -> None:
    where = f"{message}.{field.name} (#{field.number})"
    if other is None:
        numbered = any(r.start <= field.number < r.end for r in owner.reserved_range)
        if not (numbered and field.name in owner.reserved_name):
            problems.append(f"field {where} removed without reserving its number and name")
        return
    for attribute in ("name", "type", "type_name", "label"):
        if getattr(field, attribute) != getattr(other, attribute):
            problems.append(f"field {where} changed its {attribute}")


def _compare_enums(
    scope: str, old: Iterable[_Enum], new: Iterable[_Enum], problems: list[str]
) -> None:
    current = {e.name: e for e in new}
    for enum in old:
        name = f"{scope}.{enum.name}"
        other = current.get(enum.name)
        if other is None:
            problems.append(f"enum {name} removed")
            continue
        values = {v.number: v.name for v in other.value}
        for value in enum.value:
            if value.number in values:
                if values[value.number] != value.name:
                    problems.append(f"enum value {name}.{value.name} renamed")
                continue
            numbered = any(r.start <= value.number <= r.end for r in other.reserved_range)
            if not (numbered and value.name in other.reserved_name):
                problems.append(f"enum value {name}.{value.name} removed without reserving it")


def _compare_service(
    scope: str,
    service: descriptor_pb2.ServiceDescriptorProto,
    other: descriptor_pb2.ServiceDescriptorProto | None,
    problems: list[str],
) -> None:
    name = f"{scope}.{service.name}"
    if other is None:
        problems.append(f"service {name} removed")
        return
    methods = {m.name: m for m in other.method}
    for method in service.method:
        now = methods.get(method.name)
        if now is None:
            problems.append(f"method {name}.{method.name} removed")
            continue
        for attribute in ("input_type", "output_type", "client_streaming", "server_streaming"):
            if getattr(method, attribute) != getattr(now, attribute):
                problems.append(f"method {name}.{method.name} changed its {attribute}")


def main(argv: list[str] | None = None) -> int:
    """Check the contracts against the baseline, or record a new baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-baseline", action="store_true")
    args = parser.parse_args(argv)
    current = compile_set()
    if args.update_baseline:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_bytes(current.SerializeToString(deterministic=True))
        print(f"recorded {BASELINE}")
        return 0
    baseline = descriptor_pb2.FileDescriptorSet()
    baseline.ParseFromString(BASELINE.read_bytes())
    problems = breaking_changes(baseline, current)
    for problem in problems:
        print(f"breaking: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
