# SPDX-License-Identifier: Apache-2.0
"""Signed firmware updates applied to the real firmware on the MicroPython unix port.

The board's boot platform (firmware/myna_boot) verifies by itself: most
refusal cases send the image with ``precheck=False`` so the host's own
parser stays out of the way and the board is the one refusing. After every
refusal the board still runs the old image and answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from host.errors import BoardRefusedError
from host.firmware import FirmwareUpdater, UpdateError, UpdateFailure, UpdatePhase, UpdateProgress
from host.firmware.errors import ImageTruncatedError
from host.peripherals import BoardKey, Controller, EntryKind
from host.peripherals.link import crc16
from host.peripherals.messages import Command, Status
from myna_edge.firmware import run_demo
from tests.integration.controller_support import running_sim
from tests.integration.firmware_update_support import (
    board_with_slots,
    second_authority,
    signed_image,
)

V1_1 = (1, 1, 0)
V1_2 = (1, 2, 0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every image the tests send, built once."""
    work = tmp_path_factory.mktemp("images")
    other_key = ec.generate_private_key(ec.SECP256R1())
    good = signed_image(work / "good", V1_1, 1)
    newer = signed_image(work / "newer", V1_2, 2)
    flipped_sig = bytearray(good)
    flipped_sig[12 + int.from_bytes(good[6:8], "big") + 5] ^= 0x01  # inside the signature
    flipped_payload = bytearray(good)
    flipped_payload[-100] ^= 0x40  # inside the last file
    return {
        "good": good,
        "newer": newer,
        "older": signed_image(work / "older", (1, 1, 5), 1),
        "other_key": signed_image(work / "other", V1_1, 1, key=other_key),
        "other_authority": signed_image(work / "authority", V1_1, 1, key=second_authority()),
        "other_authority_newer": signed_image(work / "authority2", V1_2, 2, key=second_authority()),
        "wrong_board": signed_image(work / "board", V1_1, 1, board="myna-pinpad-9"),
        "unsigned": good[: 12 + int.from_bytes(good[6:8], "big")]
        + bytes(64)
        + good[12 + int.from_bytes(good[6:8], "big") + 64 :],
        "flipped_sig": bytes(flipped_sig),
        "flipped_payload": bytes(flipped_payload),
        "truncated": good[:-500],
        "garbage": bytes(range(256)) * 8,
        "crashes": signed_image(
            work / "crash",
            V1_1,
            1,
            patch=("        self.hw = hw\n", "        raise RuntimeError('a broken build')\n"),
        ),
        "never_confirms": signed_image(
            work / "silent",
            V1_1,
            1,
            patch=(
                'return self.lines[0] in ("READY", "TAMPERED") and self.hw.scan() >= -1',
                "return False",
            ),
        ),
    }


@pytest.fixture
def fs(tmp_path: Path) -> Path:
    return tmp_path / "fs"


def _factory_intact(board: Controller) -> None:
    status = FirmwareUpdater(board).status()
    assert (status.slot, status.version, status.floor) == (None, (1, 0, 0), 0)
    assert (status.staged, status.staged_size) == (0, 0)  # nothing left staged
    assert board.echo(b"still here") == b"still here"


def test_update_succeeds_confirms_and_keeps_the_keys(fs: Path, images: dict[str, bytes]) -> None:
    key = BoardKey.generate()
    events: list[UpdateProgress] = []
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        board.inject_key(key)
        status = FirmwareUpdater(board).apply(images["good"], progress=events.append)
        assert (status.slot, status.trial, status.version) == (0, False, V1_1)
        assert (status.security_counter, status.floor) == (1, 1)
        assert board.info is not None
        assert board.info.firmware_version == V1_1
        assert [(b.slot, b.version, b.trial) for b in sim.boots] == [
            (-1, (1, 0, 0), False),
            (0, V1_1, True),
        ]
        # Same signing authority: the PIN key survives the update.
        after = board.status()
        assert after.kcv == key.kcv()
        assert after.flags & 0x01
    phases = [e.phase for e in events]
    assert phases[0] is UpdatePhase.TRANSFER
    assert phases[-1] is UpdatePhase.CONFIRMED
    assert events[-2].phase is UpdatePhase.REBOOT
    # A power cycle boots the confirmed image, no longer on trial.
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        assert sim.boots[-1] == (0, V1_1, False)
        assert FirmwareUpdater(board).status().version == V1_1


def test_update_by_another_authority_erases_the_pin_key(fs: Path, images: dict[str, bytes]) -> None:
    key = BoardKey.generate()
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        board.inject_key(key)
        assert board.status().kcv == key.kcv()
        status = FirmwareUpdater(board).apply(images["other_authority"])
        assert (status.slot, status.trial, status.version) == (0, False, V1_1)
        # The boot selector erased the key before the new authority's code ran.
        after = board.status()
        assert not after.flags & 0x01
        assert after.kcv == bytes(3)
        # The board can be commissioned again, under the new authority.
        fresh = BoardKey.generate()
        assert board.inject_key(fresh) == fresh.kcv()
        # An update by that same authority now keeps the new key.
        newer = FirmwareUpdater(board).apply(images["other_authority_newer"])
        assert newer.version == V1_2
        assert board.status().kcv == fresh.kcv()
        assert len(sim.boots) == 3


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("unsigned", UpdateFailure.BAD_SIGNATURE),
        ("other_key", UpdateFailure.BAD_SIGNATURE),
        ("flipped_sig", UpdateFailure.BAD_SIGNATURE),
        ("wrong_board", UpdateFailure.WRONG_BOARD),
        ("flipped_payload", UpdateFailure.INVALID_IMAGE),
        ("truncated", UpdateFailure.INVALID_IMAGE),
        ("garbage", UpdateFailure.INVALID_IMAGE),
    ],
)
def test_board_refuses_bad_images(
    fs: Path, images: dict[str, bytes], name: str, reason: UpdateFailure
) -> None:
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        with pytest.raises(UpdateError) as caught:
            FirmwareUpdater(board).apply(images[name], precheck=False)
        assert caught.value.reason is reason
        _factory_intact(board)
        assert len(sim.boots) == 1  # never rebooted


def test_host_refuses_a_truncated_file_before_sending(fs: Path, images: dict[str, bytes]) -> None:
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        with pytest.raises(ImageTruncatedError):
            FirmwareUpdater(board).apply(images["truncated"])
        _factory_intact(board)
        assert not [op for op in sim.flash_log if "staging" in op[1]]


def test_downgrade_is_refused(fs: Path, images: dict[str, bytes]) -> None:
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        updater = FirmwareUpdater(board)
        assert updater.apply(images["newer"]).floor == 2
        with pytest.raises(UpdateError) as caught:
            updater.apply(images["older"], precheck=False)
        assert caught.value.reason is UpdateFailure.DOWNGRADE
        status = updater.status()
        assert (status.version, status.slot, status.staged_size) == (V1_2, 0, 0)
        assert len(sim.boots) == 2


@pytest.mark.parametrize("name", ["crashes", "never_confirms"])
def test_trial_that_does_not_confirm_reverts(fs: Path, images: dict[str, bytes], name: str) -> None:
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        with pytest.raises(UpdateError) as caught:
            FirmwareUpdater(board).apply(images[name])
        assert caught.value.reason is UpdateFailure.NOT_CONFIRMED
    # The next boot (a crash is one; a power cycle the other) returns to the factory image.
    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        assert sim.boots[-1] == (-1, (1, 0, 0), False)
        _factory_intact(board)
        # And the board still takes a good image.
        assert FirmwareUpdater(board).apply(images["good"]).version == V1_1


def test_transfer_resumes_and_replayed_chunks_change_nothing(
    fs: Path, images: dict[str, bytes]
) -> None:
    image = images["good"]

    class LinkBrokeError(Exception):
        pass

    def break_halfway(event: UpdateProgress) -> None:
        if event.done > len(image) // 2:
            raise LinkBrokeError

    with board_with_slots(fs) as sim, Controller(sim.url) as board:
        updater = FirmwareUpdater(board)
        with pytest.raises(LinkBrokeError):
            updater.apply(image, progress=break_halfway)
        staged = updater.status().staged
        assert len(image) // 2 < staged < len(image)
        # A chunk at an old offset (a replay) is refused and moves nothing.
        chunk = image[:224]
        args = (0).to_bytes(4, "big") + crc16(chunk).to_bytes(2, "big") + chunk
        with pytest.raises(BoardRefusedError) as caught:
            board.request(Command.FW_CHUNK, args)
        assert caught.value.status == Status.BAD_OFFSET
        assert updater.status().staged == staged
        events: list[UpdateProgress] = []
        assert updater.apply(image, progress=events.append).version == V1_1
        assert events[0].done == staged  # resumed, not restarted
        assert len(sim.boots) == 2


def test_refused_during_secure_entry_and_after_tamper(fs: Path, images: dict[str, bytes]) -> None:
    key = BoardKey.generate()
    with board_with_slots(fs) as sim, Controller(sim.url, key=key) as board:
        board.inject_key(key)
        request_id = 77
        board.submit(Command.SECURE_ENTRY, request_id, bytes((EntryKind.NUMERIC, 4, 4)) + bytes(4))
        board.wait_result(request_id)
        with pytest.raises(UpdateError) as caught:
            FirmwareUpdater(board).apply(images["good"])
        assert caught.value.reason is UpdateFailure.BUSY
        board.request(Command.CANCEL_ENTRY)
        sim.set_tamper(True)
        sim.wait_display(0, "TAMPERED")
        with pytest.raises(UpdateError) as caught:
            FirmwareUpdater(board).apply(images["good"])
        assert caught.value.reason is UpdateFailure.TAMPERED
        assert FirmwareUpdater(board).status().staged_size == 0


def test_board_without_slots_says_unsupported() -> None:
    with running_sim() as sim, Controller(sim.url) as board:
        with pytest.raises(UpdateError) as caught:
            FirmwareUpdater(board).status()
        assert caught.value.reason is UpdateFailure.UNSUPPORTED


def test_demo_command_updates_then_refuses_bad_images(capsys: pytest.CaptureFixture[str]) -> None:
    run_demo()
    out = capsys.readouterr().out
    assert "running 1.1.0 from slot 0; security counter 1" in out
    for refusal in ("invalid_image", "bad_signature", "downgrade"):
        assert f"refused by the board ({refusal})" in out
    assert out.rstrip().splitlines()[-2] == "running 1.1.0 from slot 0; security counter 1"
