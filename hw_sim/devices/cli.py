# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim controller``, ``sim printer``, ``sim face-matcher`` and ``sim payment``.

``sim controller --link PATH`` runs the firmware under the MicroPython unix
port and exposes the host end of its serial line as the symlink PATH; lines
on standard input drive the board (``pin 1234``, ``password ABCD1234``,
``press F1``, ``tamper open``, ``tamper close``, ``display``,
``wait-entry [SECONDS]`` (until the pad asks for a PIN or password),
``quit``). ``--commission KEYFILE`` injects the board key from KEYFILE (64
hex digits, the format of ``controller_key`` in ``terminal.toml``; created
with a fresh key when missing) through the key-injection command of
``firmware/PROTOCOL.md`` §6 before the banner, as at the key ceremony.
``sim printer --link PATH --out DIR`` emulates the receipt printer and
writes each receipt to DIR as PNG and text (``paper out|in``,
``cover open|close``, ``quit`` on standard input). ``sim face-matcher
--link PATH --outcome match|no-match|no-face|busy|error`` emulates the
face-matching reader (``host/peripherals/FACE_MATCHER.md``); ``outcome
WORD [SCORE]``, ``counts`` and ``quit`` on standard input. ``sim payment
--link PATH`` emulates the ccTalk coin acceptor, bill validator and hoppers
(``hw_sim/devices/CCTALK.md``): ``coin YEN``, ``bill YEN``, ``jam coin|bill``,
``hopper YEN COUNT``, ``silence N``, ``corrupt N``, ``paid`` and ``quit``. All take the link
fault options ``--corrupt --drop --duplicate --delay`` (probabilities per
frame) and ``--seed``.

All run until ``quit``, SIGINT or SIGTERM: standard input closing is not a
stop, so they run under a supervisor or service manager with no terminal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from host.errors import PeripheralError
from host.peripherals import BoardKey, Controller
from hw_sim.devices.base import SimDeviceABC
from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.devices.controller import SimController
from hw_sim.devices.errors import DeviceError
from hw_sim.devices.face_matcher import SimFaceMatcher, SimOutcome
from hw_sim.devices.faults import LinkFaults
from hw_sim.devices.printer import SimPrinter

__all__ = ["add_sim_commands", "commission"]

_Device = TypeVar("_Device", bound=SimDeviceABC)


def _fault_options(parser: argparse.ArgumentParser) -> None:
    for name in ("corrupt", "drop", "duplicate", "delay"):
        parser.add_argument(
            f"--{name}", type=float, default=0.0, help=f"{name} probability per frame"
        )
    parser.add_argument("--seed", type=int, default=0, help="fault RNG seed")


def _faults(args: argparse.Namespace) -> LinkFaults:
    return LinkFaults(args.corrupt, args.drop, args.duplicate, args.delay, seed=args.seed)


def add_sim_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``controller``, ``printer``, ``face-matcher`` and ``payment`` on ``sim``."""
    ctl = commands.add_parser("controller", help="run the controller firmware on a pty")
    ctl.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    ctl.add_argument("--flash", type=Path, default=None, help="file standing in for flash")
    ctl.add_argument("--serial", default="SIM-00000001", help="board serial number")
    ctl.add_argument(
        "--fs", type=Path, default=None, metavar="DIR",
        help="folder standing in for the flash filesystem: firmware update slots",
    )  # fmt: skip
    ctl.add_argument(
        "--commission", type=Path, default=None, metavar="KEYFILE",
        help="inject the board key in KEYFILE (hex; created when missing) before serving",
    )  # fmt: skip
    _fault_options(ctl)
    ctl.set_defaults(handler=_run_controller)
    prn = commands.add_parser("printer", help="emulate the ESC/POS receipt printer on a pty")
    prn.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    prn.add_argument(
        "--out", type=Path, required=True, help="folder for receipt PNG and text files"
    )
    _fault_options(prn)
    prn.set_defaults(handler=_run_printer)
    fm = commands.add_parser("face-matcher", help="emulate the face-matching reader on a pty")
    fm.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    fm.add_argument(
        "--outcome", type=SimOutcome, choices=list(SimOutcome), default=SimOutcome.MATCH,
        help="what every MATCH answers until changed on standard input",
    )  # fmt: skip
    _fault_options(fm)
    fm.set_defaults(handler=_run_face_matcher)
    pay = commands.add_parser("payment", help="emulate the ccTalk coin/bill acceptor and hoppers")
    pay.add_argument("--link", type=Path, required=True, help="symlink to create for the host end")
    pay.add_argument("--stock", type=int, default=100, help="coins in each hopper at start")
    _fault_options(pay)
    pay.set_defaults(handler=_run_payment)


def _serve(
    command: str,
    make: Callable[[], _Device],
    banner: Callable[[_Device], str],
    handle: Callable[[_Device, list[str], str], None],
    *,
    prepare: Callable[[_Device], None] | None = None,
) -> int:
    """Start the device, then serve until ``quit``, SIGINT or SIGTERM.

    Standard input is read by a daemon thread, one command per line; its end
    (no terminal, ``</dev/null``, a closed pipe) only ends the commands.
    """
    try:
        sim = make()
        sim.start()
    except (DeviceError, ValueError, OSError) as error:
        print(f"myna-edge sim {command}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        with sim:
            if prepare is not None:
                try:
                    prepare(sim)
                except (DeviceError, PeripheralError, ValueError, OSError) as error:
                    print(f"myna-edge sim {command}: {error}", file=sys.stderr)
                    return 1
            print(banner(sim), flush=True)
            reader = threading.Thread(
                target=_read_commands, args=(sim, handle, stop), name="sim-stdin", daemon=True
            )
            reader.start()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def _read_commands(
    sim: _Device, handle: Callable[[_Device, list[str], str], None], stop: threading.Event
) -> None:
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            stop.set()
            return
        handle(sim, words, line)
        sys.stdout.flush()
    print("standard input closed; running until SIGINT/SIGTERM", file=sys.stderr, flush=True)


def _run_controller(args: argparse.Namespace) -> int:
    return _serve(
        "controller",
        lambda: SimController(
            flash=args.flash,
            serial=args.serial,
            faults=_faults(args),
            link_path=args.link,
            fs=args.fs,
        ),
        lambda sim: (
            f"controller on {args.link} (pid {sim.pid}); "
            f"{'commissioned; ' if args.commission is not None else ''}"
            "commands: pin, password, press, tamper, display, wait-entry, quit"
        ),
        _controller_command,
        prepare=None if args.commission is None else _commissioner(args.commission),
    )


def _commissioner(key_file: Path) -> Callable[[SimController], None]:
    def prepare(sim: SimController) -> None:
        commission(sim.url, key_file)

    return prepare


def commission(url: str, key_file: Path) -> bytes:
    """Inject the key in ``key_file`` into the board at ``url``; return its check value.

    ``key_file`` holds the 32-byte key as hex (``terminal.toml``'s
    ``controller_key``); when missing, a fresh key is written there first
    (mode 0600). A board already commissioned with this key is left as is.

    Raises:
        ValueError: the file does not hold 64 hex digits.
        BoardRefusedError: the board is commissioned with another key.
        PeripheralError: the board did not answer or its KCV differs.
        OSError: the key file cannot be read or written.
    """
    if not key_file.exists():
        fresh = BoardKey.generate()
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(fresh.material().hex() + "\n")
    text = key_file.read_text(encoding="ascii").strip()
    if len(text) != 64:
        raise ValueError(f"{key_file}: expected 64 hex digits (a 32-byte board key)")
    key = BoardKey(bytes.fromhex(text))
    with Controller(url, key=key) as board:
        status = board.status()
        if status.commissioned and status.kcv == key.kcv():
            return status.kcv
        return board.inject_key(key)


def _controller_command(sim: SimController, words: list[str], line: str) -> None:
    try:
        if words[0] == "pin":
            sim.enter_pin(words[1])
        elif words[0] == "password":
            sim.enter_password(words[1])
        elif words[0] == "press":
            sim.press(*words[1:])
        elif words[0] == "tamper":
            sim.set_tamper(words[1] == "open")
        elif words[0] == "display":
            print(" | ".join(sim.display()))
        elif words[0] == "wait-entry":
            timeout = float(words[1]) if len(words) > 1 else 30.0
            sim.wait_until(lambda: sim.display()[0] in _ENTRY_PROMPTS, timeout)
            print(f"asked: {sim.display()[0]}")
        else:
            print(f"unknown command {words[0]!r}")
    except (IndexError, ValueError, DeviceError) as error:
        print(f"error: {error}")


#: What the firmware shows while its secure entry waits for keys (firmware/myna_fw/app.py).
_ENTRY_PROMPTS: Final = frozenset({"ENTER PIN", "ENTER PASSWORD"})


def _run_printer(args: argparse.Namespace) -> int:
    return _serve(
        "printer",
        lambda: SimPrinter(args.out, faults=_faults(args), link_path=args.link),
        lambda sim: (
            f"printer on {args.link}; receipts to {args.out}; "
            "commands: paper out|in, cover open|close, quit"
        ),
        _printer_command,
    )


def _printer_command(sim: SimPrinter, words: list[str], line: str) -> None:
    if words[0] == "paper" and len(words) > 1:
        sim.set_paper_out(words[1] == "out")
    elif words[0] == "cover" and len(words) > 1:
        sim.set_cover_open(words[1] == "open")
    else:
        print(f"unknown command {line.strip()!r}")


def _run_face_matcher(args: argparse.Namespace) -> int:
    return _serve(
        "face-matcher",
        lambda: SimFaceMatcher(args.outcome, faults=_faults(args), link_path=args.link),
        lambda sim: (
            f"face matcher on {args.link}; outcome {sim.outcome.value}; "
            "commands: outcome match|no-match|no-face|busy|error [SCORE], counts, quit"
        ),
        _face_matcher_command,
    )


def _face_matcher_command(sim: SimFaceMatcher, words: list[str], line: str) -> None:
    try:
        if words[0] == "outcome" and len(words) in (2, 3):
            sim.set_outcome(SimOutcome(words[1]), int(words[2]) if len(words) == 3 else None)
            print(f"outcome {sim.outcome.value}")
        elif words[0] == "counts":
            print(f"matches {sim.matches} rejects {sim.rejects}")
        else:
            print(f"unknown command {line.strip()!r}")
    except ValueError as error:
        print(f"error: {error}")


def _run_payment(args: argparse.Namespace) -> int:
    return _serve(
        "payment",
        lambda: SimCcTalkBus(hopper_stock=args.stock, faults=_faults(args), link_path=args.link),
        lambda sim: (
            f"ccTalk payment bus on {args.link}; commands: coin YEN, bill YEN, jam coin|bill, "
            "hopper YEN COUNT, silence N, corrupt N, paid, quit"
        ),
        _payment_command,
    )


def _payment_command(sim: SimCcTalkBus, words: list[str], line: str) -> None:
    try:
        if words[0] == "coin" and len(words) == 2:
            print("credited" if sim.insert_coin(int(words[1])) else "returned")
        elif words[0] == "bill" and len(words) == 2:
            print("taken" if sim.insert_bill(int(words[1])) else "returned")
        elif words[0] == "jam" and words[1:] in (["coin"], ["bill"]):
            (sim.jam_coin if words[1] == "coin" else sim.jam_bill)()
        elif words[0] == "hopper" and len(words) == 3:
            sim.set_hopper_stock(int(words[1]), int(words[2]))
        elif words[0] in ("silence", "corrupt") and len(words) == 2:
            (sim.silence if words[0] == "silence" else sim.corrupt)(int(words[1]))
        elif words[0] == "paid":
            print(f"paid out {sum(sim.paid_out())} yen: {sim.paid_out()}")
        else:
            print(f"unknown command {line.strip()!r}")
    except (ValueError, DeviceError) as error:
        print(f"error: {error}")
