# SPDX-License-Identifier: Apache-2.0
"""Test helpers: the golden frame vectors and a fake hardware layer with a clock."""

from myna_fw.keystore import RamStorage

VECTORS = "../../tests/vectors/controller_frames.txt"  # run from firmware/tests


def load_vectors(path=VECTORS):
    """Return ``(crc_cases, frame_cases)`` from the shared golden file."""
    crcs = []
    frames = []
    pending = None
    with open(path) as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("crc-check:"):
                text, crc = line[len("crc-check:") :].split("=>")
                crcs.append((bytes.fromhex(text.strip()), int(crc.strip(), 16)))
            elif line.startswith("=>"):
                frames.append(pending + (bytes.fromhex(line[2:].replace(" ", "")),))
            else:
                name, rest = line.split(":", 1)
                head, payload = rest.split("|")
                ftype, seq = head.split()
                pending = (name, int(ftype, 16), int(seq, 16), bytes.fromhex(payload.replace(" ", "")))
    return crcs, frames


class FakeHardware:
    """The hardware interface with a settable clock and recorded outputs."""

    def __init__(self):
        self.now = 1000
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.key = -1
        self.tamper = False
        self.lines = {}
        self.buzzes = 0
        self.led_mask = 0
        self.storage = RamStorage()
        self.serial = "TEST-0001"
        self.debounce_ms = 10
        self.multitap_ms = 500
        self._random = 0

    def read_link(self):
        data = bytes(self.inbox)
        self.inbox = bytearray()
        return data

    def write_link(self, data):
        self.outbox.extend(data)

    def wait(self, ms):
        self.now += ms

    def busy(self):
        return False

    def scan(self):
        return self.key

    def tamper_open(self):
        return self.tamper

    def show(self, line, text):
        self.lines[line] = text

    def leds(self, mask):
        self.led_mask = mask

    def buzz(self, freq, ms):
        self.buzzes += 1

    def ticks_ms(self):
        return self.now

    def random(self, n):
        self._random += 1
        return bytes((self._random + i) & 0xFF or 1 for i in range(n))
