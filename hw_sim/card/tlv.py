# SPDX-License-Identifier: Apache-2.0
"""BER-TLV encoding for the data objects the card stores in its files.

The card's objects are BER, not always minimal DER (jpki-card.md §3.2): EF
0005 of the card-info AP is known to carry ``FF 40 82 00 9F`` (a 2-byte long
length with a leading zero). So the encoder takes an explicit length form
where the card's is known, and is minimal otherwise. Only encoding is needed:
the card never parses a TLV a host sends.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ber_length", "offset_indexed", "pad", "padded_file", "tlv", "tlv_wide"]


def ber_length(length: int) -> bytes:
    """Return the minimal BER length field: short form below 128, else ``81 xx``/``82 xx xx``.

    Raises:
        ValueError: ``length`` is negative or above 65535.
    """
    if length < 0 or length > 0xFFFF:
        raise ValueError("a card TLV length is 0..65535")
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    return b"\x82" + length.to_bytes(2, "big")


def tlv(tag: bytes, value: bytes) -> bytes:
    """Return tag, minimal length and value."""
    return tag + ber_length(len(value)) + value


def tlv_wide(tag: bytes, value: bytes) -> bytes:
    """Return tag, a 2-byte long-form length (``82 HH LL``, leading zero kept) and value.

    Raises:
        ValueError: ``value`` is longer than 65535 bytes.
    """
    if len(value) > 0xFFFF:
        raise ValueError("a card TLV length is 0..65535")
    return tag + b"\x82" + len(value).to_bytes(2, "big") + value


def offset_indexed(tag: bytes, items: Sequence[bytes]) -> bytes:
    """Return ``tag`` wrapping a ``DF21`` index and then ``items`` (whole TLVs), in order.

    ``DF21`` holds one big-endian u16 per item: where the item starts,
    counted from byte 0 of the returned object. Both 券面 APs lay out their
    ``FF 20`` object so (jpki-card.md §3.2, §3.3).
    """
    index_size = len(tlv(b"\xdf\x21", bytes(2 * len(items))))
    total = index_size + sum(len(item) for item in items)
    position = len(tag) + len(ber_length(total)) + index_size
    offsets = b""
    for item in items:
        offsets += position.to_bytes(2, "big")
        position += len(item)
    return tag + ber_length(total) + tlv(b"\xdf\x21", offsets) + b"".join(items)


def pad(data: bytes, size: int, *, filler: int = 0xFF) -> bytes:
    """Return ``data`` padded with ``filler`` to ``size`` bytes: a physical EF's content.

    Raises:
        ValueError: ``data`` is longer than ``size``.
    """
    if len(data) > size:
        raise ValueError(f"{len(data)} bytes do not fit a {size}-byte file")
    return data + bytes([filler]) * (size - len(data))


def padded_file(data: bytes, *, minimum: int, block: int = 256) -> bytes:
    """Return ``data`` in a physical file of at least ``minimum`` bytes, whole ``block``s.

    The file always keeps at least one filler byte after the object, as
    the card's EFs do (jpki-card.md §3.2, §6).
    """
    size = max(minimum, -(-(len(data) + 1) // block) * block)
    return pad(data, size)
