# SPDX-License-Identifier: Apache-2.0
"""VerifierClient against a scripted fake service over real gRPC: retries, deadlines, errors."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from host.client import (
    AccountType,
    CardProof,
    ResetOperation,
    RevocationSource,
    SessionPurpose,
    TransferState,
    TransferStatement,
    new_idempotency_key,
)
from host.errors import (
    IdempotencyConflictError,
    InvalidServiceRequestError,
    ServiceError,
    ServiceStateError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from host.secret import Secret
from myna.edge.v1 import verifier_pb2 as pb
from tests.unit.host.client_fakes import fake_verifier

PROOF = CardProof(b"\x30" * 40, b"\x01" * 256)


def statement(amount: int = 250_000) -> TransferStatement:
    return TransferStatement(
        nonce=bytes(32),
        terminal_id="atm-01",
        amount_yen=amount,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=AccountType.ORDINARY,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )


def test_unavailable_is_retried_with_the_same_idempotency_key() -> None:
    async def scenario() -> None:
        async with fake_verifier() as (fake, client):
            fake.failures["CommitTransfer"] = [grpc.StatusCode.UNAVAILABLE] * 2
            status = await client.commit_transfer("auth-1", "t1.commit")
            assert status.state is TransferState.COMMITTED
            keys = [r.idempotency_key for r in fake.seen["CommitTransfer"]]
            assert keys == ["t1.commit"] * 3

    asyncio.run(scenario())


def test_unavailable_beyond_the_attempts_raises_unavailable() -> None:
    async def scenario() -> None:
        async with fake_verifier(max_attempts=2) as (fake, client):
            fake.failures["OpenSession"] = [grpc.StatusCode.UNAVAILABLE] * 3
            with pytest.raises(ServiceUnavailableError) as info:
                await client.open_session(SessionPurpose.TRANSFER, "o-1")
            assert info.value.code == "UNAVAILABLE"
            assert len(fake.seen["OpenSession"]) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.FAILED_PRECONDITION, ServiceStateError),
        (grpc.StatusCode.NOT_FOUND, ServiceStateError),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidServiceRequestError),
        (grpc.StatusCode.ALREADY_EXISTS, IdempotencyConflictError),
        (grpc.StatusCode.INTERNAL, ServiceError),
    ],
)
def test_other_codes_are_not_retried_and_translated(
    code: grpc.StatusCode, cls: type[ServiceError]
) -> None:
    async def scenario() -> None:
        async with fake_verifier() as (fake, client):
            fake.failures["ReverseTransfer"] = [code]
            fake.error_info = pb.ErrorInfo(reason="SOME_REASON", metadata={"field": "x"})
            with pytest.raises(cls) as info:
                await client.reverse_transfer("auth-1", "t1.reverse")
            assert not isinstance(info.value, grpc.RpcError)
            assert info.value.code == code.name
            assert info.value.reason == "SOME_REASON"
            assert info.value.metadata == {"field": "x"}
            assert len(fake.seen["ReverseTransfer"]) == 1

    asyncio.run(scenario())


def test_deadline_is_set_and_not_retried() -> None:
    async def scenario() -> None:
        async with fake_verifier(timeout=0.2) as (fake, client):
            fake.delay = 1.0
            with pytest.raises(ServiceTimeoutError) as info:
                await client.open_session(SessionPurpose.TRANSFER, "o-2")
            assert isinstance(info.value, TimeoutError)
            assert len(fake.seen["OpenSession"]) == 1

    asyncio.run(scenario())


def test_typed_answers_are_plain_values() -> None:
    async def scenario() -> None:
        async with fake_verifier() as (fake, client):
            session = await client.open_session(SessionPurpose.TRANSFER, "o-3")
            assert session.nonce == bytes(range(32))
            verdict = await client.verify_card(session.session_id, PROOF, "v-3")
            assert not verdict.accepted
            assert verdict.reason == "CERTIFICATE_REVOKED"
            assert verdict.revocation_source is RevocationSource.CRL
            auth = await client.authorize_transfer("s-1", statement(), PROOF, "a-3")
            assert auth.accepted
            assert auth.authorization_id == "auth-1"
            assert auth.identity is not None
            assert auth.identity.certificate_serial == "0b"
            sent = fake.seen["AuthorizeTransfer"][0]
            assert sent.statement.payee_account_type == pb.ACCOUNT_TYPE_ORDINARY
            assert sent.identity_proof.signature == PROOF.signature
            assert await client.confirm_reset("r-1", True, "c-3") is True
            # dev mode names the terminal in a header, never in mTLS mode
            assert ("x-myna-dev-terminal-id", "atm-01") in fake.metadata[0]

    asyncio.run(scenario())


def test_otp_reaches_only_the_request(caplog: pytest.LogCaptureFixture) -> None:
    otp_text = "73914628"

    async def scenario() -> None:
        async with fake_verifier() as (fake, client):
            fake.failures["RedeemReset"] = [grpc.StatusCode.INVALID_ARGUMENT]
            fake.details = "bad one_time_password"
            with Secret.from_text(otp_text) as otp:
                with pytest.raises(InvalidServiceRequestError) as info:
                    await client.redeem_reset(
                        "s-1", ResetOperation.SIGNING_PASSWORD, PROOF, card_challenge=bytes(8),
                        card_id=bytes(16), one_time_password=otp, idempotency_key="r-4",
                    )  # fmt: skip
                assert otp_text not in str(info.value)
                assert otp_text not in repr(info.value)
                redemption = await client.redeem_reset(
                    "s-1", ResetOperation.SIGNING_PASSWORD, PROOF, card_challenge=bytes(8),
                    card_id=bytes(16), one_time_password=otp, idempotency_key="r-4",
                )  # fmt: skip
            assert redemption.attempts_left == 2
            assert not redemption.accepted
            assert otp_text not in repr(redemption)
            assert fake.seen["RedeemReset"][-1].one_time_password == otp_text

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert "RedeemReset" in caplog.text  # the calls were logged ...
    assert otp_text not in caplog.text  # ... without the OTP
    assert "bad one_time_password" not in caplog.text  # service prose is not copied


def test_unreachable_service_is_unavailable() -> None:
    from host.client import ClientConfig, VerifierClient

    async def scenario() -> None:
        import socket

        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = ClientConfig(f"127.0.0.1:{port}", "atm-01", insecure_dev=True, timeout=3.0)
        async with VerifierClient(config) as client:
            with pytest.raises(ServiceUnavailableError):
                await client.commit_transfer("auth-1", "t.commit")

    asyncio.run(scenario())


def test_idempotency_keys_are_fresh_and_well_formed() -> None:
    a, b = new_idempotency_key("transfer.commit"), new_idempotency_key("transfer.commit")
    assert a != b
    assert a.startswith("transfer.commit.")
    with pytest.raises(ValueError, match="operation"):
        new_idempotency_key("bad op/with slash")


def test_malformed_key_is_refused_before_sending() -> None:
    async def scenario() -> None:
        async with fake_verifier() as (fake, client):
            with pytest.raises(ValueError, match="idempotency key"):
                await client.commit_transfer("auth-1", "")
            assert not fake.seen["CommitTransfer"]

    asyncio.run(scenario())
