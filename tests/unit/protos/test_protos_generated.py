# SPDX-License-Identifier: Apache-2.0
"""The committed generated stubs match the .proto sources (no drift).

Reruns ``protos/generate.py`` into a temporary folder and compares every file
byte for byte with the committed copy under ``myna/``; a proto edited without
regenerating, or a hand-edited stub, fails here.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "protos_generate", ROOT / "protos" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _drifted(fresh: list[Path], fresh_root: Path, committed_root: Path) -> list[str]:
    drifted = []
    for path in fresh:
        committed = committed_root / path.relative_to(fresh_root)
        if not committed.exists() or committed.read_bytes() != path.read_bytes():
            drifted.append(str(committed.relative_to(committed_root)))
    return drifted


def test_generated_files_match_proto_sources(tmp_path: Path) -> None:
    fresh = _generator().generate(tmp_path)
    assert any(p.name == "verifier_pb2.py" for p in fresh)
    assert not _drifted(fresh, tmp_path, ROOT), "regenerate with `python protos/generate.py`"


def test_a_hand_edited_stub_counts_as_drift(tmp_path: Path) -> None:
    fresh = _generator().generate(tmp_path / "fresh")
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "myna", copy / "myna")
    stub = copy / "myna" / "edge" / "v1" / "verifier_pb2.pyi"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    assert _drifted(fresh, tmp_path / "fresh", copy) == ["myna/edge/v1/verifier_pb2.pyi"]


def test_generated_package_imports_as_myna_edge_v1() -> None:
    from myna.edge.v1 import verifier_pb2, verifier_pb2_grpc

    assert verifier_pb2.DESCRIPTOR.package == "myna.edge.v1"
    assert hasattr(verifier_pb2_grpc, "VerifierServiceStub")
    # Buf STANDARD: every enum starts with its UNSPECIFIED zero value.
    for enum in verifier_pb2.DESCRIPTOR.enum_types_by_name.values():
        assert enum.values[0].number == 0
        assert enum.values[0].name.endswith("_UNSPECIFIED")


@pytest.mark.parametrize(
    "method",
    [
        "OpenSession",
        "VerifyCard",
        "ReserveReset",
        "RedeemReset",
        "ConfirmReset",
        "AuthorizeTransfer",
        "CommitTransfer",
        "ReverseTransfer",
    ],
)
def test_state_changing_requests_carry_an_idempotency_key(method: str) -> None:
    from myna.edge.v1 import verifier_pb2

    service = verifier_pb2.DESCRIPTOR.services_by_name["VerifierService"]
    request = service.methods_by_name[method].input_type
    assert "idempotency_key" in request.fields_by_name
    assert service.methods_by_name[method].output_type.name == f"{method}Response"
