# SPDX-License-Identifier: Apache-2.0
"""The update image's head (header, manifest, signature), parsed and checked on the board.

Format (docs/firmware-updates.md; the host's twin is host/firmware/image.py)::

    HEADER    "MYFW" format(1)=1 flags(1)=0 manifest_len(2) payload_len(4)
    MANIFEST  board_len(1) board  version(3)  security_counter(4)
              build_id(16)  key_id(8)  count(1)
              count x [ path_len(1) path  size(4)  sha256(32) ]
    SIGNATURE ECDSA P-256 r||s over SHA-256(HEADER || MANIFEST)
    PAYLOAD   the files, in manifest order

Parsing is total: every malformed head raises ``ImageError`` carrying the
RESULT status to answer, never IndexError or a half-built object. Only
``myna_fw/`` paths ending in ``.py``/``.mpy`` are accepted, so an image can
never replace the boot platform (this package, ``main.py``).
"""

import hashlib
import struct

from myna_boot import p256, trust

try:
    from micropython import const
except ImportError:  # pragma: no cover - CPython tooling
    def const(value):  # type: ignore[misc]
        return value

MAGIC = b"MYFW"
FORMAT = const(1)
HEADER_LEN = const(12)
SIGNATURE_LEN = const(64)
MAX_MANIFEST = const(4096)
MAX_PAYLOAD = const(512 * 1024)
MAX_FILES = const(64)
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_./"

# RESULT statuses (myna_fw/proto.py spells the same numbers for the app)
ST_IMAGE_INVALID = const(9)
ST_BAD_SIGNATURE = const(10)
ST_WRONG_BOARD = const(11)
ST_DOWNGRADE = const(12)


class ImageError(Exception):
    """The image was refused; ``status`` is the RESULT status to answer."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def key_id(point):
    """The first 8 bytes of SHA-256 of the public key point."""
    return hashlib.sha256(point).digest()[:8]


def trusted_key(kid):
    """The trusted public point whose key id is ``kid``, or None (trust.py's list)."""
    for point in trust.PUBLIC_KEYS:
        if key_id(point) == bytes(kid):
            return point
    return None


def factory_authority():
    """The key id of the authority that signed the frozen factory firmware."""
    return key_id(trust.PUBLIC_KEYS[0])


def _path_ok(path):
    if not path.startswith("myna_fw/") or not (path.endswith(".py") or path.endswith(".mpy")):
        return False
    for char in path:
        if char not in _PATH_CHARS:
            return False
    for part in path.split("/"):
        if not part or part == "." or part == "..":
            return False
    return True


class Head:
    """What the signature covers, parsed: board, version, counter, files."""

    def __init__(self, data):
        if len(data) < HEADER_LEN:
            raise ImageError(ST_IMAGE_INVALID)
        if bytes(data[:4]) != MAGIC or data[4] != FORMAT or data[5] != 0:
            raise ImageError(ST_IMAGE_INVALID)
        mlen, plen = struct.unpack(">HI", data[6:12])
        if not 0 < mlen <= MAX_MANIFEST or plen > MAX_PAYLOAD:
            raise ImageError(ST_IMAGE_INVALID)
        self.payload_len = plen
        self.length = HEADER_LEN + mlen + SIGNATURE_LEN  # bytes before the payload
        if len(data) < self.length:
            raise ImageError(ST_IMAGE_INVALID)
        self.signed = bytes(data[: HEADER_LEN + mlen])
        self.signature = bytes(data[HEADER_LEN + mlen : self.length])
        self.files = []
        self._parse(self.signed[HEADER_LEN:])

    def _parse(self, m):
        # Every read is bounds-checked through _take so truncation is one error.
        self._m = m
        self._at = 0
        blen = self._take(1)[0]
        board = self._take(blen)
        self.version = tuple(self._take(3))
        self.counter = struct.unpack(">I", self._take(4))[0]
        self.build_id = self._take(16)
        self.key_id = self._take(8)
        count = self._take(1)[0]
        if not blen or not 0 < count <= MAX_FILES:
            raise ImageError(ST_IMAGE_INVALID)
        try:
            self.board = board.decode()
        except UnicodeError:
            raise ImageError(ST_IMAGE_INVALID)
        total = 0
        seen = set()
        for _ in range(count):
            plen = self._take(1)[0]
            try:
                path = self._take(plen).decode()
            except UnicodeError:
                raise ImageError(ST_IMAGE_INVALID)
            size = struct.unpack(">I", self._take(4))[0]
            digest = self._take(32)
            if not _path_ok(path) or path in seen:
                raise ImageError(ST_IMAGE_INVALID)
            seen.add(path)
            total += size
            self.files.append((path, size, digest))
        if self._at != len(m) or total != self.payload_len:
            raise ImageError(ST_IMAGE_INVALID)
        del self._m

    def _take(self, n):
        end = self._at + n
        if end > len(self._m):
            raise ImageError(ST_IMAGE_INVALID)
        chunk = self._m[self._at : end]
        self._at = end
        return chunk

    def check(self, floor):
        """Raise ImageError unless this head is ours, genuine, for this board and not older.

        Order matters: authenticity first, so nothing unsigned is interpreted.
        """
        point = trusted_key(self.key_id)
        if point is None:
            raise ImageError(ST_BAD_SIGNATURE)
        digest = hashlib.sha256(self.signed).digest()
        if not p256.verify(point, digest, self.signature):
            raise ImageError(ST_BAD_SIGNATURE)
        if self.board != trust.BOARD_TYPE:
            raise ImageError(ST_WRONG_BOARD)
        if self.counter < floor:
            raise ImageError(ST_DOWNGRADE)


def hash_file(path, size, digest):
    """True when the file at ``path`` has exactly ``size`` bytes hashing to ``digest``."""
    h = hashlib.sha256()
    seen = 0
    try:
        with open(path, "rb") as handle:
            while True:
                block = handle.read(512)
                if not block:
                    break
                seen += len(block)
                if seen > size:
                    return False
                h.update(block)
    except OSError:
        return False
    return seen == size and h.digest() == digest
