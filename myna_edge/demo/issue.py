# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow issue``: a certificate at the convenience-store MFP (コンビニ交付).

The whole chain runs in this process: the reference municipality
(``municipal/``, the registry made from the virtual-card catalogue, 千代田区
131016) on loopback, the centre (the demo's verifier with ``[issuance]``
routing 131016 to it), and the MFP's ``IssueFlow`` through
``IssuanceClient`` over the verifier's mTLS. What the demo stands in for:
the municipality serves on 127.0.0.1 with mTLS from a CA made for the run
(the centre's client certificate from the same CA); the coin acceptor and the
print engine are ``DemoCashBox`` and ``DemoPrintEngine`` below (the ccTalk
device and CUPS have their own backends and suites), the engine writing
the document the centre authorised to the output folder, with a PNG of each
page. Service hours are 6:30-23:00 JST: outside them the municipality and
the centre read a clock set to noon JST of the next service day (said on
screen), while certificates are checked against the real time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host.client.issuance import IssuanceClient
from host.client.issuance_models import DocumentKind, DocumentOptions, HouseholdScope
from host.flows import Event, Prompt, PromptKind
from host.flows.issuance_ports import Escrow, PrintJob, PrintOutcome
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueChoice
from host.journal import ElectronicJournal, Journal
from hw_sim.card import get_profile
from municipal.config import MunicipalConfig, TlsFiles
from municipal.document.reader import read_document
from municipal.server import MunicipalServer, build_office
from myna_edge.demo.world import CountingCard, DemoRun, StoryUser, screen, tell
from myna_edge.municipal_world import REFERENCE_MUNICIPALITY, write_registry
from verifier.config import VerifierConfig
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import JST, in_service_hours

__all__ = ["MFP_ID", "DemoCashBox", "DemoMunicipality", "DemoPrintEngine", "issue_story"]

MFP_ID = "mfp-01"


def _service_clock() -> tuple[dt.timedelta, str]:
    """The offset to noon JST of the next service day when now is outside the hours."""
    now = dt.datetime.now(dt.UTC)
    if in_service_hours(now.astimezone(JST)):
        return dt.timedelta(), ""
    local = now.astimezone(JST).replace(hour=12, minute=0, second=0, microsecond=0)
    while local <= now.astimezone(JST) or not in_service_hours(local):
        local += dt.timedelta(days=1)
    return local - now, f"{local:%Y-%m-%d %H:%M} JST"


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
) -> bytes:
    """A one-day certificate: the run's CA (``ca`` None) or one it issues for 127.0.0.1."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is not None:
        loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), loopback]), critical=False
        )
    return builder.sign(ca[1] if ca else key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM
    )


def _tls_files(root: Path) -> None:
    """The run's CA, the municipality's server pair and the centre's client pair."""
    ca_key, server_key, centre_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_pem = _certificate("myna-edge demo municipal CA", ca_key, None)
    ca = (x509.load_pem_x509_certificate(ca_pem), ca_key)
    files = {
        "ca.pem": ca_pem,
        "server.pem": _certificate("municipal", server_key, ca),
        "server.key": _key_pem(server_key),
        "centre.pem": _certificate("centre", centre_key, ca),
        "centre.key": _key_pem(centre_key),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)


@dataclass
class DemoMunicipality:
    """The reference municipality on loopback, and the centre's route to it."""

    server: MunicipalServer
    route: MunicipalityRoute
    shifted_to: str = ""

    @classmethod
    async def start(cls, root: Path) -> DemoMunicipality:
        """Write its registry and signing key under ``root`` and serve on a free port."""
        root.mkdir(parents=True, exist_ok=True)
        (root / "signing.key.pem").write_bytes(_key_pem(ec.generate_private_key(ec.SECP256R1())))
        _tls_files(root)
        config = MunicipalConfig(
            registry=write_registry(root / "registry.json"),
            signing_key=root / "signing.key.pem",
            listen="127.0.0.1:0",
            database=f"sqlite:///{root / 'ledger.sqlite'}",
            tls=TlsFiles(root / "server.pem", root / "server.key", root / "ca.pem"),
        )
        offset, shifted = _service_clock()
        server = MunicipalServer(config, build_office(config, clock=lambda: _now() + offset))
        port = await server.start()
        route = MunicipalityRoute(
            code=REFERENCE_MUNICIPALITY.code,
            address=f"127.0.0.1:{port}",
            name=REFERENCE_MUNICIPALITY.name,
            ca=root / "ca.pem",
            client_cert=root / "centre.pem",
            client_key=root / "centre.key",
        )
        return cls(server, route, shifted)

    def centre_config(self, config: VerifierConfig) -> VerifierConfig:
        """``config`` with the centre role routing to this municipality."""
        offset, _ = _service_clock()
        issuance = IssuanceConfig(municipalities=(self.route,), hours_clock=lambda: _now() + offset)
        return replace(config, issuance=issuance)

    async def stop(self) -> None:
        """Stop serving."""
        await self.server.stop(0.5)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class DemoCashBox:
    """The coin acceptor's stand-in: the resident inserts ``coins`` yen; change is counted."""

    coins: int = 500
    kept: int = 0
    returned: int = 0
    held: dict[str, int] = field(default_factory=dict)

    async def collect(self, *, payment_id: str, fee_yen: int, timeout: float) -> Escrow:
        inserted = max(self.coins, fee_yen)
        self.held[payment_id] = inserted
        print(f"  [coins]  JPY {inserted:,} inserted, held in escrow")
        return Escrow(payment_id, fee_yen, inserted)

    async def take(self, escrow: Escrow) -> int:
        held = self.held.pop(escrow.payment_id, escrow.inserted_yen)
        self.kept += escrow.fee_yen
        change = held - escrow.fee_yen
        print(f"  [coins]  fee JPY {escrow.fee_yen:,} kept, change JPY {change:,} paid out")
        return change

    async def refund(self, escrow: Escrow) -> int:
        held = self.held.pop(escrow.payment_id, 0)
        self.returned += held
        print(f"  [coins]  JPY {held:,} given back")
        return held


@dataclass
class DemoPrintEngine:
    """The MFP's print engine's stand-in: writes the PDF and a PNG of each page to ``out``."""

    out: Path
    outcome: PrintOutcome = PrintOutcome.COMPLETED
    files: list[Path] = field(default_factory=list)

    async def print_document(self, pdf: bytes, *, title: str, timeout: float) -> PrintJob:
        if self.outcome is PrintOutcome.COMPLETED:
            path = self.out / f"certificate-{title}.pdf"
            path.write_bytes(pdf)
            self.files.append(path)
            for number, page in enumerate(read_document(pdf, dpi=100).pages, 1):
                png = self.out / f"certificate-{title}-page{number}.png"
                page.save(png)
                self.files.append(png)
            print(f"  [print]  {title}: {len(pdf):,}-byte PDF printed ({path.name})")
        return PrintJob("1", self.outcome, hashlib.sha256(pdf).digest())


def _emit(event: Event) -> None:
    # The MFP's display-only prompts are part of the story too.
    if isinstance(event, Prompt) and event.kind in (
        PromptKind.INSERT_PAYMENT,
        PromptKind.TAKE_DOCUMENT,
    ):
        screen(event)
    else:
        tell(event)


async def issue_story(run: DemoRun) -> str:
    """MFP: prove the card, choose 住民票の写し (本人のみ), pay, print, keep the fee."""
    profile = get_profile(run.card)
    user = StoryUser({PromptKind.AUTH_PIN: [profile.auth_pin]})
    card = CountingCard(f"sim://{run.card}?persist=0")
    cash, engine = DemoCashBox(), DemoPrintEngine(run.out)
    choice = IssueChoice(
        REFERENCE_MUNICIPALITY.code,
        DocumentKind.RESIDENT_RECORD,
        DocumentOptions(household_scope=HouseholdScope.SELF),
    )
    print(f"  [user]   chooses {REFERENCE_MUNICIPALITY.name}: 住民票の写し (本人のみ), one copy")
    try:
        async with IssuanceClient(run.client(MFP_ID)) as centre:
            with Journal(run.root / "mfp-journal.sqlite") as journal:
                flow = IssueFlow(
                    centre=centre,
                    card=card,
                    user=user,
                    payment=cash,
                    printer=engine,
                    journal=journal,
                    emit=_emit,
                    ejournal=ElectronicJournal(run.out / "mfp-electronic-journal.txt", MFP_ID),
                )
                outcome = await flow.run(FixedChoice(choice))
    finally:
        await card.aclose()
    if outcome.printed:
        print(f"  the document in {run.out}: " + ", ".join(p.name for p in engine.files))
    return (
        f"issue: {outcome.outcome.value} serial={outcome.serial or '-'}"
        f" fee=JPY {outcome.fee_yen:,} charged={outcome.charged}"
        f" ({card.commands} APDUs) {outcome.reason}".rstrip()
    )
