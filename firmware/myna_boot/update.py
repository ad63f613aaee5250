# SPDX-License-Identifier: Apache-2.0
"""Receiving an update over the link: begin, chunks, commit, abort, status.

The image is staged in a file as it arrives (``staging.bin``, with its size
and SHA-256 in ``staging.meta``), so a broken link or a power cut resumes
where it stopped: BEGIN with the same size and digest answers the staged
length, and a chunk at any other offset is refused with the expected one
(replayed or skipped chunks change nothing). As soon as the head is in, it
is checked (signature, board, counter), so a foreign image is refused after
one frame of payload, not after all of them. COMMIT checks everything again,
copies the files into the slot that is neither running nor confirmed,
writes ``image.hdr`` last, and only then points the boot record at it (one
rename). Commands return ``(status, data)``; the app puts them in RESULT.
"""

import hashlib
import struct

from myna_boot import flash as fl
from myna_boot.image import HEADER_LEN, MAX_MANIFEST, MAX_PAYLOAD, SIGNATURE_LEN, Head, ImageError
from myna_boot.slots import FACTORY, BootRecord

try:
    from micropython import const
except ImportError:  # pragma: no cover - CPython tooling
    def const(value):  # type: ignore[misc]
        return value

# RESULT statuses (firmware/PROTOCOL.md §4; myna_fw/proto.py spells them too)
_OK = const(0)
_BAD_REQUEST = const(1)
_BUSY = const(5)
_IMAGE_INVALID = const(9)
_BAD_OFFSET = const(13)
_NO_UPDATE = const(14)

_MAX_IMAGE = HEADER_LEN + MAX_MANIFEST + SIGNATURE_LEN + MAX_PAYLOAD
_BLOCK = const(512)


def _crc16(data):
    # CRC-16/CCITT-FALSE, the link's (firmware/PROTOCOL.md §2); kept here so
    # the boot platform needs nothing from the updatable myna_fw package.
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


class Receiver:
    def __init__(self, slots):
        self.slots = slots
        self.flash = slots.flash
        self._bin = slots.path("staging.bin")
        self._meta_path = slots.path("staging.meta")
        self.size = 0
        self.digest = b""
        self.length = 0
        self._checked = False
        self.reboot = False  # set by a successful commit
        try:
            with open(self._meta_path, "rb") as handle:
                meta = handle.read()
            if len(meta) == 36:
                self.size = struct.unpack(">I", meta[:4])[0]
                self.digest = meta[4:]
                self.length = max(0, fl.size(self._bin))
        except OSError:
            pass

    # --- commands ------------------------------------------------------------

    def status(self, factory_version):
        """running(1, FF factory) trial(1) version(3) counter(4) floor(4) staged(4) size(4).

        ``factory_version`` is the running app's own version, reported when
        the frozen factory firmware runs (it has no signed head).
        """
        slots = self.slots
        head = slots.head
        if head is None:
            version = bytes(factory_version)
            counter = 0
        else:
            version = bytes(head.version)
            counter = head.counter
        running = 0xFF if slots.running == FACTORY else slots.running
        return _OK, struct.pack(
            ">BB3sIIII", running, 1 if slots.trial else 0, version, counter, slots.record.floor, self.length, self.size
        )

    def begin(self, args):
        if len(args) != 36:
            return _BAD_REQUEST, b""
        size = struct.unpack(">I", args[:4])[0]
        digest = bytes(args[4:36])
        if not HEADER_LEN + SIGNATURE_LEN < size <= _MAX_IMAGE:
            return _IMAGE_INVALID, b""
        if self.slots.trial or self.slots.target() == FACTORY:
            return _BUSY, b""  # confirm (or revert) the running trial first
        if size != self.size or digest != self.digest or self.length > size:
            self.discard()
            self.flash.write(self._meta_path, struct.pack(">I", size) + digest)
            self.size = size
            self.digest = digest
        return _OK, struct.pack(">I", self.length)

    def chunk(self, args):
        if not self.size:
            return _NO_UPDATE, b""
        if len(args) < 7:
            return _BAD_REQUEST, b""
        offset, crc = struct.unpack(">IH", args[:6])
        data = bytes(args[6:])
        if offset != self.length:
            return _BAD_OFFSET, struct.pack(">I", self.length)
        if _crc16(data) != crc:
            return _BAD_REQUEST, b""
        if offset + len(data) > self.size:
            self.discard()
            return _IMAGE_INVALID, b""
        self.flash.write(self._bin, data, True)
        self.length += len(data)
        if not self._checked:
            try:
                self._check_head()
            except ImageError as error:
                self.discard()
                return error.status, b""
        return _OK, struct.pack(">I", self.length)

    def commit(self):
        if not self.size or self.length != self.size:
            return _NO_UPDATE, b""
        try:
            head = self._verify_all()
        except ImageError as error:
            self.discard()
            return error.status, b""
        self._install(head)
        self.discard()
        self.reboot = True
        return _OK, b""

    def abort(self):
        self.discard()
        return _OK, b""

    # --- staging ---------------------------------------------------------------

    def discard(self):
        """Forget the staged image (bin first: a cut leaves meta with nothing staged)."""
        if fl.exists(self._bin):
            self.flash.remove(self._bin)
        if fl.exists(self._meta_path):
            self.flash.remove(self._meta_path)
        self.size = 0
        self.digest = b""
        self.length = 0
        self._checked = False

    def _read(self, offset, n):
        with open(self._bin, "rb") as handle:
            handle.seek(offset)
            return handle.read(n)

    def _check_head(self):
        if self.length < HEADER_LEN:
            return
        needed = HEADER_LEN + struct.unpack(">H", self._read(6, 2))[0] + SIGNATURE_LEN
        if self.length < needed:
            return
        Head(self._read(0, needed)).check(self.slots.record.floor)
        self._checked = True

    def _verify_all(self):
        h = hashlib.sha256()
        with open(self._bin, "rb") as handle:
            while True:
                block = handle.read(_BLOCK)
                if not block:
                    break
                h.update(block)
        if h.digest() != self.digest:
            raise ImageError(_IMAGE_INVALID)
        needed = HEADER_LEN + struct.unpack(">H", self._read(6, 2))[0] + SIGNATURE_LEN
        head = Head(self._read(0, needed))
        head.check(self.slots.record.floor)
        if head.length + head.payload_len != self.size:
            raise ImageError(_IMAGE_INVALID)
        offset = head.length
        for _path, size, digest in head.files:
            if hashlib.sha256(self._read(offset, size)).digest() != digest:
                raise ImageError(_IMAGE_INVALID)
            offset += size
        return head

    def _install(self, head):
        slots = self.slots
        target = slots.target()
        base = slots.slot_dir(target)
        self.flash.rmtree(base)
        self.flash.mkdir(base)
        made = set()
        offset = head.length
        for path, size, _digest in head.files:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    made.add(folder)
                    self.flash.mkdir(base + "/" + folder)
            self.flash.write(base + "/" + path, self._read(offset, size))
            offset += size
        # The head goes last: a slot without it is never even considered.
        self.flash.write(base + "/image.hdr", self._read(0, head.length))
        rec = slots.record
        slots.save(BootRecord(rec.primary, target, 0, rec.floor, rec.auth))
