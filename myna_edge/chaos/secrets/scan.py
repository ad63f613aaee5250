# SPDX-License-Identifier: Apache-2.0
"""The secrets scan: every encoding of every test secret, in every file, and a recording relay.

Why every encoding: a leak rarely looks like the secret typed. A PIN that
slips into an APDU trace shows as hex, into a JSON blob or a header as
base64, into a Windows-minded library's buffer as UTF-16. ``variants``
gives, for one secret, its plain ASCII, lower and upper hex, base64 at the
three alignments it can take inside a longer blob, spaced hex as APDU traces
print it, and UTF-16 (LE and BE); ``scan`` looks for all of them in every
file under a folder, text or binary.

Why the patterns are as strict as a leak allows: a 4-digit PIN is 32 bits,
and the stack writes a few hundred KB of random material (keys, certificates,
nonces, ports, object ids) each run. Searched loosely, a PIN "leaks" by chance
in about one run of ten (measured: 2.5 % per random 4-digit value). So each
base64 form pins every one of the secret's bits, including the ones it shares
with a neighbour's character (a character class there, not a dropped
character): 2**-32 per position, like the hex forms. A short all-digit secret
(a 4-digit PIN, an OTP) in plain ASCII only counts when it does not continue
a word, a number, a hex dump, a timestamp or an escape (``\\ooo`` in
protobuf's text format) on its left (so ``12:30:07.729413`` is not the PIN
7294) and is not the head of a longer number (three or more digits straight
after it: an object id, a DER time). One or two following digits still
count, because in protobuf the next field's tag byte and its length byte may
be digits. Every longer form counts anywhere.

A PEM block (a certificate, a key) is searched as the DER bytes it encodes,
not as its base64 text: a certificate made during the run carries its
validity as ASCII digits (``261207081630Z``), and a 4-digit PIN inside those
digits is no leak, which the plain-ASCII rule above knows and a base64
pattern cannot (seen: a PIN 8163 "found" in a server certificate made at
08:16:30). A PIN leaked into a certificate still shows, in its decoded bytes.

``RecordingRelay`` is a TCP relay on 127.0.0.1 that writes what it carries
in each direction to a file: put between two processes, it captures their
gRPC traffic (plaintext only for the capture run, so the scan sees bytes).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Hit", "RecordingRelay", "encodings_found", "scan", "variants"]

_log = logging.getLogger(__name__)
_SHORT = 8  # all-digit secrets up to this length need a boundary in plain ASCII


@dataclass(frozen=True)
class Hit:
    """One secret found in one file: which secret (by label, never the value), how, where."""

    path: str
    label: str
    encoding: str
    offset: int


_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _base64_alignments(raw: bytes) -> list[bytes]:
    """Patterns for ``raw`` inside a longer base64 blob, one per alignment.

    At alignment ``shift`` the secret starts ``shift`` bytes into a 3-byte group;
    the characters at both ends carry some of its bits and some of a neighbour's.
    Those become a class of every character with the secret's bits, so the
    pattern fixes all of the secret's bits and nothing else.
    """
    out = []
    bits = int.from_bytes(raw, "big")
    width = 8 * len(raw)
    for shift in range(3):
        first, end = 8 * shift, 8 * shift + width  # the secret's bit span in the stream
        pattern = b""
        for char in range(first // 6, (end + 5) // 6):
            lo, hi = max(6 * char, first), min(6 * char + 6, end)
            mask = ((1 << (hi - lo)) - 1) << (6 * char + 6 - hi)
            want = ((bits >> (end - hi)) & ((1 << (hi - lo)) - 1)) << (6 * char + 6 - hi)
            chars = bytes(c for v, c in enumerate(_BASE64) if v & mask == want)
            pattern += re.escape(chars) if len(chars) == 1 else b"[" + re.escape(chars) + b"]"
        out.append(pattern)
    return out


def variants(secret: str) -> dict[str, re.Pattern[bytes]]:
    """Encoding name -> a bytes pattern for ``secret`` in that encoding."""
    raw = secret.encode("utf-8")
    plain = re.escape(raw)
    if raw.isdigit() and len(raw) <= _SHORT:
        plain = rb"(?<![0-9A-Za-z.:+\-\\])" + plain + rb"(?![0-9]{3})"
    forms = {
        "ascii": plain,
        "hex": re.escape(raw.hex().encode()),
        "HEX": re.escape(raw.hex().upper().encode()),
        "hex spaced": re.escape(raw.hex(" ").encode()),
        "HEX spaced": re.escape(raw.hex(" ").upper().encode()),
        "utf-16-le": re.escape(secret.encode("utf-16-le")),
        "utf-16-be": re.escape(secret.encode("utf-16-be")),
    }
    for index, form in enumerate(_base64_alignments(raw)):
        forms[f"base64/{index}"] = form
    return {name: re.compile(pattern) for name, pattern in forms.items()}


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----")


def _decoded_pem(data: bytes) -> bytes:
    """``data`` with each well-formed PEM block replaced by the bytes it encodes."""

    def decode(match: re.Match[bytes]) -> bytes:
        try:
            return base64.b64decode(re.sub(rb"\s", b"", match.group(2)), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)  # not base64 after all: searched as it is

    return _PEM_BLOCK.sub(decode, data)


def encodings_found(data: bytes, secret: str) -> list[str]:
    """The names of the encodings in which ``secret`` occurs in ``data`` (none: no leak)."""
    data = _decoded_pem(data)
    return [name for name, pattern in variants(secret).items() if pattern.search(data)]


def scan(folder: Path, secrets: dict[str, str]) -> tuple[list[Hit], int, int]:
    """Look for every variant of every secret in every file under ``folder``.

    Args:
        secrets: label -> value; hits name the label only.

    Returns:
        (hits, files scanned, bytes scanned)
    """
    patterns = {label: variants(value) for label, value in secrets.items()}
    hits: list[Hit] = []
    files = scanned = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files, scanned = files + 1, scanned + len(data)
        data = _decoded_pem(data)
        for label, forms in patterns.items():
            for encoding, pattern in forms.items():
                for match in pattern.finditer(data):
                    hits.append(Hit(str(path.relative_to(folder)), label, encoding, match.start()))
    return hits, files, scanned


class RecordingRelay:
    """127.0.0.1:ephemeral -> ``target_port``, appending each direction to a file.

    ``target_port`` may be set after the start, before the first connection:
    a server started later on a port of its own choosing (no port picked
    ahead that another process could take meanwhile).
    """

    def __init__(self, target_port: int, capture: Path) -> None:
        self.target_port = target_port
        self._capture = capture
        capture.mkdir(parents=True, exist_ok=True)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.bytes = 0
        self._closed = False
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            self._start(self._pump, client, server, self._capture / "client-to-server.bin")
            self._start(self._pump, server, client, self._capture / "server-to-client.bin")

    def _pump(self, source: socket.socket, sink: socket.socket, record: Path) -> None:
        with record.open("ab") as out:
            while True:
                try:
                    chunk = source.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out.write(chunk)
                with self._lock:
                    self.bytes += len(chunk)
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting, close every connection and join the threads; harmless twice."""
        self._closed = True
        # shutdown, not only close: on Linux closing a socket does not wake a
        # thread blocked in its accept() or recv(), and each join then waits 5 s.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
