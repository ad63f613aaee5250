# SPDX-License-Identifier: Apache-2.0
"""The board's side of the host link, sans-I/O: bytes in, bytes and messages out.

Why sans-I/O: the same object runs on the RP2040 (bytes from machine.UART),
under the unix port (bytes from a pty) and in the unit tests (bytes from a
list), and the host's CPython twin (host/peripherals/link.py) is checked
against the same golden frames (tests/vectors/controller_frames.txt).

Wire format (firmware/PROTOCOL.md §2): each frame is COBS-encoded and ends in
one 0x00 byte, so a receiver resynchronises at the next 0x00 whatever was
lost. Decoded, a frame is ``TYPE SEQ LEN PAYLOAD CRC16`` with CRC-16/CCITT
(poly 0x1021, init 0xFFFF, big-endian) over TYPE..PAYLOAD. Data frames
(TYPE >= 0x10) are delivered exactly once and in order: stop-and-wait with
ACK/NAK, retransmission on timeout and duplicate detection by sequence number.
"""

try:
    from micropython import const
except ImportError:  # pragma: no cover - CPython loads this file to cross-check the host
    def const(value):  # type: ignore[misc]
        return value

try:
    from time import ticks_diff
except ImportError:  # pragma: no cover - CPython has no ticks
    def ticks_diff(a, b):  # type: ignore[no-redef]
        return a - b

ACK = const(0x01)
NAK = const(0x02)
HELLO = const(0x03)
INFO = const(0x04)
FIRST_DATA_TYPE = const(0x10)
MAX_PAYLOAD = const(240)
_HEADER = const(3)

RETRANSMIT_MS = const(200)
MAX_RETRIES = const(8)


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def cobs_encode(data):
    """Consistent Overhead Byte Stuffing: the result has no 0x00 byte."""
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    for byte in data:
        if byte:
            out.append(byte)
            code += 1
        if not byte or code == 0xFF:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data):
    """Undo ``cobs_encode``; raise ValueError on a malformed block."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            raise ValueError("bad COBS block")
        out.extend(data[i + 1 : end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(ftype, seq, payload=b""):
    """Return one complete frame on the wire, delimiter included."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload too long")
    body = bytearray((ftype & 0xFF, seq & 0xFF, len(payload)))
    body.extend(payload)
    crc = crc16(body)
    body.append(crc >> 8)
    body.append(crc & 0xFF)
    return cobs_encode(body) + b"\x00"


def decode_body(body):
    """Decode one frame (without its delimiter) to ``(type, seq, payload)``.

    Raises ValueError when COBS, the length or the CRC does not check.
    """
    raw = cobs_decode(body)
    if len(raw) < _HEADER + 2:
        raise ValueError("frame too short")
    if raw[2] != len(raw) - _HEADER - 2:
        raise ValueError("length mismatch")
    if crc16(raw[:-2]) != (raw[-2] << 8) | raw[-1]:
        raise ValueError("CRC mismatch")
    return raw[0], raw[1], bytes(raw[_HEADER:-2])


class FrameDecoder:
    """Split a byte stream into frames; count the ones that do not check."""

    def __init__(self, max_frame=2 * MAX_PAYLOAD):
        self._buf = bytearray()
        self._max = max_frame
        self.bad = 0

    def feed(self, data):
        """Return a list of ``(type, seq, payload)``; ``None`` marks a bad frame."""
        frames = []
        for byte in data:
            if byte:
                if len(self._buf) < self._max:
                    self._buf.append(byte)
                continue
            if not self._buf:
                continue  # idle delimiters are legal
            try:
                frames.append(decode_body(self._buf))
            except ValueError:
                self.bad += 1
                frames.append(None)
            self._buf = bytearray()
        return frames


class Link:
    """One end of the reliable link (stop-and-wait, window of one frame).

    ``send`` queues a message; ``receive`` feeds wire bytes and returns the
    messages delivered in order; ``poll`` retransmits; ``take_output`` returns
    the bytes to write. Control frames (HELLO/INFO) are returned by
    ``receive`` as ``(type, payload)`` too, unsequenced, for the layer above.
    """

    def __init__(self, retransmit_ms=RETRANSMIT_MS, max_retries=MAX_RETRIES):
        self.retransmit_ms = retransmit_ms
        self.max_retries = max_retries
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self.reset()
        self.stats_retransmits = 0
        self.stats_duplicates = 0

    def reset(self):
        """Forget sequence state and pending messages (a new session)."""
        self._queue = []
        self._tx_seq = 0
        self._rx_expected = 0
        self._inflight = None  # (seq, frame bytes)
        self._sent_at = 0
        self._tries = 0
        self.failed = False

    @property
    def idle(self):
        return self._inflight is None and not self._queue

    def pending(self):
        return len(self._queue) + (0 if self._inflight is None else 1)

    def send(self, mtype, payload, now_ms):
        """Queue a data message; it goes out as soon as the window is free."""
        if mtype < FIRST_DATA_TYPE:
            raise ValueError("not a data type")
        self._queue.append((mtype, bytes(payload)))
        self._pump(now_ms)

    def send_control(self, ftype, payload=b""):
        """Send an unsequenced control frame (HELLO, INFO) at once."""
        self._out.extend(encode_frame(ftype, 0, payload))

    def take_output(self):
        out = bytes(self._out)
        self._out = bytearray()
        return out

    def receive(self, data, now_ms):
        delivered = []
        for frame in self._decoder.feed(data):
            if frame is None:
                # Nothing in a bad frame can be trusted; ask for a resend.
                self._out.extend(encode_frame(NAK, self._rx_expected))
                continue
            ftype, seq, payload = frame
            if ftype == ACK:
                if self._inflight is not None and seq == self._inflight[0]:
                    self._inflight = None
                    self._pump(now_ms)
            elif ftype == NAK:
                if self._inflight is not None:
                    self._transmit(now_ms)
            elif ftype < FIRST_DATA_TYPE:
                delivered.append((ftype, payload))
            else:
                self._out.extend(encode_frame(ACK, seq))
                if seq == self._rx_expected:
                    self._rx_expected = (seq + 1) & 0xFF
                    delivered.append((ftype, payload))
                else:
                    self.stats_duplicates += 1
        return delivered

    def poll(self, now_ms):
        """Retransmit a frame whose ACK is late; give up after max_retries."""
        if self._inflight is None:
            return
        if ticks_diff(now_ms, self._sent_at) >= self.retransmit_ms:
            if self._tries > self.max_retries:
                self.failed = True
                return
            self._transmit(now_ms)

    def _pump(self, now_ms):
        if self._inflight is None and self._queue:
            mtype, payload = self._queue.pop(0)
            seq = self._tx_seq
            self._tx_seq = (seq + 1) & 0xFF
            self._inflight = (seq, encode_frame(mtype, seq, payload))
            self._tries = 0
            self._transmit(now_ms)

    def _transmit(self, now_ms):
        inflight = self._inflight
        if inflight is None:
            return
        if self._tries:
            self.stats_retransmits += 1
        self._tries += 1
        self._sent_at = now_ms
        self._out.extend(inflight[1])
