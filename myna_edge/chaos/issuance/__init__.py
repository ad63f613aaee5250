# SPDX-License-Identifier: Apache-2.0
"""``myna-edge chaos issuance``: the 2023-24 コンビニ交付 incidents as a campaign (issue 14).

Several MFP stations (each an in-process ``IssueFlow`` over real gRPC and
mTLS to the centre, with its own ccTalk bus emulator on a pty driven by
``CcTalkPayment`` and its own print engine, a private cupsd with
``ippeveprinter``, reached by ``CupsDocumentPrinter``) serve many residents
at once: every round starts all stations together (two stores in the same
second), rounds put the same resident at two stations at once, print aborts,
hung prints, paper out and residents who walk away are injected, a failed
resident retries, and the municipality is killed mid-run and restarted on
the same ledger. ``evidence`` then reads what really happened, from the
printers' received jobs and their job states, the signed codes on the
printed pages, the coin and bill devices, and the centre's and the
municipality's ledgers, and ``check_invariants`` raises
``ChaosInvariantError`` when a printed document belongs to someone other
than the holder who asked, a document printed twice, or a fee is matched by
neither a document nor a refund.

Modules: ``stack`` (the servers and stations), ``evidence`` (what is read
and the checks), ``scenario`` (the plan and ``run_scenario``).
"""

from __future__ import annotations

__all__: list[str] = []
