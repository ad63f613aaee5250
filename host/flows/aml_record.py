# SPDX-License-Identifier: Apache-2.0
"""The business's AML file (取引時確認の記録): one record per counter check.

Why apart from the counter flow (``host.flows.counter``): the record is what
the business keeps under the AML rules (犯罪収益移転防止法施行規則), with
stable JSON field names an auditor or the operator's own system reads; its
shape and storage change for legal reasons, the flow's steps for card
reasons. ``AmlFile`` is the port the flow writes to; ``JsonLinesAmlFile``
is the default, an owner-only (0600) JSON-lines file, appended and fsynced.
A record never holds the My Number (照合番号B does not even open it), and
the photo only when the operator's config stores it; its repr is redacted.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from host.card import FaceVerdict
from host.private_files import open_private

__all__ = ["AmlCheckRecord", "AmlFile", "JsonLinesAmlFile"]


@dataclass(frozen=True, repr=False)
class AmlCheckRecord:
    """One check for the business's AML file (取引時確認の記録).

    Attributes:
        check_id: the flow's operation id.
        checked_at: when (UTC).
        terminal_id, staff_id: where and who.
        method: how the identity was checked.
        items: which card items the chip gave and the screen showed.
        verdict: the chip's verdict.
        photo_compared: staff confirmed the person matches the photo (None: not shown).
        name, address, birth_date: the identity items (本人特定事項) as read;
            empty for a forged face, whose data cannot be trusted.
        photo_png: the photo, only when the operator's config stores it.
    """

    check_id: str
    checked_at: dt.datetime
    terminal_id: str
    staff_id: str
    method: str
    items: tuple[str, ...]
    verdict: FaceVerdict
    photo_compared: bool | None
    name: str = ""
    address: str = ""
    birth_date: dt.date | None = None
    photo_png: bytes | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON object (stable field names)."""
        return {
            "check_id": self.check_id,
            "checked_at": self.checked_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "terminal_id": self.terminal_id,
            "staff_id": self.staff_id,
            "method": self.method,
            "items": list(self.items),
            "verdict": self.verdict.value,
            "photo_compared": self.photo_compared,
            "name": self.name,
            "address": self.address,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "photo_png": base64.b64encode(self.photo_png).decode() if self.photo_png else None,
        }

    def __repr__(self) -> str:
        return f"AmlCheckRecord({self.check_id}, verdict={self.verdict.value}, <redacted>)"


class AmlFile(Protocol):
    """Where check records go (the business's AML file)."""

    def append(self, record: AmlCheckRecord) -> None:
        """Store ``record`` durably."""


class JsonLinesAmlFile:
    """An AML file as JSON lines, owner-only (0600), appended and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, record: AmlCheckRecord) -> None:
        """Append ``record`` as one line.

        Raises:
            UnsafePathError, OSError: the file cannot be written safely.
        """
        line = json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
