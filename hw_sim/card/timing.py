# SPDX-License-Identifier: Apache-2.0
"""What an exchange would cost on a real contactless link: a timing model.

The in-process card answers in microseconds, so its wall time says nothing
about a physical card. This model prices each logged exchange the way an
ISO/IEC 14443 Type B link and a smart-card chip would: bytes on air at the
link bit rate (with I-block framing and chaining at the card's frame size),
the frame delay between command and answer, and the chip's own processing
time for the command. It only computes (no sleeping), so benchmarks can
compare read strategies in "card seconds" next to their measured host time.

Every chip constant below is UNCONFIRMED: no public source measures the
My Number card (jpki-card.md §7). They are round figures typical of
contactless RSA-2048 smart cards, chosen so that relative comparisons
(chunked against extended reads, one APDU against three) are meaningful; set
your own ``ChipTimes`` from a real card's trace when you have one, or load
a profile measured by ``myna-edge bench calibrate`` (``timing_profile``):
its ``LinkTiming`` carries a measured per-byte time (``byte_s``) instead of
the 14443 air-time formula, and ``use_default_link`` makes it the model
every ``modelled_seconds`` call without an explicit link uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hw_sim.card.apdu_log import ApduLogEntry

__all__ = [
    "ChipTimes",
    "LinkTiming",
    "default_link",
    "exchange_seconds",
    "modelled_seconds",
    "use_default_link",
]

#: ISO/IEC 14443-2: the carrier is 13.56 MHz; one etu is 128/fc at 106 kbit/s.
_CARRIER_HZ = 13_560_000
#: A Type B character is 10 etu (start bit, 8 data bits, stop bit) plus
#: extra guard time; 11 etu is the usual average (ISO/IEC 14443-3 §7.1).
_ETU_PER_BYTE = 11
#: I-block framing: PCB before the INF field and CRC_B (2 bytes) after it,
#: plus SOF/EOF (about 2 bytes' worth of etu) (ISO/IEC 14443-4 §7.1).
_FRAME_OVERHEAD_BYTES = 5


@dataclass(frozen=True)
class ChipTimes:
    """The chip's processing time per command, in seconds (all UNCONFIRMED).

    Attributes:
        default_s: any command not listed.
        by_ins: INS -> seconds for that command.
        per_read_byte_s: extra time per byte READ BINARY returns (EEPROM/flash
            reads are not free on a chip).
    """

    default_s: float = 0.002
    by_ins: dict[int, float] = field(
        default_factory=lambda: {
            0xA4: 0.002,  # SELECT
            0xB0: 0.002,  # READ BINARY, plus per byte
            0x20: 0.015,  # VERIFY: PIN comparison with counter update in NVM
            0x24: 0.030,  # CHANGE REFERENCE DATA: NVM write
            0x2A: 0.250,  # COMPUTE DIGITAL SIGNATURE: RSA-2048 private key
            0x84: 0.005,  # GET CHALLENGE
        }
    )
    per_read_byte_s: float = 0.000_002


@dataclass(frozen=True)
class LinkTiming:
    """An ISO/IEC 14443-4 Type B link.

    Attributes:
        bit_rate_kbps: 106, 212, 424 or 848.
        frame_size: FSC/FSD, the largest frame either side accepts; longer
            APDUs are chained in I-blocks of this size (256 is common).
        frame_delay_s: turnaround between the end of one frame and the start
            of the answer, and for each chaining acknowledgement.
        chip: the chip's processing times.
        byte_s: a measured time per APDU byte on the whole path (reader,
            USB, air), from a calibration profile; when set it replaces the
            air-time formula (framing and chaining are inside the measurement)
            and ``frame_delay_s`` is the measured fixed time per exchange.
    """

    bit_rate_kbps: int = 106
    frame_size: int = 256
    frame_delay_s: float = 0.0005
    chip: ChipTimes = field(default_factory=ChipTimes)
    byte_s: float | None = None

    def __post_init__(self) -> None:
        if self.bit_rate_kbps not in (106, 212, 424, 848):
            raise ValueError("bit_rate_kbps must be 106, 212, 424 or 848")
        if self.frame_size <= _FRAME_OVERHEAD_BYTES:
            raise ValueError("frame_size too small")
        if self.byte_s is not None and not self.byte_s >= 0:
            raise ValueError("byte_s must be a non-negative number")

    def air_seconds(self, apdu_length: int) -> float:
        """Time on air for one APDU, chained into I-blocks, with block acknowledgements."""
        if self.byte_s is not None:
            return apdu_length * self.byte_s
        payload = self.frame_size - _FRAME_OVERHEAD_BYTES
        blocks = max(1, -(-apdu_length // payload))
        etu_s = 128 / _CARRIER_HZ * 106 / self.bit_rate_kbps
        on_air = (apdu_length + blocks * _FRAME_OVERHEAD_BYTES) * _ETU_PER_BYTE * etu_s
        # Every chained block but the last is acknowledged by an R-block.
        acks = (blocks - 1) * (_FRAME_OVERHEAD_BYTES * _ETU_PER_BYTE * etu_s + self.frame_delay_s)
        return on_air + acks


def exchange_seconds(entry: ApduLogEntry, link: LinkTiming) -> float:
    """Modelled time of one logged exchange: command on air, chip, answer on air."""
    ins = entry.command[1] if len(entry.command) > 1 else -1
    chip = link.chip.by_ins.get(ins, link.chip.default_s)
    if ins == 0xB0:
        chip += max(0, entry.response_length - 2) * link.chip.per_read_byte_s
    return (
        link.air_seconds(entry.command_length)
        + link.frame_delay_s
        + chip
        + link.air_seconds(entry.response_length)
    )


#: The model ``modelled_seconds`` uses without an explicit link (None: the built-in one).
_default_link: LinkTiming | None = None


def default_link() -> LinkTiming:
    """The model in force: a loaded profile's (``use_default_link``) or the built-in one."""
    return _default_link if _default_link is not None else LinkTiming()


@contextmanager
def use_default_link(link: LinkTiming | None) -> Iterator[LinkTiming]:
    """Make ``link`` the default model inside the block (None keeps the current one).

    Why a default: ``myna-edge bench --timing FILE`` must change the modelled
    figures of every suite without threading a model through each of them.
    """
    global _default_link  # one process-wide default, restored on exit
    previous = _default_link
    if link is not None:
        _default_link = link
    try:
        yield default_link()
    finally:
        _default_link = previous


def modelled_seconds(entries: Iterable[ApduLogEntry], link: LinkTiming | None = None) -> float:
    """Modelled time of a sequence of logged exchanges on ``link`` (default: ``default_link()``)."""
    model = link or default_link()
    return sum(exchange_seconds(entry, model) for entry in entries)
