# SPDX-License-Identifier: Apache-2.0
"""The centre and the municipality for ``bench.issuance``, and its throughput blocks.

Why apart from the suite: the rig (both servers on 127.0.0.1 with mTLS, the
card's keys for proofs made ahead) and the callers that take turns in
blocks (issuance documents, then VerifyCard on the same centre, as
``bench.verifier`` does against its echo) are one concern; the flow and
the document figures are another. The callers run on the servers' event
loop, so their CPU is counted against both targets alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from host.client import CardProof, ClientConfig
from host.client.issuance import IssuanceClient, issuance_digest
from host.client.issuance_models import DocumentKind
from hw_sim.card import open_card
from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.bench.verifier_load import TERMINAL, RequestFactory, summarise
from myna_edge.demo.issue import DemoMunicipality, choice_for
from verifier.config import TlsConfig, VerifierConfig
from verifier.server import VerifierServer, build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = ["IssuanceRig", "issuance_blocks", "issue_one", "resident_record_fee"]

#: VerifyCard calls per block and caller: short blocks, so both targets see the same load.
_VERIFY_PER_CALLER: Final = 40
#: Deadline of the bench's calls and of the centre's municipal calls, seconds.
_DEADLINE: Final = 120.0
_STEPS: Final = ("open_session", "prove_card", "request_document", "confirm_printed")


@dataclass
class IssuanceRig(RequestFactory):
    """The centre (verifier with ``[issuance]``) and the municipality, and the callers' keys."""

    root: Path
    municipality: DemoMunicipality
    server: VerifierServer
    client: ClientConfig
    port: int

    @classmethod
    async def start(cls, root: Path) -> IssuanceRig:
        with open_card("default", persist=False):
            pass  # the simulator's PKI and card files exist from here
        pki = TestPki.open(sim_home() / "pki")
        pki.export_public(root / "trust")
        tls = TlsConfig(directory=root / "tls")
        ensure_tls_material(tls)
        municipality = await DemoMunicipality.start(root / "municipal")
        config = municipality.centre_config(
            VerifierConfig(
                listen="127.0.0.1:0",
                database=f"sqlite:///{root / 'centre.sqlite'}",
                trust_dir=root / "trust",
                tls=tls,
            )
        )
        # Documents queue behind the renderer at a few in flight: the deadlines are the
        # bench's (a queue is a figure here, not a failure), not production's 5 s and 10 s.
        assert config.issuance is not None
        config = replace(config, issuance=replace(config.issuance, call_timeout_seconds=_DEADLINE))
        server = VerifierServer(config, build_core(config))
        port = await server.start()
        issued = issue_terminal_certificate(tls, TERMINAL)
        client = ClientConfig(
            f"127.0.0.1:{port}",
            TERMINAL,
            ca_pem=issued.ca_pem,
            certificate_pem=issued.certificate_pem,
            key_pem=issued.key_pem,
            timeout=_DEADLINE,
        )
        rig = cls(root, municipality, server, client, port)
        rig.credentials = grpc.ssl_channel_credentials(
            issued.ca_pem, issued.key_pem, issued.certificate_pem
        )
        rig.auth_key = pki.holder_key("default-auth")
        rig.sign_key = pki.holder_key("default-sign")
        card_dir = sim_home() / "cards" / "default"
        rig.auth_der = (card_dir / "auth-cert.der").read_bytes()
        rig.sign_der = (card_dir / "sign-cert.der").read_bytes()
        return rig

    async def stop(self) -> None:
        """Stop the centre, then the municipality."""
        await self.server.stop(1.0)
        await self.municipality.stop()

    def proof(self, nonce: bytes) -> CardProof:
        """The card's proof of an issuance nonce, made ahead with its own key."""
        signature = self.auth_key.sign(
            issuance_digest(nonce), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        return CardProof(self.auth_der, signature)


async def issue_one(
    rig: IssuanceRig, centre: IssuanceClient, fee: int, key: str
) -> dict[str, float]:
    """One document through the four calls; seconds per call."""
    times: dict[str, float] = {}

    async def timed(step: str, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await call
        finally:
            times[step] = time.perf_counter() - started

    session = await timed("open_session", centre.open_session(f"o-{key}"))
    proof = rig.proof(session.nonce)
    check = await timed("prove_card", centre.prove_card(session.session_id, proof, f"p-{key}"))
    if not check.accepted:
        raise RuntimeError(f"the centre refused the card: {check.refusal}")
    choice = choice_for(DocumentKind.RESIDENT_RECORD)
    document = await timed(
        "request_document",
        centre.request_document(
            session.session_id,
            municipality_code=choice.municipality_code,
            kind=choice.kind,
            options=choice.options,
            fee_yen=fee,
            idempotency_key=f"r-{key}",
        ),
    )
    if document.refusal is not None:
        raise RuntimeError(f"no document: {document.refusal} {document.municipal_refusal}")
    await timed(
        "confirm_printed",
        centre.confirm_printed(
            document.request_id,
            document_sha256=document.document_sha256,
            print_job_id=f"j-{key}",
            idempotency_key=f"c-{key}",
        ),
    )
    return times


async def resident_record_fee(rig: IssuanceRig, centre: IssuanceClient) -> int:
    """The reference municipality's fee for one 住民票の写し (asked, not assumed)."""
    session = await centre.open_session(f"fee-{time.monotonic_ns()}")
    proof = rig.proof(session.nonce)
    await centre.prove_card(session.session_id, proof, f"fee-p-{session.session_id}")
    _, municipalities = await centre.list_documents(session.session_id)
    choice = choice_for(DocumentKind.RESIDENT_RECORD)
    for municipality in municipalities:
        for offer in municipality.offers:
            if (
                municipality.municipality_code == choice.municipality_code
                and offer.kind is choice.kind
            ):
                return offer.fee_yen_per_copy
    raise RuntimeError("the reference municipality offers no 住民票の写し")


async def issuance_blocks(
    rig: IssuanceRig, centre: IssuanceClient, fee: int, inflight: int, blocks: int, per_block: int
) -> dict[str, object]:
    """Issuance and VerifyCard blocks taking turns at ``inflight`` callers."""
    channel = rig.channel(rig.port)
    stub = pb_grpc.VerifierServiceStub(channel)
    verify_latencies: list[float] = []
    issue_latencies: list[float] = []
    steps: dict[str, list[float]] = {step: [] for step in _STEPS}
    verify_elapsed = issue_elapsed = 0.0
    try:
        for block in range(blocks):
            requests = await rig.verify_requests(stub, _VERIFY_PER_CALLER * inflight)
            latencies, elapsed = await _run_callers(stub.VerifyCard, requests, inflight)
            verify_latencies += latencies
            verify_elapsed += elapsed
            keys = [f"{inflight}-{block}-{i}-{time.monotonic_ns()}" for i in range(per_block)]

            async def issue(key: str) -> None:
                for step, seconds in (await issue_one(rig, centre, fee, key)).items():
                    steps[step].append(seconds)

            latencies, elapsed = await _run_callers(issue, keys, inflight)
            issue_latencies += latencies
            issue_elapsed += elapsed
    finally:
        await channel.close()
    issuance = summarise(issue_latencies, issue_elapsed, inflight)
    verify = summarise(verify_latencies, verify_elapsed, inflight)
    return {
        "issuance": issuance,
        "verify_card": verify,
        "issuance_over_verify_card": round(issuance["per_second"] / verify["per_second"], 5),
        "mean_ms_per_call": {s: round(statistics.fmean(v) * 1000, 2) for s, v in steps.items()},
    }


async def _run_callers(
    call: Callable[[Any], Awaitable[Any]], items: list[Any], inflight: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            await call(item)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return latencies, time.perf_counter() - started
