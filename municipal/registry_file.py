# SPDX-License-Identifier: Apache-2.0
"""The registry file the service loads (``--registry FILE``): JSON checked by a msgspec schema.

Why a file: the reference registry is made outside this package (by
``myna_edge.municipal_world`` from the virtual-card catalogue; ``municipal``
never imports the simulator), and a real deployment would export it from its
resident system. The schema is the ``_...File`` structs below; msgspec is
strict (no ``"1" -> 1``) and an error names the path in the document. The
file holds personal data: errors never quote a value.

Layout::

    {"format": 1,
     "municipality": {"code": "131016", "name": "千代田区", "mayor": "千代田区長　…"},
     "residents": [{"resident_id": "r-0001",
                    "certificate": {"issuer": "CN=…", "serial": "5d2c0e9f"},
                    "name": "…", "birth_date": "1980-01-01", "sex": "男",
                    "address": "…", "household_id": "h-0001", "relationship": "世帯主",
                    "moved_in_on": "2010-04-01", "seal_registered": true,
                    "domicile_code": "131016", "restricted": false}]}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec

from municipal.errors import MunicipalConfigError
from municipal.issuing import Municipality
from municipal.registry import CertificateLink, Registry, Resident

__all__ = [
    "MAX_REGISTRY_BYTES",
    "RegistryFile",
    "decode_registry",
    "encode_registry",
    "load_registry",
]

#: Bigger than any reference registry; bounds what a hostile file costs.
MAX_REGISTRY_BYTES: Final = 16 * 1024 * 1024

_Code = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class _MunicipalityFile(msgspec.Struct, forbid_unknown_fields=True):
    code: _Code
    name: _Text
    mayor: _Text


class _CertificateFile(msgspec.Struct, forbid_unknown_fields=True):
    issuer: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    serial: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{1,40}$")]  # hex, lower case


class _ResidentFile(msgspec.Struct, forbid_unknown_fields=True):
    resident_id: _Id
    certificate: _CertificateFile
    name: _Text
    birth_date: dt.date
    sex: Literal["男", "女"]
    address: _Text
    household_id: _Id
    relationship: _Text
    moved_in_on: dt.date
    seal_registered: bool = False
    domicile_code: _Code | None = None
    restricted: bool = False
    #: The resident's smartphones' certificates (optional: format 1 files without it read as none).
    phones: Annotated[list[_CertificateFile], msgspec.Meta(max_length=8)] = []


class RegistryFile(msgspec.Struct, forbid_unknown_fields=True):
    """The whole file: its format version, who keeps it, and the residents."""

    format: Literal[1]
    municipality: _MunicipalityFile
    residents: list[_ResidentFile]


def decode_registry(data: bytes) -> tuple[Municipality, Registry]:
    """Parse a registry file's bytes.

    Raises:
        MunicipalConfigError: too large, not JSON, off the schema, or two
            residents share a certificate.
    """
    if len(data) > MAX_REGISTRY_BYTES:
        raise MunicipalConfigError("the registry file is too large")
    try:
        parsed = msgspec.json.decode(data, type=RegistryFile)
    except msgspec.ValidationError as exc:
        raise MunicipalConfigError(f"registry file: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise MunicipalConfigError("registry file: not valid JSON") from exc
    place = parsed.municipality
    residents = [
        Resident(
            resident_id=r.resident_id,
            link=CertificateLink(r.certificate.issuer, int(r.certificate.serial, 16)),
            phone_links=tuple(CertificateLink(c.issuer, int(c.serial, 16)) for c in r.phones),
            name=r.name,
            birth_date=r.birth_date,
            sex=r.sex,
            address=r.address,
            household_id=r.household_id,
            relationship=r.relationship,
            moved_in_on=r.moved_in_on,
            seal_registered=r.seal_registered,
            domicile_code=r.domicile_code,
            restricted=r.restricted,
        )
        for r in parsed.residents
    ]
    try:
        registry = Registry(residents)
    except ValueError as exc:
        raise MunicipalConfigError("registry file: two residents share a certificate") from exc
    return Municipality(code=place.code, name=place.name, mayor=place.mayor), registry


def load_registry(path: Path) -> tuple[Municipality, Registry]:
    """Read and parse the registry file at ``path``.

    Raises:
        MunicipalConfigError: unreadable, or see ``decode_registry``.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REGISTRY_BYTES + 1)
    except OSError as exc:
        raise MunicipalConfigError(f"cannot read the registry file {path}: {exc}") from exc
    return decode_registry(data)


def encode_registry(municipality: Municipality, residents: list[Resident]) -> bytes:
    """The registry file for ``residents`` (what ``decode_registry`` reads back)."""
    document = RegistryFile(
        format=1,
        municipality=_MunicipalityFile(
            code=municipality.code, name=municipality.name, mayor=municipality.mayor
        ),
        residents=[
            _ResidentFile(
                resident_id=r.resident_id,
                certificate=_CertificateFile(
                    issuer=r.link.issuer, serial=format(r.link.serial, "x")
                ),
                phones=[
                    _CertificateFile(issuer=k.issuer, serial=format(k.serial, "x"))
                    for k in r.phone_links
                ],
                name=r.name,
                birth_date=r.birth_date,
                sex=r.sex,  # type: ignore[arg-type]  # checked on decode
                address=r.address,
                household_id=r.household_id,
                relationship=r.relationship,
                moved_in_on=r.moved_in_on,
                seal_registered=r.seal_registered,
                domicile_code=r.domicile_code,
                restricted=r.restricted,
            )
            for r in residents
        ],
    )
    return msgspec.json.format(msgspec.json.encode(document), indent=2)
