# SPDX-License-Identifier: Apache-2.0
"""Shared test support for the verifier: trust folder, server thread, clients, card proofs.

The server is the real ``VerifierServer`` (grpc.aio) on 127.0.0.1 with mTLS,
run in its own thread and event loop so tests can use plain synchronous
stubs; the clock is injectable so expiry is tested without sleeping. Card
proofs come from the virtual card through the host driver over ``sim://``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.card import KeyKind, MynaCard
from host.secret import Secret
from host.transport import open_transport
from hw_sim.card import get_profile, open_card
from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from myna.edge.v1 import verifier_pb2 as pb
from myna.edge.v1 import verifier_pb2_grpc as pb_grpc
from myna_edge.loop_thread import VerifierThread
from verifier.canonical import card_challenge_digest
from verifier.config import PolicyConfig, RevocationConfig, TlsConfig, VerifierConfig
from verifier.server import build_core
from verifier.tls import ensure_tls_material, issue_terminal_certificate

__all__ = [
    "MutableClock",
    "ServerThread",
    "VerifierEnv",
    "card_certificate",
    "card_sign",
    "make_env",
    "prove",
]

PROFILES = ("default", "revoked", "expired", "rare-kanji")


class MutableClock:
    """A clock tests can move forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self.offset += dt.timedelta(seconds=seconds)


@dataclass
class VerifierEnv:
    """Files a test verifier needs: trust folder, TLS folder, keys."""

    root: Path
    trust: Path
    tls: TlsConfig
    face_key: rsa.RSAPrivateKey
    master_key: bytes

    def config(self, database: str | None = None, **policy: object) -> VerifierConfig:
        """A config for a server on 127.0.0.1 with a free port."""
        return VerifierConfig(
            listen="127.0.0.1:0",
            database=database or f"sqlite:///{self.root / ('db-' + secrets.token_hex(4))}.sqlite",
            trust_dir=self.trust,
            tls=self.tls,
            revocation=RevocationConfig(),
            policy=dataclasses.replace(PolicyConfig(), **policy),  # type: ignore[arg-type]
        )

    def credentials(self, terminal_id: str) -> grpc.ChannelCredentials:
        """Client credentials for ``terminal_id`` from the terminal CA."""
        issued = issue_terminal_certificate(self.tls, terminal_id)
        return grpc.ssl_channel_credentials(
            root_certificates=issued.ca_pem,
            private_key=issued.key_pem,
            certificate_chain=issued.certificate_pem,
        )

    def face_attestation(self, certificate_der: bytes, nonce: bytes) -> pb.FaceMatchAttestation:
        """What the configured face-authentication provider would sign."""
        from verifier.resets import face_match_bytes

        data = face_match_bytes(certificate_der, nonce)
        return pb.FaceMatchAttestation(
            signature=self.face_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        )


def make_env(root: Path) -> VerifierEnv:
    """Build the card profiles (so revocations exist), then export the trust folder."""
    for profile in PROFILES:
        with open_card(profile, persist=False):
            pass
    pki = TestPki.open(sim_home() / "pki")
    trust = root / "trust"
    pki.export_public(trust)
    master_path = sim_home() / "pki" / "issuer-master.key"
    master = bytes.fromhex(master_path.read_text()) if master_path.exists() else b"\x11" * 32
    (trust / "issuer-master.key").write_text(master.hex())
    face = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (trust / "face-provider.pub.pem").write_bytes(
        face.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    tls = TlsConfig(directory=root / "tls")
    ensure_tls_material(tls)
    return VerifierEnv(root, trust, tls, face, master)


class ServerThread(VerifierThread):
    """A real ``VerifierServer`` on its own event loop thread, on a clock the test moves."""

    def __init__(self, config: VerifierConfig, clock: MutableClock | None = None) -> None:
        self.clock = clock or MutableClock()
        super().__init__(config, build_core(config, clock=self.clock))

    @contextmanager
    def channel(self, credentials: grpc.ChannelCredentials | None) -> Iterator[grpc.Channel]:
        """A channel to the server; plaintext when ``credentials`` is None."""
        target = f"127.0.0.1:{self.port}"
        if credentials is None:
            chan = grpc.insecure_channel(target)
        else:
            options = (("grpc.ssl_target_name_override", "localhost"),)
            chan = grpc.secure_channel(target, credentials, options=options)
        with chan:
            yield chan

    @contextmanager
    def stub(
        self, credentials: grpc.ChannelCredentials | None
    ) -> Iterator[pb_grpc.VerifierServiceStub]:
        """A ``VerifierServiceStub`` on a fresh channel."""
        with self.channel(credentials) as chan:
            yield pb_grpc.VerifierServiceStub(chan)


def _secret(profile: str, kind: KeyKind) -> Secret:
    card = get_profile(profile)
    return Secret.from_text(card.auth_pin if kind is KeyKind.AUTH else card.sign_password)


def card_certificate(profile: str, kind: KeyKind) -> bytes:
    """The DER certificate of ``kind`` read from the virtual card."""
    from cryptography.hazmat.primitives.serialization import Encoding

    with open_transport(f"sim://{profile}?persist=0") as transport, _secret(profile, kind) as s:
        card = MynaCard(transport)
        cert = card.read_certificate(kind, s if kind is KeyKind.SIGN else None)
        return cert.public_bytes(Encoding.DER)


def card_sign(profile: str, kind: KeyKind, digest: bytes) -> bytes:
    """The card's signature over ``digest`` with the ``kind`` key."""
    with open_transport(f"sim://{profile}?persist=0") as transport, _secret(profile, kind) as s:
        return MynaCard(transport).sign(kind, digest, s)


def prove(
    profile: str,
    kind: KeyKind,
    purpose: str,
    terminal_id: str,
    nonce: bytes,
    extra: tuple[bytes, ...] = (),
) -> pb.CardProof:
    """A card proof over the session challenge, as a terminal builds it."""
    digest = card_challenge_digest(purpose, terminal_id, nonce, extra)
    return pb.CardProof(
        certificate_der=card_certificate(profile, kind), signature=card_sign(profile, kind, digest)
    )
