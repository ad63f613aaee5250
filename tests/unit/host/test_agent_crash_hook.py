# SPDX-License-Identifier: Apache-2.0
"""The test-only crash hook: off unless armed, kills only at the chosen write of its own ops."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host.agent.crash_hook import KILL_AT_ENV, KillingJournal, open_journal
from host.journal import Effect, Journal, Phase

ROOT = Path(__file__).resolve().parents[3]


def test_unarmed_is_the_plain_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KILL_AT_ENV, raising=False)
    with open_journal(tmp_path / "j.sqlite") as journal:
        assert type(journal) is Journal


@pytest.mark.parametrize("spec", ["transfer.commit", "nope:intent", "transfer.commit:intent:0"])
def test_malformed_spec_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    monkeypatch.setenv(KILL_AT_ENV, spec)
    with pytest.raises(ValueError):  # noqa: PT011 - Effect() and the hook both raise ValueError
        open_journal(tmp_path / "j.sqlite")


def test_inherited_operations_never_trigger(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.record("old", "transfer", Effect.TRANSFER_COMMIT, Phase.INTENT)
    with KillingJournal(path, Effect.TRANSFER_COMMIT, Phase.INTENT) as journal:
        journal.record("old", "transfer", Effect.TRANSFER_COMMIT, Phase.INTENT)  # recovery
        journal.record("new", "transfer", Effect.TRANSFER_COMMIT, Phase.OUTCOME)  # other step
        assert len(journal.entries()) == 3


def test_kills_its_process_right_after_the_nth_write(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from host.agent.crash_hook import open_journal\n"
        "from host.journal import Effect, Phase\n"
        "j = open_journal(Path(sys.argv[1]))\n"
        "for i in range(3):\n"
        "    j.record(f'op{i}', 'transfer', Effect.TRANSFER_DECISION, Phase.DECISION)\n"
        "print('survived')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
        env={"PYTHONPATH": str(ROOT), KILL_AT_ENV: "transfer.decision:decision:2"}, timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    assert "survived" not in proc.stdout
    with Journal(path) as journal:
        assert [e.op_id for e in journal.entries()] == ["op0", "op1"]  # durable up to the kill
