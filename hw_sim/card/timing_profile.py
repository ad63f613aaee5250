# SPDX-License-Identifier: Apache-2.0
"""Calibration profiles: a card timing model measured on a real reader, as a JSON file.

Why a file: ``myna-edge bench calibrate`` measures a card and reader once
(``myna_edge.bench.hil.calibrate``); the simulator then prices exchanges with
those figures instead of the UNCONFIRMED built-in constants of
``hw_sim.card.timing`` (``sim://?timing=FILE``, ``myna-edge bench --timing
FILE``). The built-in constants stay as they are; a profile replaces them
only where it is loaded.

Format (checked against ``PROFILE_SCHEMA``; unknown keys are refused)::

    {"format": "myna-edge-timing-profile", "version": 1,
     "measured": {"reader": "...", "atr": "3B...", "kind": "hardware",
                  "clock": "wall", "date": "2026-12-07T13:00:00Z"},
     "link": {"exchange_s": 0.004, "byte_s": 0.00011},
     "chip": {"default_s": 0.0, "per_read_byte_s": 0.000002,
              "by_ins": {"A4": 0.001, "B0": 0.002, "20": 0.02, "2A": 0.4},
              "unconfirmed": ["24", "84"]},
     "fit": {"samples": 23, "max_abs_error_s": 0.0004, "rms_error_s": 0.0002}}

``link.exchange_s`` is the fixed time of one exchange on the path (reader,
USB, radio turnaround), ``link.byte_s`` the time per APDU byte either way,
``chip.by_ins`` the card's own time per instruction (hex INS; those listed
in ``chip.unconfirmed`` were not measured and keep the built-in UNCONFIRMED
value), and ``fit``
the error the fit states: every calibration exchange's modelled time is
within ``max_abs_error_s`` of its measured median.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import jsonschema

from hw_sim.card.timing import ChipTimes, LinkTiming
from hw_sim.errors import SimError

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_SCHEMA",
    "FitError",
    "TimingProfile",
    "TimingProfileError",
    "dump_profile",
    "example_profile",
    "load_profile",
    "parse_profile",
]

PROFILE_FORMAT: Final = "myna-edge-timing-profile"
#: Longest time any constant may claim: a card that needs a minute is broken.
_MAX_SECONDS: Final = 60.0
#: Profiles are small; a bigger file is not one.
_MAX_BYTES: Final = 64 * 1024

_SECONDS: Final = {"type": "number", "minimum": 0, "maximum": _MAX_SECONDS}
_TEXT: Final = {"type": "string", "maxLength": 512}
PROFILE_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "version", "measured", "link", "chip", "fit"],
    "properties": {
        "format": {"const": PROFILE_FORMAT},
        "version": {"const": 1},
        "measured": {
            "type": "object",
            "additionalProperties": False,
            "required": ["reader", "kind", "clock"],
            "properties": {
                "reader": _TEXT,
                "atr": {"type": "string", "pattern": "^([0-9A-F]{2})*$", "maxLength": 66},
                "kind": {"enum": ["hardware", "simulator"]},
                "clock": {"enum": ["wall", "model"]},
                "date": _TEXT,
            },
        },
        "link": {
            "type": "object",
            "additionalProperties": False,
            "required": ["exchange_s", "byte_s"],
            "properties": {"exchange_s": _SECONDS, "byte_s": _SECONDS},
        },
        "chip": {
            "type": "object",
            "additionalProperties": False,
            "required": ["default_s", "per_read_byte_s", "by_ins"],
            "properties": {
                "default_s": _SECONDS,
                "per_read_byte_s": _SECONDS,
                "by_ins": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[0-9A-F]{2}$"},
                    "additionalProperties": _SECONDS,
                    "maxProperties": 256,
                },
                "unconfirmed": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[0-9A-F]{2}$"},
                    "maxItems": 256,
                    "uniqueItems": True,
                },
            },
        },
        "fit": {
            "type": "object",
            "additionalProperties": False,
            "required": ["samples", "max_abs_error_s", "rms_error_s"],
            "properties": {
                "samples": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                "max_abs_error_s": _SECONDS,
                "rms_error_s": _SECONDS,
            },
        },
    },
}
_VALIDATOR: Final = jsonschema.Draft202012Validator(PROFILE_SCHEMA)


class TimingProfileError(SimError, ValueError):
    """A timing profile is unreadable, not JSON, or breaks ``PROFILE_SCHEMA``."""


@dataclass(frozen=True)
class FitError:
    """The error a fit states: over ``samples`` calibration points, the worst and RMS residual."""

    samples: int
    max_abs_error_s: float
    rms_error_s: float


@dataclass(frozen=True)
class TimingProfile:
    """A loaded profile: the model it defines, the fit's error and where it was measured.

    ``unconfirmed`` holds the instructions whose chip time was not measured
    (the built-in UNCONFIRMED value was kept).
    """

    link: LinkTiming
    fit: FitError
    measured: dict[str, str] = field(default_factory=dict)
    unconfirmed: frozenset[int] = frozenset()


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _no_constants(text: str) -> float:
    raise ValueError(f"{text} is not allowed in a timing profile")


def parse_profile(raw: bytes) -> TimingProfile:
    """Parse and check a profile's bytes.

    Raises:
        TimingProfileError: too big, not UTF-8 JSON, or not a valid profile.
    """
    if len(raw) > _MAX_BYTES:
        raise TimingProfileError(f"a timing profile is at most {_MAX_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=_finite, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TimingProfileError(f"not a JSON timing profile: {exc}") from None
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise TimingProfileError(f"timing profile {where}: {error.message[:200]}")
    link, chip, fit = data["link"], data["chip"], data["fit"]
    chip_times = ChipTimes(
        default_s=float(chip["default_s"]),
        by_ins={int(ins, 16): float(s) for ins, s in chip["by_ins"].items()},
        per_read_byte_s=float(chip["per_read_byte_s"]),
    )
    return TimingProfile(
        link=LinkTiming(
            frame_delay_s=float(link["exchange_s"]), byte_s=float(link["byte_s"]), chip=chip_times
        ),
        fit=FitError(
            samples=int(fit["samples"]),
            max_abs_error_s=float(fit["max_abs_error_s"]),
            rms_error_s=float(fit["rms_error_s"]),
        ),
        measured={key: str(value) for key, value in data["measured"].items()},
        unconfirmed=frozenset(int(ins, 16) for ins in chip.get("unconfirmed", [])),
    )


def load_profile(path: Path) -> TimingProfile:
    """Read and check the profile at ``path``.

    Raises:
        TimingProfileError: unreadable, or not a valid profile.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TimingProfileError(f"cannot read timing profile {path}: {exc}") from exc
    return parse_profile(raw)


def dump_profile(profile: TimingProfile) -> str:
    """The JSON text of ``profile`` (it parses back to an equal model).

    Raises:
        ValueError: the profile's link has no measured ``byte_s`` (a built-in
            air-time model is not a calibration).
    """
    link = profile.link
    if link.byte_s is None:
        raise ValueError("only a measured model (byte_s set) is written as a profile")
    document = {
        "format": PROFILE_FORMAT,
        "version": 1,
        "measured": dict(profile.measured),
        "link": {"exchange_s": link.frame_delay_s, "byte_s": link.byte_s},
        "chip": {
            "default_s": link.chip.default_s,
            "per_read_byte_s": link.chip.per_read_byte_s,
            "by_ins": {f"{ins:02X}": s for ins, s in sorted(link.chip.by_ins.items())},
            "unconfirmed": [f"{ins:02X}" for ins in sorted(profile.unconfirmed)],
        },
        "fit": {
            "samples": profile.fit.samples,
            "max_abs_error_s": profile.fit.max_abs_error_s,
            "rms_error_s": profile.fit.rms_error_s,
        },
    }
    text = json.dumps(document, indent=2, ensure_ascii=True) + "\n"
    parse_profile(text.encode())  # never write what we could not read back
    return text


def example_profile() -> bytes:
    """A valid profile's bytes (made-up figures): the fuzz seed and a template for docs."""
    chip = ChipTimes(
        default_s=0.001,
        by_ins={0xA4: 0.001, 0xB0: 0.002, 0x20: 0.02, 0x2A: 0.4},
        per_read_byte_s=2e-6,
    )
    profile = TimingProfile(
        link=LinkTiming(frame_delay_s=0.004, byte_s=0.00011, chip=chip),
        fit=FitError(samples=17, max_abs_error_s=0.0004, rms_error_s=0.0002),
        measured={
            "reader": "example",
            "atr": "3BE000FF8131FE4514",
            "kind": "hardware",
            "clock": "wall",
        },
    )
    return dump_profile(profile).encode()
