# SPDX-License-Identifier: Apache-2.0
"""``myna-edge read --face`` and the surface driver over ``sim://``, ``pcsc://`` and ``libnfc://``.

The counter check end to end: 照合番号B from the environment, the card face
printed with its verdict, the chip's JPEG 2000 photo written as a PNG only
its owner can read; over pcscd + vpcd the same card answers through a real
PC/SC stack, a wrong code counts down to the lock-out, and a forged face is
refused. No code ever appears in the output or the logs.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from PIL import Image

from host.card import CodeKind, CodeTarget, MynaCard
from host.errors import PinBlockedError, WrongPinError
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import sim_trust_dir
from hw_sim.card.profiles import get_profile
from hw_sim.readers.stack import PcscRig, Pn532Rig
from myna_edge.cli import main
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, pn532_stack
from tests.unit.host.surface_cards import variant_card

__all__ = ["pcsc_stack", "pn532_stack"]  # fixtures used by name

PROFILE = get_profile("default")
CODE_B = PROFILE.verification_code_b
WRONG_B = CODE_B[:10] + "0000"


def read_face(
    monkeypatch: pytest.MonkeyPatch, reader: str, photo: Path, code: str, *extra: str
) -> int:
    monkeypatch.setenv("T21_CODE", code)
    argv = ["read", "--face", "--code-env", "T21_CODE", "--reader", reader, "--photo", str(photo)]
    return main([*argv, *extra])


def secrets_absent(text: str) -> None:
    for secret in (CODE_B, WRONG_B, PROFILE.person.my_number):
        assert secret not in text
        assert secret.encode().hex(" ").upper() not in text


def test_read_face_over_sim(
    sim_home_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    photo = tmp_path / "face.png"
    reader = f"sim://default?home={sim_home_dir}&persist=0"
    assert read_face(monkeypatch, reader, photo, CODE_B, "--json") == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["name"] == PROFILE.person.name
    assert report["birth_date"] == "1980-01-01"
    assert report["expiry"] == "2035-01-01"
    assert report["verdict"] == "genuine"
    assert report["my_number"] is None  # B does not open it
    assert stat.S_IMODE(photo.stat().st_mode) == 0o600
    with Image.open(photo) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "L", (48, 64))
    secrets_absent(out + caplog.text)


def test_read_face_with_code_a_masks_the_number(
    sim_home_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reader = f"sim://default?home={sim_home_dir}&persist=0"
    assert read_face(monkeypatch, reader, tmp_path / "a.png", PROFILE.person.my_number) == 0
    out = capsys.readouterr().out
    assert "********" + PROFILE.person.my_number[-4:] in out
    assert "真正 (genuine)" in out
    secrets_absent(out)


def test_wrong_code_is_an_error_without_the_code(
    sim_home_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reader = f"sim://default?home={sim_home_dir}&persist=0"
    assert read_face(monkeypatch, reader, tmp_path / "x.png", WRONG_B) == 1
    captured = capsys.readouterr()
    assert "error" in captured.err
    assert not (tmp_path / "x.png").exists()
    secrets_absent(captured.out + captured.err)


def test_read_face_over_pcsc(
    pcsc_stack: PcscRig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trust = sim_trust_dir(f"sim://default?home={pcsc_stack.home}")
    photo = tmp_path / "face.png"
    with pcsc_stack.card("default") as card:
        code = read_face(monkeypatch, PCSC_URL, photo, CODE_B, "--trust-dir", str(trust))
        verifies = [e for e in card.apdu_log.entries if e.command[1] == 0x20]
    assert code == 0
    out = capsys.readouterr().out
    assert "真正 (genuine)" in out
    assert "Expiry:      2035-01-01" in out
    # One empty VERIFY (counter) and one VERIFY with data per application.
    assert sorted(e.command_length for e in verifies) == [4, 4, 19, 19]
    with Image.open(photo) as image:
        assert image.size == (48, 64)


def test_wrong_code_b_locks_out_over_pcsc(pcsc_stack: PcscRig) -> None:
    with pcsc_stack.card("default"), open_transport(PCSC_URL) as transport:
        card = MynaCard(transport)
        for expected in range(9, 0, -1):
            with pytest.raises(WrongPinError) as caught:
                card.read_card_face(CodeKind.B, Secret.from_text(WRONG_B))
            assert caught.value.tries_left == expected
        with pytest.raises(PinBlockedError):
            card.read_card_face(CodeKind.B, Secret.from_text(WRONG_B))
        with pytest.raises(PinBlockedError, match="not sent"):
            card.read_card_face(CodeKind.B, Secret.from_text(CODE_B))
        assert card.code_tries_left(CodeKind.B) == 0
        assert card.code_tries_left(CodeKind.B, CodeTarget.TEXT) == 10


def test_forged_face_over_pcsc(
    pcsc_stack: PcscRig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trust = sim_trust_dir(f"sim://default?home={pcsc_stack.home}")
    forged = variant_card(pcsc_stack.home, forged=True)
    assert pcsc_stack.bridge is not None
    pcsc_stack.bridge.swap_card(forged)
    try:
        pcsc_stack.wait_present(True)
        photo = tmp_path / "forged.png"
        code = read_face(monkeypatch, PCSC_URL, photo, CODE_B, "--trust-dir", str(trust))
    finally:
        pcsc_stack.bridge.remove()
        forged.close()
        pcsc_stack.wait_present(False)
    assert code == 1
    err = capsys.readouterr().err
    assert "not signed by the trusted issuer" in err
    assert not photo.exists()


def test_read_face_over_libnfc(
    pn532_stack: Pn532Rig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # libnfc caps a response at 263 bytes: the 2 kB face comes in short reads.
    trust = sim_trust_dir(f"sim://default?home={pn532_stack.home}")
    photo = tmp_path / "face.png"
    with pn532_stack.card("default") as card:
        code = read_face(monkeypatch, pn532_stack.url, photo, CODE_B, "--trust-dir", str(trust))
        reads = [e for e in card.apdu_log.entries if e.command[1] == 0xB0]
    assert code == 0
    out = capsys.readouterr().out
    assert "真正 (genuine)" in out
    assert len(reads) > 8  # the face alone needs at least 8 short reads
    secrets_absent(out)
