# SPDX-License-Identifier: Apache-2.0
"""The ``pcsc://`` URL grammar, parsed once on construction (see ``host.transport.pcsc``).

Why apart: the grammar is pure and tested on its own; the transport only
reads the parsed fields.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from host.errors import InvalidReaderUrlError

__all__ = ["PcscUrl", "parse_pcsc_url"]

_QUERY_KEYS: Final = frozenset({"wait", "share", "protocol", "extended"})


class PcscUrl:
    """A parsed ``pcsc://`` URL (see the module docstring)."""

    __slots__ = ("extended", "index", "name", "protocol", "share", "wait")

    def __init__(
        self,
        name: str,
        index: int | None,
        wait: float,
        share: str,
        protocol: str,
        extended: bool | None,
    ) -> None:
        self.name = name
        self.index = index
        self.wait = wait
        self.share = share
        self.protocol = protocol
        self.extended = extended

    def __repr__(self) -> str:
        return f"PcscUrl(name={self.name!r}, index={self.index}, share={self.share})"


def parse_pcsc_url(url: str) -> PcscUrl:
    """Parse a ``pcsc://`` URL.

    Raises:
        InvalidReaderUrlError: another scheme, or a bad or unknown parameter.
    """
    try:
        parts = urlsplit(url)  # raises on unbalanced IPv6 brackets
    except ValueError as exc:
        raise InvalidReaderUrlError(f"malformed pcsc:// URL: {url!r}") from exc
    if parts.scheme != "pcsc" or parts.fragment or parts.path not in ("", "/"):
        raise InvalidReaderUrlError(f"not a pcsc://READER URL: {url!r}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise InvalidReaderUrlError(f"malformed query in {url!r}") from exc
    unknown = set(query) - _QUERY_KEYS
    if unknown or any(len(v) != 1 for v in query.values()):
        raise InvalidReaderUrlError(f"unknown or repeated pcsc:// parameter in {url!r}")
    one = {key: values[0] for key, values in query.items()}
    name = unquote(parts.netloc)
    index = int(name) if name.isascii() and name.isdigit() else None
    try:
        wait = float(one.get("wait", "0"))
    except ValueError:
        raise InvalidReaderUrlError(f"wait must be seconds in {url!r}") from None
    share = one.get("share", "exclusive")
    protocol = one.get("protocol", "t1")
    extended_text = one.get("extended", "auto")
    if not 0 <= wait <= 3600 or share not in ("exclusive", "shared"):
        raise InvalidReaderUrlError(f"bad wait or share in {url!r}")
    if protocol not in ("t0", "t1", "any") or extended_text not in ("auto", "0", "1"):
        raise InvalidReaderUrlError(f"bad protocol or extended in {url!r}")
    extended = None if extended_text == "auto" else extended_text == "1"
    return PcscUrl(name, index, wait, share, protocol, extended)
