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
    [tls]
    server_cert = "tls/server.pem"; server_key = "tls/server.key"
    terminal_ca = "tls/terminal-ca.pem"; terminal_ca_key = "tls/terminal-ca.key"
    revoked_terminals = "tls/revoked-terminals.txt"
    [revocation]
    crl_sources = {auth = ["trust/auth.crl.der"], sign = ["http://..."]}
    ocsp_urls = {auth = "http://127.0.0.1:8080/auth"}
    crl_refresh_seconds = 300
    [policy]
    transfer_threshold_yen = 100000; nonce_ttl_seconds = 60; ...
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import ConfigError

__all__ = [
    "PolicyConfig",
    "RevocationConfig",
    "TlsConfig",
    "VerifierConfig",
    "check_insecure_listen",
    "load_config",
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
        """CRL files or URLs for ``kind``; by default the trust folder's ``<kind>.crl.der``."""
        configured = self.revocation.crl_sources.get(kind)
        if configured is not None:
            return configured
        return (str(self.trust_folder() / f"{kind}.crl.der"),)


def _path(base: Path, value: object, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a non-empty string path")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _section(
    cls: type[Any], data: dict[str, Any], base: Path, paths: frozenset[str], name: str
) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown key {name}{key}")
        if key in paths:
            values[key] = _path(base, value, f"{name}{key}")
        elif key == "crl_sources":
            if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
            ):
                raise ConfigError("revocation.crl_sources maps a kind to a list of strings")
            values[key] = {k: tuple(str(_resolve(base, s)) for s in v) for k, v in value.items()}
        elif key == "ocsp_urls":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError("revocation.ocsp_urls maps a kind to a URL")
            values[key] = dict(value)
        else:
            default = known[key].default
            expected = type(default) if default is not dataclasses.MISSING else str
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
                raise ConfigError(f"{name}{key} must be {expected.__name__}")
            values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


def _resolve(base: Path, source: str) -> str:
    if "://" in source:
        return source
    path = Path(source)
    return str(path if path.is_absolute() else base / path)


def load_config(path: Path | None = None, **overrides: Any) -> VerifierConfig:
    """Load ``path`` (or the embedded defaults) and apply non-None ``overrides``.

    Raises:
        ConfigError: unreadable file, bad TOML, unknown key or wrong type, or
            an invalid policy value.
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
        base = path.resolve().parent
    sections = {
        "tls": (
            TlsConfig,
            frozenset(
                {
                    "directory",
                    "server_cert",
                    "server_key",
                    "terminal_ca",
                    "terminal_ca_key",
                    "revoked_terminals",
                }
            ),
        ),
        "revocation": (RevocationConfig, frozenset()),
        "policy": (PolicyConfig, frozenset()),
    }
    if "insecure_dev" in data:
        raise ConfigError(
            "insecure_dev is not allowed in the configuration file: development mode is "
            "only given on the command line (--insecure-dev), and only on a loopback address"
        )
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            cls, paths = sections[key]
            top[key] = _section(cls, value, base, paths, f"{key}.")
        else:
            top[key] = value
    config: VerifierConfig = _section(
        VerifierConfig,
        {k: v for k, v in top.items() if k not in sections},
        base,
        frozenset({"trust_dir", "issuer_master_key", "face_provider_key"}),
        "",
    )
    config = dataclasses.replace(config, **{k: v for k, v in top.items() if k in sections})
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    _check_policy(config.policy)
    check_insecure_listen(config)
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


def _check_policy(policy: PolicyConfig) -> None:
    if policy.reset_policy not in ("otp", "reservation_only"):
        raise ConfigError("policy.reset_policy is 'otp' or 'reservation_only'")
    if policy.transfer_threshold_yen < 0 or policy.otp_max_attempts < 1:
        raise ConfigError("policy values must be positive")
    for name in ("nonce_ttl_seconds", "authorization_ttl_seconds", "reservation_ttl_seconds"):
        if getattr(policy, name) <= 0:
            raise ConfigError(f"policy.{name} must be positive")
