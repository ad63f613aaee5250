# SPDX-License-Identifier: Apache-2.0
"""host.card.files: both read strategies, filler, short files, chunk limits."""

from __future__ import annotations

import pytest

from host import errors
from host.card import files
from host.card.files import ReadStrategy
from host.channel import ApduChannel
from tests.unit.host.host_fakes import FakeTransport, MiniCard, parse_command
from tests.unit.host.host_vectors import h

AID = h("D3 92 F0 00 26 01 00 00 00 01")
CERT = h("30 82 06 2B") + bytes(range(256)) * 6 + b"\x11" * 43  # 1583 bytes


def make(content: bytes, **kwargs: object) -> tuple[ApduChannel, FakeTransport]:
    transport = FakeTransport(MiniCard({AID: {0x000A: content}}), **kwargs)  # type: ignore[arg-type]
    transport.open()
    ch = ApduChannel(transport)
    files.select_application(ch, AID)
    files.select_file(ch, 0x000A)
    transport.sent.clear()
    return ch, transport


def reads(transport: FakeTransport) -> list[tuple[int, int | None]]:
    out = []
    for cmd in transport.sent:
        header, _data, le = parse_command(cmd)
        if header[1] == 0xB0:
            out.append(((header[2] << 8) | header[3], le))
    return out


def test_extended_one_read() -> None:
    ch, transport = make(CERT + b"\xff" * 465)
    with transport:
        assert files.read_object(ch, ReadStrategy.EXTENDED) == CERT
    assert reads(transport) == [(0, 65536)]


def test_auto_is_extended_when_the_path_has_it() -> None:
    ch, transport = make(CERT + b"\xff" * 465)
    with transport:
        assert files.read_object(ch) == CERT
    assert len(reads(transport)) == 1


def test_chunked_reads_header_then_256_byte_chunks() -> None:
    ch, transport = make(CERT + b"\xff" * 465)
    with transport:
        assert files.read_object(ch, ReadStrategy.CHUNKED) == CERT
    # MYNA's pattern (§9.1): 7 bytes, then from offset 7: 6 x 256 + 40
    assert reads(transport) == [(0, 7)] + [(7 + 256 * i, 256) for i in range(6)] + [(1543, 40)]


def test_sized_reads_header_then_the_exact_rest_in_one_extended_read() -> None:
    ch, transport = make(CERT + b"\xff" * 465)
    with transport:
        assert files.read_object(ch, ReadStrategy.SIZED) == CERT
    assert reads(transport) == [(0, 7), (7, 1583 - 7)]


def test_auto_is_chunked_without_extended_length() -> None:
    ch, transport = make(CERT, extended=False)
    with transport:
        assert files.read_object(ch) == CERT
    assert reads(transport)[0] == (0, 7)
    assert all(le is not None and le <= 256 for _, le in reads(transport))


def test_extended_strategy_degrades_on_a_short_path() -> None:
    ch, transport = make(CERT, extended=False)
    with transport:
        assert files.read_object(ch, ReadStrategy.EXTENDED) == CERT
    assert reads(transport)[0] == (0, 256)


def test_libnfc_like_response_cap() -> None:
    ch, transport = make(CERT, extended=True, max_response=263)
    with transport:
        assert files.read_object(ch, ReadStrategy.EXTENDED) == CERT
    # libnfc caps responses at 263 bytes: data + SW must fit
    assert all(le is not None and le <= 261 for _, le in reads(transport))


def test_file_shorter_than_its_header() -> None:
    ch, transport = make(CERT[:1000])
    with transport, pytest.raises(errors.DataFormatError, match="ends at 1000"):
        files.read_object(ch, ReadStrategy.CHUNKED)


def test_empty_filler_file() -> None:
    ch, transport = make(b"\xff" * 2048)
    with transport, pytest.raises(errors.DataFormatError, match="empty"):
        files.read_object(ch)


def test_garbage_header() -> None:
    ch, transport = make(h("30 80 00 00"))
    with transport, pytest.raises(errors.DataFormatError):
        files.read_object(ch)


def test_object_larger_than_an_ef() -> None:
    ch, transport = make(h("30 83 01 00 00") + b"\x00" * 10)
    with transport, pytest.raises(errors.DataFormatError, match="larger"):
        files.read_object(ch)


@pytest.mark.parametrize("strategy", [ReadStrategy.EXTENDED, ReadStrategy.CHUNKED])
@pytest.mark.parametrize("size", [17, 256, 300, 512])
def test_read_physical(strategy: ReadStrategy, size: int) -> None:
    content = bytes(i & 0xFF for i in range(size))
    ch, transport = make(content)
    with transport:
        assert files.read_physical(ch, strategy) == content


def test_read_prefix() -> None:
    ch, transport = make(b"JPKIAPICCTOKEN2" + b" " * 17 + b"\x00" * 128)
    with transport:
        assert files.read_prefix(ch, 32) == b"JPKIAPICCTOKEN2" + b" " * 17
    assert reads(transport) == [(0, 32)]
