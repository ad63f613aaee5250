# SPDX-License-Identifier: Apache-2.0
"""Selecting and reading the card's transparent files.

Every EF is padded with ``FF`` after its object, so a reader must learn the
object's length from its BER header (jpki-card.md §3.2, §4.2). Two strategies,
selectable because their cost differs by reader path (§7: 8 READ BINARYs
against 1 for a certificate):

* ``EXTENDED``: one READ BINARY with the largest Le the path carries (65536
  with extended length), as NFCPY and AOKI do; more reads only if the path
  returned less than the object.
* ``CHUNKED``: read a 7-byte header, then the rest in 256-byte chunks from
  offset 7, as MYNA does; works on every reader.
* ``SIZED``: read a 7-byte header, then the rest in one extended READ
  BINARY with the exact Le: one APDU more than ``EXTENDED``, but none of
  the filler (a 2048-byte certificate EF holds ~1 kB of it), which on a
  106 kbit/s contactless link costs more than the extra APDU (see
  ``hw_sim.card.timing`` and docs/internals/benchmarks.md).

``AUTO`` picks ``EXTENDED`` (the protocol minimum of APDUs) when the
transport has extended length, else ``CHUNKED``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from host.apdu import MAX_EXTENDED_LE, MAX_SHORT_LE
from host.card import commands
from host.card import constants as c
from host.card.selection import tracker_for
from host.channel import ApduChannel
from host.errors import DataFormatError
from host.tlv import parse_header

__all__ = [
    "HEADER_PROBE_LENGTH",
    "ReadStrategy",
    "read_object",
    "read_physical",
    "read_prefix",
    "resolve_strategy",
    "select_application",
    "select_file",
]

#: Enough for a 2-byte tag and a 5-byte length (MYNA reads 7).
HEADER_PROBE_LENGTH: Final = 7
_SW_OFFSET_PAST_END: Final = 0x6B00
_FILLER: Final = b"\xff"
_MAX_FILE_SIZE: Final = c.MAX_READ_OFFSET + 1


class ReadStrategy(StrEnum):
    """How to read an EF (see the module docstring)."""

    AUTO = "auto"
    EXTENDED = "extended"
    CHUNKED = "chunked"
    SIZED = "sized"


def resolve_strategy(channel: ApduChannel, strategy: ReadStrategy) -> ReadStrategy:
    """Return the concrete strategy ``AUTO`` stands for on this channel."""
    if strategy is ReadStrategy.AUTO:
        extended = channel.capabilities.extended_length
        return ReadStrategy.EXTENDED if extended else ReadStrategy.CHUNKED
    return strategy


def _chunk_size(channel: ApduChannel, strategy: ReadStrategy) -> int:
    caps = channel.capabilities
    # Leave room for the status word: libnfc caps responses at 263 bytes.
    limit = max(1, caps.max_response_bytes - 2)
    if strategy in (ReadStrategy.EXTENDED, ReadStrategy.SIZED) and caps.extended_length:
        return min(MAX_EXTENDED_LE, limit)
    return min(MAX_SHORT_LE, limit)


def select_application(channel: ApduChannel, aid: bytes) -> None:
    """SELECT an application by AID, unless the card has it selected already.

    What is selected is watched on the transport (``host.card.selection``),
    so a skipped SELECT is one the card would have answered by staying put.

    Raises:
        FileNotFoundOnCardError: the card has no such application (6A82).
    """
    tracker = tracker_for(channel.transport)
    if tracker.selected == aid:
        return
    channel.send(commands.select_aid(aid))


def select_file(channel: ApduChannel, fid: int) -> None:
    """SELECT an EF of the current application.

    Raises:
        FileNotFoundOnCardError: no such EF (6A82).
    """
    channel.send(commands.select_ef(fid))


def read_prefix(channel: ApduChannel, length: int) -> bytes:
    """Read up to ``length`` bytes from the start of the current EF (one APDU)."""
    return channel.send(commands.read_binary(0, length)).data


def read_object(channel: ApduChannel, strategy: ReadStrategy = ReadStrategy.AUTO) -> bytes:
    """Read the BER object at the start of the current EF, without the filler.

    Raises:
        DataFormatError: the header does not parse, or the file ends before
            the object does.
        CardError: the card refused a READ BINARY (e.g. 6982 without the PIN).
    """
    strategy = resolve_strategy(channel, strategy)
    chunk = _chunk_size(channel, strategy)
    first_le = chunk if strategy is ReadStrategy.EXTENDED else HEADER_PROBE_LENGTH
    first = channel.send(commands.read_binary(0, first_le)).data
    if first and not first.strip(_FILLER):
        # An EF that holds only filler: e.g. EF 0001 of a holder under 15,
        # who has no signing certificate (§5).
        raise DataFormatError("the file is empty (only FF filler)")
    total = parse_header(first).total_length
    if total > _MAX_FILE_SIZE:
        raise DataFormatError(f"object of {total} bytes is larger than an EF can be")
    data = bytearray(first[:total])
    while len(data) < total:
        # Each round adds at least one byte or stops, so this ends.
        response = channel.send(
            commands.read_binary(len(data), min(chunk, total - len(data))),
            allow={_SW_OFFSET_PAST_END},
        )
        if response.sw == _SW_OFFSET_PAST_END or not response.data:
            raise DataFormatError(f"file ends at {len(data)} bytes, object needs {total}")
        data += response.data[: total - len(data)]
    return bytes(data)


def read_physical(channel: ApduChannel, strategy: ReadStrategy = ReadStrategy.AUTO) -> bytes:
    """Read the whole current EF, filler included, until a short chunk or 6B00.

    Needed where a hash covers the file as stored (My Number, §3.2 EF 0003).

    Raises:
        DataFormatError: the file is larger than READ BINARY offsets reach.
        CardError: the card refused a READ BINARY.
    """
    chunk = _chunk_size(channel, resolve_strategy(channel, strategy))
    data = bytearray()
    while True:
        if len(data) >= _MAX_FILE_SIZE:
            raise DataFormatError("file is larger than READ BINARY offsets reach")
        le = min(chunk, _MAX_FILE_SIZE - len(data))
        response = channel.send(commands.read_binary(len(data), le), allow={_SW_OFFSET_PAST_END})
        if response.sw == _SW_OFFSET_PAST_END:
            break
        data += response.data
        if len(response.data) < le:
            break
    return bytes(data)
