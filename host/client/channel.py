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

Renewed certificates (``myna-edge verifier renew-terminal-cert``): a channel's
TLS credentials are fixed when it is made, so a config read from files
(``from_files``, the agent's ``terminal.toml``) keeps their paths, and a
``CredentialWatch`` stats them at most once per ``reload_interval``; when
they changed and the key matches the certificate, the client makes its
next channel with them (``VerifierClient``), and the old channel finishes
its calls in flight. A half-written pair (new certificate, old key) is
ignored until the pair matches again.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import grpc
import grpc.aio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from myna_metrics.interceptors import client_interceptors
from myna_metrics.tracing import client_tracing_interceptors

__all__ = [
    "RETRYABLE_METHODS",
    "SERVICE_NAME",
    "ClientConfig",
    "CredentialFiles",
    "CredentialWatch",
    "open_channel",
    "replica_target",
    "service_config",
]

_log = logging.getLogger(__name__)

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
class CredentialFiles:
    """Where a terminal's PEM files are, so a renewed certificate is picked up.

    Args:
        ca, certificate, key: the PEM files ``ClientConfig.from_files`` read.
        reload_interval: look at the files at most this often, float seconds.
    """

    ca: Path
    certificate: Path
    key: Path
    reload_interval: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.reload_interval <= 3600:
            raise ValueError("reload_interval must be more than 0 and at most 3600 seconds")

    @classmethod
    def beside(cls, config: Path, *names: object) -> CredentialFiles | None:
        """The files ``names`` (ca, certificate, key) relative to the file ``config``.

        None unless all three are path strings (a plaintext development config).
        """
        if len(names) != 3 or not all(isinstance(n, str) for n in names):
            return None
        ca, certificate, key = (config.parent / str(n) for n in names)  # absolute stays absolute
        return cls(ca, certificate, key)

    def stamp(self) -> tuple[tuple[int, int, int], ...] | None:
        """(mtime, size, inode) of each file, or None when one is missing."""
        try:
            stats = [os.stat(p) for p in (self.ca, self.certificate, self.key)]
        except OSError:
            return None
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in stats)


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
        files: where the PEM material came from, to reload it when renewed.
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
    files: CredentialFiles | None = None

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
        reload_interval: float = 1.0,
    ) -> ClientConfig:
        """Read the PEM files of an enrolled terminal (and keep their paths for renewals).

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
            files=CredentialFiles(ca, certificate, key, reload_interval),
        )


def _matching(certificate_pem: bytes, key_pem: bytes) -> bool:
    """Whether the key is the certificate's (a renewal replaces the two files one by one)."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError):
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(
        cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    )


class CredentialWatch:
    """Notices a renewed certificate in ``config.files``; ``poll`` before each channel use.

    Args:
        config: the config in use (``files`` set, or nothing is ever reloaded).
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(
        self, config: ClientConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        #: How many times new material was loaded (0: the files the client started with).
        self.generation = 0
        self._clock = clock
        self._next = clock() + (config.files.reload_interval if config.files else 0.0)
        self._stamp = config.files.stamp() if config.files else None

    def poll(self) -> ClientConfig | None:
        """A config with the new material when the files changed and match; else None.

        At most one ``stat`` of the three files per ``reload_interval``; an
        unreadable or mismatched set is ignored (the old channel keeps
        working) and looked at again next time.
        """
        files = self.config.files
        now = self._clock()
        if files is None or now < self._next:
            return None
        self._next = now + files.reload_interval
        stamp = files.stamp()
        if stamp is None or stamp == self._stamp:
            return None
        try:
            ca, cert, key = (p.read_bytes() for p in (files.ca, files.certificate, files.key))
        except OSError:
            return None
        if not _matching(cert, key):
            _log.info("terminal certificate changed but its key does not match yet; waiting")
            return None
        self._stamp = stamp
        if (ca, cert, key) == (
            self.config.ca_pem,
            self.config.certificate_pem,
            self.config.key_pem,
        ):
            return None  # touched, not renewed
        self.config = dataclasses.replace(self.config, ca_pem=ca, certificate_pem=cert, key_pem=key)
        self.generation += 1
        _log.warning("terminal certificate renewed: new channels use %s", files.certificate)
        return self.config


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


def service_config(
    config: ClientConfig, retryable: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The gRPC service config JSON: round robin; retry UNAVAILABLE for idempotent methods only.

    ``retryable`` maps a service's full name to its idempotent methods
    (default: ``VerifierService``'s ``RETRYABLE_METHODS``; the issuance
    client names its own, ``host.client.issuance``).
    """
    methods = retryable if retryable is not None else {SERVICE_NAME: RETRYABLE_METHODS}
    balancing: list[dict[str, object]] = [{"round_robin": {}}]
    # Client-side health checking (gRFC A17): round robin skips a replica that
    # reports NOT_SERVING (draining for a restart) before it refuses calls;
    # a server without the health service counts as healthy.
    health = {"serviceName": ""}
    if config.max_attempts == 1:
        # gRPC refuses a retryPolicy of one attempt (the whole channel would fail).
        return json.dumps({"loadBalancingConfig": balancing, "healthCheckConfig": health})
    return json.dumps(
        {
            "loadBalancingConfig": balancing,
            "healthCheckConfig": health,
            "methodConfig": [
                {
                    "name": [
                        {"service": service, "method": m}
                        for service, names in methods.items()
                        for m in names
                    ],
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


def open_channel(
    config: ClientConfig, *, retryable: Mapping[str, Sequence[str]] | None = None
) -> grpc.aio.Channel:
    """An aio channel to the verifier: mTLS unless ``insecure_dev``.

    ``retryable``: as for ``service_config`` (default: ``VerifierService``'s).
    """
    options: list[tuple[str, str | int]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(config, retryable)),
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
