# SPDX-License-Identifier: Apache-2.0
"""The municipality's metrics: documents counted once each, and ``/metrics`` of a live server.

Why deltas: the counters are process-wide (prometheus-client's registry),
so each test reads them before and after what it does.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from municipal.config import MunicipalConfig, load_config, with_metrics
from municipal.document import DocumentKind
from municipal.errors import MunicipalConfigError, RefusedError
from municipal.fees import JST, FeeTable
from municipal.issuing import IssueRequest, Municipality
from municipal.ledger import DocumentState, PrintFailure
from municipal.metrics import MeteredOffice
from municipal.registry import CertificateLink, Registry, Resident
from municipal.server import MunicipalServer, build_office
from myna.edge.v1 import municipal_pb2 as pb
from myna.edge.v1 import municipal_pb2_grpc as pb_grpc
from myna_edge.loop_thread import LoopThread
from myna_edge.municipal_world import auth_certificate, write_registry
from myna_metrics import MetricsConfig

NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=JST)
ISSUER = "CN=Test JPKI User Authentication CA"
KEY = ec.derive_private_key(0x6D657472696373, ec.SECP256R1())


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _resident(n: int, **changes: object) -> Resident:
    base: dict[str, object] = {
        "resident_id": f"r{n}",
        "link": CertificateLink(ISSUER, 1000 + n),
        "name": f"見本 太郎{n}",
        "birth_date": dt.date(1985, 4, 1),
        "sex": "男",
        "address": "神奈川県横浜市中区本町6丁目50番地の10",
        "household_id": f"h{n}",
        "relationship": "世帯主",
        "moved_in_on": dt.date(2010, 4, 1),
    }
    base.update(changes)
    return Resident(**base)  # type: ignore[arg-type]


def _office() -> MeteredOffice:
    return MeteredOffice(
        municipality=Municipality(code="141003", name="横浜市", mayor="横浜市長　見本 一郎"),
        registry=Registry([_resident(1), _resident(2, restricted=True)]),
        fees=FeeTable(),
        key=KEY,
        clock=lambda: NOON,
    )


def _request(n: int, key: str, kind: DocumentKind = DocumentKind.RESIDENT_RECORD) -> IssueRequest:
    return IssueRequest(
        idempotency_key=key, link=CertificateLink(ISSUER, 1000 + n), kind=kind, fee_yen=200
    )


def test_documents_are_counted_once_whatever_the_retries() -> None:
    office = _office()
    kind = DocumentKind.RESIDENT_RECORD.value
    issued = _value("myna_municipal_documents_issued_total", kind=kind)
    renders = _value("myna_municipal_render_seconds_count", kind=kind)
    printed = _value("myna_municipal_documents_printed_total")
    voided = _value("myna_municipal_documents_voided_total", failure="jam")
    refused = _value("myna_municipal_refusals_total", reason="counter_only")

    first = office.issue(_request(1, "a"))
    assert office.issue(_request(1, "a")) == first  # a retry: the same row, not a new document
    second = office.issue(_request(1, "b"))
    assert _value("myna_municipal_documents_issued_total", kind=kind) == issued + 2
    assert _value("myna_municipal_render_seconds_count", kind=kind) == renders + 2

    for key in ("p1", "p2"):  # the second answers PRINTED again: no second count
        assert office.record_printed(key, first.serial, first.sha256) is DocumentState.PRINTED
    assert office.void("v0", first.serial, PrintFailure.JAM) is DocumentState.PRINTED
    assert office.void("v1", second.serial, PrintFailure.JAM) is DocumentState.VOID
    assert office.void("v2", second.serial, PrintFailure.JAM) is DocumentState.VOID
    assert _value("myna_municipal_documents_printed_total") == printed + 1
    assert _value("myna_municipal_documents_voided_total", failure="jam") == voided + 1

    with pytest.raises(RefusedError):
        office.issue(_request(2, "c"))
    with pytest.raises(RefusedError):
        office.offers(CertificateLink(ISSUER, 1002))
    assert _value("myna_municipal_refusals_total", reason="counter_only") == refused + 2
    assert _value("myna_municipal_documents_issued_total", kind=kind) == issued + 2


def test_metrics_section_and_flag(tmp_path: Path) -> None:
    base = 'registry = "r.json"\nsigning_key = "k.pem"\n'
    (tmp_path / "m.toml").write_text(base + '[metrics]\nlisten = "9465"\n', encoding="utf-8")
    config = load_config(tmp_path / "m.toml")
    assert config.metrics == MetricsConfig("9465")
    assert with_metrics(config, "127.0.0.1:9466").metrics == MetricsConfig("127.0.0.1:9466")
    with pytest.raises(MunicipalConfigError, match="metrics"):
        with_metrics(config, "0.0.0.0:9466")
    (tmp_path / "bad.toml").write_text(base + '[metrics]\nlisten = "10.0.0.1:1"\n')
    with pytest.raises(MunicipalConfigError, match=r"metrics\.allow"):
        load_config(tmp_path / "bad.toml")


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _handled(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    """IssueDocument calls the server has finished counting, whatever their code."""
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "grpc_server_handled_total" and ("grpc_method", "IssueDocument") in labels
    )


def _scrape_when_handled(
    port: int, *, expected: float, attempts: int = 50
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape once the server has counted ``expected`` handled IssueDocument calls.

    Why wait: an aborted call's status reaches the client before the server's
    interceptor has counted it (it counts when the handler's exception has
    unwound), so a scrape right after the client's error could miss it. At
    most ``attempts`` scrapes 0.1 s apart; the assertions then judge what came.
    """
    samples = _scrape(port)
    for _ in range(attempts):
        if _handled(samples) >= expected:
            break
        time.sleep(0.1)
        samples = _scrape(port)
    return samples


def test_a_running_server_serves_its_metrics(tmp_path: Path) -> None:
    write_registry(tmp_path / "registry.json")
    signing = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "signing.pem").write_bytes(
        signing.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = MunicipalConfig(
        registry=tmp_path / "registry.json",
        signing_key=tmp_path / "signing.pem",
        listen="127.0.0.1:0",
        database=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        insecure_dev=True,
        metrics=MetricsConfig("127.0.0.1:0"),
    )
    thread = LoopThread()
    server = MunicipalServer(config, build_office(config, clock=lambda: NOON))
    try:
        thread.run(server.start())
        assert server.metrics is not None
        before = _scrape(server.metrics.port)
        started = _handled(before)
        der = auth_certificate("default").public_bytes(serialization.Encoding.DER)
        request = pb.IssueDocumentRequest(
            idempotency_key="metrics-1",
            credential=pb.ResidentCredential(authentication_certificate=der),
            kind=pb.DOCUMENT_KIND_RESIDENT_RECORD,
            options=pb.DocumentOptions(copies=1),
            fee_yen=200,
        )
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.MunicipalServiceStub(channel)
            document = stub.IssueDocument(request)
            stub.IssueDocument(request)  # a retry
            stub.RecordDocumentPrinted(
                pb.RecordDocumentPrintedRequest(
                    idempotency_key="metrics-p",
                    serial=document.serial,
                    document_sha256=document.document_sha256,
                )
            )
            with pytest.raises(grpc.RpcError):
                stub.IssueDocument(pb.IssueDocumentRequest())  # no key: INVALID_ARGUMENT
        after = _scrape_when_handled(server.metrics.port, expected=started + 3)
    finally:
        thread.run(server.stop(0.5))
        thread.close()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    issue = {
        "grpc_type": "unary",
        "grpc_service": "myna.edge.v1.MunicipalService",
        "grpc_method": "IssueDocument",
    }
    assert delta("grpc_server_started_total", **issue) == 3
    assert delta("grpc_server_handled_total", **issue, grpc_code="OK") == 2
    assert delta("grpc_server_handled_total", **issue, grpc_code="InvalidArgument") == 1
    assert delta("grpc_server_handling_seconds_count", **issue) == 3
    assert delta("myna_municipal_documents_issued_total", kind="resident_record") == 1
    assert delta("myna_municipal_documents_printed_total") == 1
    assert delta("myna_municipal_render_seconds_count", kind="resident_record") == 1
