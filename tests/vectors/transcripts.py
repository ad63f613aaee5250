# SPDX-License-Identifier: Apache-2.0
"""Loader for the golden APDU transcripts in ``jpki_transcripts.txt``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Exchange", "ExpectedResponse", "load_transcripts"]

_FILE = Path(__file__).with_name("jpki_transcripts.txt")


@dataclass(frozen=True)
class ExpectedResponse:
    """A response pattern: exact bytes, or prefix + any + status word."""

    prefix: bytes
    sw: bytes
    any_length: int | None  # None: no wildcard; -1: any length; n: exactly n bytes

    def matches(self, response: bytes) -> bool:
        if self.any_length is None:
            return response == self.prefix + self.sw
        if not (response.startswith(self.prefix) and response.endswith(self.sw)):
            return False
        middle = len(response) - len(self.prefix) - len(self.sw)
        return middle >= 0 if self.any_length < 0 else middle == self.any_length


@dataclass(frozen=True)
class Exchange:
    command: bytes
    expected: ExpectedResponse


def _expand(text: str, pins: dict[str, str]) -> str:
    def length(match: re.Match[str]) -> str:
        return f"{len(pins[match.group(1)]):02X}"

    def value(match: re.Match[str]) -> str:
        return pins[match.group(1)].encode("ascii").hex()

    text = re.sub(r"\{len:(\w+)\}", length, text)
    return re.sub(r"\{(\w+)\}", value, text)


def _response(text: str) -> ExpectedResponse:
    parts = text.split()
    sw = bytes.fromhex("".join(parts[-2:]))
    body = parts[:-2]
    wild = [i for i, p in enumerate(body) if p.endswith("*")]
    if not wild:
        return ExpectedResponse(bytes.fromhex("".join(body)), sw, None)
    token = body[wild[0]]
    count = int(token[:-1]) if token[:-1] else -1
    return ExpectedResponse(bytes.fromhex("".join(body[: wild[0]])), sw, count)


def load_transcripts(pins: dict[str, str]) -> dict[str, list[Exchange]]:
    """Parse every transcript, filling PIN placeholders from ``pins``."""
    transcripts: dict[str, list[Exchange]] = {}
    current: list[Exchange] | None = None
    command: bytes | None = None
    for raw in _FILE.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            current = transcripts.setdefault(line.strip("[]"), [])
        elif line.startswith("C:"):
            command = bytes.fromhex(_expand(line[2:], pins).replace(" ", ""))
        elif line.startswith("R:") and current is not None and command is not None:
            current.append(Exchange(command, _response(line[2:])))
            command = None
        else:
            raise ValueError(f"bad transcript line: {raw!r}")
    return transcripts
