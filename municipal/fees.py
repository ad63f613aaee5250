# SPDX-License-Identifier: Apache-2.0
"""What a municipality offers at stores, at what fee, and when.

Why a table, not code: each of the ~1,300 municipalities sets its own list
and fees (many charge less at a store than at the counter), so the reference
service reads them as data. Service hours default to the national ones (6:30–23:00
Japan time, closed 29 December to 3 January); a municipality may keep
narrower hours, and a test stack wider ones (``[service_hours]``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from municipal.document.content import DocumentKind
from municipal.errors import Refusal, RefusedError

__all__ = [
    "DEFAULT_FEES",
    "JST",
    "MAX_COPIES",
    "NATIONAL_HOURS",
    "FeeTable",
    "ServiceHours",
    "check_service_hours",
]

JST: Final = ZoneInfo("Asia/Tokyo")
MAX_COPIES: Final = 10


@dataclass(frozen=True)
class ServiceHours:
    """When documents are issued at stores, in minutes after midnight JST (closes may be 1440)."""

    opens_minute: int = 6 * 60 + 30
    closes_minute: int = 23 * 60
    #: 29 December to 3 January closed (the national rule).
    year_end_closed: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.opens_minute < self.closes_minute <= 24 * 60:
            raise ValueError("service hours: opens before closes, within one day")

    def open_at(self, now: dt.datetime) -> bool:
        """Whether ``now`` (aware, any zone) is inside the hours, read in JST."""
        local = now.astimezone(JST)
        month_day = (local.month, local.day)
        if self.year_end_closed and (month_day >= (12, 29) or month_day <= (1, 3)):
            return False
        minute = local.hour * 60 + local.minute
        return self.opens_minute <= minute < self.closes_minute


NATIONAL_HOURS: Final = ServiceHours()

#: Yen per copy; an example table (a municipality configures its own).
DEFAULT_FEES: Final = MappingProxyType(
    {
        DocumentKind.RESIDENT_RECORD: 200,
        DocumentKind.SEAL_REGISTRATION: 200,
        DocumentKind.TAX: 200,
        DocumentKind.FAMILY_REGISTER: 350,
    }
)


@dataclass(frozen=True)
class FeeTable:
    """Fees per copy of the documents this municipality offers at stores."""

    fees: MappingProxyType[DocumentKind, int] = field(default_factory=lambda: DEFAULT_FEES)
    max_copies: int = MAX_COPIES
    hours: ServiceHours = NATIONAL_HOURS

    def fee(self, kind: DocumentKind, copies: int) -> int:
        """The total fee for ``copies`` of ``kind``.

        Raises:
            RefusedError: DOCUMENT_NOT_OFFERED, or OPTIONS_INVALID for copies
                outside 1..max_copies.
        """
        per_copy = self.fees.get(kind)
        if per_copy is None:
            raise RefusedError(Refusal.DOCUMENT_NOT_OFFERED)
        if not 1 <= copies <= self.max_copies:
            raise RefusedError(Refusal.OPTIONS_INVALID)
        return per_copy * copies


def check_service_hours(now: dt.datetime, hours: ServiceHours = NATIONAL_HOURS) -> None:
    """Refuse outside ``hours`` (default 6:30–23:00 JST, closed 29 December to 3 January).

    Raises:
        RefusedError: OUTSIDE_SERVICE_HOURS.
        ValueError: ``now`` has no time zone.
    """
    if now.tzinfo is None:
        raise ValueError("service hours need an aware datetime")
    if not hours.open_at(now):
        raise RefusedError(Refusal.OUTSIDE_SERVICE_HOURS)
