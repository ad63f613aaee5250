# SPDX-License-Identifier: Apache-2.0
"""The ``myna-edge bench`` options for devices, calibration and timing profiles.

Why a module of its own: ``myna_edge.bench`` keeps the simulator suites;
this adds, with one call each from there, the options of a
hardware-in-the-loop run (``--reader``, ``--controller``, ``--printer``,
``--pin-env``), of ``bench calibrate`` (``--profile-out``, ``--clock``) and
``--timing FILE`` (a calibration profile for the simulator's model).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from host.errors import MynaEdgeError
from hw_sim.card.timing import use_default_link
from hw_sim.card.timing_profile import TimingProfileError, load_profile
from myna_edge.bench.hil.calibrate import ClockKind, calibrate, predicted_seconds, write_calibration
from myna_edge.bench.hil.plan import SafetyStopError
from myna_edge.bench.hil.suite import HilTargets, render_markdown, run_hil

__all__ = ["CALIBRATE", "add_arguments", "hil_requested", "run_hil_command", "timing_context"]

#: ``myna-edge bench calibrate``: the word that turns the suite list into calibration.
CALIBRATE: Final = "calibrate"
_DEFAULT_PROFILE: Final = Path("timing-profile.json")


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """Add the device, calibration and timing options to ``bench``."""
    group = bench.add_argument_group(
        "hardware in the loop",
        "with any of these, bench runs the suites these devices allow against them "
        "(a plan is printed first); 'bench calibrate --reader URL' fits a timing profile",
    )
    group.add_argument(
        "--reader", metavar="URL", help="card reader: pcsc://..., libnfc://..., sim://..."
    )
    group.add_argument("--controller", metavar="URL", help="controller board (pyserial URL)")
    group.add_argument("--printer", metavar="URL", help="receipt printer (pyserial URL)")
    group.add_argument(
        "--pin-env",
        metavar="NAME",
        help="environment variable holding the auth PIN; without it nothing uses a PIN",
    )
    group.add_argument(
        "--timing",
        type=Path,
        metavar="FILE",
        help="a calibration profile: the simulator's modelled figures use it",
    )
    group.add_argument(
        "--profile-out",
        type=Path,
        metavar="FILE",
        default=_DEFAULT_PROFILE,
        help=f"calibrate: where to write the profile (default {_DEFAULT_PROFILE})",
    )
    group.add_argument(
        "--clock",
        choices=[k.value for k in ClockKind],
        default=ClockKind.WALL.value,
        help="calibrate: 'wall' times the reader; 'model' (sim:// only) uses the sim's model",
    )


def hil_requested(args: argparse.Namespace) -> bool:
    """Whether this is a device run or a calibration rather than a simulator run."""
    devices = (args.reader, args.controller, args.printer)
    return args.suites[:1] == [CALIBRATE] or any(d is not None for d in devices)


@contextmanager
def timing_context(args: argparse.Namespace) -> Iterator[None]:
    """Use ``--timing FILE``'s model inside the block (the built-in one without it).

    Raises:
        TimingProfileError: the file is not a valid profile.
    """
    link = load_profile(args.timing).link if args.timing is not None else None
    with use_default_link(link):
        yield


def run_hil_command(args: argparse.Namespace) -> int:
    """Run calibration or a device run; 0 ok, 1 stopped or failed, 2 bad arguments."""
    try:
        if args.suites[:1] == [CALIBRATE]:
            return _calibrate(args)
        if args.suites:
            print(
                "myna-edge bench: name no suites with --reader/--controller/--printer",
                file=sys.stderr,
            )
            return 2
        targets = HilTargets(
            reader=args.reader,
            controller=args.controller,
            printer=args.printer,
            pin_env=args.pin_env,
            rounds=args.rounds,
            timing=args.timing,
        )
        report = run_hil(targets, out=lambda text: print(text, file=sys.stderr))
    except (SafetyStopError, TimingProfileError) as exc:
        print(f"myna-edge bench: {exc}", file=sys.stderr)
        return 1
    except MynaEdgeError as exc:
        print(f"myna-edge bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    markdown = render_markdown(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "hil.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (args.out / "hil.md").write_text(markdown, encoding="utf-8")
        print(f"myna-edge bench: wrote {args.out / 'hil.md'} and hil.json", file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else markdown)
    return 1 if "stopped" in report else 0


def _calibrate(args: argparse.Namespace) -> int:
    if len(args.suites) > 1 or args.reader is None:
        print("myna-edge bench calibrate: give --reader URL and no suites", file=sys.stderr)
        return 2
    with timing_context(args):
        result = calibrate(
            args.reader,
            rounds=args.rounds,
            pin_env=args.pin_env,
            clock=ClockKind(args.clock),
            out=lambda text: print(text, file=sys.stderr),
        )
    write_calibration(result, args.profile_out)
    fit, link = result.profile.fit, result.profile.link
    rows = [
        {
            "probe": s.kind.value,
            "ins": f"{s.ins:02X}",
            "bytes": f"{s.command_length}/{s.response_length}",
            "measured_ms": round(s.seconds * 1000, 4),
            "modelled_ms": round(predicted_seconds(s, link) * 1000, 4),
        }
        for s in result.samples
    ]
    summary = {
        "profile": str(args.profile_out),
        "measured": result.profile.measured,
        "exchange_ms": round(link.frame_delay_s * 1000, 4),
        "byte_us": round((link.byte_s or 0.0) * 1e6, 3),
        "chip_ms": {
            f"{ins:02X}": round(s * 1000, 4) for ins, s in sorted(link.chip.by_ins.items())
        },
        "per_read_byte_us": round(link.chip.per_read_byte_s * 1e6, 4),
        "unconfirmed_ins": sorted(f"{i:02X}" for i in result.profile.unconfirmed),
        "fit_max_abs_error_ms": round(fit.max_abs_error_s * 1000, 4),
        "fit_rms_error_ms": round(fit.rms_error_s * 1000, 4),
        "link_probe_max_abs_error_ms": round(result.link_fit.max_abs_error_s * 1000, 4),
        "samples": rows,
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"myna-edge bench calibrate: wrote {args.profile_out}", file=sys.stderr)
    return 0
