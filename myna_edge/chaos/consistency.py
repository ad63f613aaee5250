# SPDX-License-Identifier: Apache-2.0
"""The one consistency checker: the verifier's ledger, the agents' journals, the ATM's record.

Why three records: each is kept by a different party, and a fault can only
hide a double or lost transfer when the parties are trusted to agree. So
every chaos scenario (crash, the fault matrix, replicas) and its tests read
the verifier's ledger through its storage interface (``read_ledger``:
``Transaction.list_transfers`` and ``audit_trail``, never SQL of our own)
and the agents' write-ahead journals through ``host.journal``, and hand
both to ``check_transfers``, transfer by transfer:

* ledger: every authorisation is COMMITTED or REVERSED (none left open),
  changed exactly once in the audit trail, never expired first (the
  campaign's TTL outlives every outage, so a late commit is a finding);
* journals: nothing unresolved, one authorisation per operation and per
  ATM request, exactly one settlement per authorisation, without error and
  agreeing with the ledger's state; every ledger row belongs to one
  journaled operation.

What the ATM application saw differs per scenario (a request log, cash
counts, a seeded plan) and is checked by the scenario on top of the
``Verdict``; the crash campaign's part is here (``check_consistency``):

* ATM: cash was dispensed exactly for the committed transfers, amounts match,
  and a command the agent reported finished matches the ledger;
* receipts (when the printer's output folder is given): at least one for
  every committed transfer, never two originals (a copy after a crash is
  marked 再発行), none for a transfer not committed (issue 12.7).

Any disagreement raises ``ChaosInvariantError`` naming the transfer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from host.flows.receipt import REPRINT_MARK
from host.journal import Effect, Journal, JournalEntry, Phase
from myna.edge.v1 import terminal_pb2 as tpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import AtmApplication, TransferAttempt
from verifier.codes import AuditAction, TransferState
from verifier.storage import Storage, open_storage

__all__ = [
    "Ledger",
    "LedgerRow",
    "Operation",
    "Verdict",
    "check_consistency",
    "check_receipts",
    "check_transfers",
    "open_ledger",
    "read_ledger",
]

_SETTLED: Final = (TransferState.COMMITTED, TransferState.REVERSED)
_SETTLE: Final = (Effect.TRANSFER_COMMIT, Effect.TRANSFER_REVERSE)
#: The audit actions that change a transfer's state after its authorisation.
_CHANGES: Final = frozenset(
    {AuditAction.COMMIT_TRANSFER, AuditAction.REVERSE_TRANSFER, AuditAction.EXPIRE_TRANSFER}
)
#: The ASCII half of the reprint mark (the kanji half depends on the printer's font).
_REPRINT: Final = REPRINT_MARK.split()[-1]


@dataclass(frozen=True)
class LedgerRow:
    """One authorisation at the verifier and the state changes its audit trail records."""

    authorization_id: str
    terminal_id: str
    amount_yen: int
    state: TransferState
    identity_verified: bool
    #: COMMIT_/REVERSE_/EXPIRE_TRANSFER actions for it, in the order audited.
    audited: tuple[str, ...] = ()


#: authorization id -> its row.
Ledger = dict[str, LedgerRow]


def read_ledger(storage: Storage, *, terminal_id: str = "") -> Ledger:
    """The verifier's transfers (only ``terminal_id``'s when given), read in one snapshot.

    Raises:
        StorageError: the database failed.
    """
    with storage.reading() as tx:
        transfers = tx.list_transfers(terminal_id=terminal_id)
        trail = tx.audit_trail(actions=_CHANGES)
    audited: dict[str, list[str]] = {}
    for entry in trail:
        audited.setdefault(entry.subject_id, []).append(entry.action)
    return {
        t.authorization_id: LedgerRow(
            authorization_id=t.authorization_id,
            terminal_id=t.terminal_id,
            amount_yen=t.amount_yen,
            state=t.state,
            identity_verified=t.identity_verified,
            audited=tuple(audited.get(t.authorization_id, ())),
        )
        for t in transfers
    }


def open_ledger(url: str, *, terminal_id: str = "") -> Ledger:
    """``read_ledger`` of the database at ``url`` (after its verifier has stopped).

    Raises:
        StorageError: the database cannot be opened or read.
    """
    with open_storage(url) as storage:
        return read_ledger(storage, terminal_id=terminal_id)


@dataclass(frozen=True)
class Operation:
    """A journaled transfer that reached the verifier (an authorisation intent)."""

    journal: str
    op_id: str
    request_id: str
    #: The accepted authorisation; "" when the verifier refused it.
    authorization_id: str


@dataclass(frozen=True)
class Verdict:
    """What ``check_transfers`` found consistent, for a scenario's own checks."""

    ledger: Ledger
    operations: tuple[Operation, ...]
    journal_entries: int

    def committed(self) -> set[str]:
        """The authorisations the ledger holds committed."""
        return {a for a, row in self.ledger.items() if row.state is TransferState.COMMITTED}


def _fail(what: str) -> ChaosInvariantError:
    return ChaosInvariantError(what)


def _check_ledger(ledger: Ledger) -> None:
    for auth, row in ledger.items():
        if row.state not in _SETTLED:
            raise _fail(f"ledger: {auth} left in state {row.state.name} (not settled)")
        if AuditAction.EXPIRE_TRANSFER in row.audited:
            raise _fail(f"ledger: {auth} expired before the terminal settled it")
        want = (
            AuditAction.COMMIT_TRANSFER
            if row.state is TransferState.COMMITTED
            else AuditAction.REVERSE_TRANSFER
        )
        if list(row.audited) != [want]:
            said = row.state.name.lower()
            raise _fail(f"ledger: {auth} is {said} but audited {list(row.audited)}")


def _operation(name: str, op_id: str, entries: Sequence[JournalEntry], ledger: Ledger) -> Operation:
    """One journaled transfer checked against the ledger."""
    intent = next(
        e for e in entries if e.effect is Effect.TRANSFER_AUTHORIZE and e.phase is Phase.INTENT
    )
    request_id = str(intent.data.get("request_id") or "")
    if any(e.data.get("unrepeatable") for e in entries if e.effect is Effect.TRANSFER_AUTHORIZE):
        # Recovery gave up on it: the journal did not keep the request as it was sent.
        raise _fail(f"journal: the AuthorizeTransfer of operation {op_id} could not be repeated")
    auths = {
        str(e.data.get("authorization_id"))
        for e in entries
        if e.effect is Effect.TRANSFER_AUTHORIZE
        and e.phase is Phase.OUTCOME
        and e.data.get("accepted")
    }
    if len(auths) > 1:
        raise _fail(f"journal: operation {op_id} was authorised twice: {sorted(auths)}")
    if not auths:
        return Operation(name, op_id, request_id, "")  # refused (e.g. the session expired)
    (auth,) = auths
    settled = [e for e in entries if e.effect in _SETTLE and e.phase is Phase.OUTCOME]
    if len(settled) != 1:
        raise _fail(f"journal: {auth} ({op_id}) has {len(settled)} settlements, not one")
    (outcome,) = settled
    if outcome.data.get("error"):
        raise _fail(f"journal: {auth} settled with error {outcome.data.get('error')}")
    if auth not in ledger:
        raise _fail(f"ledger: {auth} of operation {op_id} is missing (lost)")
    state = ledger[auth].state
    want = Effect.TRANSFER_COMMIT if state is TransferState.COMMITTED else Effect.TRANSFER_REVERSE
    if outcome.effect is not want:
        raise _fail(f"{auth}: journal says {outcome.effect.value}, ledger {state.name}")
    return Operation(name, op_id, request_id, auth)


def check_transfers(ledger: Ledger, journals: Mapping[str, Journal]) -> Verdict:
    """Check the ledger against the journals (named, e.g. by terminal) of every agent in it.

    Raises:
        ChaosInvariantError: the first disagreement found, naming the transfer.
    """
    _check_ledger(ledger)
    operations: list[Operation] = []
    entry_count = 0
    for name, journal in journals.items():
        unresolved = journal.unresolved_transfers()
        if unresolved:
            ops = ", ".join(plan.op_id for plan in unresolved)
            raise _fail(f"journal {name}: transfers left unresolved after recovery: {ops}")
        entries = journal.entries()
        entry_count += len(entries)
        by_op: dict[str, list[JournalEntry]] = {}
        for entry in entries:
            if entry.flow == "transfer":
                by_op.setdefault(entry.op_id, []).append(entry)
        for op_id, ops_entries in by_op.items():
            reached = any(
                e.effect is Effect.TRANSFER_AUTHORIZE and e.phase is Phase.INTENT
                for e in ops_entries
            )
            if reached:  # else it never reached the verifier
                operations.append(_operation(name, op_id, ops_entries, ledger))
    op_of_auth: dict[str, Operation] = {}
    op_of_request: dict[tuple[str, str], Operation] = {}
    for op in operations:
        if not op.authorization_id:
            continue
        if (op.journal, op.request_id) in op_of_request:
            raise _fail(f"request {op.request_id} authorised by two operations")
        if op.authorization_id in op_of_auth:
            raise _fail(f"{op.authorization_id}: authorised for two journaled operations")
        op_of_request[(op.journal, op.request_id)] = op_of_auth[op.authorization_id] = op
    lost = sorted(set(ledger) - set(op_of_auth))
    if lost:
        raise _fail(f"ledger: authorisations no journaled operation knows: {lost}")
    return Verdict(ledger, tuple(operations), entry_count)


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
    ledger: Ledger,
    journal: Path,
    atm: AtmApplication,
    attempts: Sequence[TransferAttempt],
    receipts: Path | None = None,
) -> dict[str, object]:
    """The crash campaign's verdict: ``check_transfers``, then the ATM's record; figures.

    Raises:
        ChaosInvariantError: the first disagreement found, naming the transfer.
    """
    with Journal(journal) as opened:
        verdict = check_transfers(ledger, {"agent": opened})
    by_request = {a.request_id: a for a in attempts}
    auth_of_request: dict[str, str] = {}
    for op in verdict.operations:
        if op.request_id not in by_request:
            rid = op.request_id
            raise _fail(f"journal: operation {op.op_id} names request {rid!r}, never sent")
        if not op.authorization_id:
            continue
        auth_of_request[op.request_id] = op.authorization_id
        amount, wanted = ledger[op.authorization_id].amount_yen, by_request[op.request_id]
        if amount != wanted.amount_yen:
            raise _fail(f"{op.authorization_id}: ledger amount {amount} != requested {wanted}")
    for attempt in attempts:
        _check_attempt(attempt, auth_of_request.get(attempt.request_id, ""), ledger, atm)
    states = [ledger[auth].state for auth in auth_of_request.values()]
    committed = verdict.committed()
    printed, reprinted = check_receipts(receipts, committed) if receipts else (0, 0)
    return {
        "committed": states.count(TransferState.COMMITTED),
        "reversed": states.count(TransferState.REVERSED),
        "not_authorised": len(attempts) - len(states),
        "journal_entries": verdict.journal_entries,
        "ledger_rows": len(ledger),
        "receipts_printed": printed,
        "receipts_reprinted": reprinted,
    }


def _check_attempt(
    attempt: TransferAttempt, auth: str, ledger: Ledger, atm: AtmApplication
) -> None:
    """One request as the ATM application saw it, against the ledger."""
    rid = attempt.request_id
    committed = bool(auth) and ledger[auth].state is TransferState.COMMITTED
    if atm.moved(rid) != committed:
        said = ledger[auth].state.name.lower() if auth else "nothing"
        did = "dispensed" if atm.moved(rid) else "did not dispense"
        raise _fail(f"request {rid}: the ATM {did} but the ledger says {said}")
    if attempt.authorization_id and attempt.authorization_id != auth:
        raise _fail(f"request {rid}: completed as {attempt.authorization_id}, journal {auth}")
    if attempt.completion == tpb.COMPLETION_CODE_SUCCESS and not committed:
        raise _fail(f"request {rid}: reported a success that the ledger does not hold")
