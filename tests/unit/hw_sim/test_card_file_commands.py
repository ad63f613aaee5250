# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.file_commands``: SELECT, READ BINARY, READ RECORD.

Every expectation is a status word from jpki-card.md (§2, §3, §4, §10).
"""

from __future__ import annotations

import pytest

from hw_sim.card import VirtualCard
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, run

# --- SELECT ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        SELECT_JPKI,
        "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01",  # P2=00: FCI asked, none given
        "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01 00",  # ... with Le
        "00 A4 04 0C 08 D3 92 F0 00 26 01 00 00",  # a prefix (§2)
    ],
)
def test_select_application(card: VirtualCard, command: str) -> None:
    assert run(card, command) == (b"", 0x9000)
    assert card.state_snapshot().application == bytes.fromhex("D392F000260100000001")


@pytest.mark.parametrize(
    "aid",
    [
        "A0 00 00 00 01 01",  # OpenSC's muscle probe (§1.3)
        "A0 00 00 01 51 00 00",  # the GP ISD: not modelled
        "D3 92 10 00 31 00 01 01 04 01",  # 住基AP: not modelled
        "D3 92",  # prefix shorter than a RID
        "D3 92 F0 00 26 01 00 00 00 01 FF",
    ],
)
def test_unknown_aid_is_always_6a82(card: VirtualCard, aid: str) -> None:
    length = len(bytes.fromhex(aid))
    assert run(card, f"00 A4 04 0C {length:02X} {aid}")[1] == 0x6A82
    run(card, SELECT_JPKI)
    before = card.state_snapshot()
    assert run(card, f"00 A4 04 0C {length:02X} {aid}")[1] == 0x6A82
    assert card.state_snapshot() == before  # a failed SELECT keeps the current DF


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01", 0x6A86),  # P2 = FCP
        ("00 A4 04 0E 0A D3 92 F0 00 26 01 00 00 00 01", 0x6A86),  # next occurrence
        ("00 A4 01 0C 02 00 0A", 0x6A86),
        ("00 A4 08 0C 02 00 0A", 0x6A86),  # path selection
        ("00 A4 04 0C", 0x6700),  # no DF name
        ("00 A4 04 0C 11" + " 00" * 17, 0x6700),  # longer than any DF name
        ("00 A4 04 0C 0A D3 92 F0", 0x6700),  # truncated
    ],
)
def test_select_refusals(card: VirtualCard, command: str, sw: int) -> None:
    assert run(card, command)[1] == sw


def test_select_mf(card: VirtualCard) -> None:
    # §2: 6A86 straight after reset, 9000 without effect once a DF is current.
    assert run(card, "00 A4 00 00")[1] == 0x6A86
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 0A")
    before = card.state_snapshot()
    assert run(card, "00 A4 00 00") == (b"", 0x9000)
    assert card.state_snapshot() == before
    assert run(card, "00 A4 00 0C 02 3F 00")[1] == 0x6A82  # 3F00 by FID


def test_select_ef(card: VirtualCard) -> None:
    assert run(card, "00 A4 02 0C 02 00 0A")[1] == 0x6A82  # nothing selected yet
    run(card, SELECT_JPKI)
    assert run(card, "00 A4 02 0C 02 00 0A") == (b"", 0x9000)
    assert card.state_snapshot().current_ef == 0x0A
    assert run(card, "00 A4 02 0C 02 00 0C")[1] == 0x6A82  # unknown FID
    assert run(card, "00 A4 02 0C 02 2F 00")[1] == 0x6A82
    assert run(card, "00 A4 02 0C 01 0A")[1] == 0x6700
    assert card.state_snapshot().current_ef == 0x0A  # failures kept the EF
    assert run(card, "00 A4 02 0C 02 00 18")[1] == 0x9000  # internal EFs are selectable


def test_selecting_a_df_drops_the_current_ef(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 0A")
    run(card, SELECT_JPKI)
    assert card.state_snapshot().current_ef is None


# --- READ BINARY -----------------------------------------------------------------------------


@pytest.fixture
def token_selected(card: VirtualCard) -> VirtualCard:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 06")  # token info, 160 bytes
    return card


def test_read_binary_offsets_and_lengths(token_selected: VirtualCard) -> None:
    card = token_selected
    data, sw = run(card, "00 B0 00 00 20")
    assert sw == 0x9000
    assert data == b"JPKIAPICCTOKEN2".ljust(32)
    whole, _ = run(card, "00 B0 00 00 00")  # Le 00 = 256: what is left
    assert len(whole) == 160
    assert whole[:32] == data
    assert run(card, "00 B0 00 9F 00") == (whole[0x9F:], 0x9000)  # Le past the end
    assert run(card, "00 B0 00 A0 01")[1] == 0x6B00  # offset at the end
    assert run(card, "00 B0 7F FF 01")[1] == 0x6B00  # 15-bit offset past the end
    assert run(card, "00 B0 00 00 00 00 00") == (whole, 0x9000)  # extended Le = 65536
    assert run(card, "00 B0 00 10 00 00 10") == (whole[16:32], 0x9000)


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("00 B0 00 00", 0x6700),  # no Le
        ("00 B0 00 00 01 00", 0x6700),  # a data field
        ("00 B0 00 00 01 00 10", 0x6700),
        ("00 B0 A6 00 00", 0x6A86),  # P1 = 1 01 xxxxx: not an SFI form
        ("00 B0 9F 00 00", 0x6A82),  # SFI 31
        ("00 B0 8C 00 00", 0x6A82),  # SFI 12: no such EF
    ],
)
def test_read_binary_refusals(token_selected: VirtualCard, command: str, sw: int) -> None:
    before = token_selected.state_snapshot()
    assert run(token_selected, command)[1] == sw
    assert token_selected.state_snapshot() == before


def test_read_binary_without_current_ef(card: VirtualCard) -> None:
    assert run(card, "00 B0 00 00 04")[1] == 0x6986  # MF level
    assert run(card, "00 B0 8A 00 04")[1] == 0x6A82  # SFI at MF level
    run(card, SELECT_JPKI)
    assert run(card, "00 B0 00 00 04")[1] == 0x6986


def test_read_binary_by_sfi_makes_the_ef_current(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    data, sw = run(card, "00 B0 8A 00 04")  # auth certificate, SFI 0A
    assert (data[:2], sw) == (b"\x30\x82", 0x9000)
    assert card.state_snapshot().current_ef == 0x0A
    assert run(card, "00 B0 00 02 02") == (data[2:4], 0x9000)
    # AOKI's whole-EF read: SFI form with an extended Le.
    whole, sw = run(card, "00 B0 8A 00 00 00 00")
    assert sw == 0x9000
    assert whole[:4] == data
    assert len(whole) >= 2048


def test_internal_efs_cannot_be_read(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    for fid in ("00 17", "00 18", "00 1A", "00 1B"):
        run(card, f"00 A4 02 0C 02 {fid}")
        assert run(card, "00 B0 00 00 01")[1] == 0x6981
    assert run(card, "00 B0 97 00 01")[1] == 0x6981


def test_protected_file_needs_its_pin(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 01")  # signing certificate
    assert run(card, "00 B0 00 00 04")[1] == 0x6982  # UNCONFIRMED SW (§3.1)
    run(card, "00 A4 02 0C 02 00 1B")
    assert run(card, "00 20 00 80 08 41 42 43 44 31 32 33 34")[1] == 0x9000
    data, sw = run(card, "00 B0 81 00 04")
    assert (data[:2], sw) == (b"\x30\x82", 0x9000)


# --- READ RECORD -----------------------------------------------------------------------------


def test_read_record(card: VirtualCard) -> None:
    assert run(card, "00 B2 01 04 00")[1] == 0x6986
    run(card, SELECT_JPKI)
    assert run(card, "00 B2 01 54 00")[1] == 0x6981  # SFI 0A: a transparent EF
    assert run(card, "00 B2 01 64 00")[1] == 0x6A82  # SFI 0C: none
    assert run(card, "00 B2 01 0C 00")[1] == 0x6981  # MYNA's form: SFI 1, record 1
    assert run(card, "00 B2 01 0D 00")[1] == 0x6A86  # P2 ...100 only
    assert run(card, "00 B2 00 04 00")[1] == 0x6A86
    assert run(card, "00 B2 01 04")[1] == 0x6700
