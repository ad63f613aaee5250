# SPDX-License-Identifier: Apache-2.0
"""Reset reconciliation from the journal: unknown card outcomes are confirmed once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from host.flows import recover_resets
from host.journal import Effect, ElectronicJournal, Journal, Phase


class Confirmer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str]] = []

    async def confirm_reset(
        self,
        reservation_id: str,
        succeeded: bool,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> bool:
        self.calls.append((reservation_id, succeeded, idempotency_key))
        return True


def test_unknown_and_unconfirmed_resets_are_confirmed_once(tmp_path: Path) -> None:
    confirmer = Confirmer()
    ej = ElectronicJournal(tmp_path / "ej.txt", "kiosk-01")
    with Journal(tmp_path / "j.db") as journal:
        journal.record(
            "r1", "reset", Effect.RESET_CARD, Phase.INTENT, data={"reservation_id": "res-1"}
        )
        journal.record(
            "r2", "reset", Effect.RESET_CARD, Phase.INTENT, data={"reservation_id": "res-2"}
        )
        journal.record("r2", "reset", Effect.RESET_CARD, Phase.OUTCOME, data={"succeeded": True})
        first = asyncio.run(recover_resets(journal, confirmer, ejournal=ej))
        second = asyncio.run(recover_resets(journal, confirmer))
        assert journal.unknown_resets() == []
    assert second == []
    assert {(r.op_id, r.card_outcome) for r in first} == {("r1", None), ("r2", True)}
    assert sorted(confirmer.calls) == [
        ("res-1", False, "r1.reset.confirm"),
        ("res-2", True, "r2.reset.confirm"),
    ]
    assert "card=unknown" in (tmp_path / "ej.txt").read_text()
