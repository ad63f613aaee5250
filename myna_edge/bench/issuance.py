# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench issuance``: certificate issuance (issue 14) against same-run baselines.

Why a suite of its own (not a kind in ``bench.flows``): every figure here
needs the centre with ``[issuance]`` and the reference municipality
(``municipal/``, 千代田区 131016, its ledger on SQLite) beside it, and the
verifier suites change under other hands. Everything runs in one process:
both servers on 127.0.0.1 with mTLS, the callers on the same event loop
(the municipality renders in a worker thread, so the loop is not stalled;
the callers' CPU shares the machine with both servers, said in the rows).
Three parts:

* ``issue_flow``: the MFP's ``IssueFlow`` end to end, in the shape of
  ``bench.flows``' kinds: card commands against the protocol minimum (the
  reading flow's proof: SELECT JPKI AP, SELECT PIN EF, VERIFY empty, VERIFY,
  SELECT + READ of the auth certificate, SELECT key, COMPUTE SIGNATURE = 8),
  the software share of software + card time modelled at 106 kbit/s, and the
  time split (``verifier`` is awaiting the centre, which waits for the
  municipality's rendering). The payment device and the print engine are
  instant in-memory ports, EXCLUDED from the figure (a resident feeding coins
  and a page printing take seconds no model here would price honestly);
  ``demo --flow issue`` runs the real ccTalk and CUPS parts.
* ``document``: ``issue_document`` (render + sign + encode) against fpdf2
  rendering the same page with an unsigned code, interleaved pairs.
* ``throughput``: documents per second through the centre and the
  municipality (OpenIssuanceSession → ProveIssuanceCard → RequestDocument →
  ConfirmPrinted per document) against VerifyCard on the same centre, blocks
  taking turns (``bench.verifier``'s method), at 1 and ``_INFLIGHT[-1]`` in
  flight; the mean time per call says which step dominates.

Rounds are capped (``_MAX_*``): a document costs about half a second of CPU,
so 30 flow runs and 30 throughput blocks would cost minutes. The rig and
the throughput blocks: ``bench.issuance_load``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Final, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from host.client.issuance import IssuanceClient
from host.client.issuance_models import DocumentKind
from host.flows import Prompt
from host.flows.issuance_ports import Escrow, PrintJob, PrintOutcome
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssuanceCentre
from host.journal import Journal
from host.secret import Secret
from hw_sim.card import get_profile
from hw_sim.card.timing import modelled_seconds
from municipal.document import encode_code, issue_document, key_id, render_pdf
from municipal.document.cli import sample_content
from myna_edge.bench.flow_split import RecordingCard, Run, Spent, split
from myna_edge.bench.issuance_load import IssuanceRig, issuance_blocks, resident_record_fee
from myna_edge.demo.issue import choice_for

__all__ = ["ISSUE_MINIMUM_COMMANDS", "issuance_suite"]

#: Protocol minimum of the issue flow's card commands (see the module docstring).
ISSUE_MINIMUM_COMMANDS: Final = 8
#: In-flight levels of the throughput comparison: one, and a few.
_INFLIGHT: Final = (1, 4)
_MAX_FLOW_RUNS: Final = 8
_MAX_DOCUMENT_PAIRS: Final = 6
_MAX_BLOCKS: Final = 3
_CENTRE_RPCS: Final = (
    "open_session",
    "prove_card",
    "list_documents",
    "request_document",
    "confirm_printed",
    "report_print_failure",
)


class _TimedCentre:
    """The centre's client with its RPCs charged to ``verifier``; the rest passes through."""

    def __init__(self, centre: IssuanceClient, spent: Spent) -> None:
        self._centre, self._spent = centre, spent

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._centre, name)
        return self._spent.timed_async("verifier", attribute) if name in _CENTRE_RPCS else attribute


class _InstantPayment:
    """The fee is in escrow at once (device time excluded: see the module docstring)."""

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        return Escrow(payment_id, fee_yen, fee_yen)

    async def take(self, escrow: Escrow) -> int:
        return escrow.inserted_yen - escrow.fee_yen

    async def refund(self, escrow: Escrow) -> int:
        return escrow.inserted_yen


class _InstantPrinter:
    """Every job completes at once, with the digest of the bytes it was given."""

    def __init__(self) -> None:
        self.jobs = 0

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        self.jobs += 1
        digest = hashes.Hash(hashes.SHA256())
        digest.update(pdf)
        return PrintJob(f"bench-{self.jobs}", PrintOutcome.COMPLETED, digest.finalize())


class _Resident:
    """Confirms every prompt and enters the card's authentication PIN."""

    def __init__(self, pin: str) -> None:
        self._pin = pin

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        return Secret.from_text(self._pin)


async def _flow_run(
    rig: IssuanceRig, centre: IssuanceClient, journal: Journal, spent: Spent
) -> Run:
    spent.reset()
    card = RecordingCard("sim://default?persist=0", spent)
    flow = IssueFlow(
        centre=cast(IssuanceCentre, _TimedCentre(centre, spent)),
        card=card,
        user=_Resident(get_profile("default").auth_pin),
        payment=_InstantPayment(),
        printer=_InstantPrinter(),
        journal=journal,
        emit=lambda e: None,
    )
    started = time.perf_counter()
    try:
        outcome = await flow.run(FixedChoice(choice_for(DocumentKind.RESIDENT_RECORD)))
        elapsed = time.perf_counter() - started
    finally:
        await card.aclose()
    if outcome.outcome.value != "completed" or not outcome.printed:
        raise RuntimeError(f"issue did not complete: {outcome.reason}")
    parts = dict(spent.seconds)
    parts["host"] = elapsed - sum(parts.values())
    return elapsed, card.entries, parts


async def _issue_flow(rig: IssuanceRig, rounds: int) -> dict[str, object]:
    spent = Spent()
    async with IssuanceClient(rig.client) as centre:
        with Journal(rig.root / "mfp-journal.sqlite") as journal:
            await _flow_run(rig, centre, journal, spent)  # warm-up: keys, channels, caches
            runs = [await _flow_run(rig, centre, journal, spent) for _ in range(rounds)]
    software = statistics.median(r[0] for r in runs)
    entries = runs[-1][1]
    card = modelled_seconds(entries)
    terminal = statistics.median(r[0] - r[2]["verifier"] for r in runs)
    return {
        "runs": rounds,
        "software_ms": round(software * 1000, 2),
        "modelled_card_ms": round(card * 1000, 2),
        "software_share_of_total": round(software / (software + card), 4),
        # The same without awaiting the centre (and the municipality's rendering).
        "terminal_software_ms": round(terminal * 1000, 2),
        "terminal_software_share_of_total": round(terminal / (terminal + card), 4),
        "card_commands": len(entries),
        "minimum_commands": ISSUE_MINIMUM_COMMANDS,
        "commands_vs_minimum": round(len(entries) / ISSUE_MINIMUM_COMMANDS, 2),
        "payment_and_printing": "excluded (instant in-memory ports)",
        **split(runs),
    }


def _document(pairs: int) -> dict[str, object]:
    """Render + sign against fpdf2 rendering the same page unsigned; interleaved pairs."""
    key = ec.generate_private_key(ec.SECP256R1())
    content = sample_content()
    unsigned_code = encode_code(content, key=key_id(key.public_key()))
    render_pdf(content, unsigned_code)  # warm-up: fonts, imports (shared by both)
    unsigned: list[float] = []
    signed: list[float] = []
    for _ in range(pairs):
        started = time.perf_counter()
        render_pdf(content, unsigned_code)
        unsigned.append(time.perf_counter() - started)
        started = time.perf_counter()
        issue_document(content, key)
        signed.append(time.perf_counter() - started)
    base, ours = statistics.median(unsigned), statistics.median(signed)
    return {
        "pairs": pairs,
        "unsigned_render_ms": round(base * 1000, 2),
        "render_and_sign_ms": round(ours * 1000, 2),
        "render_and_sign_over_unsigned": round(ours / base, 3),
    }


async def _suite(rounds: int, root: Path) -> dict[str, object]:
    rig = await IssuanceRig.start(root)
    try:
        report: dict[str, object] = {"rounds": rounds}
        report["issue_flow"] = await _issue_flow(rig, min(rounds, _MAX_FLOW_RUNS))
        report["document"] = await asyncio.to_thread(_document, min(rounds, _MAX_DOCUMENT_PAIRS))
        blocks = min(rounds, _MAX_BLOCKS)
        throughput: dict[str, object] = {"blocks": blocks}
        async with IssuanceClient(rig.client) as centre:
            # also opens the channel (the flow's runs warmed the servers)
            fee = await resident_record_fee(rig, centre)
            for inflight in _INFLIGHT:
                per_block = inflight * (1 if rounds == 1 else 2)
                throughput[str(inflight)] = await issuance_blocks(
                    rig, centre, fee, inflight, blocks, per_block
                )
        report["throughput"] = throughput
        return report
    finally:
        await rig.stop()


def issuance_suite(rounds: int) -> dict[str, object]:
    """The issue flow, the document's render + sign, centre + municipality throughput."""
    with tempfile.TemporaryDirectory(prefix="myna-edge-bench-issuance-") as tmp:
        return asyncio.run(_suite(max(1, rounds), Path(tmp)))
