# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow issue``: a certificate at the convenience-store MFP (コンビニ交付).

The whole chain runs in this process: the reference municipality
(``municipal/``, the registry made from the virtual-card catalogue, 千代田区
131016) on loopback, the centre (the demo's verifier with ``[issuance]``
routing 131016 to it), and the MFP's ``IssueFlow`` through
``IssuanceClient`` over the verifier's mTLS. The MFP's devices are the real
parts of the tests above unit level (``IssueDevices``): the ccTalk bus
emulator on a pty (``SimCcTalkBus``) driven by ``CcTalkPayment``, the
resident feeding a 1,000-yen bill once the acceptor is enabled, and the
print engine (``PrintEngine``: a private cupsd with an IPP Everywhere queue
and ``ippeveprinter``) reached by ``CupsDocumentPrinter``. The document
written to the output folder (PDF, and a PNG of each page) is the one
``ippeveprinter`` RECEIVED, checked byte for byte against the
municipality's ledger copy first (``DemoCheckError`` otherwise). What the
demo stands in for: the municipality serves on 127.0.0.1 with mTLS from a
CA made for the run (the centre's client certificate from the same CA).
Service hours are 6:30-23:00 JST: outside them the municipality and
the centre read a clock set to noon JST of the next service day (said on
screen), while certificates are checked against the real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import importlib.util
import ipaddress
import sqlite3
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host.client.issuance import IssuanceClient
from host.client.issuance_models import DocumentKind, DocumentOptions, HouseholdScope
from host.flows import Event, Prompt, PromptKind
from host.flows.issue import IssueFlow
from host.flows.issue_request import FixedChoice, IssueChoice
from host.journal import ElectronicJournal, Journal
from host.peripherals.payment import CcTalkPayment
from host.printing import CupsDocumentPrinter
from hw_sim.card import get_profile
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.devices.errors import DeviceTimeoutError
from hw_sim.printing import PrintEngine, engine_tools
from municipal.config import MunicipalConfig, TlsFiles
from municipal.document.reader import read_document
from municipal.server import MunicipalServer, build_office
from myna_edge.demo.world import CountingCard, DemoRun, StoryUser, screen, tell
from myna_edge.municipal_world import REFERENCE_MUNICIPALITY, write_registry
from verifier.config import VerifierConfig
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import JST, in_service_hours

__all__ = [
    "MFP_ID",
    "RESIDENT_BILL_YEN",
    "DemoCheckError",
    "DemoMunicipality",
    "DemoPrerequisiteError",
    "IssueDevices",
    "choice_for",
    "issue_story",
]

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
    root: Path
    config: MunicipalConfig
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
        config = replace(config, listen=f"127.0.0.1:{port}")  # a restart keeps the port
        route = MunicipalityRoute(
            code=REFERENCE_MUNICIPALITY.code,
            address=f"127.0.0.1:{port}",
            name=REFERENCE_MUNICIPALITY.name,
            ca=root / "ca.pem",
            client_cert=root / "centre.pem",
            client_key=root / "centre.key",
        )
        return cls(server, route, root, config, shifted)

    def centre_config(self, config: VerifierConfig) -> VerifierConfig:
        """``config`` with the centre role routing to this municipality."""
        offset, _ = _service_clock()
        issuance = IssuanceConfig(municipalities=(self.route,), hours_clock=lambda: _now() + offset)
        return replace(config, issuance=issuance)

    async def stop(self, grace: float = 0.5) -> None:
        """Stop serving (``grace`` 0: in-flight calls are cut, as when the process dies)."""
        await self.server.stop(grace)

    async def restart(self) -> None:
        """Serve again on the same port and ledger, with a fresh office (a new process's state)."""
        offset, _ = _service_clock()
        office = build_office(self.config, clock=lambda: _now() + offset)
        self.server = MunicipalServer(self.config, office)
        await self.server.start()

    def authorised_pdf(self, serial: str) -> bytes:
        """The document ``serial`` as the municipality issued it (its ledger's copy).

        Raises:
            DemoCheckError: the ledger has no document ``serial``.
        """
        ledger = self.root / "ledger.sqlite"
        with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT pdf FROM documents WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            raise DemoCheckError(f"the municipality issued no document {serial}")
        return bytes(row[0])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DemoPrerequisiteError(RuntimeError):
    """The MFP's real parts cannot run here (CUPS programs or pycups missing)."""


class DemoCheckError(RuntimeError):
    """The printer received something other than the document the centre authorised."""


#: What the demo's resident feeds the cash slot: one 1,000-yen bill (it sits in
#: the bill validator's escrow until the fee is kept, and the hoppers pay the change).
RESIDENT_BILL_YEN: Final = 1000


@dataclass
class IssueDevices:
    """The MFP's real parts for the demo: the ccTalk bus on a pty and the print engine.

    Both are started by ``open`` (on the caller's ``ExitStack``, so they stop
    by PID when the run ends): ``SimCcTalkBus`` (coin acceptor, bill
    validator with escrow, four hoppers) that ``CcTalkPayment`` drives over
    the pty, and ``PrintEngine`` (a private cupsd, an IPP Everywhere queue,
    ``ippeveprinter`` keeping every document it receives) that
    ``CupsDocumentPrinter`` prints to.
    """

    bus: SimCcTalkBus
    engine: PrintEngine

    @classmethod
    def open(cls, stack: ExitStack) -> IssueDevices:
        """Start both on ``stack``.

        Raises:
            DemoPrerequisiteError: a CUPS program or pycups is missing.
            PrintEngineError: the print engine did not start.
        """
        missing = [tool for tool, path in engine_tools().items() if path is None]
        if importlib.util.find_spec("cups") is None:
            missing.append("pycups (pip install 'myna-edge[printing]')")
        if missing:
            raise DemoPrerequisiteError(
                "the MFP's print engine needs "
                + ", ".join(missing)
                + " (as root: make debs-demo, then make demo)"
            )
        engine = stack.enter_context(PrintEngine())
        bus = stack.enter_context(SimCcTalkBus())
        return cls(bus, engine)


async def _resident_pays(bus: SimCcTalkBus) -> None:
    """The resident at the cash slot: once the acceptor is enabled, feed the bill.

    Polls in short waits so that cancelling (the flow ended before payment)
    leaves no thread waiting long.
    """
    while True:
        try:
            await asyncio.to_thread(bus.wait_until, bus.accepting, 0.2)
        except DeviceTimeoutError:
            continue
        break
    if bus.insert_bill(RESIDENT_BILL_YEN):
        print(f"  [coins]  a JPY {RESIDENT_BILL_YEN:,} bill inserted: held in the escrow")
    else:
        print(f"  [coins]  the JPY {RESIDENT_BILL_YEN:,} bill was refused")


def _tell_cash(bus: SimCcTalkBus) -> None:
    """What the devices did with the money (read from the emulator, not the flow)."""
    bills = bus.bills
    if bills is not None and bills.stacked:
        print(f"  [coins]  the JPY {sum(bills.stacked):,} bill stacked in the cash box")
    if bills is not None and bills.returned:
        print(f"  [coins]  bill handed back: JPY {sum(bills.returned):,}")
    paid = sorted(bus.paid_out(), reverse=True)
    if paid:
        coins = " + ".join(f"{yen}" for yen in paid)
        print(f"  [coins]  the hoppers paid JPY {sum(paid):,} ({coins})")


def _keep_document(
    devices: IssueDevices, municipality: DemoMunicipality, serial: str, out: Path
) -> list[Path]:
    """Write what the print engine received, after checking it is the authorised document.

    Raises:
        DemoCheckError: the printer received nothing, twice, or other bytes.
    """
    jobs = [doc for doc in devices.engine.received() if doc.name == serial]
    if len(jobs) != 1:
        raise DemoCheckError(f"the printer received {len(jobs)} jobs for {serial}")
    authorised = municipality.authorised_pdf(serial)
    if jobs[0].data != authorised:
        raise DemoCheckError(f"the printer received other bytes than document {serial}")
    path = out / f"certificate-{serial}.pdf"
    path.write_bytes(jobs[0].data)
    files = [path]
    for number, page in enumerate(read_document(jobs[0].data, dpi=100).pages, 1):
        png = out / f"certificate-{serial}-page{number}.png"
        page.save(png)
        files.append(png)
    digest = hashlib.sha256(jobs[0].data).hexdigest()[:16]
    print(
        f"  [print]  ippeveprinter received job {jobs[0].job_id}: {len(jobs[0].data):,} bytes,"
        f" byte for byte the authorised document (sha256 {digest}…)"
    )
    return files


def _emit(event: Event) -> None:
    # The MFP's display-only prompts are part of the story too.
    if isinstance(event, Prompt) and event.kind in (
        PromptKind.INSERT_PAYMENT,
        PromptKind.TAKE_DOCUMENT,
    ):
        screen(event)
    else:
        tell(event)


def choice_for(kind: DocumentKind) -> IssueChoice:
    """The resident's choice of ``kind`` at the reference municipality (本人のみ, one copy)."""
    scope = HouseholdScope.SELF if kind is DocumentKind.RESIDENT_RECORD else None
    options = DocumentOptions(household_scope=scope or HouseholdScope.UNSPECIFIED)
    return IssueChoice(REFERENCE_MUNICIPALITY.code, kind, options)


async def issue_story(
    run: DemoRun,
    *,
    devices: IssueDevices,
    municipality: DemoMunicipality,
    document: DocumentKind = DocumentKind.RESIDENT_RECORD,
) -> str:
    """MFP: prove the card, choose ``document``, pay with a bill, print through CUPS, keep the fee.

    Raises:
        DemoCheckError: the printer received other bytes than the authorised document.
    """
    profile = get_profile(run.card)
    user = StoryUser({PromptKind.AUTH_PIN: [profile.auth_pin]})
    card = CountingCard(f"sim://{run.card}?persist=0")
    payment = CcTalkPayment(devices.bus.url, poll_interval=0.02)
    resident = asyncio.create_task(_resident_pays(devices.bus))
    print(f"  [user]   chooses {REFERENCE_MUNICIPALITY.name}: {_TITLES[document]}, one copy")
    try:
        async with (
            IssuanceClient(run.client(MFP_ID)) as centre,
            CupsDocumentPrinter(devices.engine.queue_url) as printer,
        ):
            with Journal(run.root / "mfp-journal.sqlite") as journal:
                flow = IssueFlow(
                    centre=centre,
                    card=card,
                    user=user,
                    payment=payment,
                    printer=printer,
                    journal=journal,
                    emit=_emit,
                    ejournal=ElectronicJournal(run.out / "mfp-electronic-journal.txt", MFP_ID),
                    payment_timeout=30.0,
                    print_timeout=60.0,
                )
                outcome = await flow.run(FixedChoice(choice_for(document)))
    finally:
        resident.cancel()
        await asyncio.gather(resident, return_exceptions=True)
        await payment.aclose()
        await card.aclose()
    _tell_cash(devices.bus)
    if outcome.printed:
        files = _keep_document(devices, municipality, outcome.serial, run.out)
        print(f"  the document in {run.out}: " + ", ".join(p.name for p in files))
    return (
        f"issue: {outcome.outcome.value} serial={outcome.serial or '-'}"
        f" fee=JPY {outcome.fee_yen:,} charged={outcome.charged}"
        f" ({card.commands} APDUs) {outcome.reason}".rstrip()
    )


_TITLES: Final = {
    DocumentKind.RESIDENT_RECORD: "住民票の写し (本人のみ)",
    DocumentKind.SEAL_REGISTRATION: "印鑑登録証明書",
    DocumentKind.TAX: "課税・非課税証明書",
    DocumentKind.FAMILY_REGISTER: "戸籍証明書",
}
