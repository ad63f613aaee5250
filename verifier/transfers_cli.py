# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier transfers``: the authorisations, for the bank's reconciliation.

Why an operator tool: an authorisation the terminal never settled ends
EXPIRED (the expiry sweep released its hold, and a late commit may still
come), and a transfer whose recovery gave up (``TRANSFER-UNREPEATABLE`` in
the terminal's electronic journal) leaves one behind. The bank reconciles
them against its own records; this lists them from the verifier's ledger,
read through the storage interface on a read-only view (SQLite in WAL mode
never waits for the running service's writer).

It prints what reconciliation needs and nothing personal: ids, terminal,
amount, state and times. No certificate serial, no statement digest; the
audit trail keeps those for an investigation.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable
from typing import Final, TextIO

from verifier.codes import TransferState
from verifier.storage import Storage, Transfer
from verifier.text_table import aligned_table

__all__ = ["print_transfers", "transfer_row", "transfers_table"]

_HEADER: Final = (
    "authorization",
    "terminal",
    "amount_yen",
    "state",
    "identity_verified",
    "created",
    "expires",
    "changed",
)


def _time(us: int | None) -> str:
    if us is None:
        return ""
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat(timespec="seconds")


def transfer_row(transfer: Transfer) -> dict[str, str | int | bool]:
    """One authorisation as reconciliation reads it (no personal data)."""
    return {
        "authorization": transfer.authorization_id,
        "terminal": transfer.terminal_id,
        "amount_yen": transfer.amount_yen,
        "state": transfer.state.name,
        "identity_verified": transfer.identity_verified,
        "created": _time(transfer.created_us),
        "expires": _time(transfer.expires_us),
        "changed": _time(transfer.changed_us),
    }


def transfers_table(transfers: Iterable[Transfer]) -> str:
    """Aligned text: a header, then one line per authorisation."""
    rows = [transfer_row(t) for t in transfers]
    return aligned_table([_HEADER, *([str(row[c]) for c in _HEADER] for row in rows)])


def print_transfers(
    storage: Storage,
    *,
    state: TransferState | None,
    terminal_id: str,
    as_json: bool,
    out: TextIO = sys.stdout,
) -> None:
    """Print the matching authorisations (a table, or JSON lines).

    Raises:
        StorageError: the ledger cannot be read.
    """
    with storage.reading() as tx:
        transfers = tx.list_transfers(terminal_id=terminal_id, state=state)
    if as_json:
        for transfer in transfers:
            out.write(json.dumps(transfer_row(transfer), ensure_ascii=False) + "\n")
    else:
        out.write(transfers_table(transfers) + "\n")
