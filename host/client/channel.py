# SPDX-License-Identifier: Apache-2.0
"""How the agent connects to the verifier: mTLS credentials, deadlines, balancing, retries.

Safe by default (DESIGN invariants): a ``ClientConfig`` without the terminal's
key, certificate and CA refuses to build a channel unless ``insecure_dev`` is
set explicitly. Retries are not a loop in our code but gRPC's own service
config (gRFC A6): ``retryPolicy`` on UNAVAILABLE only, and only for the
methods listed in ``RETRYABLE_METHODS`` — each of them is idempotent, either
read-only or carrying an idempotency key that the service deduplicates, so a
repeated attempt (the same request bytes, hence the same key) cannot act
twice. DEADLINE_EXCEEDED is never retried: the service may have acted
(terminal-conventions §3).

Several verifier replicas: the channel balances calls with gRPC's own
``round_robin`` policy (named in the same service config), over every
address its target resolves to: a DNS name with several records, or the
literal addresses of ``replica_target`` (``ipv4:a:p,b:p``). A retry goes
through the balancer again, so an attempt lost with a killed replica is
repeated, with the same request bytes, on a live one. The TLS name checked
is then ``server_name_override`` (one certificate name for every replica).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import grpc
import grpc.aio

from myna_metrics.interceptors import client_interceptors
from myna_metrics.tracing import client_tracing_interceptors

__all__ = [
    "RETRYABLE_METHODS",
    "SERVICE_NAME",
    "ClientConfig",
    "open_channel",
    "replica_target",
    "service_config",
]

SERVICE_NAME: Final = "myna.edge.v1.VerifierService"

# Every VerifierService method is idempotent: the state-changing ones carry a
# client-chosen idempotency key (verifier.proto header), CheckRevocation is a
# read. Checked against verifier/idempotency.py: each state-changing method
# claims its key in the same database transaction as its work and stores its
# answer (refusals too) there, so a retry on any replica sharing the database
# gets that answer, even when the first attempt's COMMIT was in doubt; the
# checks done before the transaction only read. A method added to the service
# is NOT retried until it is listed here.
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
        target: ``host:port`` of the verifier, or any gRPC target such as the
            several replicas of ``replica_target``.
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
        if not 0 < self.timeout <= 600:  # written so that NaN fails too
            raise ValueError("timeout must be more than 0 and at most 600 seconds")
        if not 1 <= self.max_attempts <= 5:
            raise ValueError("max_attempts must be 1..5 (gRPC's cap)")
        if not self.insecure_dev and None in (self.ca_pem, self.certificate_pem, self.key_pem):
            raise ValueError(
                "mTLS needs ca_pem, certificate_pem and key_pem; "
                "plaintext only with insecure_dev=True"
            )
        if "," in self.target and not self.insecure_dev and not self.server_name_override:
            # The channel's authority would be the address list: no certificate names it.
            raise ValueError("several replicas need server_name_override (their TLS name)")

    @classmethod
    def from_files(
        cls,
        target: str,
        terminal_id: str,
        *,
        ca: Path,
        certificate: Path,
        key: Path,
        timeout: float = 5.0,
        max_attempts: int = 4,
        server_name_override: str | None = None,
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
            timeout=timeout,
            max_attempts=max_attempts,
            server_name_override=server_name_override,
        )


def _address(text: str) -> tuple[int, str]:
    """(IP version, ``host:port`` as a gRPC ``ipv4:``/``ipv6:`` URI wants it)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"replica {text!r} must be IP:PORT")
    try:
        ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        raise ValueError(
            f"replica {text!r}: several replicas must be IP addresses "
            "(for host names, use one DNS name that lists them all)"
        ) from None
    return ip.version, f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def replica_target(addresses: Sequence[str]) -> str:
    """The gRPC target for one verifier address or several replicas.

    One address is returned as it is (a DNS name may resolve to several
    replicas). Several must be ``IP:PORT`` of one IP version; they become one
    ``ipv4:``/``ipv6:`` target that ``round_robin`` balances over.

    Raises:
        ValueError: no address, a malformed or host-name replica, mixed versions.
    """
    if not addresses:
        raise ValueError("at least one verifier address is needed")
    if len(addresses) == 1:
        return addresses[0]
    parsed = [_address(a) for a in addresses]
    versions = {version for version, _ in parsed}
    if len(versions) != 1:
        raise ValueError("replicas must all be IPv4 or all be IPv6")
    return f"ipv{versions.pop()}:" + ",".join(address for _, address in parsed)


def service_config(config: ClientConfig) -> str:
    """The gRPC service config JSON: round robin; retry UNAVAILABLE for idempotent methods only."""
    balancing: list[dict[str, object]] = [{"round_robin": {}}]
    if config.max_attempts == 1:
        # gRPC refuses a retryPolicy of one attempt (the whole channel would fail).
        return json.dumps({"loadBalancingConfig": balancing})
    return json.dumps(
        {
            "loadBalancingConfig": balancing,
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
            ],
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
    # grpc_client_* metrics when the process serves /metrics (myna_metrics), then a
    # client span per call when the agent traces (myna_metrics.tracing).
    interceptors = (*client_interceptors(), *client_tracing_interceptors())
    if config.insecure_dev:
        return grpc.aio.insecure_channel(config.target, options=options, interceptors=interceptors)
    if config.server_name_override:
        options.append(("grpc.ssl_target_name_override", config.server_name_override))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=config.ca_pem,
        private_key=config.key_pem,
        certificate_chain=config.certificate_pem,
    )
    return grpc.aio.secure_channel(
        config.target, credentials, options=options, interceptors=interceptors
    )
