# SPDX-License-Identifier: Apache-2.0
"""Fuzz target ``verifier_holder_certificate``: the credential kind a certificate's CA tells.

Why a target (issue 15): the verifier decides what carried a certificate
(card, smartphone) from the root that signed it, and its policy and audit
rest on that finding, so a hostile certificate must never raise, and never
come out with a kind that is not its signer's. The trust store holds the
simulator's card CAs and mobile CAs (the session's simulator home).

Input: one selector byte, then DER. Bit 0 picks the certificate kind
(auth/sign). Every input is checked as it is; when it parses and bit 1 is
set, it is also re-issued (same subject, key, serial and validity) under
the card CA (bit 2 clear) or the mobile CA (bit 2 set), and the re-issued
certificate must chain to exactly that CA and carry its kind. Why re-issue:
the committed corpus comes from another session's PKI (other keys), so
without it a replay would only ever reach "untrusted".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hw_sim.card import open_card
from hw_sim.home import sim_home
from hw_sim.pki import CertKind, TestPki, open_mobile_pki
from myna_edge.chaos import ChaosInvariantError
from verifier.codes import Reason
from verifier.credentials import CredentialKind
from verifier.pki import KINDS, TrustStore

__all__ = ["TARGET", "build_harness", "seeds"]

TARGET: Final = "verifier_holder_certificate"
_CHAINED: Final = frozenset(
    {Reason.OK, Reason.CERTIFICATE_EXPIRED, Reason.CERTIFICATE_NOT_YET_VALID}
)
_REISSUE: Final = 0x02
_MOBILE: Final = 0x04


def _families() -> tuple[TestPki, TestPki]:
    pki = sim_home() / "pki"
    return TestPki.open(pki), open_mobile_pki(pki)


def build_harness(stack: ExitStack, workdir: Path) -> Callable[[bytes], None]:
    """The harness over the session's card and mobile CAs (``stack``, ``workdir``: unused)."""
    del stack, workdir
    cards, mobile = _families()
    trust = TrustStore(
        {k.value: [cards.ca_certificate(k)] for k in CertKind},
        {CredentialKind.MOBILE: {k.value: [mobile.ca_certificate(k)] for k in CertKind}},
    )
    now = dt.datetime.now(dt.UTC)

    def consistent(kind: str, der: bytes) -> Reason:
        check = trust.check(kind, der, now)
        if (check.credential is None) != (check.issuer is None):
            raise ChaosInvariantError(f"{check.reason}: a kind without an issuer, or the reverse")
        if (check.reason in _CHAINED) != (check.credential is not None):
            raise ChaosInvariantError(f"{check.reason} with kind {check.credential}")
        if check.credential is not None and check.issuer not in trust.roots_of(
            kind, check.credential
        ):
            raise ChaosInvariantError(f"kind {check.credential} from another family's root")
        return check.reason

    def harness(data: bytes) -> None:
        if not data:
            return
        selector, der = data[0], data[1:]
        kind = KINDS[selector & 1]
        consistent(kind, der)
        if not selector & _REISSUE:
            return
        try:
            parsed = x509.load_der_x509_certificate(der)
            public_key = parsed.public_key()
        except (ValueError, TypeError, x509.InvalidVersion, UnsupportedAlgorithm):
            return
        family = mobile if selector & _MOBILE else cards
        ca, ca_key = family.ocsp_signer(CertKind(kind))
        try:
            reissued = (
                x509.CertificateBuilder()
                .subject_name(parsed.subject)
                .issuer_name(ca.subject)
                .public_key(public_key)
                .serial_number(parsed.serial_number)
                .not_valid_before(parsed.not_valid_before_utc)
                .not_valid_after(parsed.not_valid_after_utc)
                .sign(ca_key, hashes.SHA256())
            )
        except (ValueError, TypeError):
            return  # a serial, key or validity no CA could sign
        reissued_der = reissued.public_bytes(Encoding.DER)
        reason = consistent(kind, reissued_der)
        expected = CredentialKind.MOBILE if family is mobile else CredentialKind.CARD
        found = trust.check(kind, reissued_der, now).credential
        if not isinstance(public_key, rsa.RSAPublicKey) or len(reissued_der) > 8192:
            return  # refused as malformed: checked consistent above
        if reason not in _CHAINED or found is not expected:
            raise ChaosInvariantError(f"re-issued by the {expected} CA: {reason}, kind {found}")

    return harness


def seeds() -> list[bytes]:
    """The default card's and the default phones' certificates, checked and re-issued."""
    out: list[bytes] = []
    for profile in ("default", "android-default", "iphone-default"):
        with open_card(profile, persist=False):
            pass  # built: its certificates are in its folder
        for index, kind in enumerate(KINDS):
            der = (sim_home() / "cards" / profile / f"{kind}-cert.der").read_bytes()
            out += [bytes([index]) + der, bytes([index | _REISSUE | _MOBILE]) + der]
    return out
