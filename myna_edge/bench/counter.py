# SPDX-License-Identifier: Apache-2.0
"""The counter check (issue 21) in ``myna-edge bench flows``: one run, timed and counted.

Why its own module: the counter check needs its own card port (the surface
AP, ``ThreadedCounterCard``) and a staff screen instead of a customer, and
``bench.flows`` stays a list of flows. Two variants run: ``counter`` (staff
type 照合番号B; the face's signature checked with the sim's issuer key) and
``counter_with_pin`` (the holder also enters the 4-digit authentication PIN,
so the card proves itself to the verifier). Each run's staff answer from the
virtual card's own profile; the AML file is written as at a desk.

The protocol minimum (``MINIMUM_COUNTER_COMMANDS``), with tries read before
every VERIFY that carries a code (the project's rule for PINs and codes):

* card-surface AP: SELECT AP, SELECT code EF, VERIFY (empty: tries), VERIFY,
  SELECT EF 0002, one extended READ BINARY = 6;
* card-info AP with the same code: SELECT AP, SELECT code EF, VERIFY (empty),
  VERIFY, SELECT + READ of the basic four and of its integrity record = 8;
* with the holder's PIN, the 8 of the reading flow's proof (SELECT JPKI AP,
  SELECT PIN EF, VERIFY empty, VERIFY, SELECT + READ certificate, SELECT
  key, COMPUTE SIGNATURE).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final, cast

from cryptography.hazmat.primitives.asymmetric import rsa

from host.cli import load_issuer_key
from host.client import VerifierClient
from host.flows import Prompt
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, CounterScreen, ThreadedCounterCard
from host.journal import Journal
from host.secret import Secret
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile
from myna_edge.bench.flow_split import ApduRecorder, Run, Spent, TimedClient

__all__ = ["COUNTER_KINDS", "MINIMUM_COUNTER_COMMANDS", "RecordingCounterCard", "counter_run"]

#: The bench's counter variants: name -> the holder also enters the PIN.
COUNTER_KINDS: Final = {"counter": False, "counter_with_pin": True}
#: Protocol minimum per variant (see the module docstring).
MINIMUM_COUNTER_COMMANDS: Final = {"counter": 6 + 8, "counter_with_pin": 6 + 8 + 8}
_URL: Final = "sim://default?persist=0"


class RecordingCounterCard(ApduRecorder, ThreadedCounterCard):
    """A ``ThreadedCounterCard`` keeping the virtual card's APDU log; times ``transmit``."""

    def __init__(self, url: str, spent: Spent, *, issuer_key: rsa.RSAPublicKey | None) -> None:
        super().__init__(url, issuer_key=issuer_key)
        self._record_into(spent)


class _Staff:
    """Types the card's 照合番号B, confirms the photo, and is the holder's PIN pad."""

    def __init__(self, code: str, pin: str) -> None:
        self._code, self._pin = code, pin

    async def verification_code(self, *, tries_left: int, last_try: bool) -> Secret:
        return Secret.from_text(self._code)

    async def compare(self, screen: CounterScreen) -> bool:
        return True

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        return Secret.from_text(self._pin)


async def counter_run(
    kind: str, client: VerifierClient, journal: Journal, spent: Spent, root: Path
) -> Run:
    """One counter check of variant ``kind`` (``COUNTER_KINDS``): wall time, APDUs, split.

    Raises:
        RuntimeError: the check did not complete (a bench on a broken flow is no figure).
    """
    profile = get_profile("default")
    spent.reset()
    key = load_issuer_key(sim_trust_dir(_URL))
    card = RecordingCounterCard(_URL, spent, issuer_key=key)
    flow = CounterCheckFlow(
        card=card,
        staff=_Staff(profile.verification_code_b, profile.auth_pin),
        aml_file=JsonLinesAmlFile(root / f"{kind}-aml.jsonl"),
        terminal_id="desk-01",
        staff_id="bench",
        journal=journal,
        emit=lambda e: None,
        verifier=cast(VerifierClient, TimedClient(client, spent)),
    )
    started = time.perf_counter()
    try:
        outcome = await flow.run(holder_pin=COUNTER_KINDS[kind])
        elapsed = time.perf_counter() - started
    finally:
        await card.aclose()
    if outcome.outcome.value != "completed":
        raise RuntimeError(f"{kind} did not complete: {outcome.reason}")
    parts = dict(spent.seconds)
    parts["host"] = elapsed - sum(parts.values())
    return elapsed, card.entries, parts
