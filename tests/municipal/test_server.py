# SPDX-License-Identifier: Apache-2.0
"""The municipality service over real gRPC (mTLS on 127.0.0.1), on its SQLite ledger.

Why through the socket and the real registry: the centre meets the service
only here, and the residents are the virtual-card catalogue's holders,
linked by their cards' certificates (``myna_edge.municipal_world``). Each
document's holder is read back from its signed code, as a checker of the
paper would, never from what the request said.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from municipal.config import MunicipalConfig, check_insecure_listen, load_config
from municipal.document import TrustStore, read_document, verify_input
from municipal.errors import MunicipalConfigError
from municipal.fees import JST
from municipal.server import MunicipalServer, build_office
from myna.edge.v1 import municipal_pb2 as pb
from myna.edge.v1 import municipal_pb2_grpc as pb_grpc
from myna_edge.cli import main
from myna_edge.loop_thread import LoopThread
from myna_edge.municipal_world import auth_certificate, write_registry

NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=JST)
RESIDENT_RECORD = pb.DOCUMENT_KIND_RESIDENT_RECORD


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(ca[1] if ca else key, hashes.SHA256())


@dataclasses.dataclass
class World:
    folder: Path
    config: MunicipalConfig
    clock: list[dt.datetime]
    thread: LoopThread
    client_credentials: grpc.ChannelCredentials
    ca_pem: bytes
    server: MunicipalServer | None = None

    def start(self) -> MunicipalServer:
        office = build_office(self.config, clock=lambda: self.clock[0])
        self.server = MunicipalServer(self.config, office)
        self.thread.run(self.server.start())
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.thread.run(self.server.stop(0.5))
            self.server = None

    def channel(self, credentials: grpc.ChannelCredentials | None = None) -> grpc.Channel:
        assert self.server is not None
        return grpc.secure_channel(
            f"127.0.0.1:{self.server.port}", credentials or self.client_credentials
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("municipal")
    write_registry(folder / "registry.json")
    ca_key, server_key, client_key, signing = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(4)
    )
    ca = _cert("centre CA", ca_key, None)
    (folder / "centre-ca.pem").write_bytes(_pem(ca))
    (folder / "server.pem").write_bytes(_pem(_cert("municipal", server_key, (ca, ca_key))))
    (folder / "server.key").write_bytes(_key_pem(server_key))
    (folder / "signing.key.pem").write_bytes(_key_pem(signing))
    # The deploy example's shape, with 課税証明書 not offered here.
    (folder / "municipal.toml").write_text(
        'listen = "127.0.0.1:0"\ndatabase = "sqlite:///ledger.sqlite"\n'
        'registry = "registry.json"\nsigning_key = "signing.key.pem"\n'
        '[tls]\nserver_cert = "server.pem"\nserver_key = "server.key"\n'
        'centre_ca = "centre-ca.pem"\n'
        "[fees]\nresident_record = 200\nseal_registration = 300\nfamily_register = 450\n",
        encoding="utf-8",
    )
    client = _cert("centre", client_key, (ca, ca_key))
    credentials = grpc.ssl_channel_credentials(_pem(ca), _key_pem(client_key), _pem(client))
    thread = LoopThread()
    w = World(folder, load_config(folder / "municipal.toml"), [NOON], thread, credentials, _pem(ca))
    w.start()
    try:
        yield w
    finally:
        w.stop()
        thread.close()


@pytest.fixture
def stub(world: World) -> Iterator[pb_grpc.MunicipalServiceStub]:
    world.clock[0] = NOON
    with world.channel() as channel:
        yield pb_grpc.MunicipalServiceStub(channel)


def _credential(profile: str) -> pb.ResidentCredential:
    der = auth_certificate(profile).public_bytes(serialization.Encoding.DER)
    return pb.ResidentCredential(authentication_certificate=der)


def _issue(profile: str, key: str, **changes: object) -> pb.IssueDocumentRequest:
    fields: dict[str, object] = {
        "idempotency_key": key,
        "credential": _credential(profile),
        "kind": RESIDENT_RECORD,
        "options": pb.DocumentOptions(copies=1),
        "fee_yen": 200,
        "centre_request_id": key,
        "terminal_id": "mfp-0001",
    }
    fields.update(changes)
    return pb.IssueDocumentRequest(**fields)  # type: ignore[arg-type]


def _trust(stub: pb_grpc.MunicipalServiceStub) -> TrustStore:
    keys = stub.ListSigningKeys(pb.ListSigningKeysRequest())
    public = serialization.load_pem_public_key(keys.keys[0].public_key_pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return TrustStore({keys.municipality_code: public})


def _holder(stub: pb_grpc.MunicipalServiceStub, pdf: bytes) -> list[str]:
    content = verify_input(read_document(pdf, dpi=150), _trust(stub)).content
    return [value for label, value in content.fields if label == "氏名"]


def test_offers_with_fees_follow_the_record(stub: pb_grpc.MunicipalServiceStub) -> None:
    listed = stub.ListResidentDocuments(
        pb.ListResidentDocumentsRequest(credential=_credential("default"))
    )
    assert listed.refusal == pb.MUNICIPAL_REFUSAL_UNSPECIFIED
    assert listed.municipality_code == "131016"
    fees = {o.kind: o.fee_yen_per_copy for o in listed.offers}
    assert fees == {
        pb.DOCUMENT_KIND_RESIDENT_RECORD: 200,
        pb.DOCUMENT_KIND_SEAL_REGISTRATION: 300,
        pb.DOCUMENT_KIND_FAMILY_REGISTER: 450,
    }
    other = stub.ListResidentDocuments(
        pb.ListResidentDocumentsRequest(credential=_credential("rare-kanji"))
    )  # 本籍地 elsewhere: no 戸籍 here
    assert {o.kind for o in other.offers} == {
        pb.DOCUMENT_KIND_RESIDENT_RECORD,
        pb.DOCUMENT_KIND_SEAL_REGISTRATION,
    }


def test_issue_verifies_offline_and_a_retry_gets_the_same_bytes(
    stub: pb_grpc.MunicipalServiceStub, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = pb.DocumentOptions(copies=1, household_scope=pb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD)
    first = stub.IssueDocument(_issue("default", "req-whole", options=scope))
    assert first.refusal == pb.MUNICIPAL_REFUSAL_UNSPECIFIED
    assert first.fee_yen == 200
    again = stub.IssueDocument(_issue("default", "req-whole", options=scope))
    assert (again.serial, again.document_pdf) == (first.serial, first.document_pdf)
    # The same key with another request (another holder) is refused, not reissued.
    with pytest.raises(grpc.RpcError) as caught:
        stub.IssueDocument(_issue("sign-locked", "req-whole", options=scope))
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    # What `myna-edge document verify` says of the PDF, with the keys the service lists.
    pdf = world.folder / "whole.pdf"
    pdf.write_bytes(first.document_pdf)
    trust = world.folder / "trust"
    trust.mkdir(exist_ok=True)
    listed = stub.ListSigningKeys(pb.ListSigningKeysRequest())
    (trust / "131016.pem").write_text(listed.keys[0].public_key_pem, encoding="ascii")
    capsys.readouterr()
    assert main(["document", "verify", str(pdf), "--trust", str(trust)]) == 0
    out = capsys.readouterr().out
    assert first.serial in out
    # 世帯全員: the household's three card holders, head first.
    assert _holder(stub, first.document_pdf) == ["山田　太郎", "佐藤　花子", "小林　翔太"]


@pytest.mark.parametrize(
    ("profile", "kind", "fee", "refusal"),
    [
        ("foreign-resident", RESIDENT_RECORD, 200, pb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT),
        (
            "sign-locked",
            pb.DOCUMENT_KIND_SEAL_REGISTRATION,
            300,
            pb.MUNICIPAL_REFUSAL_NO_REGISTERED_SEAL,
        ),
        ("default", pb.DOCUMENT_KIND_TAX, 200, pb.MUNICIPAL_REFUSAL_DOCUMENT_NOT_OFFERED),
        (
            "rare-kanji",
            pb.DOCUMENT_KIND_FAMILY_REGISTER,
            450,
            pb.MUNICIPAL_REFUSAL_DOCUMENT_NOT_OFFERED,
        ),
        ("default", RESIDENT_RECORD, 100, pb.MUNICIPAL_REFUSAL_FEE_CHANGED),
    ],
)
def test_typed_refusals_issue_nothing(
    stub: pb_grpc.MunicipalServiceStub,
    world: World,
    profile: str,
    kind: int,
    fee: int,
    refusal: int,
) -> None:
    assert world.server is not None
    before = world.server.office.ledger.count()
    answer = stub.IssueDocument(
        _issue(profile, f"refused-{profile}-{kind}", kind=kind, fee_yen=fee)
    )
    assert answer.refusal == refusal
    assert not answer.document_pdf
    assert world.server.office.ledger.count() == before


def test_outside_service_hours_is_refused(stub: pb_grpc.MunicipalServiceStub, world: World) -> None:
    world.clock[0] = dt.datetime(2026, 12, 7, 23, 30, tzinfo=JST)
    listed = stub.ListResidentDocuments(
        pb.ListResidentDocumentsRequest(credential=_credential("default"))
    )
    assert listed.refusal == pb.MUNICIPAL_REFUSAL_OUTSIDE_SERVICE_HOURS
    assert not listed.offers
    answer = stub.IssueDocument(_issue("default", "late"))
    assert answer.refusal == pb.MUNICIPAL_REFUSAL_OUTSIDE_SERVICE_HOURS


def test_two_stores_in_the_same_second_each_get_their_own_document(
    stub: pb_grpc.MunicipalServiceStub,
) -> None:
    # The clock stands still: both requests land in the same second (Kawasaki).
    requests = [
        _issue("auth-last-try", "store-a-1", terminal_id="mfp-store-a"),
        _issue("sign-locked", "store-b-1", terminal_id="mfp-store-b"),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(stub.IssueDocument, requests))
    assert answers[0].serial != answers[1].serial
    assert _holder(stub, answers[0].document_pdf) == ["高橋　美咲"]
    assert _holder(stub, answers[1].document_pdf) == ["鈴木　一郎"]


def test_print_and_void_are_decided_once(stub: pb_grpc.MunicipalServiceStub) -> None:
    printed = stub.IssueDocument(_issue("long-address", "to-print"))
    void = stub.IssueDocument(_issue("minor", "to-void"))
    record = pb.RecordDocumentPrintedRequest(
        idempotency_key="p-1", serial=printed.serial, document_sha256=printed.document_sha256
    )
    assert stub.RecordDocumentPrinted(record).state == pb.DOCUMENT_STATE_PRINTED
    assert stub.RecordDocumentPrinted(record).state == pb.DOCUMENT_STATE_PRINTED
    late_void = pb.VoidDocumentRequest(
        idempotency_key="v-late", serial=printed.serial, failure=pb.PRINT_FAILURE_JAM
    )
    assert stub.VoidDocument(late_void).state == pb.DOCUMENT_STATE_PRINTED  # no refund
    voided = pb.VoidDocumentRequest(
        idempotency_key="v-1", serial=void.serial, failure=pb.PRINT_FAILURE_PAPER_OUT
    )
    assert stub.VoidDocument(voided).state == pb.DOCUMENT_STATE_VOID
    late_print = pb.RecordDocumentPrintedRequest(
        idempotency_key="p-late", serial=void.serial, document_sha256=void.document_sha256
    )
    assert stub.RecordDocumentPrinted(late_print).state == pb.DOCUMENT_STATE_VOID
    wrong = pb.RecordDocumentPrintedRequest(
        idempotency_key="p-2", serial=void.serial, document_sha256=bytes(32)
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.RecordDocumentPrinted(wrong)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    unknown = pb.VoidDocumentRequest(
        idempotency_key="v-2", serial="131016-2026-999999", failure=pb.PRINT_FAILURE_JAM
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.VoidDocument(unknown)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_malformed_requests_are_invalid_argument(stub: pb_grpc.MunicipalServiceStub) -> None:
    bad = [
        pb.IssueDocumentRequest(idempotency_key="", kind=RESIDENT_RECORD),
        pb.IssueDocumentRequest(
            idempotency_key="k",
            kind=RESIDENT_RECORD,
            credential=pb.ResidentCredential(authentication_certificate=b"\x30\x03\x02\x01\x01"),
        ),
        _issue("default", "k-kind", kind=pb.DOCUMENT_KIND_UNSPECIFIED),
    ]
    for request in bad:
        with pytest.raises(grpc.RpcError) as caught:
            stub.IssueDocument(request)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_client_without_the_centre_certificate_is_refused(world: World) -> None:
    anonymous = grpc.ssl_channel_credentials(world.ca_pem)
    with world.channel(anonymous) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.MunicipalServiceStub(channel).ListSigningKeys(
            pb.ListSigningKeysRequest(), timeout=5
        )
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_restart_keeps_the_ledger(world: World) -> None:
    world.clock[0] = NOON
    with world.channel() as channel:
        first = pb_grpc.MunicipalServiceStub(channel).IssueDocument(_issue("expired", "restart-1"))
    assert world.server is not None
    count = world.server.office.ledger.count()
    world.stop()
    world.start()
    with world.channel() as channel:
        stub = pb_grpc.MunicipalServiceStub(channel)
        again = stub.IssueDocument(_issue("expired", "restart-1"))
        fresh = stub.IssueDocument(_issue("revoked", "restart-2"))
    assert (again.serial, again.document_pdf) == (first.serial, first.document_pdf)
    assert world.server.office.ledger.count() == count + 1
    assert fresh.serial != first.serial


def test_plaintext_is_loopback_only(world: World) -> None:
    exposed = dataclasses.replace(world.config, insecure_dev=True, listen="0.0.0.0:0")
    with pytest.raises(MunicipalConfigError, match="loopback"):
        check_insecure_listen(exposed)
    check_insecure_listen(dataclasses.replace(exposed, listen="127.0.0.1:0"))
    with pytest.raises(MunicipalConfigError, match="mTLS"):
        check_insecure_listen(dataclasses.replace(world.config, tls=None))
