# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow issue``: the certificate, its page images and the operator's line.

The demo runs on the MFP's real parts (the ccTalk bus emulator on a pty,
CUPS with ``ippeveprinter``); the folder holds what the printer received.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hw_sim.card import get_profile
from hw_sim.printing import engine_tools
from municipal.document.reader import read_document
from myna_edge.demo import main
from tests.prerequisites import missing_prerequisite


def print_engine_prerequisites() -> None:
    """The CUPS programs and pycups, or a failure under CI (a skip elsewhere)."""
    missing = [tool for tool, path in engine_tools().items() if path is None]
    if importlib.util.find_spec("cups") is None:
        missing.append("pycups")
    if missing:
        missing_prerequisite(f"print engine prerequisites missing: {', '.join(missing)}")


def test_issue_story_prints_a_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print_engine_prerequisites()
    assert main(["--flow", "issue", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "issue: completed" in out
    assert "[coins]  a JPY 1,000 bill inserted" in out
    assert "[coins]  the hoppers paid JPY 800 (500 + 100 + 100 + 100)" in out
    assert "byte for byte the authorised document" in out
    assert "charged=True" in out
    assert "手数料: 200円" in out  # the fee prompt, Japanese first
    (pdf,) = tmp_path.glob("certificate-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert len(read_document(pdf.read_bytes(), dpi=50).pages) == 2
    assert len(list(tmp_path.glob("certificate-*-page*.png"))) == 2  # front and the signed back
    (line,) = (tmp_path / "mfp-electronic-journal.txt").read_text(encoding="utf-8").splitlines()
    assert "ISSUE-END" in line
    assert "fee_yen=200" in line
    assert get_profile("default").auth_pin not in out + line


def test_a_revoked_card_gets_nothing_and_pays_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print_engine_prerequisites()
    assert main(["--flow", "issue", "--card", "revoked", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "issue: refused" in out
    assert "CERTIFICATE_REVOKED" in out
    assert "[coins]" not in out
    assert not list(tmp_path.glob("certificate-*"))


def test_a_family_register_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print_engine_prerequisites()
    args = ["--flow", "issue", "--document", "family-register", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "chooses 東京都千代田区: 戸籍証明書" in out
    assert "issue: completed" in out
    assert len(list(tmp_path.glob("certificate-*.pdf"))) == 1
