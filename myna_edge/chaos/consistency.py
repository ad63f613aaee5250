# SPDX-License-Identifier: Apache-2.0
"""The verdict of a crash campaign: the ledger, the journal and the ATM's record agree.

Why three records: each is kept by a different party, and a crash can only
hide a double or lost transfer when the parties are trusted to agree. So
the verifier's own SQLite database (its ledger and audit trail), the
agent's write-ahead journal and the ATM application's cash record are read
independently and cross-checked, transfer by transfer:

* ledger: every authorisation is COMMITTED or REVERSED (none left open),
  changed exactly once in the audit trail, never by the expiry sweep;
* journal: nothing unresolved, one authorisation per operation and per
  ATM request, exactly one settlement per authorisation, agreeing with the
  ledger's state; every ledger row belongs to one journaled operation;
* ATM: cash was dispensed exactly for the committed transfers, amounts match,
  and a command the agent reported finished matches the ledger;
* receipts (when the printer's output folder is given): at least one for
  every committed transfer, never two originals (a copy after a crash is
  marked 再発行), none for a transfer not committed (issue 12.7).

Any disagreement raises ``ChaosInvariantError`` naming the transfer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from host.flows.receipt import REPRINT_MARK
from host.journal import Effect, Journal, JournalEntry, Phase
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import AtmApplication, TransferAttempt

__all__ = ["check_consistency", "check_receipts", "ledger"]

_COMMITTED: Final = vpb.TRANSFER_STATE_COMMITTED
_REVERSED: Final = vpb.TRANSFER_STATE_REVERSED
_STATE_NAMES: Final[dict[int, str]] = {_COMMITTED: "committed", _REVERSED: "reversed"}
_SETTLE: Final = (Effect.TRANSFER_COMMIT, Effect.TRANSFER_REVERSE)
#: The ASCII half of the reprint mark (the kanji half depends on the printer's font).
_REPRINT: Final = REPRINT_MARK.split()[-1]


def ledger(database: Path) -> dict[str, tuple[int, int, list[str]]]:
    """authorization_id -> (amount, state, audited actions in order) from the verifier's DB."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT authorization_id, amount_yen, state FROM transfers").fetchall()
        audit = db.execute("SELECT subject_id, action FROM audit ORDER BY seq").fetchall()
    actions: dict[str, list[str]] = {}
    for subject, action in audit:
        actions.setdefault(subject, []).append(action)
    return {auth: (amount, state, actions.get(auth, [])) for auth, amount, state in rows}


def _fail(what: str) -> ChaosInvariantError:
    return ChaosInvariantError(what)


def _operations(journal: Path) -> tuple[dict[str, list[JournalEntry]], int]:
    with Journal(journal) as j:
        unresolved = j.unresolved_transfers()
        entries = j.entries()
    if unresolved:
        names = ", ".join(plan.op_id for plan in unresolved)
        raise _fail(f"journal: transfers left unresolved after recovery: {names}")
    by_op: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        if entry.flow == "transfer":
            by_op.setdefault(entry.op_id, []).append(entry)
    return by_op, len(entries)


def _check_ledger(rows: dict[str, tuple[int, int, list[str]]]) -> None:
    for auth, (_, state, actions) in rows.items():
        if state not in _STATE_NAMES:
            raise _fail(f"ledger: {auth} left in state {state} (neither committed nor reversed)")
        changes = [a for a in actions if a in ("COMMIT_TRANSFER", "REVERSE_TRANSFER")]
        if "EXPIRE_TRANSFER" in actions:
            raise _fail(f"ledger: {auth} was settled by the expiry sweep, not by the terminal")
        want = "COMMIT_TRANSFER" if state == _COMMITTED else "REVERSE_TRANSFER"
        if changes != [want]:
            raise _fail(f"ledger: {auth} is {_STATE_NAMES[state]} but audited {changes}")


def check_receipts(folder: Path, committed: set[str]) -> tuple[int, int]:
    """(receipts, of which reprints) the printer emulator wrote, checked against the ledger.

    Every committed transfer has at least one receipt (a crash between the
    commit and the print is made good by recovery), exactly one of them the
    original: any other is marked as a reprint (再発行); none is printed for
    a transfer that is not committed. A REF line is a reprint's when the
    reprint mark came after the previous REF line of its file.

    Raises:
        ChaosInvariantError: a committed transfer without a receipt, two
            originals for one, or a receipt for a transfer not committed.
    """
    originals: list[str] = []
    reprints: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        marked = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if _REPRINT in line:
                marked = True
            elif line.startswith("REF "):
                (reprints if marked else originals).append(line.removeprefix("REF ").strip())
                marked = False
    twice = sorted({ref for ref in originals if originals.count(ref) > 1})
    if twice:
        raise _fail(f"receipts: two originals for {twice}")
    stray = sorted(set(originals + reprints) - committed)
    if stray:
        raise _fail(f"receipts: printed for transfers not committed: {stray}")
    missing = sorted(committed - set(originals + reprints))
    if missing:
        raise _fail(f"receipts: committed transfers without a receipt: {missing}")
    return len(originals) + len(reprints), len(reprints)


def check_consistency(
    database: Path,
    journal: Path,
    atm: AtmApplication,
    attempts: Sequence[TransferAttempt],
    receipts: Path | None = None,
) -> dict[str, object]:
    """Cross-check the records; figures (committed, reversed, ...) when they agree.

    Raises:
        ChaosInvariantError: the first disagreement found, naming the transfer.
    """
    rows = ledger(database)
    _check_ledger(rows)
    ops, entry_count = _operations(journal)
    by_request = {a.request_id: a for a in attempts}
    auth_of_request: dict[str, str] = {}
    op_of_auth: dict[str, str] = {}
    for op_id, entries in ops.items():
        intents = [e for e in entries if e.effect is Effect.TRANSFER_AUTHORIZE and
                   e.phase is Phase.INTENT]  # fmt: skip
        if not intents:
            continue  # never reached the verifier
        request_id = str(intents[0].data.get("request_id") or "")
        if request_id not in by_request:
            raise _fail(f"journal: operation {op_id} names request {request_id!r}, never sent")
        auths = {
            str(e.data.get("authorization_id"))
            for e in entries
            if e.effect is Effect.TRANSFER_AUTHORIZE and e.phase is Phase.OUTCOME
            and e.data.get("accepted")
        }  # fmt: skip
        if len(auths) > 1:
            raise _fail(f"journal: operation {op_id} was authorised twice: {sorted(auths)}")
        if not auths:
            continue  # refused (e.g. the session expired before the repeat)
        (auth,) = auths
        if request_id in auth_of_request:
            raise _fail(f"request {request_id} authorised by two operations")
        auth_of_request[request_id] = auth
        op_of_auth[auth] = op_id
        settled = [e for e in entries if e.effect in _SETTLE and e.phase is Phase.OUTCOME]
        if len(settled) != 1:
            raise _fail(f"journal: {auth} ({op_id}) has {len(settled)} settlements, not one")
        (outcome,) = settled
        if outcome.data.get("error"):
            raise _fail(f"journal: {auth} settled with error {outcome.data.get('error')}")
        if auth not in rows:
            raise _fail(f"ledger: {auth} of operation {op_id} is missing (lost)")
        amount, state, _ = rows[auth]
        want = Effect.TRANSFER_COMMIT if state == _COMMITTED else Effect.TRANSFER_REVERSE
        if outcome.effect is not want:
            raise _fail(f"{auth}: journal says {outcome.effect.value}, ledger {state}")
        if amount != by_request[request_id].amount_yen:
            raise _fail(f"{auth}: ledger amount {amount} != requested {by_request[request_id]}")
    lost = sorted(set(rows) - set(op_of_auth))
    if lost:
        raise _fail(f"ledger: authorisations no journaled operation knows: {lost}")
    for attempt in attempts:
        rid = attempt.request_id
        auth = auth_of_request.get(rid, "")
        committed = bool(auth) and rows[auth][1] == _COMMITTED
        if atm.moved(rid) != committed:
            said = _STATE_NAMES.get(rows[auth][1], "open") if auth else "nothing"
            did = "dispensed" if atm.moved(rid) else "did not dispense"
            raise _fail(f"request {rid}: the ATM {did} but the ledger says {said}")
        if attempt.authorization_id and attempt.authorization_id != auth:
            raise _fail(f"request {rid}: completed as {attempt.authorization_id}, journal {auth}")
        if attempt.completion == tpb.COMPLETION_CODE_SUCCESS and not committed:
            raise _fail(f"request {rid}: reported a success that the ledger does not hold")
    states = [rows[auth][1] for auth in auth_of_request.values()]
    committed_ids = {auth for auth, row in rows.items() if row[1] == _COMMITTED}
    printed, reprinted = check_receipts(receipts, committed_ids) if receipts else (0, 0)
    return {
        "committed": states.count(_COMMITTED),
        "reversed": states.count(_REVERSED),
        "not_authorised": len(attempts) - len(states),
        "journal_entries": entry_count,
        "ledger_rows": len(rows),
        "receipts_printed": printed,
        "receipts_reprinted": reprinted,
    }
