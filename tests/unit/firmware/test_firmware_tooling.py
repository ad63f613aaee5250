# SPDX-License-Identifier: Apache-2.0
"""``myna-edge firmware keygen|build|sign|inspect|verify`` and the host's image checks.

The key file is the one secret here: it must be created owner-only through
host/private_files.py, never overwrite an existing key, and never land in
a folder other users can write.
"""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from host.errors import UnsafePathError
from host.firmware import (
    ImageRejectedError,
    ImageSignatureError,
    build_image,
    parse_image,
    verify_image,
)
from host.firmware.errors import ManifestError, PayloadMismatchError, SigningKeyError
from host.firmware.signing import generate_key, load_public_point
from hw_sim.devices.controller import FIRMWARE_DIR
from myna_edge.firmware import add_parser

TEST_KEY = FIRMWARE_DIR / "keys" / "test-signing-key.pem"


def main(argv: Sequence[str]) -> int:
    """``myna-edge ARGV`` with only the firmware command registered (as myna_edge.cli does)."""
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_keygen_writes_an_owner_only_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "offline"
    folder.mkdir(mode=0o700)
    key = folder / "release.pem"
    assert main(["firmware", "keygen", "--out", str(key)]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    point = load_public_point(key)
    assert point.hex() in capsys.readouterr().out  # printed for trust.py
    before = key.read_bytes()
    with pytest.raises(SigningKeyError):
        generate_key(key)
    assert main(["firmware", "keygen", "--out", str(key)]) == 1
    assert key.read_bytes() == before


def test_keygen_refuses_a_folder_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePathError):
        generate_key(shared / "release.pem")
    assert not (shared / "release.pem").exists()


def test_keygen_encrypts_with_a_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "release.pem"
    monkeypatch.setenv("FW_PASS", "correct horse")
    assert main(["firmware", "keygen", "--out", str(key), "--passphrase-env", "FW_PASS"]) == 0
    assert b"ENCRYPTED" in key.read_bytes()
    with pytest.raises(SigningKeyError):
        load_public_point(key)  # no passphrase
    assert len(load_public_point(key, passphrase=b"correct horse")) == 65


def test_build_sign_inspect_verify_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "fw.img"
    args = ["firmware", "build", str(FIRMWARE_DIR), "--key", str(TEST_KEY)]
    assert main([*args, "--security-counter", "3", "--out", str(image), "--unsigned"]) == 0
    assert not parse_image(image.read_bytes()).signed
    assert main(["firmware", "verify", str(image), "--key", str(TEST_KEY)]) == 1
    assert main(["firmware", "sign", str(image), "--key", str(TEST_KEY)]) == 0
    assert main(["firmware", "verify", str(image), "--key", str(TEST_KEY)]) == 0
    verify = ["firmware", "verify", str(image), "--key", str(TEST_KEY)]
    assert main([*verify, "--min-counter", "4"]) == 1  # a downgrade for a board at 4
    assert main([*verify, "--board", "another-board"]) == 1
    capsys.readouterr()
    assert main(["firmware", "inspect", str(image), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["security_counter"] == 3
    assert info["signed"] is True
    paths = {entry["path"] for entry in info["files"]}
    assert "myna_fw/app.py" in paths
    # Only the app package: never the boot platform or its trust anchors.
    assert not any(p.startswith(("myna_boot", "main")) for p in paths)


def test_verify_refuses_tampering_and_foreign_images(tmp_path: Path) -> None:
    image = tmp_path / "fw.img"
    assert (
        main(
            [
                "firmware",
                "build",
                str(FIRMWARE_DIR),
                "--key",
                str(TEST_KEY),
                "--security-counter",
                "2",
                "--out",
                str(image),
            ]
        )
        == 0
    )
    data = image.read_bytes()
    point = load_public_point(TEST_KEY)
    parsed = parse_image(data)
    verify_image(parsed, point, board="myna-pinpad-1", min_counter=2)
    with pytest.raises(ImageRejectedError):
        verify_image(parsed, point, min_counter=3)
    mlen = int.from_bytes(data[6:8], "big")
    flipped = bytearray(data)
    flipped[12 + mlen + 10] ^= 0x01  # a signature bit
    with pytest.raises(ImageSignatureError):
        verify_image(parse_image(bytes(flipped)), point)
    flipped = bytearray(data)
    flipped[12 + 1 + len("myna-pinpad-1") + 3] ^= 0x01  # the security counter
    with pytest.raises(ImageSignatureError):
        verify_image(parse_image(bytes(flipped)), point)
    flipped = bytearray(data)
    flipped[-1] ^= 0x01  # a file byte
    with pytest.raises(PayloadMismatchError):
        parse_image(bytes(flipped))


def test_build_refuses_files_outside_the_app_package(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "myna_fw").mkdir(parents=True)
    (source / "myna_fw" / "version.py").write_text("FIRMWARE_VERSION = (1, 0, 0)\n")
    (source / "myna_fw" / "Bad-Name.py").write_text("x = 1\n")
    out = tmp_path / "fw.img"
    key = ["--key", str(TEST_KEY), "--security-counter", "1", "--out", str(out)]
    assert main(["firmware", "build", str(source), *key]) == 1
    assert not out.exists()
    point = load_public_point(TEST_KEY)
    with pytest.raises(ManifestError):
        build_image(source, security_counter=1, signer_point=point)
