# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow issue``: the certificate, its page images and the operator's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.card import get_profile
from myna_edge.demo import main


def test_issue_story_prints_a_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--flow", "issue", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "issue: completed" in out
    assert "charged=True" in out
    assert "手数料: 200円" in out  # the fee prompt, Japanese first
    (pdf,) = tmp_path.glob("certificate-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert len(list(tmp_path.glob("certificate-*-page*.png"))) == 2  # front and the signed back
    (line,) = (tmp_path / "mfp-electronic-journal.txt").read_text(encoding="utf-8").splitlines()
    assert "ISSUE-END" in line
    assert "fee_yen=200" in line
    assert get_profile("default").auth_pin not in out + line


def test_a_revoked_card_gets_nothing_and_pays_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--flow", "issue", "--card", "revoked", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "issue: refused" in out
    assert "CERTIFICATE_REVOKED" in out
    assert "[coins]" not in out
    assert not list(tmp_path.glob("certificate-*"))
