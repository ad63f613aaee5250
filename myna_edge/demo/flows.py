# SPDX-License-Identifier: Apache-2.0
"""The kiosk stories of ``myna-edge demo``: card reading and PIN reset.

Why these two here: both run on the kiosk profile, where the touchscreen
may take the 4-digit PINs, and both end at the verifier (VerifyCard, and
RedeemReset/ConfirmReset). The reset needs a booking first; the demo plays
the holder's smartphone app (the card proves itself with the other key,
the face-authentication provider signs the match) so the kiosk has a
reservation to redeem. ``print_card_check`` is the detailed read with the
issuer's signed integrity record, as ``myna-edge read`` shows it.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from host.card import KeyKind, MynaCard, PinKind, summarize_certificate
from host.cli import card_report, load_issuer_key, print_card_report
from host.client import ResetOperation, VerifierClient
from host.flows import CardReadingFlow, PinResetFlow, PromptKind, ReadRequest
from host.journal import ElectronicJournal, Journal
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import SimTransport, sim_trust_dir
from hw_sim.card import get_profile
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.demo.world import CountingCard, DemoRun, StoryUser, tell
from myna_edge.phone import profile_secret, reserve_request

__all__ = [
    "NEW_PASSWORD",
    "PHONE_ID",
    "book_reset",
    "print_card_check",
    "read_story",
    "reset_story",
]

_log = logging.getLogger(__name__)

KIOSK_ID = "kiosk-01"
PHONE_ID = "phone-app"
#: The new signing password the demo's holder chooses at the kiosk.
NEW_PASSWORD = "DEMO2026"  # noqa: S105 - the demo's test value, printed nowhere


def print_card_check(card: str) -> int:
    """Read ``card`` with its test PINs, check the issuer's signed record; APDUs sent."""
    url = f"sim://{card}?persist=0"
    profile = get_profile(card)
    issuer_key = load_issuer_key(sim_trust_dir(f"sim://{card}"))
    print(f"  card check: reading {card!r} ({profile.description}) as `myna-edge read` does")
    with open_transport(url) as transport:
        assert isinstance(transport, SimTransport)
        mcard = MynaCard(transport)
        for kind in PinKind:
            print(f"    {kind.description}: {mcard.tries_left(kind)} tries left")
        with Secret.from_text(profile.text_pin) as pin:
            info = mcard.read_card_info(pin, include_my_number=True, issuer_key=issuer_key)
        certs = [summarize_certificate(mcard.read_certificate(KeyKind.AUTH), KeyKind.AUTH)]
        with Secret.from_text(profile.sign_password) as password:
            sign_cert = mcard.read_certificate(KeyKind.SIGN, password=password)
        certs.append(summarize_certificate(sign_cert, KeyKind.SIGN))
        count = len(transport.virtual_card.apdu_log)
    print()
    print_card_report(card_report(info, certs, show_my_number=False))
    print()
    print(f"{count} APDUs exchanged with the virtual card.")
    return count


async def read_story(run: DemoRun) -> str:
    """Kiosk: read the basic four and have the verifier check the card."""
    profile = get_profile(run.card)
    user = StoryUser(
        {PromptKind.CARD_INFO_PIN: [profile.text_pin], PromptKind.AUTH_PIN: [profile.auth_pin]}
    )
    card = CountingCard(f"sim://{run.card}?persist=0")
    try:
        async with VerifierClient(run.client(KIOSK_ID)) as client:
            with Journal(run.root / "kiosk-journal.sqlite") as journal:
                flow = CardReadingFlow(
                    card=card, user=user, journal=journal, emit=tell, verifier=client,
                    ejournal=ElectronicJournal(run.out / "kiosk-electronic-journal.txt", KIOSK_ID),
                )  # fmt: skip
                outcome = await flow.run(ReadRequest(read_basic_four=True, verify_card=True))
    finally:
        await card.aclose()
    if outcome.basic_four is not None:
        print(f"  [screen] name: {outcome.basic_four.name}")
    verdict = outcome.verdict
    if verdict is not None:
        decision = "accepted" if verdict.accepted else f"refused {verdict.reason}"
        print(
            f"  [verifier] VerifyCard: {decision} (revocation: {verdict.revocation_source.value})"
        )
    print(f"  {card.commands} card commands")
    print()
    print_card_check(run.card)
    accepted = verdict is not None and verdict.accepted
    return f"reading: {outcome.outcome.value}; card accepted by the verifier: {accepted}"


async def book_reset(run: DemoRun) -> pb.ReserveResetResponse:
    """Book a new signing password from the phone, with the provider's face match."""
    issued = run.verifier.client(run.port, PHONE_ID)
    assert issued.ca_pem is not None
    assert issued.key_pem is not None
    assert issued.certificate_pem is not None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=issued.ca_pem,
        private_key=issued.key_pem,
        certificate_chain=issued.certificate_pem,
    )
    options = (("grpc.ssl_target_name_override", "localhost"),)
    async with grpc.aio.secure_channel(issued.target, credentials, options=options) as channel:
        stub = pb_grpc.VerifierServiceStub(channel)
        session = await stub.OpenSession(
            pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key="demo-booking"
            ),
            timeout=10,
        )
        request = await asyncio.to_thread(
            reserve_request,
            session=session, operation=pb.RESET_OPERATION_SIGNING_PASSWORD,
            card_url=f"sim://{run.card}?persist=0",
            secret=profile_secret(run.card, KeyKind.AUTH), phone_id=PHONE_ID,
            face_key=run.verifier.face_key, idempotency_key="demo-reserve",
        )  # fmt: skip
        answer: pb.ReserveResetResponse = await stub.ReserveReset(request, timeout=10)
    return answer


async def reset_story(run: DemoRun) -> str:
    """Book on the phone, then set a new signing password at the kiosk with the PIN."""
    print("  [phone]  the holder books a new signing password (card + face match)")
    booking = await book_reset(run)
    verdict = pb.Verdict.Name(booking.verdict).removeprefix("VERDICT_").lower()
    ok = booking.reason in (pb.REASON_UNSPECIFIED, pb.REASON_OK)
    reason = "" if ok else f" {pb.Reason.Name(booking.reason).removeprefix('REASON_')}"
    print(f"  [verifier] ReserveReset: {verdict}{reason}")
    profile = get_profile(run.card)
    user = StoryUser(
        {PromptKind.AUTH_PIN: [profile.auth_pin], PromptKind.NEW_SECRET: [NEW_PASSWORD] * 2}
    )
    card = CountingCard(f"sim://{run.card}?persist=0")
    try:
        async with VerifierClient(run.client(KIOSK_ID)) as client:
            with Journal(run.root / "kiosk-journal.sqlite") as journal:
                flow = PinResetFlow(
                    verifier=client, card=card, user=user, journal=journal, emit=tell,
                    ejournal=ElectronicJournal(run.out / "kiosk-electronic-journal.txt", KIOSK_ID),
                )  # fmt: skip
                outcome = await flow.run(ResetOperation.SIGNING_PASSWORD)
    finally:
        await card.aclose()
    print(f"  {card.commands} card commands")
    return (
        f"reset: {outcome.outcome.value}; confirmed to the verifier: {outcome.confirmed}"
        f"{'; ' + outcome.reason if outcome.reason else ''}"
    )
