# SPDX-License-Identifier: Apache-2.0
"""host.card.credential: what a credential can do, and the iPhone's approval over sim://."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from host.card import (
    ApprovalState,
    CredentialKind,
    KeyKind,
    MynaCard,
    UserVerification,
    credential_for,
)
from host.errors import ApprovalRequiredError, CardError
from host.transport import open_transport
from host.transport.sim import SimTransport
from hw_sim.card.phones import Approval

DIGEST = hashlib.sha256(b"issue 15").digest()


def phone(sim_home_dir: Path, profile: str) -> SimTransport:
    transport = open_transport(f"sim://{profile}?home={sim_home_dir}&persist=0")
    assert isinstance(transport, SimTransport)
    return transport


def test_only_a_card_takes_secrets_at_the_terminal_and_carries_the_basic_four() -> None:
    card = credential_for(CredentialKind.CARD)
    android = credential_for(CredentialKind.ANDROID)
    iphone = credential_for(CredentialKind.IPHONE)
    assert (card.secrets_at_terminal, card.basic_four) == (True, True)
    assert not android.secrets_at_terminal
    assert not android.basic_four
    assert not iphone.secrets_at_terminal
    assert not iphone.basic_four
    assert card.verification is android.verification is UserVerification.PIN_PAD
    assert iphone.verification is UserVerification.ON_DEVICE
    assert iphone.is_phone
    assert not card.is_phone


def test_a_contact_atr_is_a_card_without_a_command(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "default") as transport:
        sent = transport.virtual_card.apdu_log.entries[:]
        credential = MynaCard(transport).credential(atr=transport.atr)
        assert credential.kind is CredentialKind.CARD
        assert transport.virtual_card.apdu_log.entries == sent  # nothing was asked


@pytest.mark.parametrize(
    ("profile", "kind"),
    [("android-default", CredentialKind.ANDROID), ("iphone-default", CredentialKind.IPHONE)],
)
def test_a_contactless_atr_is_asked(sim_home_dir: Path, profile: str, kind: CredentialKind) -> None:
    with phone(sim_home_dir, profile) as transport:
        assert MynaCard(transport).credential(atr=transport.atr).kind is kind


def test_iphone_approval_states_and_a_proof_without_a_pin(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "iphone-default") as transport:
        card, sim = MynaCard(transport), transport.virtual_card
        assert card.approval_state() is ApprovalState.APPROVED
        certificate, signature = card.prove_on_device(KeyKind.SIGN, DIGEST)
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        verifies = [e for e in sim.apdu_log.entries if e.command[:2] == b"\x00\x20"]
        assert all(len(e.command) == 4 for e in verifies)  # only empty VERIFYs: no PIN sent
        sim.set_approval(Approval.NO_ANSWER)
        assert card.approval_state() is ApprovalState.PENDING
        with pytest.raises(ApprovalRequiredError) as pending:
            card.prove_on_device(KeyKind.SIGN, DIGEST)
        assert not pending.value.declined
        sim.set_approval(Approval.DECLINED)
        assert card.approval_state() is ApprovalState.DECLINED
        with pytest.raises(ApprovalRequiredError) as declined:
            card.prove_on_device(KeyKind.AUTH, DIGEST)
        assert declined.value.declined
        assert declined.value.sw == 0x6600


def test_a_card_has_no_approval_state(sim_home_dir: Path) -> None:
    with phone(sim_home_dir, "default") as transport, pytest.raises(CardError):
        MynaCard(transport).approval_state()  # 63Cx: a PIN counter, no approval
