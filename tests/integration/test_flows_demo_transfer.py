# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow transfer`` (module ``myna_edge.demo_transfer``) tells its story."""

from __future__ import annotations

from pathlib import Path

import pytest

from myna_edge.demo_transfer import main


def test_transfer_story_with_receipt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--flow", "transfer", "--amount", "250000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Transfer JPY 250,000" in out
    assert "verifier state: COMMITTED" in out
    assert "identity verified: True" in out
    receipt = (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "AMOUNT JPY 250,000" in receipt
    assert "TRANSFER-COMMIT" in (tmp_path / "electronic-journal.txt").read_text(encoding="utf-8")


def test_revoked_card_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--flow", "transfer", "--card", "revoked", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CERTIFICATE_REVOKED" in out
    assert "transfer: refused" in out
    assert not (tmp_path / "receipt-0001.txt").exists()
