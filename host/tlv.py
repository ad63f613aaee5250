# SPDX-License-Identifier: Apache-2.0
"""A lenient BER-TLV parser for what the card stores.

The card's files are BER, but not always minimal DER: the My Number tag
``FF 10`` is a non-minimal encoding of private tag 16, lengths may be written
long-form with leading zeros (``82 00 9F``), and every file is padded with
``FF`` after its object (jpki-card.md §3.2; MYNA-go had to drop Go's strict
DER checks). A strict DER decoder rejects real cards, so this parser accepts
those forms. It is also the first thing that touches bytes from the card, so
every malformed or truncated input raises ``DataFormatError`` and nothing
else: no ``IndexError`` or ``ValueError`` leaks to the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from host.errors import DataFormatError

__all__ = [
    "MAX_LENGTH_OCTETS",
    "MAX_TAG_OCTETS",
    "Tlv",
    "TlvHeader",
    "parse_all",
    "parse_header",
    "parse_one",
]

#: Longest tag accepted; the card's tags have 1 or 2 bytes (``DF21``, ``FF20``).
MAX_TAG_OCTETS: Final = 4
#: Longest long-form length accepted (``84 xx xx xx xx``).
MAX_LENGTH_OCTETS: Final = 4
_FILLER_BYTES: Final = b"\xff"


@dataclass(frozen=True)
class TlvHeader:
    """A tag and length as read, before the value.

    Attributes:
        tag: the tag bytes as a big-endian int (``0xFF20``).
        header_length: bytes taken by tag and length.
        length: the value's length.
    """

    tag: int
    header_length: int
    length: int

    @property
    def total_length(self) -> int:
        """Header plus value."""
        return self.header_length + self.length


@dataclass(frozen=True, repr=False)
class Tlv:
    """One parsed data object.

    Attributes:
        tag: the tag as a big-endian int.
        value: the value bytes.
        offset: where the tag starts, counted from the start of the buffer
            given to the parser (children keep the outer buffer's offsets).
        header_length: bytes taken by tag and length.
    """

    tag: int
    value: bytes
    offset: int
    header_length: int

    @property
    def constructed(self) -> bool:
        """Whether the first tag byte marks a constructed object (bit 6)."""
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    @property
    def value_offset(self) -> int:
        """Where the value starts in the outer buffer."""
        return self.offset + self.header_length

    @property
    def end(self) -> int:
        """The offset just past this object in the outer buffer."""
        return self.value_offset + len(self.value)

    def children(self) -> list[Tlv]:
        """Parse the value as a sequence of objects (trailing ``FF`` filler ignored).

        Raises:
            DataFormatError: the value is not a well-formed sequence.
        """
        return parse_all(self.value, base_offset=self.value_offset)

    def child(self, tag: int) -> Tlv:
        """Return the first child with ``tag``.

        Raises:
            DataFormatError: no such child, or the value does not parse.
        """
        for item in self.children():
            if item.tag == tag:
                return item
        raise DataFormatError(f"tag {tag:X} missing inside {self.tag:X}")

    def __repr__(self) -> str:
        # Values may be personal data (name, address, My Number): never shown.
        return f"Tlv(tag={self.tag:X}, length={len(self.value)}, offset={self.offset})"


def parse_header(data: bytes, offset: int = 0) -> TlvHeader:
    """Read the tag and length at ``offset``; the value need not be present.

    Used to size a file from its first bytes before reading the rest.

    Raises:
        DataFormatError: truncated header, over-long tag or length, or an
            indefinite length.
    """
    pos = offset
    if pos < 0 or pos >= len(data):
        raise DataFormatError("TLV truncated: no tag")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # multi-byte tag: more bytes while bit 8 is set
        while True:
            if pos >= len(data):
                raise DataFormatError("TLV truncated inside a tag")
            if pos - offset >= MAX_TAG_OCTETS:
                raise DataFormatError(f"TLV tag longer than {MAX_TAG_OCTETS} bytes")
            byte = data[pos]
            pos += 1
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
    if pos >= len(data):
        raise DataFormatError("TLV truncated: no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DataFormatError("indefinite BER length is not used by the card")
    else:
        count = first & 0x7F
        if count > MAX_LENGTH_OCTETS:
            raise DataFormatError(f"TLV length of {count} bytes is too long")
        if pos + count > len(data):
            raise DataFormatError("TLV truncated inside a length")
        # Leading zeros (82 00 9F) are accepted on purpose: the card writes them.
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return TlvHeader(tag, pos - offset, length)


def parse_one(data: bytes, offset: int = 0, *, base_offset: int = 0) -> Tlv:
    """Parse the object at ``offset``; bytes after it are ignored (filler).

    Args:
        data: the buffer.
        offset: where the object starts in ``data``.
        base_offset: added to the reported offsets (for nested parsing).

    Raises:
        DataFormatError: malformed, or the value runs past the end of ``data``.
    """
    header = parse_header(data, offset)
    start = offset + header.header_length
    if start + header.length > len(data):
        raise DataFormatError(
            f"TLV {header.tag:X} truncated: {header.length} bytes announced, "
            f"{len(data) - start} present"
        )
    return Tlv(
        header.tag,
        bytes(data[start : start + header.length]),
        base_offset + offset,
        header.header_length,
    )


def parse_all(data: bytes, *, base_offset: int = 0) -> list[Tlv]:
    """Parse consecutive objects until the end, or until only ``FF`` filler is left.

    Raises:
        DataFormatError: any object is malformed or truncated.
    """
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if not data[pos:].strip(_FILLER_BYTES):
            break
        item = parse_one(data, pos, base_offset=base_offset)
        items.append(item)
        pos = item.end - base_offset
    return items
