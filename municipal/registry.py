# SPDX-License-Identifier: Apache-2.0
"""The resident registry (住民基本台帳, as far as certificates need it).

Why residents are found by their card's certificate: in the real service the
municipality knows the resident by the link J-LIS keeps between the user-
authentication certificate and the resident record, never by anything the
terminal sends. Here the link is the certificate's issuer and serial number.
A resident who also carries JPKI on a smartphone has more than one: the
phone's own user-authentication certificate links to the same record
(``phone_links``), so a document asked for from the phone is the same
person's, from the same record.
The reference registry is made by ``myna_edge`` from the virtual-card
catalogue (this package never imports ``hw_sim``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from municipal.errors import Refusal, RefusedError

__all__ = ["CertificateLink", "Registry", "Resident"]


@dataclass(frozen=True)
class CertificateLink:
    """The key from a card's authentication certificate to a resident record."""

    issuer: str  # RFC 4514 string of the issuing CA
    serial: int


@dataclass(frozen=True)
class Resident:
    """One resident record: what the certificates print."""

    resident_id: str
    link: CertificateLink
    name: str
    birth_date: dt.date
    sex: str  # as printed: 男, 女
    address: str
    household_id: str
    relationship: str  # 続柄 (世帯主, 妻, 子, ...)
    moved_in_on: dt.date
    seal_registered: bool = False
    #: The user-authentication certificates of the resident's smartphones (issue 15).
    phone_links: tuple[CertificateLink, ...] = ()
    #: The municipality code of 本籍地 (None: a foreign resident, no 戸籍).
    domicile_code: str | None = None
    #: A support measure (e.g. DV): certificates at the counter only.
    restricted: bool = False

    def __repr__(self) -> str:
        return f"Resident(id={self.resident_id!r}, <redacted>)"


class Registry:
    """Residents of one municipality, found by certificate link."""

    def __init__(self, residents: Iterable[Resident]) -> None:
        self._by_link: dict[CertificateLink, Resident] = {}
        self._households: dict[str, list[Resident]] = {}
        self._count = 0
        for resident in residents:
            links = (resident.link, *resident.phone_links)
            if len(set(links)) != len(links) or any(k in self._by_link for k in links):
                raise ValueError(f"two residents share a certificate ({resident.resident_id})")
            for link in links:
                self._by_link[link] = resident
            self._households.setdefault(resident.household_id, []).append(resident)
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def resident(self, link: CertificateLink) -> Resident:
        """The resident the certificate (the card's or a phone's) is linked to.

        Raises:
            RefusedError: NOT_A_RESIDENT when no record is linked.
        """
        found = self._by_link.get(link)
        if found is None:
            raise RefusedError(Refusal.NOT_A_RESIDENT)
        return found

    def household(self, resident: Resident) -> tuple[Resident, ...]:
        """The resident's household, head first, then in registration order."""
        members = self._households.get(resident.household_id, [resident])
        return tuple(sorted(members, key=lambda m: m.relationship != "世帯主"))
