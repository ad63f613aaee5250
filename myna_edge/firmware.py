# SPDX-License-Identifier: Apache-2.0
"""``myna-edge firmware``: make, sign, check and apply controller firmware images.

::

    myna-edge firmware keygen --out release.pem            # once, offline
    myna-edge firmware build firmware --key release.pem --security-counter 2 --out fw.img
    myna-edge firmware sign fw.img --key release.pem       # on the offline machine
    myna-edge firmware inspect fw.img [--json]
    myna-edge firmware verify fw.img --key release.pem [--board B] [--min-counter N]
    myna-edge firmware status --link URL | --agent ADDRESS
    myna-edge firmware update --link URL fw.img            # agent stopped; progress on stderr
    myna-edge firmware update --agent unix:/run/myna-edge/agent.sock fw.img   # agent running
    myna-edge firmware bench [--rounds N] [--json]         # update time vs wire time
    myna-edge firmware demo                                # all of it on a simulated board

``--key`` takes a PEM private key (signing) or, where only checking, a
public one; a passphrase comes from the environment variable named by
``--passphrase-env``, never from the command line. Every refusal is a typed
error printed as one line, exit status 1. docs/firmware-updates.md is the guide.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host.errors import MynaEdgeError
from host.firmware.image import FirmwareImage, parse_image
from host.firmware.signing import (
    DEFAULT_BOARD,
    build_image,
    generate_key,
    load_public_point,
    load_signing_key,
    sign_image,
    verify_image,
)
from host.firmware.update import FirmwareStatus, FirmwareUpdater, UpdatePhase, UpdateProgress

__all__ = ["add_parser", "bench_suite", "describe", "fuzz_seed_images", "run_demo"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``myna-edge firmware`` and its subcommands."""
    parser = sub.add_parser("firmware", help="signed firmware images for the controller board")
    commands = parser.add_subparsers(dest="firmware_command", metavar="ACTION", required=True)

    keygen = commands.add_parser("keygen", help="make a new ECDSA P-256 signing key (offline)")
    keygen.add_argument("--out", type=Path, required=True, help="PEM file to create (0600)")
    _passphrase_option(keygen)
    keygen.set_defaults(handler=_run_keygen)

    build = commands.add_parser("build", help="pack myna_fw/ into an image")
    build.add_argument("source", type=Path, help="folder holding myna_fw/ (e.g. firmware)")
    build.add_argument("--key", type=Path, required=True, help="signing key (or its public key)")
    build.add_argument("--security-counter", type=int, required=True)
    build.add_argument("--board", default=DEFAULT_BOARD)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--unsigned", action="store_true", help="do not sign now (sign later)")
    _passphrase_option(build)
    build.set_defaults(handler=_run_build)

    sign = commands.add_parser("sign", help="sign an image with the offline key")
    sign.add_argument("image", type=Path)
    sign.add_argument("--key", type=Path, required=True)
    sign.add_argument("--out", type=Path, help="default: replace IMAGE")
    _passphrase_option(sign)
    sign.set_defaults(handler=_run_sign)

    inspect = commands.add_parser("inspect", help="show an image's manifest")
    inspect.add_argument("image", type=Path)
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(handler=_run_inspect)

    verify = commands.add_parser("verify", help="check an image as the board will")
    verify.add_argument("image", type=Path)
    verify.add_argument("--key", type=Path, required=True, help="public (or private) key PEM")
    verify.add_argument("--board", default=DEFAULT_BOARD)
    verify.add_argument("--min-counter", type=int, default=None)
    _passphrase_option(verify)
    verify.set_defaults(handler=_run_verify)

    status = commands.add_parser("status", help="what the board runs and accepts")
    _board_options(status)
    status.set_defaults(handler=_run_status)

    update = commands.add_parser(
        "update",
        help="apply an image to the board: over its link (agent stopped) or through the agent",
        description="Apply a signed image. --link opens the controller's port itself: stop "
        "the agent first (it owns the port). --agent asks the running agent, which applies "
        "the image over its own connection only when no command runs (an operator call on "
        "its local terminal API).",
    )
    _board_options(update)
    update.add_argument("image", type=Path)
    update.set_defaults(handler=_run_update)

    bench = commands.add_parser(
        "bench", help="time an update on the simulated board against its wire time"
    )
    bench.add_argument("--rounds", type=int, default=3, help="updates to time (default 3)")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(handler=_run_bench)

    demo = commands.add_parser(
        "demo", help="build, sign and apply an update to a simulated board, then try bad images"
    )
    demo.set_defaults(handler=lambda _args: _guard(run_demo))


def _board_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--port",
        "--link",
        dest="port",
        metavar="URL",
        help="the controller's pyserial URL; the agent must be stopped (it owns the port)",
    )
    where.add_argument(
        "--agent",
        metavar="ADDRESS",
        help="the running agent's terminal API (unix:PATH or 127.0.0.1:PORT)",
    )


def _passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-env", metavar="VAR", help="environment variable holding the key passphrase"
    )


def _passphrase(args: argparse.Namespace) -> bytes | None:
    name = getattr(args, "passphrase_env", None)
    if not name:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"environment variable {name} is not set")
    return value.encode()


def describe(image: FirmwareImage) -> dict[str, object]:
    """The manifest as plain data (``inspect --json``)."""
    manifest = image.manifest
    return {
        "board": manifest.board,
        "version": ".".join(map(str, manifest.version)),
        "security_counter": manifest.security_counter,
        "build_id": manifest.build_id.hex(),
        "key_id": manifest.key_id.hex(),
        "signed": image.signed,
        "files": [
            {"path": entry.path, "size": entry.size, "sha256": entry.sha256.hex()}
            for entry in manifest.files
        ],
    }


def _guard(run: object) -> int:
    import grpc

    try:
        assert callable(run)
        run()
    except (MynaEdgeError, ValueError, OSError) as exc:
        print(f"myna-edge: error: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:  # the agent (--agent) cannot be reached
        code = getattr(exc, "code", lambda: "unreachable")()
        print(f"myna-edge: error: the agent did not answer: {code}", file=sys.stderr)
        return 1
    return 0


def _run_keygen(args: argparse.Namespace) -> int:
    def run() -> None:
        point = generate_key(args.out, passphrase=_passphrase(args))
        print(f"wrote {args.out}; keep it offline.")
        print("public key for firmware/myna_boot/trust.py PUBLIC_KEY:")
        print(point.hex())

    return _guard(run)


def _run_build(args: argparse.Namespace) -> int:
    def run() -> None:
        passphrase = _passphrase(args)
        point = load_public_point(args.key, passphrase=passphrase)
        image = build_image(
            args.source,
            security_counter=args.security_counter,
            signer_point=point,
            board=args.board,
        )
        if not args.unsigned:
            image = sign_image(image, load_signing_key(args.key, passphrase=passphrase))
        args.out.write_bytes(image.to_bytes())
        state = "signed" if image.signed else "unsigned"
        version = ".".join(map(str, image.manifest.version))
        print(f"{args.out}: {state} image {version}, {len(image.to_bytes())} bytes")

    return _guard(run)


def _run_sign(args: argparse.Namespace) -> int:
    def run() -> None:
        image = parse_image(args.image.read_bytes())
        key = load_signing_key(args.key, passphrase=_passphrase(args))
        out = args.out or args.image
        out.write_bytes(sign_image(image, key).to_bytes())
        print(f"{out}: signed")

    return _guard(run)


def _run_inspect(args: argparse.Namespace) -> int:
    def run() -> None:
        info = describe(parse_image(args.image.read_bytes()))
        if args.json:
            print(json.dumps(info, indent=2))
            return
        for name in ("board", "version", "security_counter", "build_id", "key_id", "signed"):
            print(f"{name}: {info[name]}")
        files = info["files"]
        assert isinstance(files, list)
        for entry in files:
            print(f"  {entry['size']:>7}  {entry['sha256'][:16]}  {entry['path']}")

    return _guard(run)


def _run_verify(args: argparse.Namespace) -> int:
    def run() -> None:
        image = parse_image(args.image.read_bytes())
        point = load_public_point(args.key, passphrase=_passphrase(args))
        verify_image(image, point, board=args.board, min_counter=args.min_counter)
        print(f"{args.image}: OK")

    return _guard(run)


def _print_status(status: FirmwareStatus) -> None:
    slot = "factory" if status.slot is None else f"slot {status.slot}"
    version = ".".join(map(str, status.version))
    trial = " (trial)" if status.trial else ""
    print(f"running {version} from {slot}{trial}; security counter {status.security_counter}")
    print(f"accepts counters >= {status.floor}; staged {status.staged}/{status.staged_size}")


def _print_info(info: Any) -> None:
    # A FirmwareInfo of the terminal API (what the agent reports).
    if not info.updatable:
        print(f"running {info.version}; the board takes no updates (no slots)")
        return
    where = "factory firmware" if info.factory else "a slot"
    trial = " (trial)" if info.trial else ""
    print(f"running {info.version} from {where}{trial}; security counter {info.security_counter}")
    print(f"accepts counters >= {info.floor}")


def _run_status(args: argparse.Namespace) -> int:
    from host.peripherals import Controller

    def run() -> None:
        if args.agent is not None:
            from host.firmware.agent import agent_firmware

            info = agent_firmware(args.agent)
            if info is None:
                raise ValueError("the agent reports no controller firmware (no board answered)")
            _print_info(info)
            return
        with Controller(args.port) as board:
            _print_status(FirmwareUpdater(board).status())

    return _guard(run)


def _run_update(args: argparse.Namespace) -> int:
    from host.peripherals import Controller

    shown: list[int] = [-1]

    def progress(event: UpdateProgress) -> None:
        percent = event.done * 100 // max(event.total, 1)
        if event.phase is UpdatePhase.TRANSFER and percent // 10 == shown[0]:
            return
        shown[0] = percent // 10
        print(
            f"{event.phase.value}: {event.done}/{event.total} bytes ({percent}%)", file=sys.stderr
        )

    def run() -> None:
        data = args.image.read_bytes()
        if args.agent is not None:
            from host.firmware.agent import update_via_agent

            parse_image(data)  # a malformed file is refused here, as with --link
            _print_info(update_via_agent(args.agent, data, progress=progress))
            return
        with Controller(args.port) as board:
            status = FirmwareUpdater(board).apply(data, progress=progress)
        _print_status(status)

    return _guard(run)


# --- bench -------------------------------------------------------------------

#: Board-side check timed under MicroPython: the P-256 signature alone, then
#: the whole head check plus the SHA-256 of every file (what COMMIT and each
#: boot do). argv: firmware dir, image file, rounds.
_BOARD_VERIFY = """
import sys, time, hashlib
sys.path.insert(0, sys.argv[1])
from myna_boot import p256
from myna_boot.image import Head, trusted_key
data = open(sys.argv[2], "rb").read()
rounds = int(sys.argv[3])
head = Head(data)
point = trusted_key(head.key_id)
digest = hashlib.sha256(head.signed).digest()
t = time.ticks_us()
for _ in range(rounds):
    assert p256.verify(point, digest, head.signature)
sig = time.ticks_diff(time.ticks_us(), t) / rounds
t = time.ticks_us()
for _ in range(rounds):
    Head(data).check(0)
    at = head.length
    for path, size, want in head.files:
        assert hashlib.sha256(data[at:at + size]).digest() == want
        at += size
full = time.ticks_diff(time.ticks_us(), t) / rounds
print("%d %d" % (sig, full))
"""


def _transfer_wire_bytes(image_len: int) -> int:
    """Bytes both ways of BEGIN + every CHUNK exchange (frames, results, ACKs) at the chunk size."""
    from host.firmware.update import CHUNK_SIZE
    from host.peripherals.link import ACK, encode_frame

    ack = len(encode_frame(ACK, 1))
    total = len(encode_frame(0x41, 1, bytes(4 + 36))) + ack
    total += len(encode_frame(0x80, 1, bytes(5 + 4))) + ack
    for offset in range(0, image_len, CHUNK_SIZE):
        data = bytes(min(CHUNK_SIZE, image_len - offset))
        # zero bytes cost COBS the most: an upper bound on the encoding overhead
        total += len(encode_frame(0x42, 1, bytes(10) + data)) + ack
        total += len(encode_frame(0x80, 1, bytes(5 + 4))) + ack
    return total


def bench_suite(rounds: int) -> dict[str, object]:
    """Update a simulated board ``rounds`` times with the current firmware; median figures.

    Each round starts a fresh board (factory firmware, empty slots) and
    applies the ``firmware/myna_fw`` package signed by the TEST key, timing
    the phases from the updater's progress events. The transfer is set
    against the wire time of the same frames at 115,200 baud (8N1), the
    bound on a real board's UART; the board-side check is timed under the
    MicroPython unix port (an x86 host, not an RP2040: see the docs).
    """
    from host.firmware.signing import public_point
    from host.peripherals import Controller
    from hw_sim.devices.bench import wire_seconds
    from hw_sim.devices.controller import FIRMWARE_DIR, SimController, find_micropython

    key = load_signing_key(FIRMWARE_DIR / "keys" / "test-signing-key.pem")
    image = sign_image(
        build_image(FIRMWARE_DIR, security_counter=1, signer_point=public_point(key.public_key())),
        key,
    ).to_bytes()
    phases: dict[str, list[float]] = {"transfer": [], "install": [], "reboot_confirm": []}
    totals: list[float] = []
    with tempfile.TemporaryDirectory(prefix="myna-fw-bench-") as tmp:
        for round_ in range(rounds):
            fs = Path(tmp) / f"fs{round_}"
            fs.mkdir()
            marks: dict[UpdatePhase, float] = {}

            def mark(event: UpdateProgress, marks: dict[UpdatePhase, float] = marks) -> None:
                marks.setdefault(event.phase, time.perf_counter())

            sim = SimController(fs=fs, flash=Path(tmp) / f"keys{round_}.bin")
            with sim, Controller(sim.url) as board:
                started = time.perf_counter()
                FirmwareUpdater(board).apply(image, progress=mark)
                ended = time.perf_counter()
            totals.append(ended - started)
            phases["transfer"].append(marks[UpdatePhase.COMMIT] - marks[UpdatePhase.TRANSFER])
            phases["install"].append(marks[UpdatePhase.REBOOT] - marks[UpdatePhase.COMMIT])
            phases["reboot_confirm"].append(ended - marks[UpdatePhase.REBOOT])
        image_file = Path(tmp) / "fw.img"
        image_file.write_bytes(image)
        argv = [find_micropython(), "-c", _BOARD_VERIFY, str(FIRMWARE_DIR), str(image_file)]
        argv.append(str(max(20, rounds)))
        done = subprocess.run(  # noqa: S603 - our own script, fixed interpreter
            argv,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    signature_us, full_us = (int(word) for word in done.stdout.split())
    wire_bytes = _transfer_wire_bytes(len(image))
    wire = wire_seconds(wire_bytes)
    transfer = statistics.median(phases["transfer"])
    return {
        "image_bytes": len(image),
        "image_files": len(parse_image(image).manifest.files),
        "rounds": rounds,
        "update_total_s": round(statistics.median(totals), 3),
        "transfer_s": round(transfer, 3),
        "install_s": round(statistics.median(phases["install"]), 3),
        "reboot_and_confirm_s": round(statistics.median(phases["reboot_confirm"]), 3),
        "transfer_kib_per_s": round(len(image) / 1024 / transfer, 1),
        "wire_bytes_both_ways": wire_bytes,
        "wire_at_115200_s": round(wire, 3),
        "transfer_over_wire": round(transfer / wire, 2),
        "board_signature_check_ms": round(signature_us / 1000, 1),
        "board_full_check_ms": round(full_us / 1000, 1),
        "board": "MicroPython unix port on this host (not an RP2040)",
    }


def _run_bench(args: argparse.Namespace) -> int:
    def run() -> None:
        if args.rounds < 1:
            raise ValueError("--rounds must be at least 1")
        report = bench_suite(args.rounds)
        if args.json:
            print(json.dumps(report, indent=2))
            return
        for name, value in report.items():
            print(f"{name}: {value}")

    return _guard(run)


def fuzz_seed_images() -> list[bytes]:
    """Seeds for the ``host_firmware_image`` fuzz target: a tiny signed image and its wrecks.

    Signed by the TEST key (firmware/keys); ECDSA signatures are randomised,
    so the bytes differ per call while the shapes stay the same.
    """
    import hashlib

    from host.firmware.image import UNSIGNED, FileEntry, FirmwareImage, Manifest
    from host.firmware.signing import DEFAULT_BOARD, key_id, public_point
    from hw_sim.devices.controller import FIRMWARE_DIR

    key = load_signing_key(FIRMWARE_DIR / "keys" / "test-signing-key.pem")
    payload = b"# myna_fw\n"
    manifest = Manifest(
        board=DEFAULT_BOARD,
        version=(1, 2, 0),
        security_counter=2,
        build_id=bytes(16),
        key_id=key_id(public_point(key.public_key())),
        files=(FileEntry("myna_fw/__init__.py", len(payload), hashlib.sha256(payload).digest()),),
    )
    unsigned = FirmwareImage(manifest, UNSIGNED, payload)
    signed = sign_image(unsigned, key).to_bytes()
    head = len(unsigned.signed_bytes)
    return [
        signed,
        unsigned.to_bytes(),
        signed[:head],
        signed[:12] + b"\xff" * 20,
        b"MYFW" + bytes(8),
    ]


def run_demo() -> None:
    """Build and sign 1.1.0 with the TEST key, apply it to a simulated board, then bad images.

    The board (the real firmware under the MicroPython unix port, its update
    slots in a temporary folder) refuses a flipped bit, a foreign signature
    and a downgrade, and keeps running 1.1.0.
    """
    import re
    import shutil

    from cryptography.hazmat.primitives.asymmetric import ec

    from host.firmware.errors import UpdateError
    from host.firmware.signing import public_point
    from host.peripherals import Controller
    from hw_sim.devices.controller import FIRMWARE_DIR, SimController

    def source(folder: Path, version: tuple[int, int, int]) -> Path:
        shutil.copytree(
            FIRMWARE_DIR / "myna_fw",
            folder / "myna_fw",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        path = folder / "myna_fw" / "version.py"
        text = re.sub(
            r"FIRMWARE_VERSION = \(.*\)", f"FIRMWARE_VERSION = {version!r}", path.read_text()
        )
        path.write_text(text)
        return folder

    def image(folder: Path, version: tuple[int, int, int], counter: int, key: Any) -> bytes:
        built = build_image(
            source(folder, version),
            security_counter=counter,
            signer_point=public_point(key.public_key()),
        )
        return sign_image(built, key).to_bytes()

    test_key = load_signing_key(FIRMWARE_DIR / "keys" / "test-signing-key.pem")
    with tempfile.TemporaryDirectory(prefix="myna-fw-demo-") as tmp:
        work = Path(tmp)
        good = image(work / "good", (1, 1, 0), 1, test_key)
        print(f"built and signed 1.1.0 (security counter 1): {len(good)} bytes, TEST key")
        flipped = bytearray(good)
        flipped[-100] ^= 0x40
        bad = {
            "a flipped bit in a file": bytes(flipped),
            "another signer": image(
                work / "foreign", (1, 1, 0), 1, ec.generate_private_key(ec.SECP256R1())
            ),
            "a downgrade (counter 0)": image(work / "old", (1, 0, 5), 0, test_key),
        }
        (work / "fs").mkdir()
        sim = SimController(fs=work / "fs", flash=work / "keys.bin")
        with sim, Controller(sim.url) as board:
            updater = FirmwareUpdater(board)
            _print_status(updater.status())
            shown: list[UpdatePhase] = []

            def progress(event: UpdateProgress) -> None:
                if event.phase not in shown:
                    shown.append(event.phase)
                    print(f"  {event.phase.value}: {event.done}/{event.total} bytes")

            _print_status(updater.apply(good, progress=progress))
            for name, data in bad.items():
                try:
                    updater.apply(data, precheck=False)
                except UpdateError as exc:
                    print(f"{name}: refused by the board ({exc.reason.value})")
                else:  # pragma: no cover - would be a security bug
                    raise RuntimeError(f"the board accepted {name}")
            _print_status(updater.status())
