# SPDX-License-Identifier: Apache-2.0
"""The municipality service's configuration: a TOML file checked by a msgspec schema.

Why these rules (as the verifier's, issue 22): the centre is the only
client and authenticates with a certificate from the centre's CA, so mTLS is
required; plaintext is a command-line flag only (``--insecure-dev``), never
a key in the file, and binds a loopback address only. Fees are data: a kind
missing from ``[fees]`` is not offered here.

File layout (paths relative to the file)::

    listen = "127.0.0.1:50061"
    database = "sqlite:///municipal.sqlite"
    registry = "registry.json"               # municipal.registry_file
    signing_key = "document-signing.key.pem"  # ECDSA P-256, PKCS#8 PEM
    max_copies = 10
    replicas = 1                             # servers sharing the ledger (municipal.topology)
    [tls]
    server_cert = "tls/server.pem"; server_key = "tls/server.key"
    centre_ca = "tls/centre-ca.pem"          # the CA of the centre's client certificate
    [fees]                                   # yen per copy
    resident_record = 200; seal_registration = 200; tax = 200; family_register = 350
    [service_hours]                          # JST; default the national 06:30-23:00
    opens = "06:30"; closes = "23:00"; year_end_closed = true
    [metrics]                                # off unless listen is given (or --metrics)
    listen = "127.0.0.1:9465"; allow = []    # a non-loopback listen needs allow (networks)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Final

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.content import DocumentKind
from municipal.errors import MunicipalConfigError
from municipal.fees import MAX_COPIES, NATIONAL_HOURS, FeeTable, ServiceHours
from municipal.topology import MAX_REPLICAS, check_declared_topology
from myna_metrics import MetricsConfig

__all__ = [
    "MunicipalConfig",
    "TlsFiles",
    "check_insecure_listen",
    "load_config",
    "load_signing_key",
    "with_metrics",
]

_MAX_CONFIG_BYTES: Final = 1024 * 1024
_Yen = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
_Path = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


@dataclass(frozen=True)
class TlsFiles:
    """The server's identity and the CA of the centre's client certificates."""

    server_cert: Path
    server_key: Path
    centre_ca: Path


@dataclass(frozen=True)
class MunicipalConfig:
    """Everything the service needs to start."""

    registry: Path
    signing_key: Path
    listen: str = "127.0.0.1:50061"
    database: str = "sqlite:///municipal.sqlite"
    tls: TlsFiles | None = None
    fees: FeeTable = field(default_factory=FeeTable)
    insecure_dev: bool = False
    #: Servers sharing ``database``; > 1 needs PostgreSQL (``municipal.topology``).
    replicas: int = 1
    #: ``/metrics`` (``municipal.metrics``); None: no metrics.
    metrics: MetricsConfig | None = None


class _MetricsFile(msgspec.Struct, forbid_unknown_fields=True):
    listen: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    allow: list[Annotated[str, msgspec.Meta(max_length=100)]] = []


class _TlsFile(msgspec.Struct, forbid_unknown_fields=True):
    server_cert: _Path
    server_key: _Path
    centre_ca: _Path


class _FeesFile(msgspec.Struct, forbid_unknown_fields=True):
    resident_record: _Yen | None = None
    seal_registration: _Yen | None = None
    tax: _Yen | None = None
    family_register: _Yen | None = None


_Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class _HoursFile(msgspec.Struct, forbid_unknown_fields=True):
    opens: _Clock = "06:30"
    closes: _Clock = "23:00"
    year_end_closed: bool = True


def _minute(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class _ConfigFile(msgspec.Struct, forbid_unknown_fields=True):
    registry: _Path
    signing_key: _Path
    listen: Annotated[str, msgspec.Meta(min_length=3, max_length=300)] = "127.0.0.1:50061"
    database: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] = (
        "sqlite:///municipal.sqlite"
    )
    max_copies: Annotated[int, msgspec.Meta(ge=1, le=100)] = MAX_COPIES
    replicas: Annotated[int, msgspec.Meta(ge=1, le=MAX_REPLICAS)] = 1
    tls: _TlsFile | None = None
    fees: _FeesFile | None = None
    service_hours: _HoursFile | None = None
    metrics: _MetricsFile | None = None


def load_config(path: Path) -> MunicipalConfig:
    """Read ``path`` (TOML).

    Raises:
        MunicipalConfigError: unreadable, not TOML, or off the schema (the
            message names the key).
        TopologyError: ``replicas`` > 1 on a SQLite ledger (the Takamatsu incident).
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise MunicipalConfigError(f"cannot read {path}: {exc}") from exc
    if len(raw) > _MAX_CONFIG_BYTES:
        raise MunicipalConfigError(f"{path.name}: the file is too large")
    try:
        parsed = msgspec.convert(tomllib.loads(raw.decode("utf-8")), type=_ConfigFile)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MunicipalConfigError(f"{path.name}: not UTF-8 TOML: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise MunicipalConfigError(f"{path.name}: {exc}") from exc
    base = path.parent

    def resolve(value: str) -> Path:
        return base / value

    hours = NATIONAL_HOURS
    if parsed.service_hours is not None:
        given = parsed.service_hours
        try:
            hours = ServiceHours(_minute(given.opens), _minute(given.closes), given.year_end_closed)
        except ValueError as exc:
            raise MunicipalConfigError(f"{path.name}: {exc}") from None
    fees = FeeTable(max_copies=parsed.max_copies, hours=hours)
    if parsed.fees is not None:
        table = {kind: getattr(parsed.fees, kind.value) for kind in DocumentKind}
        fees = FeeTable(
            fees=MappingProxyType({k: v for k, v in table.items() if v is not None}),
            max_copies=parsed.max_copies,
            hours=hours,
        )
    tls = None
    if parsed.tls is not None:
        tls = TlsFiles(
            server_cert=resolve(parsed.tls.server_cert),
            server_key=resolve(parsed.tls.server_key),
            centre_ca=resolve(parsed.tls.centre_ca),
        )
    database = parsed.database
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        database = f"sqlite:///{resolve(database.removeprefix('sqlite:///'))}"
    check_declared_topology(parsed.replicas, database)
    metrics = None
    if parsed.metrics is not None:
        try:
            metrics = MetricsConfig(parsed.metrics.listen, tuple(parsed.metrics.allow))
        except ValueError as exc:
            raise MunicipalConfigError(f"{path.name}: metrics: {exc}") from None
    return MunicipalConfig(
        registry=resolve(parsed.registry),
        signing_key=resolve(parsed.signing_key),
        listen=parsed.listen,
        database=database,
        tls=tls,
        fees=fees,
        replicas=parsed.replicas,
        metrics=metrics,
    )


def with_metrics(config: MunicipalConfig, address: str | None) -> MunicipalConfig:
    """``--metrics ADDRESS`` over the file's ``[metrics]`` (its ``allow`` is kept).

    Raises:
        MunicipalConfigError: a bad address, or a non-loopback one the file does not allow.
    """
    if address is None:
        return config
    allow = config.metrics.allow if config.metrics is not None else ()
    try:
        return dataclasses.replace(config, metrics=MetricsConfig(address, allow))
    except ValueError as exc:
        raise MunicipalConfigError(f"--metrics: {exc}") from None


def check_insecure_listen(config: MunicipalConfig) -> None:
    """Refuse plaintext on anything but a loopback address; refuse TLS without files.

    Raises:
        MunicipalConfigError: ``insecure_dev`` off loopback, or mTLS without ``[tls]``.
    """
    if not config.insecure_dev:
        if config.tls is None:
            raise MunicipalConfigError("mTLS needs [tls] (or --insecure-dev on loopback)")
        return
    host = config.listen.rpartition(":")[0].strip("[]")
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise MunicipalConfigError(
            f"--insecure-dev only listens on a loopback address, not {config.listen!r}"
        )


def load_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The document-signing key (ECDSA P-256, PEM, unencrypted: file mode guards it).

    Raises:
        MunicipalConfigError: unreadable, not PEM, or not P-256.
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise MunicipalConfigError(f"cannot load the signing key {path}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise MunicipalConfigError("the document-signing key must be ECDSA P-256")
    return key
