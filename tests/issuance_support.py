# SPDX-License-Identifier: Apache-2.0
"""A centre (verifier with ``[issuance]``) and the reference municipality, on 127.0.0.1 with mTLS.

Why shared: the centre's integration tests, the MFP flow's and the lead's
campaigns compose the same two servers. ``issuance_stack(env, root)`` starts
the reference municipality (``municipal/``, the ``myna_edge.municipal_world``
registry, 千代田区 131016) with its server certificate from a test CA that
also issues the centre's client certificate, then a real ``VerifierServer``
(``tests.verifier_support.ServerThread``) routing 131016 to it. Both read the
service hours from one ``MutableClock`` at noon JST of a service day (when the
real time is outside them: ``IssuanceConfig.hours_clock``, and the
municipality's clock), while the verifier's own clock stays the real time
(plus what a test advances), so certificates and the freshly exported CRL
are checked as in production. The card proves with ``issuance_proof``
(the virtual card's authentication key over SHA-256 of the nonce, as
``issuance.proto`` says).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host.card import KeyKind
from municipal.config import MunicipalConfig, TlsFiles
from municipal.server import MunicipalServer, build_office
from myna.edge.v1 import issuance_pb2_grpc as ipb_grpc
from myna_edge.loop_thread import LoopThread
from myna_edge.municipal_world import REFERENCE_MUNICIPALITY, write_registry
from tests.verifier_support import (
    MutableClock,
    ServerThread,
    VerifierEnv,
    card_certificate,
    card_sign,
)
from verifier.issuance_config import IssuanceConfig, MunicipalityRoute
from verifier.issuance_port import JST, in_service_hours

__all__ = [
    "MUNICIPALITY_CODE",
    "IssuanceStack",
    "Municipality",
    "issuance_proof",
    "issuance_stack",
    "service_clock",
    "set_jst",
    "start_municipality",
]

MUNICIPALITY_CODE = REFERENCE_MUNICIPALITY.code


def service_clock() -> MutableClock:
    """A clock at 12:00 JST of the next service day (the hours clock; see the module doc)."""
    clock = MutableClock()
    now = clock()
    local = now.astimezone(JST).replace(hour=12, minute=0, second=0, microsecond=0)
    while not in_service_hours(local):
        local += dt.timedelta(days=1)
    clock.offset = local - now
    return clock


def set_jst(
    clock: MutableClock, hour: int, minute: int = 0, *, month_day: tuple[int, int] | None = None
) -> None:
    """Move ``clock`` to ``hour:minute`` JST of its current day (or of ``month_day``)."""
    now = clock()
    local = now.astimezone(JST).replace(hour=hour, minute=minute)
    if month_day is not None:
        local = local.replace(month=month_day[0], day=month_day[1])
    clock.offset += local - now


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
        .not_valid_before(now - dt.timedelta(days=30))
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Municipality:
    """The reference municipality on a fixed port, so it can be stopped and started again."""

    config: MunicipalConfig
    clock: MutableClock
    thread: LoopThread
    server: MunicipalServer | None = None

    def start(self) -> MunicipalServer:
        """Serve (again) on the configured port, on the same ledger file."""
        office = build_office(self.config, clock=self.clock)
        self.server = MunicipalServer(self.config, office)
        self.thread.run(self.server.start())
        return self.server

    def stop(self) -> None:
        """Stop serving; harmless twice."""
        server, self.server = self.server, None
        if server is not None:
            self.thread.run(server.stop(0.5))

    def state(self, serial: str) -> str:
        """The ledger's state of ``serial`` (``DocumentState`` name)."""
        assert self.server is not None
        return self.server.office.ledger.state(serial).name

    def count(self) -> int:
        """Documents the ledger issued."""
        assert self.server is not None
        return self.server.office.ledger.count()


def start_municipality(root: Path, clock: MutableClock) -> tuple[Municipality, MunicipalityRoute]:
    """The reference municipality with mTLS, and the centre's route to it (client cert included)."""
    root.mkdir(parents=True, exist_ok=True)
    ca_key, server_key, client_key, signing = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(4)
    )
    ca = _cert("issuance test CA", ca_key, None)
    files = {
        "ca.pem": _pem(ca),
        "server.pem": _pem(_cert("municipal", server_key, (ca, ca_key))),
        "server.key": _key_pem(server_key),
        "centre.pem": _pem(_cert("centre", client_key, (ca, ca_key))),
        "centre.key": _key_pem(client_key),
        "signing.key.pem": _key_pem(signing),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    address = f"127.0.0.1:{_free_port()}"
    config = MunicipalConfig(
        registry=write_registry(root / "registry.json"),
        signing_key=root / "signing.key.pem",
        listen=address,
        database=f"sqlite:///{root / 'ledger.sqlite'}",
        tls=TlsFiles(root / "server.pem", root / "server.key", root / "ca.pem"),
    )
    municipality = Municipality(config, clock, LoopThread())
    municipality.start()
    route = MunicipalityRoute(
        code=MUNICIPALITY_CODE,
        address=address,
        name=REFERENCE_MUNICIPALITY.name,
        ca=root / "ca.pem",
        client_cert=root / "centre.pem",
        client_key=root / "centre.key",
    )
    return municipality, route


@dataclass
class IssuanceStack:
    """A running centre and municipality; ``stub(terminal)`` speaks IssuanceService."""

    env: VerifierEnv
    verifier: ServerThread
    municipality: Municipality
    #: The verifier's clock (real time; advance it to expire sessions).
    clock: MutableClock
    #: The service-hours clock of both services (``set_jst`` moves it).
    hours: MutableClock

    @contextmanager
    def stub(self, terminal_id: str) -> Iterator[ipb_grpc.IssuanceServiceStub]:
        """An ``IssuanceServiceStub`` with ``terminal_id``'s certificate (mTLS)."""
        with self.verifier.channel(self.env.credentials(terminal_id)) as channel:
            yield ipb_grpc.IssuanceServiceStub(channel)

    def sweep(self) -> int:
        """Run the centre's outbox sweep once, now; returns deliveries."""
        servicer = self.verifier.server.issuance
        assert servicer is not None
        assert self.verifier._thread is not None
        return self.verifier._thread.run(servicer.sweep_once())


@contextmanager
def issuance_stack(
    env: VerifierEnv,
    root: Path,
    *,
    database: str | None = None,
    call_timeout_seconds: float = 10.0,
) -> Iterator[IssuanceStack]:
    """Start the municipality, then the centre routing to it; stop both on exit.

    ``call_timeout_seconds``: the centre's deadline per municipal call (a
    municipality that is down costs a call this long: calls wait for ready).
    """
    hours = service_clock()
    municipality, route = start_municipality(root / "municipal", hours)
    try:
        config = replace(
            env.config(database),
            issuance=IssuanceConfig(
                municipalities=(route,),
                hours_clock=hours,
                call_timeout_seconds=call_timeout_seconds,
            ),
        )
        clock = MutableClock()
        verifier = ServerThread(config, clock).start()
        try:
            yield IssuanceStack(env, verifier, municipality, clock, hours)
        finally:
            verifier.stop()
    finally:
        municipality.stop()
        municipality.thread.close()


def issuance_proof(profile: str, nonce: bytes) -> tuple[bytes, bytes]:
    """(authentication certificate DER, the card's signature over SHA-256 of ``nonce``)."""
    digest = hashlib.sha256(nonce).digest()
    return card_certificate(profile, KeyKind.AUTH), card_sign(profile, KeyKind.AUTH, digest)
