# SPDX-License-Identifier: Apache-2.0
"""``terminal.toml``: what one agent process runs with.

Why a file and strict parsing: the agent runs unattended on a kiosk or ATM
PC, so a typo must stop it at start-up with a message naming the key, not
surface as a missing device at the first customer. Unknown keys are errors.
Production defaults are safe: the verifier is reached over mTLS unless
``verifier.insecure_dev = true``; the API listens only on a Unix socket or
127.0.0.1. Example (``deploy/terminal.toml`` carries a commented one)::

    profile = "atm"                      # or "kiosk", "counter" (staffed desk)
    terminal_id = "atm-01"
    reader = "pcsc://SONY FeliCa"        # or sim://, libnfc://...
    printer = "/dev/ttyUSB1"             # optional
    controller = "/dev/ttyACM0"          # secure PIN pad (ATM), with its key file
    controller_key = "/etc/myna-edge/board.key"
    listen = "unix:/run/myna-edge/agent.sock"
    journal = "/var/lib/myna-edge/journal.sqlite"
    electronic_journal = "/var/lib/myna-edge/electronic-journal.txt"
    recovery_answer_seconds = 120        # wait for "did the cash move?"; then reverse (0 = at once)
    card_taken_seconds = 30              # wait for the card to be taken: CardTakenEvent (default 0)

    [verifier]
    target = "verifier.bank.example:50051"   # or replicas, balanced round robin:
    # targets = ["10.0.0.11:50051", "10.0.0.12:50051"]  (IP:PORT; needs server_name)
    # server_name = "verifier.bank.example"  # the TLS name the replicas' certificate has
    ca = "/etc/myna-edge/verifier-ca.pem"
    certificate = "/etc/myna-edge/terminal.pem"
    key = "/etc/myna-edge/terminal.key"

    [metrics]                            # Prometheus /metrics; none when absent
    listen = "127.0.0.1:9465"            # a non-loopback host needs allow = ["10.0.0.0/8"]

    [tracing]                            # OpenTelemetry; off unless endpoint (or --otlp)
    endpoint = "http://127.0.0.1:4318/v1/traces"; sample_ratio = 0.01
    # log_format = "json"                (top level: JSON lines; or --log-format json)

Why msgspec checks the file (issue 13), as it does the verifier's: the
schema is the ``_File`` structs below, with each key's type and range beside
it, and every error names the file, the key and what was expected
(``terminal.toml: verifier.timeout must be float, got str``), never the bad
value. msgspec is strict as this loader always was (no ``"3"`` -> 3, a
boolean is not a number) and refuses unknown keys. The rules between keys
stay code: ``target`` or ``targets``, key material unless ``insecure_dev``,
``controller_key`` with ``controller``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from msgspec import UNSET, UnsetType

from host.agent.issuance import IssuanceDesk, IssuanceFile, issuance_desk
from host.api import Profile, check_listen
from host.client.channel import ClientConfig, CredentialFiles, replica_target
from host.errors import AgentConfigError
from myna_metrics import MetricsConfig
from myna_metrics.tracing import TracingConfig, tracing_config, with_endpoint

__all__ = [
    "AgentConfig",
    "AgentConfigError",
    "CounterDesk",
    "load_agent_config",
    "with_metrics",
    "with_tracing",
]


@dataclass(frozen=True)
class AgentConfig:
    """A parsed, checked ``terminal.toml``."""

    profile: Profile
    terminal_id: str
    reader: str
    listen: str
    journal: Path
    electronic_journal: Path | None
    verifier: ClientConfig
    printer: str | None = None
    controller: str | None = None
    controller_key: bytes | None = field(default=None, repr=False)
    reset_otp_first: bool = False
    transfer_threshold_yen: int = 100_000
    kiosk_hours: tuple[dt.time, dt.time] | None = None
    #: How long an unanswered cash question (RecoveryPrompt) waits before the
    #: transfer is reversed: the only thing that ever reverses one unasked.
    recovery_answer_seconds: float = 120.0
    #: How long a command that asked for the card's removal waits for the
    #: card to leave the reader before its completion, to send CardTakenEvent
    #: (0 = it does not wait and sends none).
    card_taken_seconds: float = 0.0
    #: ``/metrics``; None: no metrics.
    metrics: MetricsConfig | None = None
    #: OpenTelemetry traces (``host.agent.tracing``); None: off.
    tracing: TracingConfig | None = None
    #: ``text`` or ``json`` (``myna_metrics.json_logs``).
    log_format: Literal["text", "json"] = "text"
    #: ``[counter]``: the staffed desk's settings (profile ``counter``; issue 21).
    counter: CounterDesk | None = None
    issuance: IssuanceDesk | None = None  # [issuance]: the MFP's (host.agent.issuance)


@dataclass(frozen=True)
class CounterDesk:
    """A staffed desk's counter-check settings.

    Why in the file: the card-data issuer's key decides whether a face can be
    called genuine (without it the verdict is "not checked"), and the AML
    file and whether it keeps photos are the business's own decisions.
    """

    issuer_key: rsa.RSAPublicKey | None = field(default=None, repr=False)
    aml_file: Path | None = None
    store_photo: bool = False
    staff_id: str = "staff"
    #: The face-matching reader's pyserial URL ("": staff compare the photo).
    face_matcher: str = ""


# -- the file's schema (UNSET: not in the file) --------------------------------
_Seconds = Annotated[float, msgspec.Meta(ge=0, le=600)]


class _VerifierFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    target: str | UnsetType = UNSET
    targets: list[str] | UnsetType = UNSET
    ca: str | UnsetType = UNSET
    certificate: str | UnsetType = UNSET
    key: str | UnsetType = UNSET
    insecure_dev: bool = False
    timeout: float = 5.0
    server_name: str | UnsetType = UNSET


class _MetricsFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    listen: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    allow: list[Annotated[str, msgspec.Meta(max_length=100)]] = []


class _TracingFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    endpoint: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    sample_ratio: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0


class _CounterFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    issuer_key: str | UnsetType = UNSET
    aml_file: str | UnsetType = UNSET
    store_photo: bool = False
    staff_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "staff"
    face_matcher: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | UnsetType = UNSET


class _File(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    profile: Profile
    terminal_id: str
    reader: str
    verifier: _VerifierFile
    listen: str = "unix:/run/myna-edge/agent.sock"
    journal: str = "journal.sqlite"
    electronic_journal: str | UnsetType = UNSET
    printer: str | UnsetType = UNSET
    controller: str | UnsetType = UNSET
    controller_key: str | UnsetType = UNSET
    reset_otp_first: bool = False
    transfer_threshold_yen: int = 100_000
    kiosk_hours: str | UnsetType = UNSET
    recovery_answer_seconds: _Seconds = 120.0
    card_taken_seconds: _Seconds = 0.0
    metrics: _MetricsFile | UnsetType = UNSET
    tracing: _TracingFile | UnsetType = UNSET
    log_format: Literal["text", "json"] = "text"
    counter: _CounterFile | UnsetType = UNSET
    issuance: IssuanceFile | UnsetType = UNSET


_AT: Final = re.compile(r"^(?P<what>.*?)(?: - at `\$\.?(?P<key>[^`]*)`)?$", re.DOTALL)
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_EXPECTED: Final = re.compile(r"^Expected `(?P<kind>[^`]*)`(?P<rest>.*)$", re.DOTALL)
#: msgspec's JSON-ish type names, as TOML's words.
_KINDS: Final = {"object": "table", "array": "list"}
#: What these keys must be, said whole instead of msgspec's words; the bad value
#: is never repeated (it may be a secret typed into the wrong key).
_SAID: Final = {
    "profile": "'kiosk', 'atm' or 'counter'",
    "verifier.targets": "a non-empty list of str",
}


def _explain(path: Path, exc: msgspec.ValidationError) -> AgentConfigError:
    """``FILE: KEY must be WHAT`` (or ``is required``, ``unknown key``) from msgspec's error."""
    match = _AT.match(str(exc))
    what, key = (match["what"], match["key"] or "") if match else (str(exc), "")
    element = key.endswith("]")  # a list item: name the list, not the item
    key = re.sub(r"\[\d+\]$", "", key)
    joined = (key + ".") if key else ""
    if unknown := _UNKNOWN.match(what):
        return AgentConfigError(f"{path}: unknown key {joined}{unknown['name']}")
    if missing := _MISSING.match(what):
        return AgentConfigError(f"{path}: {joined}{missing['name']} is required")
    expected = _EXPECTED.match(what)
    if key in _SAID and (element or expected is None):
        return AgentConfigError(f"{path}: {key} must be {_SAID[key]}")
    if expected is None:
        return AgentConfigError(f"{path}: {key or 'the file'}: {what}")
    kind = _KINDS.get(expected["kind"], expected["kind"])
    rest = re.sub(r"`([^`]*)`", lambda m: _KINDS.get(m[1], m[1]), expected["rest"])
    return AgentConfigError(f"{path}: {key or 'the file'} must be {kind}{rest}")


def _path(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def _target(path: Path, section: _VerifierFile) -> str:
    """``target``, or the round-robin target of several ``targets`` (not both)."""
    if isinstance(section.targets, UnsetType):
        if isinstance(section.target, UnsetType):
            raise AgentConfigError(f"{path}: verifier.target is required")
        return section.target
    if not isinstance(section.target, UnsetType):
        raise AgentConfigError(f"{path}: verifier.target and verifier.targets: give only one")
    if not section.targets:
        raise AgentConfigError(f"{path}: verifier.targets must be {_SAID['verifier.targets']}")
    try:
        return replica_target(section.targets)
    except ValueError as exc:
        raise AgentConfigError(f"{path}: verifier.targets: {exc}") from None


def _material(path: Path, section: _VerifierFile, name: str) -> bytes | None:
    """The PEM file ``verifier.NAME``: required unless ``insecure_dev`` (plaintext)."""
    value: str | UnsetType = getattr(section, name)
    if isinstance(value, UnsetType):
        if section.insecure_dev:
            return None
        raise AgentConfigError(f"{path}: verifier.{name} is required")
    try:
        return _path(path.parent, value).read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise AgentConfigError(f"{path}: verifier.{name}: cannot read {value}: {exc}") from None


def _client(path: Path, file: _File) -> ClientConfig:
    section = file.verifier
    target = _target(path, section)  # outside the try: AgentConfigError is a ValueError
    ca, certificate, key = (_material(path, section, n) for n in ("ca", "certificate", "key"))
    try:
        return ClientConfig(
            target,
            file.terminal_id,
            timeout=section.timeout,
            insecure_dev=section.insecure_dev,
            server_name_override=_or_none(section.server_name),
            ca_pem=ca,
            certificate_pem=certificate,
            key_pem=key,
            files=CredentialFiles.beside(path, section.ca, section.certificate, section.key),
        )
    except ValueError as exc:  # ClientConfig's own checks (timeout, server name)
        raise AgentConfigError(f"{path}: [verifier]: {exc}") from None


def _hours(path: Path, text: str | UnsetType) -> tuple[dt.time, dt.time] | None:
    if isinstance(text, UnsetType):
        return None
    match = re.fullmatch(r"(\d\d:\d\d)-(\d\d:\d\d)", text)
    try:
        if match is None:
            raise ValueError(text)
        return dt.time.fromisoformat(match[1]), dt.time.fromisoformat(match[2])
    except ValueError:
        raise AgentConfigError(f'{path}: kiosk_hours must look like "06:00-23:00"') from None


def _controller_key(path: Path, file: _File) -> bytes | None:
    """The PIN pad's key, read from its hex file (never in an error: only the reason)."""
    if isinstance(file.controller_key, UnsetType):
        if isinstance(file.controller, UnsetType):
            return None
        raise AgentConfigError(f"{path}: controller_key is required (with controller)")
    try:
        text = _path(path.parent, file.controller_key).read_text(encoding="ascii")
        return bytes.fromhex(text.strip())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AgentConfigError(f"{path}: controller_key: cannot read a hex key: {exc}") from None


def _or_none(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


def load_agent_config(path: Path) -> AgentConfig:
    """Read and check ``path``; relative paths are relative to its folder.

    Raises:
        AgentConfigError: unreadable file, bad TOML, unknown or mistyped key,
            unreadable key material, or a public listen address (each naming
            the file and the key).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AgentConfigError(f"cannot read {path}: {exc}") from exc
    try:
        file = msgspec.convert(data, _File)
    except msgspec.ValidationError as exc:
        raise _explain(path, exc) from None
    try:
        listen = check_listen(file.listen)
    except ValueError as exc:
        raise AgentConfigError(f"{path}: listen: {exc}") from None
    base = path.parent
    ej = file.electronic_journal
    return AgentConfig(
        profile=file.profile,
        terminal_id=file.terminal_id,
        reader=file.reader,
        listen=listen,
        journal=_path(base, file.journal),
        electronic_journal=None if isinstance(ej, UnsetType) else _path(base, ej),
        verifier=_client(path, file),
        printer=_or_none(file.printer),
        controller=_or_none(file.controller),
        controller_key=_controller_key(path, file),
        reset_otp_first=file.reset_otp_first,
        transfer_threshold_yen=file.transfer_threshold_yen,
        kiosk_hours=_hours(path, file.kiosk_hours),
        recovery_answer_seconds=file.recovery_answer_seconds,
        card_taken_seconds=file.card_taken_seconds,
        metrics=_metrics(path, file.metrics),
        tracing=_tracing(path, file.tracing),
        log_format=file.log_format,
        counter=_counter(path, file.counter),
        issuance=issuance_desk(path, file.profile, file.issuance),
    )


def _counter(path: Path, section: _CounterFile | UnsetType) -> CounterDesk | None:
    """``[counter]``: the issuer key is read now, so a bad file stops the start."""
    if isinstance(section, UnsetType):
        return None
    key: rsa.RSAPublicKey | None = None
    if not isinstance(section.issuer_key, UnsetType):
        key_path = _path(path.parent, section.issuer_key)
        try:
            loaded = serialization.load_pem_public_key(key_path.read_bytes())
        except (OSError, ValueError):
            raise AgentConfigError(
                f"{path}: counter.issuer_key: cannot read a PEM public key from {key_path}"
            ) from None
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise AgentConfigError(f"{path}: counter.issuer_key must be an RSA public key")
        key = loaded
    aml = section.aml_file
    return CounterDesk(
        issuer_key=key,
        aml_file=None if isinstance(aml, UnsetType) else _path(path.parent, aml),
        store_photo=section.store_photo,
        staff_id=section.staff_id,
        face_matcher="" if isinstance(section.face_matcher, UnsetType) else section.face_matcher,
    )


def _metrics(path: Path, section: _MetricsFile | UnsetType) -> MetricsConfig | None:
    """``[metrics]``: a non-loopback ``listen`` needs ``allow`` (the scrapers' networks)."""
    if isinstance(section, UnsetType):
        return None
    try:
        return MetricsConfig(section.listen, tuple(section.allow))
    except ValueError as exc:
        raise AgentConfigError(f"{path}: metrics: {exc}") from None


def _tracing(path: Path, section: _TracingFile | UnsetType) -> TracingConfig | None:
    if isinstance(section, UnsetType):
        return None
    try:
        return tracing_config(section.endpoint, section.sample_ratio)
    except ValueError as exc:
        raise AgentConfigError(f"{path}: tracing: {exc}") from None


def with_tracing(config: AgentConfig, endpoint: str | None) -> AgentConfig:
    """``--otlp URL`` over the file's ``[tracing]`` (its ratio kept); raises AgentConfigError."""
    if endpoint is None:
        return config
    try:
        return dataclasses.replace(config, tracing=with_endpoint(config.tracing, endpoint))
    except ValueError as exc:
        raise AgentConfigError(f"--otlp: {exc}") from None


def with_metrics(config: AgentConfig, address: str | None) -> AgentConfig:
    """``--metrics ADDRESS`` over the file's ``[metrics]`` (its ``allow`` is kept).

    Raises:
        AgentConfigError: a bad address, or a non-loopback one the file does not allow.
    """
    if address is None:
        return config
    allow = config.metrics.allow if config.metrics is not None else ()
    try:
        return dataclasses.replace(config, metrics=MetricsConfig(address, allow))
    except ValueError as exc:
        raise AgentConfigError(f"--metrics: {exc}") from None
