# SPDX-License-Identifier: Apache-2.0
"""The print engine's job program: each instruction's exit status and STATE lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.printing import command


@pytest.fixture
def control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(command.CONTROL_ENV, str(tmp_path))
    return tmp_path


def _run(
    control: Path, instruction: str | None, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    document = control / "1-op.pdf"
    document.write_bytes(b"%PDF-1.4\n")
    if instruction is not None:
        (control / command.NEXT_JOB).write_text(instruction, encoding="ascii")
    status = command.main(["print-command", str(document)])
    assert not (control / command.NEXT_JOB).exists(), "the instruction is consumed"
    return status, capsys.readouterr().err


def test_plain_job_prints(control: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(control, None, capsys) == (0, "")


def test_abort_reports_a_jam_and_fails(control: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(control, "abort", capsys) == (1, "STATE: +media-jam\n")


def test_state_changes(control: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _run(control, "state:+cover-open,-media-jam", capsys)
    assert (status, err) == (0, "STATE: +cover-open\nSTATE: -media-jam\n")


def test_released_hang_ends_unprinted(control: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (control / command.RELEASE).touch()
    assert _run(control, "hang", capsys) == (1, "")


def test_released_hold_prints(control: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (control / command.RELEASE).touch()
    assert _run(control, "hold", capsys) == (0, "")


def test_missing_document_fails(control: Path) -> None:
    assert command.main(["print-command", str(control / "absent.pdf")]) == 1
