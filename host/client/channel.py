# SPDX-License-Identifier: Apache-2.0
"""How the agent connects to the verifier: mTLS credentials, deadlines, retry policy.

Safe by default (DESIGN invariants): a ``ClientConfig`` without the terminal's
key, certificate and CA refuses to build a channel unless ``insecure_dev`` is
set explicitly. Retries are not a loop in our code but gRPC's own service
config (gRFC A6): ``retryPolicy`` on UNAVAILABLE only, and only for the
methods listed in ``RETRYABLE_METHODS`` — each of them is idempotent, either
read-only or carrying an idempotency key that the service deduplicates, so a
repeated attempt (the same request bytes, hence the same key) cannot act
twice. DEADLINE_EXCEEDED is never retried: the service may have acted
(terminal-conventions §3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import grpc
import grpc.aio

__all__ = [
    "RETRYABLE_METHODS",
    "SERVICE_NAME",
    "ClientConfig",
    "open_channel",
    "service_config",
]

SERVICE_NAME: Final = "myna.edge.v1.VerifierService"

# Every VerifierService method is idempotent: the state-changing ones carry a
# client-chosen idempotency key (verifier.proto header), CheckRevocation is a
# read. A method added to the service is NOT retried until it is listed here.
RETRYABLE_METHODS: Final = (
    "OpenSession",
    "VerifyCard",
    "RedeemReset",
    "ConfirmReset",
    "AuthorizeTransfer",
    "CommitTransfer",
    "ReverseTransfer",
    "CheckRevocation",
)


@dataclass(frozen=True)
class ClientConfig:
    """Where the verifier is and how this terminal proves itself to it.

    Args:
        target: ``host:port`` of the verifier.
        terminal_id: this terminal's id (the CN of its client certificate).
        ca_pem: the CA that signed the verifier's server certificate.
        certificate_pem, key_pem: this terminal's client certificate and key.
        timeout: default deadline of every call, float seconds (all retries
            of one call share it).
        max_attempts: attempts per retryable call (gRPC caps it at 5).
        initial_backoff, max_backoff: retry back-off bounds, seconds.
        insecure_dev: plaintext without TLS, for development only; the
            terminal id then travels in the ``x-myna-dev-terminal-id`` header.
        server_name_override: TLS name to check instead of the target host.
    """

    target: str
    terminal_id: str
    ca_pem: bytes | None = field(default=None, repr=False)
    certificate_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    timeout: float = 5.0
    max_attempts: int = 4
    initial_backoff: float = 0.05
    max_backoff: float = 1.0
    insecure_dev: bool = False
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive seconds")
        if not 1 <= self.max_attempts <= 5:
            raise ValueError("max_attempts must be 1..5 (gRPC's cap)")
        if not self.insecure_dev and None in (self.ca_pem, self.certificate_pem, self.key_pem):
            raise ValueError(
                "mTLS needs ca_pem, certificate_pem and key_pem; "
                "plaintext only with insecure_dev=True"
            )

    @classmethod
    def from_files(
        cls,
        target: str,
        terminal_id: str,
        *,
        ca: Path,
        certificate: Path,
        key: Path,
        **options: object,
    ) -> ClientConfig:
        """Read the PEM files of an enrolled terminal.

        Raises:
            OSError: a file cannot be read.
        """
        return cls(
            target,
            terminal_id,
            ca_pem=ca.read_bytes(),
            certificate_pem=certificate.read_bytes(),
            key_pem=key.read_bytes(),
            **options,  # type: ignore[arg-type]
        )


def service_config(config: ClientConfig) -> str:
    """The gRPC service config JSON: retry UNAVAILABLE for idempotent methods only."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": SERVICE_NAME, "method": m} for m in RETRYABLE_METHODS],
                    "retryPolicy": {
                        "maxAttempts": config.max_attempts,
                        "initialBackoff": f"{config.initial_backoff}s",
                        "maxBackoff": f"{config.max_backoff}s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def open_channel(config: ClientConfig) -> grpc.aio.Channel:
    """An aio channel to the verifier: mTLS unless ``insecure_dev``."""
    options: list[tuple[str, str | int]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(config)),
        # Fail the first call fast when nothing listens, instead of waiting
        # out the reconnect back-off inside the deadline.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if config.insecure_dev:
        return grpc.aio.insecure_channel(config.target, options=options)
    if config.server_name_override:
        options.append(("grpc.ssl_target_name_override", config.server_name_override))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=config.ca_pem,
        private_key=config.key_pem,
        certificate_chain=config.certificate_pem,
    )
    return grpc.aio.secure_channel(config.target, credentials, options=options)
