# SPDX-License-Identifier: Apache-2.0
"""A scripted serial port in memory: host serial code driven without a pty.

Why: fuzzing the host's link and ESC/POS status parsers runs thousands of
inputs a second, and a pty with a device process behind it would measure the
kernel, not the parser. This is just enough of ``serial.SerialBase`` for
``host.peripherals``: reads come from ``incoming``; each write appends the
next scripted reply, as a device answering a command would.
"""

from __future__ import annotations

__all__ = ["MemoryPort"]


class MemoryPort:
    """Reads drain ``incoming``; each write queues the next of ``replies``."""

    def __init__(self, incoming: bytes = b"", replies: tuple[bytes, ...] = ()) -> None:
        self.incoming, self.replies = bytearray(incoming), list(replies)
        self.timeout: float | None = 0

    def write(self, data: bytes) -> int:
        if self.replies:
            self.incoming += self.replies.pop(0)
        return len(data)

    def read(self, n: int = 1) -> bytes:
        out = bytes(self.incoming[:n])
        del self.incoming[:n]
        return out

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
