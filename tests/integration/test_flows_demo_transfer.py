# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow transfer`` (package ``myna_edge.demo``) tells its story."""

from __future__ import annotations

from pathlib import Path

import pytest

from myna_edge.demo import main


def test_transfer_story_with_receipt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--flow", "transfer", "--amount", "250000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Transfer JPY 250,000" in out
    assert "verifier state: COMMITTED" in out
    assert "identity verified: True" in out
    receipt = (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "振込金額 250,000円" in receipt  # the customer's language (issue 12.6)
    assert "TRANSFER-COMMIT" in (tmp_path / "electronic-journal.txt").read_text(encoding="utf-8")


def test_revoked_card_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--flow", "transfer", "--card", "revoked", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CERTIFICATE_REVOKED" in out
    assert "transfer: refused" in out
    assert not (tmp_path / "receipt-0001.txt").exists()


def test_no_verifier_answer_is_reported_when_none_was_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 12.2: "[verifier] AuthorizeTransfer: refused failed; final state
    # UNSPECIFIED" was printed although the card ended the flow before the
    # verifier was ever asked (a card without a signing certificate).
    assert main(["--flow", "transfer", "--card", "minor", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "AuthorizeTransfer" not in out
    assert "UNSPECIFIED" not in out


def test_verifier_line_says_only_what_happened() -> None:
    from host.client import TransferState
    from host.flows import Outcome, TransferOutcome
    from myna_edge.demo.transfer import verifier_line

    never = TransferOutcome(Outcome.CANCELLED, "op", reason="cancelled")
    assert verifier_line(never, asked=False) == ""
    refused = TransferOutcome(Outcome.REFUSED, "op", reason="CERTIFICATE_REVOKED")
    assert verifier_line(refused, asked=True).endswith("refused CERTIFICATE_REVOKED")
    done = TransferOutcome(Outcome.COMPLETED, "op", "a-1", TransferState.COMMITTED)
    assert verifier_line(done, asked=True).endswith("authorised; final state COMMITTED")
