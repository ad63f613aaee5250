# SPDX-License-Identifier: Apache-2.0
"""CI size of the crash-consistency campaign: 120 transfers under seeded SIGKILLs.

Rounds of 8 to 14 transfers (``crash._ROUND``) give 30 to 36 kills at this size,
about as many as 200 transfers in rounds of 14 to 24 gave (35).

The real ``myna-edge verifier`` and ``myna-edge agent`` processes (mTLS on
127.0.0.1, the controller firmware under MicroPython for the signing
password, the receipt printer emulator) are killed in rounds: the agent,
then the verifier, then both (``myna_edge.chaos.crash``). The scenario
itself raises ``ChaosInvariantError`` when the verifier's ledger, the
agent's journal and the ATM application's record disagree; this test also
checks that the campaign really attacked (kills of each kind, interrupted
transfers, both outcomes, the ATM application's own crash at every prompt
kind, dropped and restarted) and that every committed transfer got a
receipt (issue 12.7; the scenario checks originals and reprints).
"""

from __future__ import annotations

import json
from pathlib import Path

from hw_sim.card import get_profile
from myna_edge.chaos.crash import APP_CRASHES, run_scenario
from tests.integration.controller_support import require_micropython

SEED = 20261127
COUNT = 120


def test_chaos_crash_campaign_keeps_every_transfer_exactly_once(tmp_path: Path) -> None:
    require_micropython()
    workdir = tmp_path / "crash"
    figures = run_scenario(SEED, COUNT, workdir)
    print(json.dumps(figures, sort_keys=True))  # the README's figures (pytest -s)

    assert figures["transfers"] == COUNT
    # the attack happened: every kind of kill, more than once
    for kind in ("agent_kills", "verifier_kills", "both_kills"):
        assert isinstance(figures[kind], int)
        assert figures[kind] >= 3, (kind, figures)
    assert isinstance(figures["interrupted_transfers"], int)
    assert figures["interrupted_transfers"] >= 3, figures
    # every transfer ended: committed, reversed, or never authorised
    total = (figures["committed"], figures["reversed"], figures["not_authorised"])
    assert all(isinstance(n, int) for n in total)
    assert sum(total) == COUNT, figures  # type: ignore[arg-type]
    assert figures["committed"] > 0
    assert figures["reversed"] > 0
    assert figures["ledger_rows"] == figures["committed"] + figures["reversed"]  # type: ignore[operator]
    # the ATM application itself dropped or restarted at every prompt kind (issue 23.1)
    crashes = figures["app_crashes"]
    assert isinstance(crashes, dict)
    assert {c.name for c in APP_CRASHES} <= set(crashes), crashes
    # at least one receipt per committed transfer (the scenario checked which)
    assert figures["receipts_printed"] >= figures["committed"], figures  # type: ignore[operator]
    # the logs of every process are kept for a post-mortem
    assert (workdir / "agent.log").exists()
    assert (workdir / "verifier.log").exists()
    assert (workdir / "attempts.jsonl").read_text().count("\n") == COUNT
    # the signing password, typed on the pad 100+ times, is in no file the run
    # left: logs, journal, electronic journal, databases and their WAL files
    password = get_profile("default").sign_password.encode()
    files = [path for path in workdir.rglob("*") if path.is_file()]
    assert {"journal.sqlite", "verifier.sqlite", "ej.txt"} <= {p.name for p in files}
    for path in files:
        assert password not in path.read_bytes(), path
