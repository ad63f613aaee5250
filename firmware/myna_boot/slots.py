# SPDX-License-Identifier: Apache-2.0
"""Two slots, a boot record, and the rules that pick what runs (MCUboot's swap-less A/B).

Layout under the board's filesystem root (``/fw`` on the RP2040)::

    state          the boot record (JSON), replaced only by an atomic rename
    slot0/ slot1/  image.hdr (header, manifest, signature) + the myna_fw/ files
    staging.*      an image being received (update.py)

The boot record says which slot is confirmed (``primary``, -1 = the frozen
factory firmware), which one waits for its trial (``pending``), whether that
trial has started (``trial``) and the security-counter floor (``floor``).
Selection, every boot: a pending slot whose trial already started and never
confirmed is dropped (revert); a pending slot not yet tried is marked tried
*before* it runs, then verified in full (signature, board, counter, every
file hash); the primary slot is verified in full too; whatever fails
verification is skipped, and the factory firmware is the last resort, so a
board always boots a verified image or the frozen one. Each record change
is one rename, so a power cut leaves either the old or the new record.
"""

import json
from binascii import hexlify

from myna_boot import flash as fl
from myna_boot import trust
from myna_boot.image import Head, ImageError, factory_authority, hash_file

FACTORY = -1


class BootRecord:
    """``auth``: key id (hex) of the authority the board's PIN keys belong to (boot.py)."""

    def __init__(self, primary=FACTORY, pending=FACTORY, trial=0, floor=trust.FACTORY_COUNTER, auth=None):
        self.primary = primary
        self.pending = pending
        self.trial = trial
        self.floor = floor
        self.auth = auth if auth is not None else hexlify(factory_authority()).decode()

    def encode(self):
        return json.dumps(
            {
                "primary": self.primary,
                "pending": self.pending,
                "trial": self.trial,
                "floor": self.floor,
                "auth": self.auth,
            }
        ).encode()

    @classmethod
    def decode(cls, data):
        try:
            raw = json.loads(data)
            auth = raw.get("auth")
            record = cls(int(raw["primary"]), int(raw["pending"]), int(raw["trial"]), int(raw["floor"]), auth)
            if not isinstance(record.auth, str) or len(record.auth) != 16:
                raise ValueError("auth")
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()
        if record.primary not in (FACTORY, 0, 1) or record.pending not in (FACTORY, 0, 1):
            return cls()
        return record


class Slots:
    """The slots under ``root`` and the boot record; ``select`` picks what runs."""

    def __init__(self, root, flash=None):
        self.root = root
        self.flash = flash if flash is not None else fl.Flash()
        self.record = self.load()
        self.running = FACTORY  # the slot whose files run now
        self.head = None  # its verified head (None: factory)
        self.trial = False  # running a trial that has not confirmed yet

    def path(self, name):
        return self.root + "/" + name

    def slot_dir(self, slot):
        return self.path("slot%d" % slot)

    def load(self):
        try:
            with open(self.path("state"), "rb") as handle:
                return BootRecord.decode(handle.read())
        except OSError:
            return BootRecord()

    def save(self, record):
        self.flash.write(self.path("state.new"), record.encode())
        self.flash.rename(self.path("state.new"), self.path("state"))
        self.record = record

    def verify(self, slot, floor):
        """The slot's head if the slot holds a complete, genuine image; else raise ImageError."""
        base = self.slot_dir(slot)
        try:
            with open(base + "/image.hdr", "rb") as handle:
                data = handle.read()
        except OSError:
            raise ImageError(9)
        head = Head(data)
        if head.length != len(data):
            raise ImageError(9)
        head.check(floor)
        for path, size, digest in head.files:
            if not hash_file(base + "/" + path, size, digest):
                raise ImageError(9)
        return head

    def select(self):
        """Decide what runs now (see the module docstring); return the slot or FACTORY."""
        rec = self.record
        if rec.pending != FACTORY:
            if rec.trial:
                # Booted once on trial and never confirmed: go back.
                self.save(BootRecord(rec.primary, FACTORY, 0, rec.floor, rec.auth))
            else:
                self.save(BootRecord(rec.primary, rec.pending, 1, rec.floor, rec.auth))
                try:
                    self.head = self.verify(rec.pending, rec.floor)
                    self.running = rec.pending
                    self.trial = True
                    return self.running
                except ImageError:
                    self.save(BootRecord(rec.primary, FACTORY, 0, rec.floor, rec.auth))
        rec = self.record
        if rec.primary != FACTORY:
            try:
                self.head = self.verify(rec.primary, rec.floor)
                self.running = rec.primary
                self.trial = False
                return self.running
            except ImageError:
                pass  # damaged flash: the factory firmware still runs
        self.head = None
        self.running = FACTORY
        self.trial = False
        return FACTORY

    def confirm(self):
        """The running trial passed its self-test: make it primary and raise the floor."""
        if not self.trial or self.head is None:
            return
        rec = self.record
        floor = max(rec.floor, self.head.counter)
        self.save(BootRecord(self.running, FACTORY, 0, floor, rec.auth))
        self.trial = False

    def target(self):
        """The slot an update may overwrite: never the running or the confirmed one."""
        for slot in (0, 1):
            if slot != self.running and slot != self.record.primary:
                return slot
        return FACTORY
