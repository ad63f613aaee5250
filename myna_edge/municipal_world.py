# SPDX-License-Identifier: Apache-2.0
"""The reference municipality's resident registry, made from the virtual-card catalogue.

Why here: ``municipal`` never imports the simulator (DESIGN: only
``myna_edge`` composes), so this module reads each catalogue card's
user-authentication certificate (issued and cached by ``hw_sim.card``, so
its serial is stable between runs) and writes the registry file the service
loads (``municipal.registry_file``). The link from a certificate to a
resident is its issuer and serial, as J-LIS links them.

The reference municipality is 千代田区 (131016), the default card's. Its
residents cover every case the issuance flow must show (``WORLD``):

- household h-0001: ``default`` (世帯主, seal registered) with two other
  card holders (同居人), so 世帯全員 lists three people;
- ``rare-kanji``: 本籍地 in 京都市左京区 (261033), so its 戸籍証明書 is not
  issued here;
- ``sign-locked``, ``revoked``, ``expired``, ``minor``: no registered seal
  (the centre refuses the revoked and expired cards before asking us);
- ``foreign-resident``: not registered here (a resident of 横浜市);
- ``android-default``, ``iphone-default``: the default holder's phones,
  records of their own (one certificate link per record).

Holders outside h-0001 get a 千代田区 address of the registry's own: the
catalogue's holders live all over Japan, and the reference world puts them
in one municipality so one service shows every case.

``MUNICIPAL_METHODS`` and ``grpc_fuzz_target`` give the fuzz campaign
(``myna_edge.chaos.fuzz.targets``) one harness per ``MunicipalService``
RPC: this world's service on 127.0.0.1 (plaintext, loopback: the harness
judges the servicer, not TLS), its clock inside service hours.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message import DecodeError, Message

from hw_sim.card import get_profile, open_card
from hw_sim.home import sim_home
from hw_sim.identity import Sex
from municipal.config import MunicipalConfig
from municipal.fees import JST
from municipal.issuing import Municipality
from municipal.registry import CertificateLink, Resident
from municipal.registry_file import encode_registry
from municipal.server import MunicipalServer, build_office
from myna.edge.v1 import municipal_pb2 as pb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.loop_thread import LoopThread

__all__ = [
    "MUNICIPAL_METHODS",
    "REFERENCE_MUNICIPALITY",
    "WORLD",
    "Placement",
    "add_parser",
    "auth_certificate",
    "fuzz_seeds",
    "grpc_fuzz_target",
    "reference_residents",
    "write_registry",
]

REFERENCE_MUNICIPALITY: Final = Municipality(
    code="131016", name="東京都千代田区", mayor="千代田区長　見本　一郎"
)


@dataclass(frozen=True)
class Placement:
    """Where one catalogue card's holder sits in the reference registry."""

    profile: str
    household_id: str
    relationship: str
    seal_registered: bool
    domicile_code: str | None
    #: Catalogue phones of the same holder: their certificates link to this record.
    phones: tuple[str, ...] = ()


#: The registry: one entry per registered card (``foreign-resident`` is absent).
WORLD: Final = (
    # The default holder's smartphones (issue 15) carry their own certificates,
    # which J-LIS links to the same person: one record, three links.
    Placement(
        "default",
        "h-0001",
        "世帯主",
        seal_registered=True,
        domicile_code="131016",
        phones=("android-default", "iphone-default"),
    ),
    Placement("long-address", "h-0001", "同居人", seal_registered=True, domicile_code="131016"),
    Placement("minor", "h-0001", "同居人", seal_registered=False, domicile_code="131016"),
    Placement("rare-kanji", "h-0002", "世帯主", seal_registered=True, domicile_code="261033"),
    Placement("sign-locked", "h-0003", "世帯主", seal_registered=False, domicile_code="131016"),
    Placement("auth-last-try", "h-0004", "世帯主", seal_registered=True, domicile_code="131016"),
    Placement("revoked", "h-0005", "世帯主", seal_registered=False, domicile_code="131016"),
    Placement("expired", "h-0006", "世帯主", seal_registered=False, domicile_code="131016"),
)
#: Profiles whose holder is the default card's (they get its address).
_DEFAULT_HOLDER: Final = frozenset({"default"})
_MOVED_IN: Final = dt.date(2015, 4, 1)
_SEX: Final = {Sex.MALE: "男", Sex.FEMALE: "女"}


def auth_certificate(profile: str, *, home: Path | None = None) -> x509.Certificate:
    """The card's user-authentication certificate (issued on first use, then cached)."""
    open_card(profile, home=home, persist=False).close()  # issues and caches it
    der = (sim_home(home) / "cards" / profile / "auth-cert.der").read_bytes()
    return x509.load_der_x509_certificate(der)


def reference_residents(*, home: Path | None = None) -> list[Resident]:
    """The reference registry's residents, linked to the catalogue cards' certificates."""
    residents: list[Resident] = []
    addresses: dict[str, str] = {}
    for n, place in enumerate(WORLD, start=1):
        person = get_profile(place.profile).person
        certificate = auth_certificate(place.profile, home=home)
        address = addresses.setdefault(
            place.household_id,
            person.address
            if place.profile in _DEFAULT_HOLDER
            else f"東京都千代田区丸の内{n}丁目{n}番{n}号",
        )
        residents.append(
            Resident(
                resident_id=f"r-{n:04d}",
                link=_link(certificate),
                phone_links=tuple(
                    _link(auth_certificate(phone, home=home)) for phone in place.phones
                ),
                name=person.name,
                birth_date=person.birth_date,
                sex=_SEX.get(person.sex, "男"),
                address=address,
                household_id=place.household_id,
                relationship=place.relationship,
                moved_in_on=max(_MOVED_IN, person.birth_date),
                seal_registered=place.seal_registered,
                domicile_code=place.domicile_code,
            )
        )
    return residents


def _link(certificate: x509.Certificate) -> CertificateLink:
    return CertificateLink(certificate.issuer.rfc4514_string(), certificate.serial_number)


def write_registry(out: Path, *, home: Path | None = None) -> Path:
    """Write the reference registry file to ``out`` (0600: it is personal data)."""
    data = encode_registry(REFERENCE_MUNICIPALITY, reference_residents(home=home))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600, exist_ok=True)
    out.write_bytes(data)
    return out


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``myna-edge municipal-registry``."""
    parser = sub.add_parser(
        "municipal-registry",
        help="write the reference municipality's registry from the virtual-card catalogue",
    )
    parser.add_argument("--out", type=Path, required=True, help="registry JSON file to write")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    path = write_registry(args.out)
    print(
        f"wrote {path} ({len(WORLD)} residents of {REFERENCE_MUNICIPALITY.name})", file=sys.stderr
    )
    return 0


# --- the fuzz campaign's MunicipalService targets ---------------------------------

#: The RPCs of ``MunicipalService`` (one fuzz target each).
MUNICIPAL_METHODS: Final = tuple(pb.DESCRIPTOR.services_by_name["MunicipalService"].methods)
#: What a decodable hostile request may be answered besides OK.
_REFUSALS: Final = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
_NOON: Final = dt.datetime(2026, 12, 7, 12, 0, tzinfo=JST)


class _FuzzService:
    """The reference service on 127.0.0.1, owned by the campaign's exit stack."""

    def __init__(self, stack: ExitStack, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=workdir)))
        key = ec.generate_private_key(ec.SECP256R1())
        (folder / "signing.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        config = MunicipalConfig(
            registry=write_registry(folder / "registry.json"),
            signing_key=folder / "signing.key.pem",
            listen="127.0.0.1:0",
            database=f"sqlite:///{folder / 'ledger.sqlite'}",
            insecure_dev=True,
        )
        thread = LoopThread()
        stack.callback(thread.close)
        self.server = MunicipalServer(config, build_office(config, clock=lambda: _NOON))
        port = thread.run(self.server.start())
        stack.callback(lambda: thread.run(self.server.stop(0.5)))
        self.channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{port}"))


_SERVICES: dict[int, _FuzzService] = {}


def _service(stack: ExitStack, workdir: Path) -> _FuzzService:
    key = id(stack)
    if key not in _SERVICES:
        _SERVICES[key] = _FuzzService(stack, workdir)
        stack.callback(_SERVICES.pop, key, None)
    return _SERVICES[key]


def grpc_fuzz_target(method: str) -> Callable[[ExitStack, Path], Callable[[bytes], None]]:
    """The harness builder for ``MunicipalService.<method>`` (raw request bytes in).

    Invariants: undecodable bytes are INVALID_ARGUMENT; a decodable request is
    answered OK or a documented refusal; a refusal issues no document.
    """
    descriptor = pb.DESCRIPTOR.services_by_name["MunicipalService"].methods_by_name[method]
    cls: type[Message] = getattr(pb, descriptor.input_type.name)

    def build(stack: ExitStack, workdir: Path) -> Callable[[bytes], None]:
        service = _service(stack, workdir)
        call: Any = service.channel.unary_unary(f"/myna.edge.v1.MunicipalService/{method}")
        ledger = service.server.office.ledger

        def harness(data: bytes) -> None:
            try:
                cls.FromString(data)
                decodable = True
            except DecodeError:
                decodable = False
            before = ledger.count()
            try:
                call(data, timeout=20)
            except grpc.RpcError as exc:
                code = exc.code()
                allowed = _REFUSALS if decodable else {grpc.StatusCode.INVALID_ARGUMENT}
                if code not in allowed:
                    raise ChaosInvariantError(f"{method}: answered {code.name}") from None
                if ledger.count() != before:
                    raise ChaosInvariantError(f"{method}: a {code.name} refusal issued") from None
            if ledger.count() > before + 1:
                raise ChaosInvariantError(f"{method}: one request issued several documents")

        return harness

    return build


def fuzz_seeds(*, home: Path | None = None) -> dict[str, list[bytes]]:
    """Seeds of the municipal targets: requests with a real card certificate, the files."""
    der = auth_certificate("default", home=home).public_bytes(serialization.Encoding.DER)
    credential = pb.ResidentCredential(authentication_certificate=der)
    issue = pb.IssueDocumentRequest(
        idempotency_key="seed-1",
        credential=credential,
        kind=pb.DOCUMENT_KIND_RESIDENT_RECORD,
        options=pb.DocumentOptions(copies=1, household_scope=pb.HOUSEHOLD_SCOPE_SELF),
        fee_yen=200,
        centre_request_id="req-1",
        terminal_id="mfp-0001",
    )
    requests: dict[str, list[Message]] = {
        "ListResidentDocuments": [pb.ListResidentDocumentsRequest(credential=credential)],
        "IssueDocument": [issue],
        "RecordDocumentPrinted": [
            pb.RecordDocumentPrintedRequest(
                idempotency_key="p-1", serial="131016-2026-000001", document_sha256=bytes(32)
            )
        ],
        "VoidDocument": [
            pb.VoidDocumentRequest(
                idempotency_key="v-1", serial="131016-2026-000001", failure=pb.PRINT_FAILURE_JAM
            )
        ],
        "ListSigningKeys": [pb.ListSigningKeysRequest()],
    }
    out = {f"municipal_{m}": [r.SerializeToString() for r in rs] for m, rs in requests.items()}
    out["municipal_ListSigningKeys"].append(b"\x0a\x00")
    out["municipal_registry"] = [
        encode_registry(REFERENCE_MUNICIPALITY, reference_residents(home=home)[:3])
    ]
    out["municipal_config_toml"] = [_SEED_TOML]
    return out


_SEED_TOML: Final = b"""listen = "127.0.0.1:50061"
database = "sqlite:///municipal.sqlite"
registry = "registry.json"
signing_key = "document-signing.key.pem"
max_copies = 10
[tls]
server_cert = "cert.pem"
server_key = "key.pem"
centre_ca = "ca.pem"
[fees]
resident_record = 200
seal_registration = 200
family_register = 450
"""
