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
  municipality's rendering). "Software" is the run's wall time less the
  payment device's modelled time and the print engine's (measured at its
  port): the flow requests the document while the fee goes in, so the
  request's time counts only where it outlasts the payment. The payment
  device really takes its modelled time (``_PaymentModel``: the fee in the
  fewest coins, each accepted in ``_COIN_SECONDS``, UNCONFIRMED, the
  resident's own time not counted: a lower bound), and a late wake-up
  past it counts as software; the print engine is instant. Their device
  time stays OUT of the total, as in ``bench.flows`` (software + card
  only), which keeps the share on the high side; ``demo --flow issue``
  runs the real ccTalk and CUPS parts.
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

__all__ = ["ISSUE_MINIMUM_COMMANDS", "issuance_suite", "payment_seconds"]

#: Protocol minimum of the issue flow's card commands (see the module docstring).
ISSUE_MINIMUM_COMMANDS: Final = 8
#: In-flight levels of the throughput comparison: one, and a few.
_INFLIGHT: Final = (1, 4)
_MAX_FLOW_RUNS: Final = 8
_MAX_DOCUMENT_PAIRS: Final = 6
_MAX_BLOCKS: Final = 3
#: Modelled time for the payment device to accept one coin (its path through the
#: validator and the host's next credit poll, ccTalk header 229), seconds:
#: UNCONFIRMED against a device, like ``hw_sim.card.timing``'s constants.
_COIN_SECONDS: Final = 0.3
#: The largest coin the acceptor takes; a fee up to it is paid with one coin.
_LARGEST_COIN_YEN: Final = 500
_CENTRE_RPCS: Final = (
    "open_session",
    "prove_card",
    "list_documents",
    "request_document",
    "confirm_printed",
    "report_print_failure",
)


class _Spans:
    """When the request and the payment ran in one run: perf_counter (start, end) pairs.

    A payment's span is its modelled window (start + modelled seconds), not
    when its sleep happened to end: a late wake-up (the municipality's
    render holds the GIL in this one process) is the software's delay, so
    it stays in the software figure.
    """

    def __init__(self) -> None:
        self.request: list[tuple[float, float]] = []
        self.payment: list[tuple[float, float]] = []
        self.payment_measured = 0.0
        self.printer = 0.0

    def overlap(self) -> float:
        """Seconds the centre's request ran while the payment device was collecting."""
        return sum(
            max(0.0, min(r_end, p_end) - max(r_start, p_start))
            for r_start, r_end in self.request
            for p_start, p_end in self.payment
        )


class _TimedCentre:
    """The centre's client with its RPCs charged to ``verifier``; the rest passes through."""

    def __init__(self, centre: IssuanceClient, spent: Spent, spans: _Spans) -> None:
        self._centre, self._spent, self._spans = centre, spent, spans

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._centre, name)
        if name == "request_document":
            return self._spent.timed_async("verifier", self._spanned(attribute))
        return self._spent.timed_async("verifier", attribute) if name in _CENTRE_RPCS else attribute

    def _spanned(self, call: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                self._spans.request.append((started, time.perf_counter()))

        return wrapper


def payment_seconds(fee_yen: int) -> float:
    """Modelled device time to take ``fee_yen``: the fewest coins, each ``_COIN_SECONDS``."""
    coins = max(1, -(-fee_yen // _LARGEST_COIN_YEN))
    return coins * _COIN_SECONDS


class _PaymentModel:
    """Escrow after the device's modelled time; the wait is measured at the port (``_Spans``)."""

    def __init__(self, spans: _Spans) -> None:
        self._spans = spans

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        started = time.perf_counter()
        modelled = payment_seconds(fee_yen)
        await asyncio.sleep(modelled)
        self._spans.payment.append((started, started + modelled))
        self._spans.payment_measured += time.perf_counter() - started
        return Escrow(payment_id, fee_yen, fee_yen)

    async def take(self, escrow: Escrow) -> int:
        return escrow.inserted_yen - escrow.fee_yen

    async def refund(self, escrow: Escrow) -> int:
        return escrow.inserted_yen


class _InstantPrinter:
    """Every job completes at once, with the digest of the bytes it was given."""

    def __init__(self, spans: _Spans) -> None:
        self.jobs = 0
        self._spans = spans

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        started = time.perf_counter()
        self.jobs += 1
        digest = hashes.Hash(hashes.SHA256())
        digest.update(pdf)
        job = PrintJob(f"bench-{self.jobs}", PrintOutcome.COMPLETED, digest.finalize())
        self._spans.printer += time.perf_counter() - started
        return job


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
) -> tuple[Run, dict[str, float]]:
    """One run: software wall time (devices' waits taken out), split, and the devices' part."""
    spent.reset()
    spans = _Spans()
    card = RecordingCard("sim://default?persist=0", spent)
    flow = IssueFlow(
        centre=cast(IssuanceCentre, _TimedCentre(centre, spent, spans)),
        card=card,
        user=_Resident(get_profile("default").auth_pin),
        payment=_PaymentModel(spans),
        printer=_InstantPrinter(spans),
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
    paying = sum(end - start for start, end in spans.payment)
    hidden = spans.overlap()
    software = elapsed - paying - spans.printer
    parts = dict(spent.seconds)
    parts["verifier"] -= hidden  # the request's time behind the payment is not waited for
    parts["host"] = software - sum(parts.values())
    requested = sum(end - start for start, end in spans.request)
    devices = {
        "payment": paying,
        "payment_measured": spans.payment_measured,
        "printer": spans.printer,
        "request": requested,
        "hidden": hidden,
    }
    return (software, card.entries, parts), devices


async def _issue_flow(rig: IssuanceRig, rounds: int) -> dict[str, object]:
    spent = Spent()
    async with IssuanceClient(rig.client) as centre:
        with Journal(rig.root / "mfp-journal.sqlite") as journal:
            await _flow_run(rig, centre, journal, spent)  # warm-up: keys, channels, caches
            measured = [await _flow_run(rig, centre, journal, spent) for _ in range(rounds)]
    runs = [run for run, _ in measured]
    devices = {k: statistics.fmean(d[k] for _, d in measured) for k in measured[0][1]}
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
        "payment_and_printing": (
            "device time measured at the ports and excluded from software and total"
            f" (payment modelled: a coin per {_LARGEST_COIN_YEN} yen of the fee,"
            f" {_COIN_SECONDS * 1000:.0f} ms each, UNCONFIRMED; printing instant)"
        ),
        "payment_device_ms": round(devices["payment"] * 1000, 2),
        # Awaited at the port; above the model only by the loop waking late.
        "payment_awaited_ms": round(devices["payment_measured"] * 1000, 2),
        "printer_device_ms": round(devices["printer"] * 1000, 3),
        "request_ms": round(devices["request"] * 1000, 2),
        "request_hidden_by_payment_ms": round(devices["hidden"] * 1000, 2),
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
