# SPDX-License-Identifier: Apache-2.0
"""Fuzz harnesses for every ``IssuanceService`` RPC: the centre and the reference municipality.

Why in ``myna_edge``: a harness composes the verifier (the centre), the
reference municipality (``myna_edge.municipal_world``) and the virtual
card's key, and only ``myna_edge`` composes. ``ISSUANCE_METHODS`` and
``grpc_fuzz_target`` give the campaign's table (``myna_edge.chaos.fuzz.targets``)
one target per RPC, ``fuzz_seeds`` their seeds.

The world: a verifier in development mode (plaintext on 127.0.0.1, the
terminal named by its dev header: the harness judges the servicer, not TLS)
routing 131016 to the reference municipality on 127.0.0.1, both on a
service-hours clock at noon JST. One session is opened and proven by the
``default`` card and one document issued at start-up; a request whose
``session_id`` or ``request_id`` is the placeholder (``SESSION_PLACEHOLDER``,
``REQUEST_PLACEHOLDER``) gets the real one substituted, so mutations reach
past the session check.

The contract: undecodable bytes are INVALID_ARGUMENT; a decodable request is
answered OK or a documented refusal, never UNKNOWN or INTERNAL; a refusal
(an error status) issues no document and adds no request or outbox row; one
call issues at most one document; every request holding a document holds
the municipality's serial once (one document, one request).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from google.protobuf.message import DecodeError, Message

from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from municipal.config import MunicipalConfig
from municipal.server import MunicipalServer, build_office
from myna.edge.v1 import issuance_pb2 as ipb
from myna.edge.v1 import municipal_pb2 as mpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.demo.world import prepare_verifier
from myna_edge.loop_thread import LoopThread
from myna_edge.municipal_world import REFERENCE_MUNICIPALITY, write_registry
from verifier import issuance
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import JST, in_service_hours
from verifier.server import VerifierServer, build_core
from verifier.service import DEV_TERMINAL_HEADER

__all__ = [
    "ISSUANCE_METHODS",
    "REQUEST_PLACEHOLDER",
    "SESSION_PLACEHOLDER",
    "fuzz_seeds",
    "grpc_fuzz_target",
]

#: The RPCs of ``IssuanceService`` (one fuzz target each).
ISSUANCE_METHODS: Final = tuple(ipb.DESCRIPTOR.services_by_name["IssuanceService"].methods)
SESSION_PLACEHOLDER: Final = "iss_" + "F" * 22
REQUEST_PLACEHOLDER: Final = "isr_" + "F" * 22
_TERMINAL: Final = "mfp-fuzz"
_REFUSALS: Final = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.ALREADY_EXISTS,
    }
)


def _noon() -> Callable[[], dt.datetime]:
    """A clock at 12:00 JST of the next service day, moving with real time."""
    start = dt.datetime.now(dt.UTC)
    local = start.astimezone(JST).replace(hour=12, minute=0, second=0, microsecond=0)
    while not in_service_hours(local):
        local += dt.timedelta(days=1)
    offset = local - start
    return lambda: dt.datetime.now(dt.UTC) + offset


class _World:
    """The centre and the municipality on 127.0.0.1, a proven session and an issued request."""

    def __init__(self, stack: ExitStack, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=workdir)))
        hours = _noon()
        key = ec.generate_private_key(ec.SECP256R1())
        (root / "signing.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        municipal = MunicipalConfig(
            registry=write_registry(root / "registry.json"),
            signing_key=root / "signing.key.pem",
            listen="127.0.0.1:0",
            database=f"sqlite:///{root / 'ledger.sqlite'}",
            insecure_dev=True,
        )
        self.thread = LoopThread()
        stack.callback(self.thread.close)
        self.municipality = MunicipalServer(municipal, build_office(municipal, clock=hours))
        port = self.thread.run(self.municipality.start())
        stack.callback(lambda: self.thread.run(self.municipality.stop(0.5)))
        route = MunicipalityRoute(
            code=REFERENCE_MUNICIPALITY.code, address=f"127.0.0.1:{port}", plaintext=True
        )
        config = replace(
            prepare_verifier(root, "default").config,
            listen="127.0.0.1:0",
            database=f"sqlite:///{root / 'verifier.sqlite'}",
            insecure_dev=True,
            issuance=IssuanceConfig(municipalities=(route,), hours_clock=hours),
        )
        self.core = build_core(config)
        self.server = VerifierServer(config, self.core)
        verifier_port = self.thread.run(self.server.start())
        stack.callback(lambda: self.thread.run(self.server.stop(0.5)))
        self.channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{verifier_port}"))
        self.metadata = ((DEV_TERMINAL_HEADER, _TERMINAL),)
        self.session_id, self.request_id = self._prepare()

    def _call(self, method: str, request: Message) -> Any:
        call: Any = self.channel.unary_unary(
            f"/myna.edge.v1.IssuanceService/{method}",
            response_deserializer=getattr(ipb, f"{method}Response").FromString,
        )
        return call(request.SerializeToString(), timeout=30, metadata=self.metadata)

    def _prepare(self) -> tuple[str, str]:
        """Open and prove a session with the default card, and issue one document."""
        opened = self._call(
            "OpenIssuanceSession",
            ipb.OpenIssuanceSessionRequest(idempotency_key="fuzz-open", terminal_id=_TERMINAL),
        )
        holder = TestPki.open(sim_home() / "pki").holder_key("default-auth")
        digest = issuance.challenge_digest(opened.nonce)
        signature = holder.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        certificate = (sim_home() / "cards" / "default" / "auth-cert.der").read_bytes()
        self._call(
            "ProveIssuanceCard",
            ipb.ProveIssuanceCardRequest(
                idempotency_key="fuzz-prove",
                session_id=opened.session_id,
                authentication_certificate=certificate,
                signature=signature,
            ),
        )
        issued = self._call("RequestDocument", _request_seed(opened.session_id, "fuzz-request"))
        return opened.session_id, issued.request_id

    def rows(self) -> tuple[int, int, int]:
        """(requests, outbox entries, documents the municipality issued)."""
        with self.core.storage.reading() as tx:
            requests = tx.count("issuance_requests")
            outbox = tx.count("issuance_outbox")
        return requests, outbox, self.municipality.office.ledger.count()

    def check_bindings(self, method: str) -> None:
        with self.core.storage.reading() as tx:
            serials = [r.serial for r in tx.issuance.list_requests() if r.document is not None]
        if len(serials) != len(set(serials)) or "" in serials:
            raise ChaosInvariantError(f"{method}: a document is bound to several requests")


_WORLDS: dict[int, _World] = {}


def _world(stack: ExitStack, workdir: Path) -> _World:
    key = id(stack)
    if key not in _WORLDS:
        _WORLDS[key] = _World(stack, workdir)
        stack.callback(_WORLDS.pop, key, None)
    return _WORLDS[key]


def _substitute(request: Message, world: _World) -> Message:
    if getattr(request, "session_id", None) == SESSION_PLACEHOLDER:
        setattr(request, "session_id", world.session_id)  # noqa: B010 - any request type
    if getattr(request, "request_id", None) == REQUEST_PLACEHOLDER:
        setattr(request, "request_id", world.request_id)  # noqa: B010
    return request


def grpc_fuzz_target(method: str) -> Callable[[ExitStack, Path], Callable[[bytes], None]]:
    """The harness builder for ``IssuanceService.<method>`` (raw request bytes in)."""
    descriptor = ipb.DESCRIPTOR.services_by_name["IssuanceService"].methods_by_name[method]
    cls: type[Message] = getattr(ipb, descriptor.input_type.name)

    def build(stack: ExitStack, workdir: Path) -> Callable[[bytes], None]:
        world = _world(stack, workdir)
        call: Any = world.channel.unary_unary(f"/myna.edge.v1.IssuanceService/{method}")

        def harness(data: bytes) -> None:
            try:
                request: Message | None = _substitute(cls.FromString(data), world)
                data = request.SerializeToString() if request is not None else data
            except DecodeError:
                request = None
            before = world.rows()
            try:
                call(data, timeout=30, metadata=world.metadata)
            except grpc.RpcError as exc:
                code = exc.code()
                allowed = _REFUSALS if request is not None else {grpc.StatusCode.INVALID_ARGUMENT}
                if code not in allowed:
                    raise ChaosInvariantError(f"{method}: answered {code.name}") from None
                if world.rows() != before:
                    raise ChaosInvariantError(
                        f"{method}: a {code.name} refusal changed state"
                    ) from None
            after = world.rows()
            if after[0] > before[0] + 1 or after[2] > before[2] + 1:
                raise ChaosInvariantError(f"{method}: one call issued several documents")
            world.check_bindings(method)

        return harness

    return build


def _request_seed(session_id: str, key: str) -> ipb.RequestDocumentRequest:
    return ipb.RequestDocumentRequest(
        idempotency_key=key,
        session_id=session_id,
        municipality_code=REFERENCE_MUNICIPALITY.code,
        kind=mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        options=mpb.DocumentOptions(copies=1, household_scope=mpb.HOUSEHOLD_SCOPE_SELF),
        fee_yen=200,
    )


def fuzz_seeds() -> dict[str, list[bytes]]:
    """Seeds of the issuance targets (placeholders where a live id is needed)."""
    requests: dict[str, list[Message]] = {
        "OpenIssuanceSession": [
            ipb.OpenIssuanceSessionRequest(idempotency_key="o-1", terminal_id=_TERMINAL)
        ],
        "ProveIssuanceCard": [
            ipb.ProveIssuanceCardRequest(
                idempotency_key="p-1",
                session_id=SESSION_PLACEHOLDER,
                authentication_certificate=b"\x30\x82\x01\x00" + bytes(256),
                signature=bytes(256),
            )
        ],
        "ListDocuments": [ipb.ListDocumentsRequest(session_id=SESSION_PLACEHOLDER)],
        "RequestDocument": [
            _request_seed(SESSION_PLACEHOLDER, "r-1"),
            _request_seed(SESSION_PLACEHOLDER, "fuzz-request"),
        ],
        "ConfirmPrinted": [
            ipb.ConfirmPrintedRequest(
                idempotency_key="c-1", request_id=REQUEST_PLACEHOLDER, document_sha256=bytes(32)
            )
        ],
        "ReportPrintFailure": [
            ipb.ReportPrintFailureRequest(
                idempotency_key="f-1",
                request_id=REQUEST_PLACEHOLDER,
                failure=mpb.PRINT_FAILURE_JAM,
            )
        ],
    }
    return {f"issuance_{m}": [r.SerializeToString() for r in rs] for m, rs in requests.items()}
