# SPDX-License-Identifier: Apache-2.0
"""The agent's gRPC client to the central verifier (DESIGN: host/client).

Flows use ``VerifierClient`` and the plain values in ``models``; gRPC types
never leave this package, and every failure is a ``host.errors.ServiceError``
subclass. mTLS is the default; plaintext needs ``insecure_dev=True``. Every
call has a deadline; UNAVAILABLE is retried by gRPC's service config only for
methods made idempotent by a key (``channel.RETRYABLE_METHODS``).
"""

from __future__ import annotations

from host.client.canonical import card_challenge_digest
from host.client.channel import RETRYABLE_METHODS, ClientConfig
from host.client.models import (
    AccountType,
    Authorization,
    CardProof,
    CardVerdict,
    Redemption,
    ResetOperation,
    RevocationSource,
    SessionPurpose,
    TransferState,
    TransferStatus,
    VerifiedIdentity,
    VerifierSession,
)
from host.client.statement import TransferFieldError, TransferRequest, TransferStatement
from host.client.verifier import VerifierClient, new_idempotency_key

__all__ = [
    "RETRYABLE_METHODS",
    "AccountType",
    "Authorization",
    "CardProof",
    "CardVerdict",
    "ClientConfig",
    "Redemption",
    "ResetOperation",
    "RevocationSource",
    "SessionPurpose",
    "TransferFieldError",
    "TransferRequest",
    "TransferState",
    "TransferStatement",
    "TransferStatus",
    "VerifiedIdentity",
    "VerifierClient",
    "VerifierSession",
    "card_challenge_digest",
    "new_idempotency_key",
]
