# SPDX-License-Identifier: Apache-2.0
"""``terminal.toml``: what one agent process runs with.

Why a file and strict parsing: the agent runs unattended on a kiosk or ATM
PC, so a typo must stop it at start-up with a message naming the key, not
surface as a missing device at the first customer. Unknown keys are errors.
Production defaults are safe: the verifier is reached over mTLS unless
``verifier.insecure_dev = true``; the API listens only on a Unix socket or
127.0.0.1. Example (``deploy/terminal.toml`` carries a commented one)::

    profile = "atm"                      # or "kiosk"
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
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.api import Profile, check_listen
from host.client import ClientConfig
from host.client.channel import replica_target
from host.errors import AgentConfigError

__all__ = ["AgentConfig", "AgentConfigError", "load_agent_config"]

_TOP = {
    "profile", "terminal_id", "reader", "printer", "listen", "journal", "electronic_journal",
    "verifier", "reset_otp_first", "transfer_threshold_yen", "controller", "controller_key",
    "kiosk_hours", "recovery_answer_seconds", "card_taken_seconds",
}  # fmt: skip
_VERIFIER = {
    "target", "targets", "ca", "certificate", "key", "insecure_dev", "timeout", "server_name",
}  # fmt: skip


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


def _get(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...
) -> Any:
    if key not in data:
        if default is ...:
            raise AgentConfigError(f"{where}{key} is required")
        return default
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in kinds)
        raise AgentConfigError(f"{where}{key} must be {names}")
    return value


def _path(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def _target(section: dict[str, Any]) -> str:
    """``target``, or the round-robin target of several ``targets`` (not both)."""
    if "targets" not in section:
        return str(_get(section, "target", str, "verifier."))
    if "target" in section:
        raise AgentConfigError("verifier.target and verifier.targets: give only one")
    targets = _get(section, "targets", list, "verifier.")
    if not targets or not all(isinstance(t, str) for t in targets):
        raise AgentConfigError("verifier.targets must be a non-empty list of str")
    try:
        return replica_target(targets)
    except ValueError as exc:
        raise AgentConfigError(f"verifier.targets: {exc}") from None


def load_agent_config(path: Path) -> AgentConfig:
    """Read and check ``path``; relative paths are relative to its folder.

    Raises:
        AgentConfigError: unreadable file, bad TOML, unknown or mistyped key,
            unreadable key material, or a public listen address.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AgentConfigError(f"cannot read {path}: {exc}") from exc
    base = path.parent
    unknown = set(data) - _TOP
    if unknown:
        raise AgentConfigError(f"unknown key(s) in {path.name}: {', '.join(sorted(unknown))}")
    try:
        profile = Profile(_get(data, "profile", str, ""))
    except ValueError:
        raise AgentConfigError("profile must be 'kiosk' or 'atm'") from None
    try:
        listen = check_listen(_get(data, "listen", str, "", "unix:/run/myna-edge/agent.sock"))
    except ValueError as exc:
        raise AgentConfigError(f"listen: {exc}") from None
    section = _get(data, "verifier", dict, "")
    unknown = set(section) - _VERIFIER
    if unknown:
        raise AgentConfigError(f"unknown key(s) in [verifier]: {', '.join(sorted(unknown))}")
    terminal_id = _get(data, "terminal_id", str, "")
    dev = _get(section, "insecure_dev", bool, "verifier.", False)
    material: dict[str, bytes | None] = {}
    for name, field_name in (
        ("ca", "ca_pem"),
        ("certificate", "certificate_pem"),
        ("key", "key_pem"),
    ):
        value = _get(section, name, str, "verifier.", None if dev else ...)
        try:
            material[field_name] = None if value is None else _path(base, value).read_bytes()
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise AgentConfigError(f"verifier.{name}: cannot read {value}: {exc}") from None
    timeout = float(_get(section, "timeout", (int, float), "verifier.", 5.0))
    server_name = _get(section, "server_name", str, "verifier.", None)
    try:
        client = ClientConfig(
            _target(section), terminal_id, timeout=timeout,
            insecure_dev=dev, server_name_override=server_name,
            ca_pem=material["ca_pem"], certificate_pem=material["certificate_pem"],
            key_pem=material["key_pem"],
        )  # fmt: skip
    except ValueError as exc:
        raise AgentConfigError(f"[verifier]: {exc}") from None
    hours_text = _get(data, "kiosk_hours", str, "", None)
    hours = None
    if hours_text is not None:
        match = re.fullmatch(r"(\d\d:\d\d)-(\d\d:\d\d)", hours_text)
        try:
            if match is None:
                raise ValueError(hours_text)
            hours = (dt.time.fromisoformat(match[1]), dt.time.fromisoformat(match[2]))
        except ValueError:
            raise AgentConfigError('kiosk_hours must look like "06:00-23:00"') from None
    ej = _get(data, "electronic_journal", str, "", None)
    answer_seconds = float(_get(data, "recovery_answer_seconds", (int, float), "", 120.0))
    if not 0 <= answer_seconds <= 600:
        raise AgentConfigError("recovery_answer_seconds must be 0 .. 600")
    taken_seconds = float(_get(data, "card_taken_seconds", (int, float), "", 0.0))
    if not 0 <= taken_seconds <= 600:
        raise AgentConfigError("card_taken_seconds must be 0 .. 600")
    controller = _get(data, "controller", str, "", None)
    key_file = _get(data, "controller_key", str, "", None if controller is None else ...)
    controller_key = None
    if key_file is not None:
        try:
            controller_key = bytes.fromhex(
                _path(base, key_file).read_text(encoding="ascii").strip()
            )
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise AgentConfigError(f"controller_key: cannot read a hex key: {exc}") from None
    return AgentConfig(
        profile=profile,
        terminal_id=terminal_id,
        reader=_get(data, "reader", str, ""),
        listen=listen,
        journal=_path(base, _get(data, "journal", str, "", "journal.sqlite")),
        electronic_journal=None if ej is None else _path(base, ej),
        verifier=client,
        printer=_get(data, "printer", str, "", None),
        controller=controller,
        controller_key=controller_key,
        reset_otp_first=_get(data, "reset_otp_first", bool, "", False),
        transfer_threshold_yen=_get(data, "transfer_threshold_yen", int, "", 100_000),
        kiosk_hours=hours,
        recovery_answer_seconds=answer_seconds,
        card_taken_seconds=taken_seconds,
    )
