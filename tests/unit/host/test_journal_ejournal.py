# SPDX-License-Identifier: Apache-2.0
"""The operator's electronic journal: append-only lines, readable facts, no secrets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from host.errors import JournalSecretError
from host.journal import ElectronicJournal


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 27, 5, 0, tzinfo=dt.UTC)


def test_lines_append_in_order(tmp_path: Path) -> None:
    ej = ElectronicJournal(tmp_path / "ej" / "ej.txt", "atm-01", clock=clock)
    first = ej.append("op1", "TRANSFER-START", amount_yen=250000, payee="ヤマダ　ハナコ")
    ej.append("op1", "TRANSFER-COMMITTED", reference="auth-1", note="two\nlines")
    again = ElectronicJournal(tmp_path / "ej" / "ej.txt", "atm-01", clock=clock)
    again.append("", "AGENT-START")
    lines = again.lines()
    assert lines[0] == first
    assert first.startswith(
        "2026-11-27T05:00:00.000000Z atm-01 op1 TRANSFER-START amount_yen=250000"
    )
    assert "payee=ヤマダ　ハナコ" in first  # a full-width space needs no quoting
    assert "note=two\\nlines" in lines[1]
    assert lines[2].endswith("atm-01 - AGENT-START")
    assert len(lines) == 3


def test_secret_fact_is_refused(tmp_path: Path) -> None:
    ej = ElectronicJournal(tmp_path / "ej.txt", "atm-01", clock=clock)
    with pytest.raises(JournalSecretError):
        ej.append("op", "RESET", new_pin="1234")
    assert ej.lines() == []
