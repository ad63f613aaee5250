# SPDX-License-Identifier: Apache-2.0
"""Client values: enum mappings, and reprs that keep personal data and proofs out."""

from __future__ import annotations

from host.client import AccountType, CardProof, Redemption, RevocationSource, VerifiedIdentity
from myna.edge.v1 import verifier_pb2 as pb


def test_account_type_codes_match_the_proto() -> None:
    for member in AccountType:
        assert member.code == pb.AccountType.Value(f"ACCOUNT_TYPE_{member.value}")


def test_reprs_hide_personal_data_and_authorisations() -> None:
    identity = VerifiedIdentity("山田太郎", "東京都", "19800101", "1", "0a", RevocationSource.OCSP)
    assert "山田" not in repr(identity)
    assert "東京" not in repr(identity)
    assert "0a" in repr(identity)
    proof = CardProof(b"\x30" * 10, b"\xab" * 256)
    assert "xab" not in repr(proof)
    redemption = Redemption(True, "OK", "r-1", b"\x99" * 16, 3)
    assert "x99" not in repr(redemption)
