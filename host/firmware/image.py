# SPDX-License-Identifier: Apache-2.0
"""Firmware update images: the format, a total parser, and the packer (sans-I/O).

An image is the controller's ``myna_fw/`` files plus a manifest, signed once
by an offline key, in one byte string (the board's twin is
``firmware/myna_boot/image.py``; docs/firmware-updates.md has the rationale)::

    HEADER    "MYFW" format(1)=1 flags(1)=0 manifest_len(2) payload_len(4)
    MANIFEST  board_len(1) board  version(3)  security_counter(4)
              build_id(16)  key_id(8)  count(1)
              count x [ path_len(1) path  size(4)  sha256(32) ]
    SIGNATURE ECDSA P-256 (r || s, 32 + 32) over SHA-256(HEADER || MANIFEST);
              64 zero bytes while unsigned
    PAYLOAD   the files' bytes, in manifest order

Like MCUboot's image header + TLVs, the signature covers a small manifest
and the manifest covers every file by hash, so the board checks the
signature before it has received the files. Integers are big-endian.
:func:`parse_image` refuses every malformed input with an
``ImageFormatError`` subclass and checks each file against its hash.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, replace
from typing import Final

from host.firmware.errors import (
    ImageHeaderError,
    ImageTruncatedError,
    ManifestError,
    PayloadMismatchError,
)

__all__ = [
    "FORMAT_VERSION",
    "HEADER_LEN",
    "MAGIC",
    "MAX_FILES",
    "MAX_MANIFEST",
    "MAX_PAYLOAD",
    "SIGNATURE_LEN",
    "FileEntry",
    "FirmwareImage",
    "Manifest",
    "parse_image",
]

MAGIC: Final = b"MYFW"
FORMAT_VERSION: Final = 1
HEADER_LEN: Final = 12
SIGNATURE_LEN: Final = 64
MAX_MANIFEST: Final = 4096
MAX_PAYLOAD: Final = 512 * 1024
MAX_FILES: Final = 64
UNSIGNED: Final = bytes(SIGNATURE_LEN)

#: Only the app package may be updated; the boot platform (main.py, myna_boot/) never.
_PATH = re.compile(r"myna_fw/(?:[a-z0-9_]+/)*[a-z0-9_]+\.(?:py|mpy)")


@dataclass(frozen=True)
class FileEntry:
    """One file of the image: where it goes, how long it is, its SHA-256."""

    path: str
    size: int
    sha256: bytes


@dataclass(frozen=True)
class Manifest:
    """What the signature vouches for."""

    board: str
    version: tuple[int, int, int]
    security_counter: int
    build_id: bytes
    key_id: bytes
    files: tuple[FileEntry, ...]

    def encode(self) -> bytes:
        """The canonical manifest bytes (checks every field; raises ManifestError)."""
        board = self.board.encode("ascii", "replace")
        if not 0 < len(board) <= 32 or not self.board.isascii():
            raise ManifestError("the board type must be 1-32 ASCII characters")
        if any(not 0 <= part <= 255 for part in self.version):
            raise ManifestError("version parts must be 0-255")
        if not 0 <= self.security_counter <= 0xFFFFFFFF:
            raise ManifestError("the security counter must fit 32 bits")
        if len(self.build_id) != 16 or len(self.key_id) != 8:
            raise ManifestError("build id is 16 bytes, key id 8")
        if not 0 < len(self.files) <= MAX_FILES:
            raise ManifestError(f"an image holds 1-{MAX_FILES} files")
        out = bytearray((len(board),)) + board + bytes(self.version)
        out += struct.pack(">I", self.security_counter) + self.build_id + self.key_id
        out.append(len(self.files))
        seen: set[str] = set()
        for entry in self.files:
            _check_path(entry.path, seen)
            if len(entry.sha256) != 32 or entry.size < 0:
                raise ManifestError(f"bad entry for {entry.path}")
            path = entry.path.encode()
            out += bytes((len(path),)) + path + struct.pack(">I", entry.size) + entry.sha256
        if len(out) > MAX_MANIFEST:
            raise ManifestError(f"the manifest exceeds {MAX_MANIFEST} bytes")
        return bytes(out)


def _check_path(path: str, seen: set[str]) -> None:
    if not _PATH.fullmatch(path) or len(path) > 64:
        raise ManifestError(f"file path not allowed in an image: {path[:80]!r}")
    if path in seen:
        raise ManifestError(f"file listed twice: {path!r}")
    seen.add(path)


@dataclass(frozen=True)
class FirmwareImage:
    """A parsed (or freshly packed) image."""

    manifest: Manifest
    signature: bytes
    payload: bytes

    @property
    def signed_bytes(self) -> bytes:
        """HEADER || MANIFEST: what the signature covers."""
        manifest = self.manifest.encode()
        header = MAGIC + struct.pack(">BBHI", FORMAT_VERSION, 0, len(manifest), len(self.payload))
        return header + manifest

    @property
    def signed(self) -> bool:
        """Whether a signature is present (not whether it verifies)."""
        return self.signature != UNSIGNED

    def with_signature(self, signature: bytes) -> FirmwareImage:
        """The same image carrying ``signature`` (r || s)."""
        if len(signature) != SIGNATURE_LEN:
            raise ValueError("a signature is 64 bytes (r || s)")
        return replace(self, signature=signature)

    def to_bytes(self) -> bytes:
        """The image as it is stored and sent."""
        return self.signed_bytes + self.signature + self.payload

    def files(self) -> dict[str, bytes]:
        """Each file's content by path."""
        out: dict[str, bytes] = {}
        offset = 0
        for entry in self.manifest.files:
            out[entry.path] = self.payload[offset : offset + entry.size]
            offset += entry.size
        return out


class _Reader:
    """Bounds-checked reads over the manifest: running out is one typed error."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        end = self.at + n
        if end > len(self._data):
            raise ManifestError("the manifest ends inside a field")
        chunk = self._data[self.at : end]
        self.at = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value


def _parse_manifest(data: bytes, payload_len: int) -> Manifest:
    reader = _Reader(data)
    board_raw = reader.take(reader.u8())
    version = tuple(reader.take(3))
    counter = reader.u32()
    build_id = reader.take(16)
    key_id = reader.take(8)
    count = reader.u8()
    if not board_raw or not 0 < count <= MAX_FILES:
        raise ManifestError("empty board type or file count out of range")
    try:
        board = board_raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ManifestError("the board type is not ASCII") from exc
    files: list[FileEntry] = []
    seen: set[str] = set()
    for _ in range(count):
        raw_path = reader.take(reader.u8())
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ManifestError("a file path is not ASCII") from exc
        _check_path(path, seen)
        size = reader.u32()
        files.append(FileEntry(path, size, reader.take(32)))
    if reader.at != len(data):
        raise ManifestError(f"{len(data) - reader.at} bytes after the last file entry")
    if sum(entry.size for entry in files) != payload_len:
        raise ManifestError("the file sizes do not add up to the payload length")
    return Manifest(
        board, (version[0], version[1], version[2]), counter, build_id, key_id, tuple(files)
    )


def parse_image(data: bytes) -> FirmwareImage:
    """Parse an image and check every file against the manifest (not the signature).

    Raises:
        ImageTruncatedError: shorter than declared.
        ImageHeaderError: bad magic, format, flags, lengths, or bytes after the payload.
        ManifestError: a malformed manifest.
        PayloadMismatchError: a file differs from its size or hash.
    """
    if len(data) < HEADER_LEN:
        raise ImageTruncatedError(f"{len(data)} bytes: shorter than the {HEADER_LEN}-byte header")
    if data[:4] != MAGIC:
        raise ImageHeaderError("not a myna-edge firmware image (magic)")
    fmt, flags, mlen, plen = struct.unpack(">BBHI", data[4:HEADER_LEN])
    if fmt != FORMAT_VERSION or flags:
        raise ImageHeaderError(f"unknown image format {fmt} / flags {flags:#04x}")
    if not 0 < mlen <= MAX_MANIFEST or plen > MAX_PAYLOAD:
        raise ImageHeaderError(f"manifest length {mlen} or payload length {plen} out of range")
    head = HEADER_LEN + mlen + SIGNATURE_LEN
    if len(data) < head + plen:
        raise ImageTruncatedError(f"{len(data)} bytes of the {head + plen} the header declares")
    if len(data) > head + plen:
        raise ImageHeaderError(f"{len(data) - head - plen} bytes after the payload")
    manifest = _parse_manifest(data[HEADER_LEN : HEADER_LEN + mlen], plen)
    image = FirmwareImage(manifest, data[HEADER_LEN + mlen : head], data[head:])
    for entry, content in zip(manifest.files, image.files().values(), strict=True):
        if len(content) != entry.size or hashlib.sha256(content).digest() != entry.sha256:
            raise PayloadMismatchError(f"{entry.path} does not match its manifest hash")
    return image
