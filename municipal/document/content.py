# SPDX-License-Identifier: Apache-2.0
"""What a certificate says, and its canonical bytes (the bytes the municipality signs).

Why canonical JSON (UTF-8, keys sorted, no spaces, no ASCII escaping): anyone
checking a paper copy in another language rebuilds the same bytes with any
JSON library, and the code on the back stays compact for Japanese text.
Fields are an ordered list of (label, value) pairs so the page prints them in
the order the municipality chose, and the comparison with the page's text is
exact.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from typing import Final

from municipal.document.errors import CodeFormatError

__all__ = ["CONTENT_FORMAT", "DocumentContent", "DocumentKind", "decode_content"]

#: The version of the content's JSON shape (bumped when a key changes).
CONTENT_FORMAT: Final = 1


class DocumentKind(enum.Enum):
    """The certificates the convenience-store service offers (issue 14)."""

    RESIDENT_RECORD = "resident_record"  # 住民票の写し
    SEAL_REGISTRATION = "seal_registration"  # 印鑑登録証明書
    TAX = "tax"  # 課税・非課税証明書
    FAMILY_REGISTER = "family_register"  # 戸籍証明書

    @property
    def title(self) -> str:
        """The title printed on the page."""
        return _TITLES[self]


_TITLES: Final = {
    DocumentKind.RESIDENT_RECORD: "住民票の写し",
    DocumentKind.SEAL_REGISTRATION: "印鑑登録証明書",
    DocumentKind.TAX: "課税・非課税証明書",
    DocumentKind.FAMILY_REGISTER: "戸籍証明書",
}


@dataclass(frozen=True)
class DocumentContent:
    """One issued certificate: every word the front page prints comes from here.

    ``serial`` is the municipality's issue number (unique per document, so a
    code copied from another document does not match this page).
    """

    kind: DocumentKind
    serial: str
    municipality_code: str
    municipality_name: str
    mayor: str
    issued_on: dt.date
    fields: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        # Personal data stays out of reprs (they end up in logs and tracebacks).
        return f"DocumentContent(kind={self.kind.name}, serial={self.serial!r}, fields=<redacted>)"

    @property
    def certification(self) -> str:
        """The certifying sentence above the mayor's name."""
        return f"この写しは{self.kind.title.removesuffix('の写し')}の原本と相違ないことを証明する。"

    def canonical(self) -> bytes:
        """The exact bytes the municipality signs."""
        body = {
            "format": CONTENT_FORMAT,
            "kind": self.kind.value,
            "serial": self.serial,
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "mayor": self.mayor,
            "issued_on": self.issued_on.isoformat(),
            "fields": [[label, value] for label, value in self.fields],
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def decode_content(raw: bytes) -> DocumentContent:
    """Parse canonical bytes back into a ``DocumentContent``.

    Raises:
        CodeFormatError: not UTF-8 JSON of the expected shape, or not canonical.
    """
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CodeFormatError("the code's content is not UTF-8 JSON") from exc
    if not isinstance(body, dict) or body.get("format") != CONTENT_FORMAT:
        raise CodeFormatError("the code's content has an unknown format")
    try:
        kind = DocumentKind(body["kind"])
        text = {
            key: _string(body[key])
            for key in ("serial", "municipality_code", "municipality_name", "mayor")
        }
        issued_on = dt.date.fromisoformat(_string(body["issued_on"]))
        fields = tuple(_pair(item) for item in _list(body["fields"]))
    except (KeyError, ValueError) as exc:
        raise CodeFormatError("the code's content lacks a field or has a bad value") from exc
    content = DocumentContent(kind=kind, issued_on=issued_on, fields=fields, **text)
    # Only one byte string may stand for a document: a re-encoded code is refused.
    if content.canonical() != raw:
        raise CodeFormatError("the code's content is not in canonical form")
    return content


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _pair(value: object) -> tuple[str, str]:
    items = _list(value)
    if len(items) != 2:
        raise ValueError("expected a (label, value) pair")
    return _string(items[0]), _string(items[1])
