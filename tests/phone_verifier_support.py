# SPDX-License-Identifier: Apache-2.0
"""Test support for phones at the verifier (issue 15): trust with the mobile CAs, phone proofs.

The trust folder is ``make_env``'s plus ``mobile/``, the simulator's mobile
CAs exported exactly as ``TestPki.export_public`` writes them (CA
certificates and CRLs), after every phone profile was built so the lost
phones are on the mobile CRLs. Proofs sign with the holder keys of the
test PKIs (the certificates the virtual phone holds, read from its card
folder): the verifier is under test here, not the host's phone driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from hw_sim.card import get_profile, open_card
from hw_sim.home import sim_home
from hw_sim.pki import TestPki, open_mobile_pki
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import VerifierEnv, make_env
from verifier.canonical import card_challenge_digest

__all__ = ["PHONES", "certificate_der", "make_phone_env", "phone_proof", "sign"]

PHONES = ("android-default", "android-lost", "iphone-default", "iphone-lost")


def make_phone_env(root: Path) -> VerifierEnv:
    """``make_env`` with the mobile CAs and their CRLs in ``trust/mobile``."""
    env = make_env(root)
    for profile in PHONES:
        with open_card(profile, persist=False):
            pass
    open_mobile_pki(sim_home() / "pki").export_public(env.trust / "mobile")
    return env


def _pki(profile: str) -> TestPki:
    pki_dir = sim_home() / "pki"
    return (
        open_mobile_pki(pki_dir) if get_profile(profile).device.is_phone else TestPki.open(pki_dir)
    )


def certificate_der(profile: str, kind: str) -> bytes:
    """The ``kind`` (``auth``/``sign``) certificate the virtual card or phone holds."""
    with open_card(profile, persist=False):  # built (and revoked when lost) if not yet
        pass
    return (sim_home() / "cards" / profile / f"{kind}-cert.der").read_bytes()


def sign(profile: str, kind: str, digest: bytes) -> bytes:
    """What the card or phone signs over ``digest`` with its ``kind`` key."""
    key = _pki(profile).holder_key(f"{profile}-{kind}")
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def phone_proof(
    profile: str,
    kind: str,
    *,
    purpose: str,
    terminal_id: str,
    nonce: bytes,
    bound: Sequence[bytes] = (),
    device: int = pb.CREDENTIAL_DEVICE_UNSPECIFIED,
) -> pb.CardProof:
    """A proof over the session challenge; ``device``: what the terminal claims it read."""
    digest = card_challenge_digest(purpose, terminal_id, nonce, tuple(bound))
    return pb.CardProof(
        certificate_der=certificate_der(profile, kind),
        signature=sign(profile, kind, digest),
        credential_device=device,  # type: ignore[arg-type]
    )
