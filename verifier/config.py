# SPDX-License-Identifier: Apache-2.0
"""The verifier's configuration: TOML file, embedded defaults, flag overrides.

Why embedded defaults: ``myna-edge verifier --insecure-dev`` must start with
zero set-up on a laptop. Development mode is a command-line flag only: the
file may not set ``insecure_dev``, and it binds loopback addresses only, so
a copied configuration can never open plaintext on a network (issue 22).
Production must not start by accident in that shape, so the defaults are
safe: mTLS is required unless ``insecure_dev`` is set, and without a
configured trust folder the service refuses to start unless
``insecure_dev`` is set (it then trusts the simulator's exported test PKI,
``$MYNA_EDGE_SIM_HOME/trust``, read as plain files: the verifier never
imports the simulator).

File layout (every key optional; paths relative to the file)::

    listen = "127.0.0.1:50051"
    database = "sqlite:///verifier.db"      # or "postgresql://user@host/db"
    trust_dir = "trust"                     # auth-ca.pem, sign-ca.pem, *.crl.der
                                            # mobile/ (android/, iphone/): phone CAs, same layout
    [tls]
    server_cert = "tls/server.pem"; server_key = "tls/server.key"
    terminal_ca = "tls/terminal-ca.pem"; terminal_ca_key = "tls/terminal-ca.key"
    revoked_terminals = "tls/revoked-terminals.txt"
    [revocation]
    crl_sources = {auth = ["trust/auth.crl.der"], sign = ["http://..."]}
    ocsp_urls = {auth = "http://127.0.0.1:8080/auth", mobile-auth = "http://..."}
                                            # keys: auth, sign, mobile-auth, android-sign...
    crl_refresh_seconds = 300
    [policy]
    transfer_threshold_yen = 100000; nonce_ttl_seconds = 60; ...
    fleet_online_seconds = 150; fleet_write_seconds = 60   # fleet status (verifier.fleet_store)
    [credentials]                           # what each operation accepts (issue 15)
    reading = ["card", "android", "iphone"]; transfer = ["card", "android", "iphone"]
    issuance = ["card", "android", "iphone"]; reset = ["card"]   # reset: never a phone
    [metrics]                               # off unless listen is given (or --metrics)
    listen = "127.0.0.1:9464"; allow = ["10.0.0.0/8"]   # allow: scrapers, if not loopback
    [tracing]                               # OpenTelemetry; off unless endpoint (or --otlp)
    endpoint = "http://127.0.0.1:4318/v1/traces"; sample_ratio = 0.01
    log_format = "json"                     # top level: JSON lines (or --log-format json)
    shutdown_drain_seconds = 1.0            # top level: NOT_SERVING this long before closing
    [operator]                              # FleetService (verifier fleet); off unless set
    listen = "127.0.0.1:50052"; allow = []  # loopback by default; allow: operators' networks

Why msgspec checks the file (issue 13): the schema is the ``_...File``
structs below, with the constraints beside each key, and an error names the
file, the key and what was expected (``verifier.toml: policy.otp_max_attempts:
expected `int`, got `str```). msgspec rather than pydantic: one wheel with
no dependencies for the hashed release set of the central service, and
strict by default (no ``"3"`` -> 3, a boolean is not a number), which is
what this loader always did. The file's shape is not the configuration's:
paths are text relative to the file, ``insecure_dev`` is not a key there, so
the public dataclasses stay what code builds and ``dataclasses.replace``s.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import UNSET, UnsetType

from myna_metrics import MetricsConfig
from myna_metrics.tracing import TracingConfig, tracing_config, with_endpoint
from verifier.credentials import CredentialKind, CredentialPolicy, Operation
from verifier.errors import ConfigError
from verifier.issuance_config import IssuanceConfig, IssuanceFile, issuance_from_file
from verifier.pki import (
    KINDS,
    PHONE_FOLDERS,
    REVOCATION_KEYS,
    parse_revocation_key,
    revocation_key,
)
from verifier.topology import MAX_REPLICAS, check_declared_topology

__all__ = [
    "PolicyConfig",
    "RevocationConfig",
    "TlsConfig",
    "VerifierConfig",
    "check_insecure_listen",
    "load_config",
    "with_metrics",
    "with_tracing",
]

_SIM_HOME_ENV = "MYNA_EDGE_SIM_HOME"


@dataclass(frozen=True)
class TlsConfig:
    """Server identity and the CA that issues terminal certificates."""

    directory: Path = Path("verifier-tls")
    server_cert: Path | None = None
    server_key: Path | None = None
    terminal_ca: Path | None = None
    terminal_ca_key: Path | None = None
    #: The terminal deny-list (``verifier.terminal_denylist``), reloaded on change.
    revoked_terminals: Path | None = None

    def path(self, name: str) -> Path:
        """The configured file ``name``, or its default inside ``directory``."""
        value: Path | None = getattr(self, name)
        defaults = {
            "server_cert": "server.pem",
            "server_key": "server.key",
            "terminal_ca": "terminal-ca.pem",
            "terminal_ca_key": "terminal-ca.key",
            "revoked_terminals": "revoked-terminals.txt",
        }
        return value if value is not None else self.directory / defaults[name]


@dataclass(frozen=True)
class RevocationConfig:
    """Where revocation comes from: CRL files/URLs and OCSP responders per kind."""

    crl_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ocsp_urls: dict[str, str] = field(default_factory=dict)
    crl_refresh_seconds: float = 300.0
    ocsp_timeout_seconds: float = 2.0


@dataclass(frozen=True)
class PolicyConfig:
    """Business rules; the transfer threshold is data, not code."""

    transfer_threshold_yen: int = 100_000
    nonce_ttl_seconds: float = 60.0
    authorization_ttl_seconds: float = 300.0
    reservation_ttl_seconds: float = 24 * 3600.0
    reset_policy: str = "reservation_only"  # or "otp" (the 2020 plan)
    otp_max_attempts: int = 3
    idempotency_ttl_seconds: float = 48 * 3600.0
    #: Fleet status (``verifier.fleet_store``): a terminal is online when it reported
    #: this recently; an unchanged report is written at most every ``fleet_write_seconds``.
    fleet_online_seconds: float = 150.0
    fleet_write_seconds: float = 60.0


@dataclass(frozen=True)
class VerifierConfig:
    """Everything the service needs; build with ``load_config``."""

    listen: str = "127.0.0.1:50051"
    database: str = "sqlite:///verifier.db"
    insecure_dev: bool = False
    trust_dir: Path | None = None
    issuer_master_key: Path | None = None
    face_provider_key: Path | None = None
    tls: TlsConfig = field(default_factory=TlsConfig)
    revocation: RevocationConfig = field(default_factory=RevocationConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    #: Which credential kinds (card, phones) each operation accepts (``verifier.credentials``).
    credentials: CredentialPolicy = field(default_factory=CredentialPolicy)
    #: ``/metrics`` (``verifier.metrics``); None: no metrics.
    metrics: MetricsConfig | None = None
    #: OpenTelemetry traces (``myna_metrics.tracing``); None: off.
    tracing: TracingConfig | None = None
    #: ``text`` or ``json`` (``myna_metrics.json_logs``).
    log_format: Literal["text", "json"] = "text"
    #: On SIGTERM, seconds of NOT_SERVING (still serving) before new calls are refused:
    #: the agents' health watch moves them to the other replicas (rolling restarts).
    shutdown_drain_seconds: float = 1.0
    #: The operator listener (``FleetService``, ``verifier.fleet``): plaintext,
    #: loopback unless ``allow`` names networks; None: not served.
    operator: MetricsConfig | None = None
    #: The centre role (``[issuance]``, ``verifier.issuance_config``); None: not served.
    issuance: IssuanceConfig | None = None
    #: Servers sharing ``database``; > 1 needs PostgreSQL (``verifier.topology``).
    replicas: int = 1

    def trust_folder(self) -> Path:
        """The folder holding the JPKI CA certificates.

        Raises:
            ConfigError: none configured and not in insecure development mode.
        """
        if self.trust_dir is not None:
            return self.trust_dir
        if not self.insecure_dev:
            raise ConfigError("trust_dir is required (the test PKI is trusted only in dev mode)")
        home = os.environ.get(_SIM_HOME_ENV)
        base = Path(home) if home else Path.home() / ".cache" / "myna-edge" / "sim"
        return base / "trust"

    def crl_sources(self, kind: str) -> tuple[str, ...]:
        """CRL files or URLs for ``kind`` (``auth``/``sign``: the card CAs' and every phone's).

        By default the trust folder's ``<kind>.crl.der``, and for each phone
        folder there (``mobile/``...) its ``<kind>.crl.der``; a revocation key
        (``mobile-auth``...) in ``[revocation] crl_sources`` replaces its
        family's default. A phone key asked directly gives that family's only.
        """
        if kind not in KINDS:
            return self._family_sources(kind, None)
        sources = list(self._family_sources(kind, self.trust_folder()))
        for name, credential in PHONE_FOLDERS.items():
            folder = self.trust_folder() / name
            key = revocation_key(kind, credential)
            if key in self.revocation.crl_sources or folder.is_dir():
                sources.extend(self._family_sources(key, folder))
        return tuple(sources)

    def _family_sources(self, key: str, folder: Path | None) -> tuple[str, ...]:
        configured = self.revocation.crl_sources.get(key)
        if configured is not None:
            return configured
        kind, credential = parse_revocation_key(key)  # ValueError: no such key
        if folder is None:
            folder = self.trust_folder() / credential.value
        return (str(folder / f"{kind}.crl.der"),)


# -- the file's schema (every key optional: UNSET means "not in the file") ------
_Positive = Annotated[float, msgspec.Meta(gt=0)]
_ResetPolicyName = Literal["otp", "reservation_only"]


class _TlsFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    directory: Path | UnsetType = UNSET
    server_cert: Path | UnsetType = UNSET
    server_key: Path | UnsetType = UNSET
    terminal_ca: Path | UnsetType = UNSET
    terminal_ca_key: Path | UnsetType = UNSET
    revoked_terminals: Path | UnsetType = UNSET


class _RevocationFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    crl_sources: dict[str, list[str]] | UnsetType = UNSET
    ocsp_urls: dict[str, str] | UnsetType = UNSET
    crl_refresh_seconds: float | UnsetType = UNSET
    ocsp_timeout_seconds: float | UnsetType = UNSET


class _PolicyFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    transfer_threshold_yen: Annotated[int, msgspec.Meta(ge=0)] | UnsetType = UNSET
    nonce_ttl_seconds: _Positive | UnsetType = UNSET
    authorization_ttl_seconds: _Positive | UnsetType = UNSET
    reservation_ttl_seconds: _Positive | UnsetType = UNSET
    reset_policy: _ResetPolicyName | UnsetType = UNSET
    otp_max_attempts: Annotated[int, msgspec.Meta(ge=1)] | UnsetType = UNSET
    idempotency_ttl_seconds: float | UnsetType = UNSET
    fleet_online_seconds: _Positive | UnsetType = UNSET
    fleet_write_seconds: Annotated[float, msgspec.Meta(ge=0)] | UnsetType = UNSET


_ListedKind = Literal["card", "android", "iphone"]
_Kinds = Annotated[list[_ListedKind], msgspec.Meta(min_length=1, max_length=3)]


class _CredentialsFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    reading: _Kinds | UnsetType = UNSET
    transfer: _Kinds | UnsetType = UNSET
    reset: _Kinds | UnsetType = UNSET
    issuance: _Kinds | UnsetType = UNSET


class _MetricsFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    listen: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    allow: list[Annotated[str, msgspec.Meta(max_length=100)]] = []


class _TracingFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    endpoint: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    sample_ratio: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0


class _File(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    listen: str | UnsetType = UNSET
    database: str | UnsetType = UNSET
    trust_dir: Path | UnsetType = UNSET
    issuer_master_key: Path | UnsetType = UNSET
    face_provider_key: Path | UnsetType = UNSET
    tls: _TlsFile | UnsetType = UNSET
    revocation: _RevocationFile | UnsetType = UNSET
    policy: _PolicyFile | UnsetType = UNSET
    credentials: _CredentialsFile | UnsetType = UNSET
    metrics: _MetricsFile | UnsetType = UNSET
    tracing: _TracingFile | UnsetType = UNSET
    log_format: Literal["text", "json"] | UnsetType = UNSET
    shutdown_drain_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] | UnsetType = UNSET
    operator: _MetricsFile | UnsetType = UNSET
    issuance: IssuanceFile | UnsetType = UNSET
    replicas: Annotated[int, msgspec.Meta(ge=1, le=MAX_REPLICAS)] | UnsetType = UNSET


#: Keys refused in the file whatever their value, with why (issue 22).
_REFUSED_KEYS: Final = {
    "insecure_dev": (
        "insecure_dev is not allowed in the configuration file: development mode is "
        "only given on the command line (--insecure-dev), and only on a loopback address"
    ),
}
_AT: Final = re.compile(r"^(?P<what>.*?)(?: - at `\$\.?(?P<key>[^`]*)`)?$", re.DOTALL)
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_TYPES: Final = {"`object`": "a table", "`array`": "an array"}
#: The keys whose values are a fixed set of words (named in the error, not the bad value).
_CHOICES: Final = {"policy.reset_policy": get_args(_ResetPolicyName)}
#: The lists whose items are a fixed set of words (``credentials.reading[1]``...).
_ITEM_CHOICES: Final = {f"credentials.{op.value}": get_args(_ListedKind) for op in Operation}
_ITEM: Final = re.compile(r"^(?P<list>.*)\[\d+\]$")


def _paths_from(base: Path) -> Callable[[type, object], object]:
    """msgspec's hook for ``Path`` keys: non-empty text, relative to the file's folder."""

    def dec_hook(kind: type, value: object) -> object:
        if kind is Path:
            if not isinstance(value, str) or not value:
                raise ValueError("expected a non-empty string path")
            path = Path(value)
            return path if path.is_absolute() else base / path
        raise NotImplementedError(kind)

    return dec_hook


def _explain(source: Path, exc: msgspec.ValidationError) -> ConfigError:
    """``FILE: KEY: what was expected`` from msgspec's ``... - at `$.KEY```."""
    match = _AT.match(str(exc))
    what, key = (match["what"], match["key"] or "") if match else (str(exc), "")
    unknown = _UNKNOWN.match(what)
    if unknown:
        key = f"{key}.{unknown['name']}" if key else unknown["name"]
        what = "unknown key"
    elif key in _CHOICES:
        what = "expected one of " + ", ".join(repr(word) for word in _CHOICES[key])
    elif (item := _ITEM.match(key)) and item["list"] in _ITEM_CHOICES:
        what = "expected one of " + ", ".join(repr(w) for w in _ITEM_CHOICES[item["list"]])
    else:
        for name, words in _TYPES.items():
            what = what.replace(name, words)
        what = what[:1].lower() + what[1:]
    return ConfigError(f"{source}: {key or 'the file'}: {what}")


def _given(section: msgspec.Struct | UnsetType) -> dict[str, Any]:
    """The keys the file set (msgspec leaves the others UNSET)."""
    if isinstance(section, UnsetType):
        return {}
    values = msgspec.structs.asdict(section)
    return {key: value for key, value in values.items() if value is not UNSET}


def _resolve(base: Path, source: str) -> str:
    if "://" in source:
        return source
    path = Path(source)
    return str(path if path.is_absolute() else base / path)


def _from_file(path: Path) -> VerifierConfig:
    """Read and check ``path`` against the schema.

    Raises:
        ConfigError: unreadable, bad TOML, a refused or unknown key, or a value
            of the wrong type or range (naming the file and the key).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    for key, why in _REFUSED_KEYS.items():
        if key in data:
            raise ConfigError(f"{path}: {why}")
    base = path.resolve().parent
    try:
        file = msgspec.convert(data, _File, dec_hook=_paths_from(base))
    except msgspec.ValidationError as exc:
        raise _explain(path, exc) from None
    revocation = _given(file.revocation)
    if "crl_sources" in revocation:
        revocation["crl_sources"] = {
            kind: tuple(_resolve(base, source) for source in sources)
            for kind, sources in revocation["crl_sources"].items()
        }
    _check_revocation_keys(path, revocation)
    sections = (
        "tls",
        "revocation",
        "policy",
        "credentials",
        "metrics",
        "tracing",
        "issuance",
        "operator",
    )
    top = {k: v for k, v in _given(file).items() if k not in sections}
    return VerifierConfig(
        **top,
        tls=TlsConfig(**_given(file.tls)),
        revocation=RevocationConfig(**revocation),
        policy=PolicyConfig(**_given(file.policy)),
        credentials=_credentials(path, file.credentials),
        metrics=_metrics(path, file.metrics),
        operator=_metrics(path, file.operator, "operator"),
        tracing=_tracing(path, file.tracing),
        issuance=issuance_from_file(path, file.issuance),
    )


def _check_revocation_keys(path: Path, revocation: dict[str, Any]) -> None:
    """``crl_sources`` and ``ocsp_urls`` name CAs by ``verifier.pki.revocation_key``."""
    for table in ("crl_sources", "ocsp_urls"):
        for key in revocation.get(table, {}):
            if key not in REVOCATION_KEYS:
                expected = ", ".join(sorted(REVOCATION_KEYS))
                raise ConfigError(
                    f"{path}: revocation.{table}.{key}: unknown key; expected one of {expected}"
                )


def _credentials(path: Path, section: _CredentialsFile | UnsetType) -> CredentialPolicy:
    """``[credentials]``: each listed operation's kinds (once each); the rest default."""
    chosen: dict[str, frozenset[CredentialKind]] = {}
    for operation, kinds in _given(section).items():
        if len(set(kinds)) != len(kinds):
            raise ConfigError(f"{path}: credentials.{operation}: a kind is listed twice")
        chosen[operation] = frozenset(CredentialKind(kind) for kind in kinds)
    try:
        return CredentialPolicy(**chosen)
    except ValueError as exc:
        raise ConfigError(f"{path}: credentials.{exc}") from None


def _tracing(path: Path, section: _TracingFile | UnsetType) -> TracingConfig | None:
    if isinstance(section, UnsetType):
        return None
    try:
        return tracing_config(section.endpoint, section.sample_ratio)
    except ValueError as exc:
        raise ConfigError(f"{path}: tracing: {exc}") from None


def with_tracing(config: VerifierConfig, endpoint: str | None) -> VerifierConfig:
    """``--otlp URL`` over the file's ``[tracing]`` (its ratio kept); ConfigError: not http(s)."""
    if endpoint is None:
        return config
    try:
        return dataclasses.replace(config, tracing=with_endpoint(config.tracing, endpoint))
    except ValueError as exc:
        raise ConfigError(f"--otlp: {exc}") from None


def _metrics(
    path: Path, section: _MetricsFile | UnsetType, name: str = "metrics"
) -> MetricsConfig | None:
    """``[metrics]`` (or ``[operator]``); a non-loopback ``listen`` needs ``allow``."""
    if isinstance(section, UnsetType):
        return None
    try:
        return MetricsConfig(section.listen, tuple(section.allow))
    except ValueError as exc:
        raise ConfigError(f"{path}: {name}: {exc}") from None


def with_metrics(config: VerifierConfig, address: str | None) -> VerifierConfig:
    """``--metrics ADDRESS`` over the file's ``[metrics]`` (its ``allow`` is kept).

    Raises:
        ConfigError: a bad address, or a non-loopback one the file does not allow.
    """
    if address is None:
        return config
    allow = config.metrics.allow if config.metrics is not None else ()
    try:
        return dataclasses.replace(config, metrics=MetricsConfig(address, allow))
    except ValueError as exc:
        raise ConfigError(f"--metrics: {exc}") from None


def load_config(path: Path | None = None, **overrides: Any) -> VerifierConfig:
    """Load ``path`` (or the embedded defaults) and apply non-None ``overrides``.

    Raises:
        ConfigError: unreadable file, bad TOML, unknown key or wrong type, an
            invalid policy value, or ``insecure_dev`` off loopback.
        TopologyConfigError: ``replicas`` > 1 on SQLite (``verifier.topology``).
    """
    config = _from_file(path) if path is not None else VerifierConfig()
    try:
        config = dataclasses.replace(
            config, **{k: v for k, v in overrides.items() if v is not None}
        )
    except TypeError as exc:
        raise ConfigError(f"unknown override: {exc}") from exc
    check_insecure_listen(config)
    check_declared_topology(config.replicas, config.database)
    return config


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_insecure_listen(config: VerifierConfig) -> None:
    """Refuse ``insecure_dev`` on anything but a loopback address (issue 22).

    Raises:
        ConfigError: insecure development mode on a non-loopback ``listen``.
    """
    if not config.insecure_dev:
        return
    host = config.listen.rpartition(":")[0]
    if not _is_loopback(host):
        raise ConfigError(
            f"--insecure-dev only listens on a loopback address (127.0.0.1, [::1], "
            f"localhost), not {config.listen!r}: plaintext must never reach a network"
        )
