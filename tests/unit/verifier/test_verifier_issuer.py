# SPDX-License-Identifier: Apache-2.0
"""The issuer side of the reset model: diversification, MAC inputs, OTP derivation."""

from __future__ import annotations

import pytest

from verifier.issuer import card_id, diversify, issuer_authorization, one_time_password

MASTER = bytes(range(32))


def test_each_input_changes_the_authorisation() -> None:
    card, challenge, cert = b"\x01" * 16, b"\x02" * 8, b"certificate A"
    base = issuer_authorization(MASTER, card, challenge, 1, proof_certificate_der=cert)
    assert len(base) == 16
    assert (
        issuer_authorization(MASTER, b"\x03" * 16, challenge, 1, proof_certificate_der=cert) != base
    )
    assert issuer_authorization(MASTER, card, b"\x04" * 8, 1, proof_certificate_der=cert) != base
    assert issuer_authorization(MASTER, card, challenge, 2, proof_certificate_der=cert) != base
    assert (
        issuer_authorization(b"\x09" * 32, card, challenge, 1, proof_certificate_der=cert) != base
    )
    # Issue 22: the proving certificate is bound too (card A's key, card B's id).
    other = issuer_authorization(MASTER, card, challenge, 1, proof_certificate_der=b"certificate B")
    assert other != base


def test_keys_are_per_card() -> None:
    assert diversify(MASTER, b"a" * 16) != diversify(MASTER, b"b" * 16)
    assert len(card_id(b"certificate")) == 16


@pytest.mark.parametrize(
    ("card", "challenge", "operation", "cert"),
    [
        (b"x" * 15, b"c" * 8, 1, b"cert"),
        (b"x" * 16, b"c" * 7, 1, b"cert"),
        (b"x" * 16, b"c" * 8, 3, b"cert"),
        (b"x" * 16, b"c" * 8, 1, b""),
    ],
)
def test_bad_inputs(card: bytes, challenge: bytes, operation: int, cert: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the point
        issuer_authorization(MASTER, card, challenge, operation, proof_certificate_der=cert)


def test_otp_is_eight_digits_and_stable() -> None:
    otp = one_time_password(MASTER, "res_abc")
    assert len(otp) == 8
    assert otp.isdigit()
    assert one_time_password(MASTER, "res_abc") == otp
    assert one_time_password(MASTER, "res_abd") != otp
