# SPDX-License-Identifier: Apache-2.0
"""Buf checks the v1 contract: STANDARD lint, and no breaking change against the baseline.

``make lint`` runs the same two commands; this test also checks the check:
hand-made breaking edits of a copy of the protos must fail ``buf breaking``,
so a configuration that lets everything through fails here. Buf comes from
``tools/package.json`` (``make test`` installs it with npm ci); a missing buf
is a failure under ``CI=true``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.prerequisites import missing_prerequisite

ROOT = Path(__file__).resolve().parents[3]
BASELINE = Path("protos/baseline/v1.binpb")
VERIFIER_PROTO = Path("protos/myna/edge/v1/verifier.proto")
TERMINAL_PROTO = Path("protos/myna/edge/v1/terminal.proto")


@pytest.fixture(scope="module")
def buf() -> Path:
    local = ROOT / "tools" / "node_modules" / ".bin" / "buf"
    if local.exists():
        return local
    found = shutil.which("buf")
    if found is None:
        missing_prerequisite("buf (npm ci --prefix tools, as make test does)")
    return Path(found)


def _run(buf: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _breaking(buf: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(buf, cwd, "breaking", "--against", str(BASELINE))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The buf config and the protos (with the baseline), to edit freely."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    # Every proto of the package: terminal.proto imports municipal.proto's types.
    protos = sorted(p.relative_to(ROOT) for p in (ROOT / VERIFIER_PROTO.parent).glob("*.proto"))
    for source in [BASELINE, *protos]:
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, tmp_path / source)
    return tmp_path


def _edit(root: Path, path: Path, old: str, new: str) -> None:
    text = (root / path).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    (root / path).write_text(text.replace(old, new), encoding="utf-8")


def test_the_contract_passes_buf_lint(buf: Path) -> None:
    result = _run(buf, ROOT, "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_the_released_baseline(buf: Path) -> None:
    result = _breaking(buf, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_copy_is_compatible_until_edited(buf: Path, copy: Path) -> None:
    result = _breaking(buf, copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_removing_a_field_needs_its_number_and_name_reserved(buf: Path, copy: Path) -> None:
    _edit(copy, VERIFIER_PROTO, "  bytes signature = 2;\n", "")
    result = _breaking(buf, copy)
    assert result.returncode != 0
    assert 'without reserving the name "signature"' in result.stdout
    assert 'without reserving the number "2"' in result.stdout
    _edit(copy, VERIFIER_PROTO, "message CardProof {\n", "message CardProof {\n  reserved 2;\n")
    assert _breaking(buf, copy).returncode != 0  # the name is still free
    _edit(copy, VERIFIER_PROTO, "  reserved 2;\n", '  reserved 2;\n  reserved "signature";\n')
    result = _breaking(buf, copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("  bytes signature = 2;", "  bytes signature_renamed = 2;", "changed name"),
        ("  bytes signature = 2;", "  string signature = 2;", "changed type"),
        ("  bytes signature = 2;", "  bytes signature = 7;", "deleted"),
    ],
    ids=["renamed", "retyped", "renumbered"],
)
def test_renaming_retyping_and_renumbering_break(
    buf: Path, copy: Path, old: str, new: str, says: str
) -> None:
    _edit(copy, VERIFIER_PROTO, old, new)
    result = _breaking(buf, copy)
    assert result.returncode != 0
    assert says in result.stdout


@pytest.mark.parametrize(
    ("new", "says"),
    [
        ("", 'RPC "GetStatus"'),
        (
            "  rpc GetStatus(GetStatusRequest) returns (stream GetStatusResponse);",
            "server streaming",
        ),
        ("  rpc GetStatus(GetStatusRequest) returns (CancelResponse);", "response type"),
    ],
    ids=["removed", "streaming", "response-type"],
)
def test_methods_and_their_shapes_may_not_change(
    buf: Path, copy: Path, new: str, says: str
) -> None:
    old = "  rpc GetStatus(GetStatusRequest) returns (GetStatusResponse);"
    _edit(copy, TERMINAL_PROTO, old, new)
    result = _breaking(buf, copy)
    assert result.returncode != 0
    assert says in result.stdout


def test_additions_are_compatible(buf: Path, copy: Path) -> None:
    _edit(
        copy,
        VERIFIER_PROTO,
        "message CardProof {\n",
        "message AddedLater {\n  string note = 1;\n}\n\nmessage CardProof {\n"
        "  string added_later = 99;\n",
    )
    result = _breaking(buf, copy)
    assert result.returncode == 0, result.stdout + result.stderr
