# SPDX-License-Identifier: Apache-2.0
"""The ``[issuance]`` section: the centre's routing table to the municipalities.

Why its own module: ``verifier.config`` holds the verifier's other sections
and stays small; this one is the centre role's (issue 14). The file::

    [issuance]
    client_cert = "tls/centre.pem"        # the centre's identity toward municipalities
    client_key = "tls/centre.key"
    session_ttl_seconds = 600             # a proven session serves this long
    call_timeout_seconds = 10             # one municipal call
    outbox_max_attempts = 20              # a Record/Void is retried this often, then audited
    [issuance.service_hours]              # JST; default コンビニ交付's 06:30-23:00
    opens = "06:30"
    closes = "23:00"                      # "24:00": until midnight
    year_end_closed = true                # 12/29-1/3
    [issuance.municipalities.131016]
    name = "東京都千代田区"
    address = "10.1.2.3:50061"
    ca = "tls/131016-ca.pem"              # the CA of that municipality's server certificate
    # client_cert / client_key: per municipality, over the section's

A municipality may be reached in plaintext only with ``plaintext = true``,
on a loopback address, and only when the verifier itself runs with
``--insecure-dev`` (``check_plaintext``): a copied file never sends
documents in clear over a network.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final

import msgspec
from msgspec import UNSET, UnsetType

from verifier.errors import ConfigError
from verifier.issuance_port import ServiceHours

__all__ = [
    "IssuanceConfig",
    "IssuanceFile",
    "MunicipalityRoute",
    "check_plaintext",
    "issuance_from_file",
]

_CODE: Final = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class MunicipalityRoute:
    """How the centre reaches one municipality's issuing service."""

    code: str
    address: str
    name: str = ""
    ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    plaintext: bool = False

    def __repr__(self) -> str:
        return f"MunicipalityRoute(code={self.code!r}, address={self.address!r})"


@dataclass(frozen=True)
class IssuanceConfig:
    """The centre role; None in ``VerifierConfig.issuance`` means not served."""

    municipalities: tuple[MunicipalityRoute, ...] = ()
    session_ttl_seconds: float = 600.0
    call_timeout_seconds: float = 10.0
    outbox_max_attempts: int = 20
    #: A request still PENDING this long after it began is settled by the sweep.
    pending_timeout_seconds: float = 120.0
    #: The clock the service hours are read from (default: the verifier's);
    #: injectable so tests run at noon JST whatever the real time, while
    #: certificates and CRLs are still checked against the real one.
    hours_clock: Callable[[], dt.datetime] | None = field(default=None, compare=False)
    service_hours: ServiceHours = field(default_factory=ServiceHours)
    routes: dict[str, MunicipalityRoute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", {m.code: m for m in self.municipalities})


_Positive = Annotated[float, msgspec.Meta(gt=0)]


class _RouteFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    address: Annotated[str, msgspec.Meta(min_length=3, max_length=300)]
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    ca: Path | UnsetType = UNSET
    client_cert: Path | UnsetType = UNSET
    client_key: Path | UnsetType = UNSET
    plaintext: bool = False


_Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class _HoursFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    opens: _Clock = "06:30"
    closes: _Clock = "23:00"
    year_end_closed: bool = True

    def hours(self) -> ServiceHours:
        """The checked hours (ValueError when they do not open before they close)."""
        (oh, om), (ch, cm) = (map(int, t.split(":")) for t in (self.opens, self.closes))
        return ServiceHours(oh * 60 + om, ch * 60 + cm, self.year_end_closed)


class IssuanceFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The ``[issuance]`` table as the file gives it (``verifier.config`` embeds it)."""

    client_cert: Path | UnsetType = UNSET
    client_key: Path | UnsetType = UNSET
    session_ttl_seconds: _Positive = 600.0
    call_timeout_seconds: _Positive = 10.0
    outbox_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    pending_timeout_seconds: _Positive = 120.0
    service_hours: _HoursFile | UnsetType = UNSET
    municipalities: dict[str, _RouteFile] = {}


def _path(value: Path | UnsetType) -> Path | None:
    return None if isinstance(value, UnsetType) else value


def issuance_from_file(source: Path, section: IssuanceFile | UnsetType) -> IssuanceConfig | None:
    """The checked section (paths already resolved by the loader's hook).

    Raises:
        ConfigError: a code that is not six digits, or a TLS route without CA or key pair.
    """
    if isinstance(section, UnsetType):
        return None
    routes = []
    for code, entry in section.municipalities.items():
        if not _CODE.fullmatch(code):
            raise ConfigError(f"{source}: issuance.municipalities: {code!r} is not a 6-digit code")
        route = MunicipalityRoute(
            code=code,
            address=entry.address,
            name=entry.name,
            ca=_path(entry.ca),
            client_cert=_path(entry.client_cert) or _path(section.client_cert),
            client_key=_path(entry.client_key) or _path(section.client_key),
            plaintext=entry.plaintext,
        )
        if not route.plaintext and None in (route.ca, route.client_cert, route.client_key):
            raise ConfigError(
                f"{source}: issuance.municipalities.{code}: ca, client_cert and client_key"
                " are required (the centre authenticates with mTLS)"
            )
        routes.append(route)
    hours = ServiceHours()
    if not isinstance(section.service_hours, UnsetType):
        try:
            hours = section.service_hours.hours()
        except ValueError as exc:
            raise ConfigError(f"{source}: issuance.{exc}") from None
    return IssuanceConfig(
        municipalities=tuple(routes),
        session_ttl_seconds=section.session_ttl_seconds,
        call_timeout_seconds=section.call_timeout_seconds,
        outbox_max_attempts=section.outbox_max_attempts,
        pending_timeout_seconds=section.pending_timeout_seconds,
        service_hours=hours,
    )


def _loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plaintext(config: IssuanceConfig, *, insecure_dev: bool) -> None:
    """Refuse a plaintext route unless in development mode on loopback.

    Raises:
        ConfigError: a plaintext route outside those limits.
    """
    for route in config.municipalities:
        if route.plaintext and not (insecure_dev and _loopback(route.address)):
            raise ConfigError(
                f"issuance.municipalities.{route.code}: plaintext only with --insecure-dev"
                " and a loopback address"
            )
