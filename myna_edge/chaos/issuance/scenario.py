# SPDX-License-Identifier: Apache-2.0
"""The issuance campaign: many residents at several MFPs, faults everywhere, then the evidence.

The plan (from the seed): ``count`` requests in rounds; every round starts
one request on every station at once (two stores in the same second: the
Kawasaki incident), and every other round puts one resident on two
stations at once (the same resident twice). Each request draws a fault:
none, a print aborted mid-job (jam), a print that never ends (the flow's
print timeout: the Yokohama incident's trigger), paper out before the job,
or a resident who walks away without paying; after any fault the resident
retries once at the same station (counted in ``count``). In the middle
round the municipality is killed and served again on the same ledger.
After the rounds the centre's outbox is swept, then ``evidence`` reads the
printers, the cash devices and both ledgers, and ``check_invariants``
judges them.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from host.client.issuance_models import DocumentKind
from host.flows import Event, Prompt, ThreadedCard
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice
from host.journal import ElectronicJournal, Journal
from host.secret import Secret
from hw_sim.card import get_profile
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.devices.errors import DeviceTimeoutError
from hw_sim.printing import EngineFault
from myna_edge.chaos.issuance.evidence import (
    Evidence,
    Request,
    check_invariants,
    load_public_key,
    printed_jobs,
    read_cash,
    read_centre,
    read_municipal,
)
from myna_edge.chaos.issuance.leaks import capture_logs, find_leaks
from myna_edge.chaos.issuance.stack import CampaignStack, MfpStation
from myna_edge.demo.issue import RESIDENT_BILL_YEN, choice_for

__all__ = ["Fault", "collect_evidence", "run_campaign", "run_scenario"]

#: Residents of the reference municipality whose cards the centre accepts.
RESIDENTS: Final = ("default", "long-address", "minor", "rare-kanji", "sign-locked")
#: Those with a registered seal may also ask for 印鑑登録証明書.
_SEALED: Final = frozenset({"default", "long-address", "rare-kanji"})
_STATIONS: Final = 3
_PRINT_TIMEOUT: Final = 4.0
_PAY_TIMEOUT: Final = 20.0
_WALK_AWAY_TIMEOUT: Final = 2.0
_MUNICIPALITY_DOWN: Final = 1.0


class Fault(StrEnum):
    """What goes wrong in one request."""

    NONE = "none"
    ABORT = "abort"  # jam mid-print: the job ends aborted
    HANG = "hang"  # the job never ends: the flow's print timeout cancels it
    PAPER_OUT = "paper_out"  # refused before a job exists
    WALK_AWAY = "walk_away"  # the resident does not pay: payment timeout


_FAULTS: Final = tuple(Fault)


@dataclass(frozen=True)
class _Ask:
    profile: str
    kind: DocumentKind
    fault: Fault


class _Resident:
    """The person at the MFP: agrees to everything, types the card's PIN (never logged)."""

    def __init__(self, pin: str) -> None:
        self._pin = pin

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        return Secret.from_text(self._pin)


async def _pays(bus: SimCcTalkBus) -> None:
    """Feed a bill once the acceptor is enabled (polls briefly so a cancel ends it soon)."""
    while True:
        try:
            await asyncio.to_thread(bus.wait_until, bus.accepting, 0.2)
        except DeviceTimeoutError:
            continue
        bus.insert_bill(RESIDENT_BILL_YEN)
        return


def _quiet(event: Event) -> None:
    """The campaign shows no screens."""


async def _arm(station: MfpStation, fault: Fault) -> None:
    engine = station.engine
    if fault is Fault.ABORT:
        engine.arm(EngineFault.ABORT)
    elif fault is Fault.HANG:
        engine.arm(EngineFault.HANG)
    elif fault is Fault.PAPER_OUT:
        await asyncio.to_thread(engine.set_paper, loaded=False)


async def _serve(
    station: MfpStation, ask: _Ask, number: int, journal: Journal, ejournal: ElectronicJournal
) -> Request:
    profile = get_profile(ask.profile)
    await _arm(station, ask.fault)
    resident = None if ask.fault is Fault.WALK_AWAY else asyncio.create_task(_pays(station.bus))
    card = ThreadedCard(f"sim://{ask.profile}?persist=0")
    try:
        flow = IssueFlow(
            centre=station.centre,
            card=card,
            user=_Resident(profile.auth_pin),
            payment=station.payment,
            printer=station.printer,
            journal=journal,
            emit=_quiet,
            ejournal=ejournal,
            payment_timeout=_WALK_AWAY_TIMEOUT if ask.fault is Fault.WALK_AWAY else _PAY_TIMEOUT,
            print_timeout=_PRINT_TIMEOUT,
        )
        outcome = await flow.run(FixedChoice(choice_for(ask.kind)))
    finally:
        if resident is not None:
            resident.cancel()
            await asyncio.gather(resident, return_exceptions=True)
        await card.aclose()
        if ask.fault is not Fault.NONE:  # the operator clears the jam, refills, releases
            await asyncio.to_thread(station.engine.reset)
    return Request(
        number,
        station.terminal_id,
        ask.profile,
        profile.person.name,
        ask.fault.value,
        serial=outcome.serial,
        printed=outcome.printed,
        charged=outcome.charged,
        fee_yen=outcome.fee_yen,
        reason=outcome.reason,
    )


def _plan(rng: random.Random, count: int, stations: int) -> list[list[_Ask]]:
    """Rounds of one ask per station; faulted asks are followed by a retry (same station)."""
    rounds: list[list[_Ask]] = []
    planned = 0
    while planned < count:
        profiles = [rng.choice(RESIDENTS) for _ in range(stations)]
        if len(rounds) % 2 == 0 and stations > 1:
            profiles[1] = profiles[0]  # the same resident at two stores at once
        asks = []
        for slot, profile in enumerate(profiles):
            kind = DocumentKind.RESIDENT_RECORD
            if profile in _SEALED and rng.random() < 0.3:
                kind = DocumentKind.SEAL_REGISTRATION
            # Every fault early on (a small campaign still sees each), then at random.
            turn = len(rounds) * stations + slot
            fault = _FAULTS[turn % len(_FAULTS)] if turn < 2 * len(_FAULTS) else None
            if fault is None:
                fault = Fault.NONE if rng.random() < 0.5 else rng.choice(_FAULTS[1:])
            asks.append(_Ask(profile, kind, fault))
        rounds.append(asks)
        planned += sum(2 if ask.fault is not Fault.NONE else 1 for ask in asks)
    return rounds


async def _campaign(seed: int, count: int, workdir: Path) -> tuple[dict[str, object], Evidence]:
    rng = random.Random(seed)  # noqa: S311 - a plan replayable from its seed
    stations = max(2, min(_STATIONS, count))
    rounds = _plan(rng, count, stations)
    requests: list[Request] = []
    mfp_side = workdir / "mfp"
    mfp_side.mkdir(parents=True, exist_ok=True)
    async with CampaignStack(workdir / "stack", stations) as stack:
        journals = {
            s.terminal_id: Journal(mfp_side / f"{s.terminal_id}-journal.sqlite")
            for s in stack.stations
        }
        ejournals = {
            s.terminal_id: ElectronicJournal(mfp_side / f"{s.terminal_id}-ej.txt", s.terminal_id)
            for s in stack.stations
        }
        try:
            killed_at = len(rounds) // 2
            for number, asks in enumerate(rounds):

                async def one(station: MfpStation, ask: _Ask) -> list[Request]:
                    done = [
                        await _serve(
                            station, ask, 0, journals[station.terminal_id],
                            ejournals[station.terminal_id],
                        )
                    ]  # fmt: skip
                    if ask.fault is not Fault.NONE:  # the resident tries again
                        retry = _Ask(ask.profile, ask.kind, Fault.NONE)
                        done.append(
                            await _serve(
                                station, retry, 0, journals[station.terminal_id],
                                ejournals[station.terminal_id],
                            )
                        )  # fmt: skip
                    return done

                work = [
                    one(station, ask) for station, ask in zip(stack.stations, asks, strict=True)
                ]
                if number == killed_at:
                    work.append(_kill_later(stack))
                for result in await asyncio.gather(*work):
                    requests.extend(result or [])
            await stack.sweep()
            evidence = await asyncio.to_thread(_collect_sync, stack, requests)
        finally:
            for journal in journals.values():
                journal.close()
    numbered = tuple(
        Request(n, r.station, r.profile, r.holder, r.fault, r.serial, r.printed, r.charged,
                r.fee_yen, r.reason)
        for n, r in enumerate(requests, 1)
    )  # fmt: skip
    leaks = find_leaks(mfp_side, sorted({r.profile for r in numbered}))
    evidence = Evidence(
        numbered, evidence.printed, evidence.cash, evidence.centre, evidence.municipal,
        evidence.not_printed, tuple(leaks),
    )  # fmt: skip
    faults = {fault.value: sum(r.fault == fault.value for r in numbered) for fault in Fault}
    figures: dict[str, object] = {
        "stations": stations,
        "rounds": len(rounds),
        "requests": len(numbered),
        "printed": len(evidence.printed),
        "charged": sum(r.charged for r in numbered),
        "refunded_or_failed": sum(1 for s in evidence.centre.values() if s[0] != "CHARGED"),
        "jobs_not_printed": evidence.not_printed,
        "faults": faults,
        "same_second_rounds": len(rounds),
        "same_resident_twice_rounds": (len(rounds) + 1) // 2,
        "municipality_killed": 1,
        "cash_kept_yen": sum(c.kept_yen for c in evidence.cash),
        "secrets_files_scanned": sum(1 for p in mfp_side.rglob("*") if p.is_file()),
    }
    return figures, evidence


async def _kill_later(stack: CampaignStack) -> list[Request]:
    await asyncio.sleep(0.3)  # while the round's requests are in flight
    await stack.kill_municipality(_MUNICIPALITY_DOWN)
    return []


def _collect_sync(stack: CampaignStack, requests: list[Request]) -> Evidence:
    return collect_evidence(stack, tuple(requests))


def collect_evidence(stack: CampaignStack, requests: tuple[Request, ...]) -> Evidence:
    """Read the printers, the cash devices and both ledgers (see ``evidence``)."""
    assert stack.municipality is not None
    key = load_public_key(stack.municipality.root / "signing.key.pem")
    printed, not_printed = [], 0
    for station in stack.stations:
        jobs, missed = printed_jobs(station.terminal_id, station.engine, key)
        printed.extend(jobs)
        not_printed += missed
    return Evidence(
        requests,
        tuple(printed),
        tuple(read_cash(s.terminal_id, s.bus) for s in stack.stations),
        read_centre(stack.verifier_database),
        read_municipal(stack.municipality.root / "ledger.sqlite"),
        not_printed,
    )


def run_campaign(seed: int, count: int, workdir: Path) -> tuple[dict[str, object], Evidence]:
    """Run about ``count`` requests (retries included); the figures and the evidence, unchecked."""
    (workdir / "mfp").mkdir(parents=True, exist_ok=True)
    with capture_logs(workdir / "mfp" / "campaign.log"):
        return asyncio.run(_campaign(seed, count, workdir))


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run about ``count`` requests (retries included) and check the invariants; the figures.

    Raises:
        ChaosInvariantError: a printed document is another's, printed twice, or a fee
            is matched by neither a document nor a refund.
    """
    figures, evidence = run_campaign(seed, count, workdir)
    check_invariants(evidence)
    return figures
