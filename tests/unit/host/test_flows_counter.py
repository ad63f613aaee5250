# SPDX-License-Identifier: Apache-2.0
"""The counter check over the virtual card: genuine, wrong code, lock-out, bad cards.

The card port is the real ``ThreadedCounterCard`` (over ``sim://``, or over a
variant card from ``surface_cards``); the staff are a behavioural fake that
types codes and answers the photo comparison.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from host.card import FaceVerdict, MynaCard
from host.client import (
    CardProof,
    CardVerdict,
    RevocationSource,
    SessionPurpose,
    VerifierSession,
)
from host.flows import Event, FlowFailed, FlowResult, Outcome, Prompt, PromptKind, StepTimeouts
from host.flows.aml_record import AmlCheckRecord, JsonLinesAmlFile
from host.flows.counter import (
    CounterCheckFlow,
    CounterOutcome,
    CounterReason,
    CounterScreen,
    CounterStep,
    ThreadedCounterCard,
)
from host.journal import Journal
from host.secret import Secret
from hw_sim.card.profiles import get_profile
from hw_sim.identity import Sex
from hw_sim.pki import TestPki
from tests.unit.host.host_fakes import FakeTransport
from tests.unit.host.surface_cards import variant_transport

FAST = StepTimeouts(prompt=5, insert_card=5, card=10, service=5, printer=5)
PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b
WRONG_B = CODE_B[:10] + "0000"
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


class FakeStaff:
    """Types the queued codes; answers the comparison; keeps what it was shown."""

    def __init__(self, codes: list[str], *, match: bool = True) -> None:
        self.codes = list(codes)
        self.match = match
        self.asked: list[tuple[int, bool]] = []
        self.screens: list[CounterScreen] = []
        self.handed_out: list[Secret] = []
        self.holder_pins: list[str] = []

    async def verification_code(self, *, tries_left: int, last_try: bool) -> Secret:
        self.asked.append((tries_left, last_try))
        secret = Secret.from_text(self.codes.pop(0))
        self.handed_out.append(secret)
        return secret

    async def compare(self, screen: CounterScreen) -> bool:
        self.screens.append(screen)
        return self.match

    async def confirm(self, prompt: Prompt) -> bool:
        raise AssertionError("the counter flow asks staff through verification_code/compare")

    async def secret(self, prompt: Prompt) -> Secret:
        # Only the holder's authentication PIN, on the desk's PIN pad.
        assert prompt.kind is PromptKind.AUTH_PIN
        secret = Secret.from_text(self.holder_pins.pop(0))
        self.handed_out.append(secret)
        return secret


class FakeCardVerifier:
    terminal_id = "desk-01"

    def __init__(self, reason: str = "OK") -> None:
        self.reason = reason
        self.proofs: list[CardProof] = []

    async def open_session(
        self, purpose: SessionPurpose, idempotency_key: str, *, timeout: float | None = None
    ) -> VerifierSession:
        return VerifierSession("s", b"\x07" * 32, None)

    async def verify_card(
        self,
        session_id: str,
        proof: CardProof,
        idempotency_key: str,
        *,
        timeout: float | None = None,
    ) -> CardVerdict:
        self.proofs.append(proof)
        return CardVerdict(self.reason == "OK", self.reason, "0a", RevocationSource.CRL)


class VariantCounterCard(ThreadedCounterCard):
    """The threaded port, over an already open transport instead of a URL."""

    def __init__(self, transport: FakeTransport, issuer_key: rsa.RSAPublicKey | None) -> None:
        super().__init__("fake://variant", issuer_key=issuer_key)
        self._fixed = transport

    def _open(self) -> None:
        if self._card is None:
            self._transport = self._fixed
            self._card = MynaCard(self._fixed)
            self.presented = True


@pytest.fixture(scope="module")
def issuer(sim_home_dir: Path) -> rsa.RSAPublicKey:
    return TestPki.open(sim_home_dir / "pki").card_data_key().public_key()


def run(
    tmp_path: Path,
    card: ThreadedCounterCard,
    staff: FakeStaff,
    *,
    store_photo: bool = False,
    verifier: FakeCardVerifier | None = None,
) -> tuple[CounterOutcome, list[Event], CounterCheckFlow]:
    events: list[Event] = []

    async def scenario() -> tuple[CounterOutcome, CounterCheckFlow]:
        with Journal(tmp_path / "j.db") as journal:
            flow = CounterCheckFlow(
                card=card,
                staff=staff,
                aml_file=JsonLinesAmlFile(tmp_path / "aml" / "checks.jsonl"),
                terminal_id="desk-01",
                staff_id="staff-042",
                journal=journal,
                emit=events.append,
                store_photo=store_photo,
                timeouts=FAST,
                clock=lambda: NOW,
                verifier=verifier,
            )
            try:
                return await flow.run(holder_pin=verifier is not None), flow
            finally:
                await card.aclose()

    outcome, flow = asyncio.run(scenario())
    assert sum(isinstance(e, FlowResult) for e in events) == 1
    assert all(s.wiped for s in staff.handed_out)
    return outcome, events, flow


def records(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "aml" / "checks.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_genuine_card_completes_and_is_recorded(
    tmp_path: Path,
    sim_home_dir: Path,
    issuer: rsa.RSAPublicKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(1)
    staff = FakeStaff([CODE_B])
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    outcome, events, flow = run(tmp_path, card, staff)
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.verdict is FaceVerdict.GENUINE
    (screen,) = staff.screens
    assert (screen.name, screen.birth_date, screen.expiry) == (
        PROFILE.person.name,
        PROFILE.person.birth_date,
        PROFILE.card_expiry,
    )
    with Image.open(io.BytesIO(screen.photo_png)) as photo:
        assert (photo.format, photo.mode) == ("PNG", "L")
    assert staff.asked == [(10, False)]
    assert flow.history[-3:] == [CounterStep.RECORDING, CounterStep.REMOVE_CARD, CounterStep.DONE]
    (record,) = records(tmp_path)
    assert record["verdict"] == "genuine"
    assert record["staff_id"] == "staff-042"
    assert record["photo_compared"] is True
    assert record["photo_png"] is None  # not configured
    assert isinstance(record["items"], list)
    assert "photo" in record["items"]
    text = json.dumps(record, ensure_ascii=False) + caplog.text + repr(events) + repr(outcome)
    for secret in (CODE_B, PROFILE.person.my_number):
        assert secret not in text
    assert PROFILE.person.name not in caplog.text + repr(events) + repr(outcome)


def test_photo_is_stored_only_when_configured(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    run(tmp_path, card, FakeStaff([CODE_B]), store_photo=True)
    (record,) = records(tmp_path)
    assert isinstance(record["photo_png"], str)
    assert record["photo_png"].startswith("iVBOR")  # base64 of the PNG signature


def test_staff_sees_a_different_person(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    outcome, events, _ = run(tmp_path, card, FakeStaff([CODE_B], match=False))
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == CounterReason.PHOTO_MISMATCH
    assert records(tmp_path)[0]["photo_compared"] is False
    assert any(isinstance(e, FlowFailed) and e.code == "photo_mismatch" for e in events)


def test_wrong_code_is_asked_again_with_the_count(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    staff = FakeStaff([WRONG_B, "12", CODE_B])
    outcome, _, _ = run(tmp_path, card, staff)
    assert outcome.outcome is Outcome.COMPLETED
    # A wrong code costs a try; a malformed one ("12") costs none.
    assert staff.asked == [(10, False), (9, False), (9, False)]


def test_lock_out_fails_without_sending_the_code(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    staff = FakeStaff([WRONG_B] * 10)
    outcome, _, _ = run(tmp_path, card, staff)
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason == "pin_blocked"
    assert staff.asked[-1] == (1, True)
    assert len(staff.asked) == 10
    assert not (tmp_path / "aml" / "checks.jsonl").exists()  # nothing was read, nothing recorded


def test_forged_card_is_refused_and_recorded_without_its_data(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    with variant_transport(sim_home_dir, forged=True) as transport:
        outcome, _, _ = run(tmp_path, VariantCounterCard(transport, issuer), FakeStaff([CODE_B]))
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.verdict is FaceVerdict.FORGED
    assert outcome.screen is None
    (record,) = records(tmp_path)
    assert record["verdict"] == "forged"
    assert record["name"] == ""
    assert record["photo_compared"] is None


def test_expired_card_is_shown_recorded_and_refused(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    code = CODE_B[:6] + "2025" + PROFILE.security_code
    with variant_transport(sim_home_dir, expiry=dt.date(2025, 3, 31)) as transport:
        staff = FakeStaff([code])
        outcome, _, _ = run(tmp_path, VariantCounterCard(transport, issuer), staff)
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == CounterReason.CARD_EXPIRED
    assert staff.screens[0].verdict is FaceVerdict.EXPIRED
    assert records(tmp_path)[0]["verdict"] == "expired"


def test_face_differing_from_the_text_ap(
    tmp_path: Path, sim_home_dir: Path, issuer: rsa.RSAPublicKey
) -> None:
    with variant_transport(sim_home_dir, face_sex=Sex.FEMALE) as transport:
        staff = FakeStaff([CODE_B])
        outcome, _, _ = run(tmp_path, VariantCounterCard(transport, issuer), staff)
    assert outcome.outcome is Outcome.REFUSED
    assert outcome.reason == CounterReason.DATA_INCONSISTENT
    assert staff.screens[0].differences == ("sex",)


def test_without_an_issuer_key_the_verdict_is_not_checked(
    tmp_path: Path, sim_home_dir: Path
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=None)
    outcome, _, _ = run(tmp_path, card, FakeStaff([CODE_B]))
    assert outcome.outcome is Outcome.COMPLETED
    assert outcome.verdict is FaceVerdict.NOT_CHECKED


def test_reprs_are_redacted() -> None:
    record = AmlCheckRecord(
        "op", NOW, "desk", "staff", "m", ("name",), FaceVerdict.GENUINE, True, name="山田"
    )
    assert "山田" not in repr(record)
    logging.getLogger(__name__).debug("%r", record)


@pytest.mark.parametrize(
    ("reason", "outcome", "verdict"),
    [
        ("OK", Outcome.COMPLETED, FaceVerdict.GENUINE),
        ("CERTIFICATE_REVOKED", Outcome.REFUSED, FaceVerdict.REVOKED),
    ],
)
def test_holder_pin_checks_the_certificate(
    tmp_path: Path,
    sim_home_dir: Path,
    issuer: rsa.RSAPublicKey,
    reason: str,
    outcome: Outcome,
    verdict: FaceVerdict,
) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=issuer)
    staff = FakeStaff([CODE_B])
    staff.holder_pins = ["0000", PROFILE.auth_pin]  # one wrong try first
    verifier = FakeCardVerifier(reason)
    result, _, flow = run(tmp_path, card, staff, verifier=verifier)
    assert result.outcome is outcome
    assert result.verdict is verdict
    assert len(verifier.proofs) == 1
    assert CounterStep.ENTER_AUTH_PIN in flow.history
    assert staff.screens[0].verdict is verdict  # staff see the revocation too
    assert records(tmp_path)[0]["verdict"] == verdict.value
    if outcome is Outcome.REFUSED:
        assert result.reason == CounterReason.CERTIFICATE_REFUSED


def test_holder_pin_needs_a_verifier(tmp_path: Path, sim_home_dir: Path) -> None:
    card = ThreadedCounterCard(f"sim://default?home={sim_home_dir}&persist=0", issuer_key=None)

    async def scenario() -> None:
        with Journal(tmp_path / "j.db") as journal:
            flow = CounterCheckFlow(
                card=card,
                staff=FakeStaff([]),
                aml_file=JsonLinesAmlFile(tmp_path / "aml.jsonl"),
                terminal_id="desk-01",
                staff_id="s",
                journal=journal,
                emit=lambda event: None,
            )
            with pytest.raises(ValueError, match="verifier"):
                await flow.run(holder_pin=True)
        await card.aclose()

    asyncio.run(scenario())
