# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.virtual_card``: power, errors, APDU log, logging, secrets."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from hw_sim.card import ApduLog, ApduLogEntry, VirtualCard, open_card, open_cards
from hw_sim.card.constants import TRACE
from hw_sim.errors import CardClosedError, CardError, CardNotPoweredError
from myna_edge.chaos.secrets.scan import encodings_found
from tests.unit.hw_sim.card_helpers import SELECT_JPKI, SELECT_TEXT, run


def test_power_cycle(sim_home_dir: Path) -> None:
    with open_card("default", home=sim_home_dir, persist=False) as card:
        assert not card.powered
        with pytest.raises(CardNotPoweredError):
            card.transmit(bytes.fromhex(SELECT_JPKI))
        assert card.power_on() == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")
        assert card.powered
        assert run(card, SELECT_JPKI)[1] == 0x9000
        card.power_off()
        assert not card.powered
        assert card.state_snapshot().application is None
        with pytest.raises(CardNotPoweredError):
            card.warm_reset()


def test_power_on_again_is_a_cold_reset(card: VirtualCard) -> None:
    run(card, SELECT_JPKI)
    card.power_on()
    assert card.state_snapshot().application is None


def test_close(sim_home_dir: Path) -> None:
    card = open_card("default", home=sim_home_dir, persist=False)
    assert card in open_cards()
    card.power_on()
    card.close()
    card.close()  # twice is harmless
    assert card.closed
    assert not card.powered
    assert card not in open_cards()
    for call in (lambda: card.transmit(b"\x00\xa4\x00\x00"), card.power_on, card.power_off):
        with pytest.raises(CardClosedError) as caught:
            call()
        assert isinstance(caught.value, CardError)
    assert "closed" in repr(card)


def test_transmit_wants_bytes(card: VirtualCard) -> None:
    with pytest.raises(TypeError):
        card.transmit("00 A4 00 00")  # type: ignore[arg-type]
    assert card.transmit(bytearray(b"\x00\xa4\x00\x00")) == b"\x6a\x86"
    assert card.transmit(memoryview(b"\x00\xa4\x00\x00")) == b"\x6a\x86"


def test_apdu_log(card: VirtualCard) -> None:
    card.apdu_log.clear()
    run(card, SELECT_JPKI)
    run(card, "00 A4 02 0C 02 00 18")
    run(card, "00 20 00 80 04 31 32 33 34")
    run(card, "00 B0 8A 00 04")
    entries = card.apdu_log.entries
    assert len(card.apdu_log) == 4
    assert all(isinstance(e, ApduLogEntry) for e in entries)
    verify = entries[2]
    assert verify.command == bytes.fromhex("00 20 00 80 04")  # PIN dropped
    assert verify.command_length == 9
    assert (verify.response_length, verify.sw) == (2, 0x9000)
    read = entries[3]
    assert (read.command_length, read.response_length, read.sw) == (5, 6, 0x9000)
    assert all(e.duration_s >= 0 for e in entries)
    assert [e.started for e in entries] == sorted(e.started for e in entries)
    entries.clear()  # a snapshot: the log is unaffected
    assert len(card.apdu_log) == 4
    card.apdu_log.clear()
    assert len(card.apdu_log) == 0
    assert repr(card.apdu_log) == "ApduLog(0 entries)"


def test_apdu_log_is_bounded() -> None:
    log = ApduLog(capacity=2)
    for sw in (1, 2, 3):
        log.append(ApduLogEntry(b"", 0, 2, sw, 0.0, 0.0))
    assert [entry.sw for entry in log.entries] == [2, 3]
    with pytest.raises(ValueError, match="positive"):
        ApduLog(capacity=0)


def test_trace_logging(card: VirtualCard, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(TRACE, logger="hw_sim.card"):
        run(card, SELECT_TEXT)
        run(card, "00 20 00 91 04 31 32 33 34")
        run(card, "00 A4 02 0C 02 00 02")
        run(card, "00 B0 00 00 07")  # behind the PIN: personal data
        run(card, "00 A4 02 0C 02 00 05")
        run(card, "00 B0 00 00 05")  # public
    messages = [r.getMessage() for r in caplog.records if r.levelno == TRACE]
    assert messages[0] == "→ 00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
    assert messages[1] == "← 90 00"
    assert messages[2] == "→ 00 20 00 91 04 <4 bytes redacted>"
    assert messages[7] == "← <7 bytes redacted> 90 00"
    assert messages[11] == "← FF 40 82 00 9F 90 00"
    assert all(r.name == "hw_sim.card.virtual_card" for r in caplog.records)


def test_repr(card: VirtualCard) -> None:
    assert repr(card) == "VirtualCard(profile='default', on)"
    assert card.profile_name == "default"


# --- secrets ---------------------------------------------------------------------------------

NEW_AUTH_PIN = "7391"
NEW_PASSWORD = "KX7Q2M9Z"
NEW_TEXT_PIN = "5820"


RANDOM_DIGEST_FIELDS = {"salt": 32, "verifier": 64}


def masked_state(text: str) -> str:
    """Return the saved state with its salt and salted PIN verifiers replaced by a mark.

    They are random hex: a 4-digit PIN turns up in ~2 KB of it by chance about once in
    fifty runs (seen in CI). Each must be a digest of the right length before it is
    masked, so a PIN stored in one of those fields still fails the test.
    """

    def mask(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                width = RANDOM_DIGEST_FIELDS.get(key)
                if width is not None and value is not None:  # null: a PIN not set
                    assert isinstance(value, str)
                    assert re.fullmatch(f"[0-9a-f]{{{width}}}", value), f"{key} is no digest"
                    out[key] = "<digest>"
                else:
                    out[key] = mask(value)
            return out
        if isinstance(node, list):
            return [mask(item) for item in node]
        return node

    return json.dumps(mask(json.loads(text)), indent=1)


def test_masked_state_keeps_everything_but_digests() -> None:
    state = {"salt": "a" * 32, "pins": {"x": {"verifier": "5820" * 16, "note": "5820"}}}
    masked = masked_state(json.dumps(state))
    assert "5820" in masked  # the plain field is still searched
    assert masked.count("<digest>") == 2
    with pytest.raises(AssertionError, match="no digest"):
        masked_state(json.dumps({"verifier": "5820"}))


def test_no_pin_in_logs_reprs_or_apdu_log(
    sim_home_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Drive VERIFY and CHANGE with known PINs; no trace of them may remain (STYLE §7)."""
    with open_card("default", home=sim_home_dir, persist=False):
        pass  # makes sure the shared PKI exists
    shutil.copytree(sim_home_dir / "pki", tmp_path / "pki")
    caplog.set_level(1)
    secrets_used = [NEW_AUTH_PIN, NEW_PASSWORD, NEW_TEXT_PIN]
    old = {"auth": "1234", "sign": "ABCD1234", "text": "1234"}
    texts: list[str] = []
    with open_card("default", home=tmp_path) as card:
        card.power_on()
        script = [
            SELECT_JPKI,
            "00 A4 02 0C 02 00 18",
            "00 20 00 80 04 " + old["auth"].encode().hex(" "),
            "00 24 01 80 04 " + NEW_AUTH_PIN.encode().hex(" "),
            "00 20 00 80 04 " + NEW_AUTH_PIN.encode().hex(" "),
            "00 20 00 80 04 " + b"0000".hex(" "),  # wrong, spends a try
            "00 20 00 9B 08 " + old["sign"].encode().hex(" "),
            "00 24 01 9B 08 " + NEW_PASSWORD.encode().hex(" "),
            "00 24 01 9B 05 " + NEW_PASSWORD[:5].encode().hex(" "),  # refused: 6A80
            SELECT_TEXT,
            "00 20 00 91 04 " + old["text"].encode().hex(" "),
            "00 24 01 91 04 " + NEW_TEXT_PIN.encode().hex(" "),
            "00 20 00 91 04 " + NEW_TEXT_PIN.encode().hex(" "),
        ]
        for command in script:
            run(card, command)
        texts += [repr(card), repr(card.state_snapshot()), repr(card.apdu_log)]
        texts += [repr(entry) for entry in card.apdu_log.entries]
        texts += [entry.command.hex() for entry in card.apdu_log.entries]
        logged_commands = b"".join(entry.command for entry in card.apdu_log.entries)
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts.append(masked_state((tmp_path / "cards" / "default" / "state.json").read_text("utf-8")))
    assert caplog.records, "the test must see the wire trace"
    everything = "\n".join(texts).encode()
    for secret in secrets_used:
        assert encodings_found(everything, secret) == [], "a PIN leaked"
        assert secret.encode() not in logged_commands
    # Old values too; the plain text of 1234 is too common to search for.
    assert encodings_found(everything, "ABCD1234") == []
    assert set(encodings_found(everything, "1234")) <= {"ascii"}
