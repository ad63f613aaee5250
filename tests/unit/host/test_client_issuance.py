# SPDX-License-Identifier: Apache-2.0
"""IssuanceClient against a scripted IssuanceService over real gRPC, and its total enum tables."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
import pytest

from host.client import CardProof, ClientConfig
from host.client.issuance import (
    DOCUMENT_KINDS,
    HOUSEHOLD_SCOPES,
    ISSUANCE_REFUSALS,
    ISSUANCE_STATES,
    MUNICIPAL_REFUSALS,
    PRINT_FAILURES,
    IssuanceClient,
    issuance_digest,
)
from host.client.issuance_models import (
    DocumentKind,
    DocumentOptions,
    HouseholdScope,
    IssuanceRefusal,
    IssuanceState,
    IssuedDocument,
    MunicipalRefusal,
    PrintFailure,
)
from host.errors import ServiceStateError, ServiceTimeoutError, ServiceUnavailableError
from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import verifier_pb2 as vpb

PDF = b"%PDF-1.7 the resident's record"


class FakeIssuance(ipb_grpc.IssuanceServiceServicer):
    """Answers from a script; ``failures[method]`` are status codes to fail with first."""

    def __init__(self) -> None:
        self.failures: dict[str, list[grpc.StatusCode]] = defaultdict(list)
        self.seen: dict[str, list[Any]] = defaultdict(list)
        self.delay = 0.0

    async def _script(self, method: str, request: Any, context: Any) -> None:
        self.seen[method].append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures[method]:
            code = self.failures[method].pop(0)
            await context.abort(code, f"scripted {code.name} for {request!r}")

    async def OpenIssuanceSession(self, request: Any, context: Any) -> Any:
        await self._script("OpenIssuanceSession", request, context)
        return ipb.OpenIssuanceSessionResponse(session_id="s-1", nonce=b"\x07" * 32)

    async def ProveIssuanceCard(self, request: Any, context: Any) -> Any:
        await self._script("ProveIssuanceCard", request, context)
        return ipb.ProveIssuanceCardResponse(
            refusal=ipb.ISSUANCE_REFUSAL_CARD_REJECTED, card_reason=vpb.REASON_CERTIFICATE_REVOKED
        )

    async def ListDocuments(self, request: Any, context: Any) -> Any:
        await self._script("ListDocuments", request, context)
        offer = mpb.DocumentOffer(
            kind=mpb.DOCUMENT_KIND_RESIDENT_RECORD,
            title="住民票の写し",
            fee_yen_per_copy=200,
            household_scopes=[mpb.HOUSEHOLD_SCOPE_SELF, mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD],
            max_copies=10,
        )
        unknown = mpb.DocumentOffer(kind=99, title="a kind from a newer centre")  # type: ignore[arg-type]
        return ipb.ListDocumentsResponse(
            municipalities=[
                ipb.MunicipalityOffer(
                    municipality_code="131016",
                    municipality_name="千代田区",
                    offers=[offer, unknown],
                ),
                ipb.MunicipalityOffer(
                    municipality_code="261033",
                    municipality_name="京都市左京区",
                    refusal=mpb.MUNICIPAL_REFUSAL_NOT_A_RESIDENT,
                ),
            ]
        )

    async def RequestDocument(self, request: Any, context: Any) -> Any:
        await self._script("RequestDocument", request, context)
        return ipb.RequestDocumentResponse(
            request_id="req-1",
            serial="131016-000001",
            document_pdf=PDF,
            document_sha256=hashlib.sha256(PDF).digest(),
            fee_yen=request.fee_yen,
            state=ipb.ISSUANCE_STATE_ISSUED,
        )

    async def ConfirmPrinted(self, request: Any, context: Any) -> Any:
        await self._script("ConfirmPrinted", request, context)
        return ipb.ConfirmPrintedResponse(state=ipb.ISSUANCE_STATE_CHARGED, charged_yen=400)

    async def ReportPrintFailure(self, request: Any, context: Any) -> Any:
        await self._script("ReportPrintFailure", request, context)
        return ipb.ReportPrintFailureResponse(state=ipb.ISSUANCE_STATE_REFUNDED, refunded_yen=400)


@asynccontextmanager
async def fake_centre(**options: Any) -> AsyncIterator[tuple[FakeIssuance, IssuanceClient]]:
    fake = FakeIssuance()
    server = grpc.aio.server()
    ipb_grpc.add_IssuanceServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = ClientConfig(f"127.0.0.1:{port}", "mfp-01", insecure_dev=True, **options)
    client = IssuanceClient(config)
    try:
        yield fake, client
    finally:
        await client.close()
        await client.close()  # harmless twice
        await server.stop(None)


def test_the_whole_conversation_maps_every_answer_to_plain_values() -> None:
    async def scenario() -> None:
        async with fake_centre() as (fake, client):
            session = await client.open_session("op.session")
            assert (session.session_id, session.nonce, session.refusal) == (
                "s-1",
                b"\x07" * 32,
                None,
            )
            assert fake.seen["OpenIssuanceSession"][0].terminal_id == "mfp-01"
            check = await client.prove_card("s-1", CardProof(b"cert", b"sig"), "op.prove")
            assert check.refusal is IssuanceRefusal.CARD_REJECTED
            assert not check.accepted
            assert check.card_reason == "CERTIFICATE_REVOKED"
            refusal, towns = await client.list_documents("s-1")
            assert refusal is None
            chiyoda, sakyo = towns
            (offer,) = chiyoda.offers  # the unknown kind is skipped, not an error
            assert offer.kind is DocumentKind.RESIDENT_RECORD
            assert offer.fee_yen_per_copy == 200
            assert offer.household_scopes == (HouseholdScope.SELF, HouseholdScope.WHOLE_HOUSEHOLD)
            assert sakyo.refusal is MunicipalRefusal.NOT_A_RESIDENT
            options = DocumentOptions(household_scope=HouseholdScope.WHOLE_HOUSEHOLD, copies=2)
            doc = await client.request_document(
                "s-1",
                municipality_code="131016",
                kind=DocumentKind.RESIDENT_RECORD,
                options=options,
                fee_yen=400,
                idempotency_key="op.request",
            )
            sent = fake.seen["RequestDocument"][0]
            assert sent.kind == mpb.DOCUMENT_KIND_RESIDENT_RECORD
            assert sent.options.household_scope == mpb.HOUSEHOLD_SCOPE_WHOLE_HOUSEHOLD
            assert sent.options.copies == 2
            assert sent.fee_yen == 400
            assert doc.state is IssuanceState.ISSUED
            assert doc.document_pdf == PDF
            settled = await client.confirm_printed(
                doc.request_id,
                document_sha256=doc.document_sha256,
                print_job_id="17",
                idempotency_key="op.confirm",
            )
            assert (settled.state, settled.yen) == (IssuanceState.CHARGED, 400)
            failed = await client.report_print_failure(
                "req-1", PrintFailure.JAM, idempotency_key="op.failure"
            )
            assert (failed.state, failed.yen) == (IssuanceState.REFUNDED, 400)
            assert fake.seen["ReportPrintFailure"][0].failure == mpb.PRINT_FAILURE_JAM

    asyncio.run(scenario())


def test_unavailable_is_retried_with_the_same_key_for_every_state_change() -> None:
    async def scenario() -> None:
        async with fake_centre() as (fake, client):
            fake.failures["ConfirmPrinted"] = [grpc.StatusCode.UNAVAILABLE] * 2
            await client.confirm_printed(
                "req-1", document_sha256=b"\x00" * 32, print_job_id="1", idempotency_key="k.c"
            )
            assert [r.idempotency_key for r in fake.seen["ConfirmPrinted"]] == ["k.c"] * 3
            fake.failures["RequestDocument"] = [grpc.StatusCode.UNAVAILABLE]
            await client.request_document(
                "s-1",
                municipality_code="131016",
                kind=DocumentKind.TAX,
                options=DocumentOptions(fiscal_year=2026),
                fee_yen=300,
                idempotency_key="k.r",
            )
            assert [r.idempotency_key for r in fake.seen["RequestDocument"]] == ["k.r"] * 2

    asyncio.run(scenario())


def test_errors_are_typed_and_carry_no_request_content(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with fake_centre(max_attempts=2) as (fake, client):
            fake.failures["ProveIssuanceCard"] = [grpc.StatusCode.UNAVAILABLE] * 2
            with pytest.raises(ServiceUnavailableError) as down:
                await client.prove_card("s-1", CardProof(b"CERT-BYTES", b"SIG-BYTES"), "k.p")
            assert "CERT-BYTES" not in str(down.value)
            assert down.value.__cause__ is None
            fake.failures["ConfirmPrinted"] = [grpc.StatusCode.FAILED_PRECONDITION]
            with pytest.raises(ServiceStateError):
                await client.confirm_printed(
                    "req-1", document_sha256=b"\x01" * 32, print_job_id="1", idempotency_key="k"
                )

    asyncio.run(scenario())
    assert "CERT-BYTES" not in caplog.text
    assert "SIG-BYTES" not in caplog.text


def test_a_deadline_is_a_timeout_and_not_retried() -> None:
    async def scenario() -> None:
        async with fake_centre(timeout=0.2) as (fake, client):
            fake.delay = 1.0
            with pytest.raises(ServiceTimeoutError):
                await client.open_session("k.s")
            assert len(fake.seen["OpenIssuanceSession"]) == 1

    asyncio.run(scenario())


def test_malformed_keys_are_refused_before_any_call() -> None:
    async def scenario() -> None:
        async with fake_centre() as (fake, client):
            with pytest.raises(ValueError, match="idempotency key"):
                await client.open_session("has space")
            assert fake.seen == {}

    asyncio.run(scenario())


def test_enum_tables_are_total_both_ways() -> None:
    assert set(ISSUANCE_REFUSALS) == set(ipb.IssuanceRefusal.values())
    assert {v for v in ISSUANCE_REFUSALS.values() if v} == set(IssuanceRefusal)
    assert set(ISSUANCE_STATES) == set(ipb.IssuanceState.values())
    assert set(ISSUANCE_STATES.values()) == set(IssuanceState)
    assert set(MUNICIPAL_REFUSALS) == set(mpb.MunicipalRefusal.values())
    assert {v for v in MUNICIPAL_REFUSALS.values() if v} == set(MunicipalRefusal)
    assert set(DOCUMENT_KINDS) == set(DocumentKind)
    assert set(DOCUMENT_KINDS.values()) == set(mpb.DocumentKind.values()) - {0}
    assert set(HOUSEHOLD_SCOPES.values()) == set(mpb.HouseholdScope.values())
    assert set(PRINT_FAILURES.values()) == set(mpb.PrintFailure.values()) - {0}
    for member in IssuanceRefusal:  # the names are the proto's, without the prefix
        assert ipb.IssuanceRefusal.Value(f"ISSUANCE_REFUSAL_{member.value}")


def test_the_card_signs_the_nonce_s_sha256() -> None:
    assert issuance_digest(b"nonce") == hashlib.sha256(b"nonce").digest()


def test_a_document_s_repr_holds_no_content() -> None:
    doc = IssuedDocument(None, request_id="r", serial="s", document_pdf=b"YAMADA TARO")
    assert "YAMADA" not in repr(doc)
    assert "11-byte PDF" in repr(doc)
