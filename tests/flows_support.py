# SPDX-License-Identifier: Apache-2.0
"""Shared support for the flow tests: a scripted user, mTLS client configs, verifier state.

The user is the only scripted part (it stands for the touchscreen/ATM
application); the verifier is the real server over mTLS on 127.0.0.1 and
the card the virtual card over ``sim://``. ``transfer_rows`` reads the
verifier's own SQLite database to check exactly-once outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from host.card import KeyKind
from host.client import AccountType, ClientConfig
from host.flows import Prompt, PromptKind, TransferRequest
from host.secret import Secret
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import ServerThread, VerifierEnv, prove
from verifier.tls import issue_terminal_certificate

__all__ = [
    "ScriptedUser",
    "audit_actions",
    "book_reset",
    "client_config",
    "transfer_request",
    "transfer_rows",
]


@dataclass
class ScriptedUser:
    """Answers prompts from a script and records what it was asked."""

    secrets: list[str] = field(default_factory=list)
    confirm_answers: dict[PromptKind, bool] = field(default_factory=dict)
    prompts: list[Prompt] = field(default_factory=list)
    handed_out: list[Secret] = field(default_factory=list)

    async def confirm(self, prompt: Prompt) -> bool:
        self.prompts.append(prompt)
        return self.confirm_answers.get(prompt.kind, True)

    async def secret(self, prompt: Prompt) -> Secret:
        self.prompts.append(prompt)
        secret = Secret.from_text(self.secrets.pop(0))
        self.handed_out.append(secret)
        return secret


def client_config(
    env: VerifierEnv, server: ServerThread, terminal_id: str = "atm-01", **kw: object
) -> ClientConfig:
    """An mTLS client config for ``terminal_id`` against ``server``."""
    issued = issue_terminal_certificate(env.tls, terminal_id)
    return ClientConfig(
        f"127.0.0.1:{server.port}",
        terminal_id,
        ca_pem=issued.ca_pem,
        certificate_pem=issued.certificate_pem,
        key_pem=issued.key_pem,
        **kw,  # type: ignore[arg-type]
    )


def transfer_request(amount: int = 250_000) -> TransferRequest:
    """The README's golden transfer with ``amount``."""
    return TransferRequest(
        amount_yen=amount,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=AccountType.ORDINARY,
        payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ",
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )


def transfer_rows(server: ServerThread) -> dict[str, int]:
    """authorization_id -> state (its number, the proto's too), read through the storage API."""
    with server.core.storage.reading() as tx:
        return {t.authorization_id: int(t.state) for t in tx.list_transfers()}


def audit_actions(server: ServerThread, subject: str) -> Sequence[str]:
    """The verifier's audited actions on ``subject`` (an authorization id), in order."""
    with server.core.storage.reading() as tx:
        return [e.action for e in tx.audit_trail() if e.subject_id == subject]


def book_reset(env: VerifierEnv, server: ServerThread, operation: int) -> pb.ReserveResetResponse:
    """The smartphone side: prove the card with the other key and a face match."""
    kind = KeyKind.AUTH if operation == pb.RESET_OPERATION_SIGNING_PASSWORD else KeyKind.SIGN
    with server.stub(env.credentials("phone-app")) as stub:
        session = stub.OpenSession(
            pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key="b1"),
            timeout=10,
        )
        proof = prove("default", kind, "SESSION_PURPOSE_PIN_RESET", "phone-app", session.nonce)
        return stub.ReserveReset(
            pb.ReserveResetRequest(
                session_id=session.session_id, terminal_id="phone-app",
                operation=operation,  # type: ignore[arg-type]
                proof=proof, face_match=env.face_attestation(proof.certificate_der, session.nonce),
                idempotency_key="r1",
            ),
            timeout=10,
        )  # fmt: skip
