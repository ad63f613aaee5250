# SPDX-License-Identifier: Apache-2.0
"""What a municipality offers at stores, at what fee, and when.

Why a table, not code: each of the ~1,300 municipalities sets its own list
and fees (many charge less at a store than at the counter), so the reference
service reads them as data. Service hours are the national ones: 6:30–23:00
Japan time, closed 29 December to 3 January.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from municipal.document.content import DocumentKind
from municipal.errors import Refusal, RefusedError

__all__ = ["DEFAULT_FEES", "JST", "MAX_COPIES", "FeeTable", "check_service_hours"]

JST: Final = ZoneInfo("Asia/Tokyo")
_OPEN: Final = dt.time(6, 30)
_CLOSE: Final = dt.time(23, 0)
MAX_COPIES: Final = 10

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


def check_service_hours(now: dt.datetime) -> None:
    """Refuse outside 6:30–23:00 JST and from 29 December to 3 January.

    Raises:
        RefusedError: OUTSIDE_SERVICE_HOURS.
        ValueError: ``now`` has no time zone.
    """
    if now.tzinfo is None:
        raise ValueError("service hours need an aware datetime")
    local = now.astimezone(JST)
    year_end = (local.month, local.day) >= (12, 29) or (local.month, local.day) <= (1, 3)
    if year_end or not _OPEN <= local.time() < _CLOSE:
        raise RefusedError(Refusal.OUTSIDE_SERVICE_HOURS)
