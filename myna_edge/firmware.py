# SPDX-License-Identifier: Apache-2.0
"""``myna-edge firmware``: make, sign, check and apply controller firmware images.

::

    myna-edge firmware keygen --out release.pem            # once, offline
    myna-edge firmware build firmware --key release.pem --security-counter 2 --out fw.img
    myna-edge firmware sign fw.img --key release.pem       # on the offline machine
    myna-edge firmware inspect fw.img [--json]
    myna-edge firmware verify fw.img --key release.pem [--board B] [--min-counter N]
    myna-edge firmware status --port URL
    myna-edge firmware update --port URL fw.img            # progress on stderr

``--key`` takes a PEM private key (signing) or, where only checking, a
public one; a passphrase comes from the environment variable named by
``--passphrase-env``, never from the command line. Every refusal is a typed
error printed as one line, exit status 1. docs/firmware-updates.md is the guide.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

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

__all__ = ["add_parser", "describe"]


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
    status.add_argument("--port", required=True, help="the controller's pyserial URL")
    status.set_defaults(handler=_run_status)

    update = commands.add_parser("update", help="apply an image to the board over its link")
    update.add_argument("--port", "--link", dest="port", required=True, help="pyserial URL")
    update.add_argument("image", type=Path)
    update.set_defaults(handler=_run_update)


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
    try:
        assert callable(run)
        run()
    except (MynaEdgeError, ValueError, OSError) as exc:
        print(f"myna-edge: error: {exc}", file=sys.stderr)
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


def _run_status(args: argparse.Namespace) -> int:
    from host.peripherals import Controller

    def run() -> None:
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
        with Controller(args.port) as board:
            status = FirmwareUpdater(board).apply(data, progress=progress)
        _print_status(status)

    return _guard(run)
