# SPDX-License-Identifier: Apache-2.0
"""``StatusBoard``: the agent's live device status, for GetStatus and WatchStatus.

Why its own class: the status is written by the agent's monitor and by
commands (what a command learnt about the verifier) and read by any number
of ``WatchStatus`` streams; one condition variable keeps a change made
while a stream was yielding from being lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["StatusBoard"]


class StatusBoard:
    """Device name -> ``DeviceState``, with change notification."""

    def __init__(self) -> None:
        self._status: dict[str, tpb.DeviceState.ValueType] = {}
        self._changed = asyncio.Condition()

    def get(self, device: str) -> tpb.DeviceState.ValueType | None:
        """The device's state now (None when never reported)."""
        return self._status.get(device)

    async def set(self, device: str, state: tpb.DeviceState.ValueType) -> None:
        """Record a device's status and wake the watchers when it changed."""
        async with self._changed:
            if self._status.get(device) != state:
                self._status[device] = state
                self._changed.notify_all()

    def statuses(self) -> list[tpb.DeviceStatus]:
        """Every device's status, by name."""
        return [tpb.DeviceStatus(device=d, state=s) for d, s in sorted(self._status.items())]

    async def watch(self) -> AsyncIterator[tpb.WatchStatusResponse]:
        """The current status first, then every change, until the caller stops."""
        seen: dict[str, int] = {}
        while True:
            for status in self.statuses():
                if seen.get(status.device) != status.state:
                    seen[status.device] = status.state
                    yield tpb.WatchStatusResponse(status=status)
            async with self._changed:
                # A predicate, not a bare wait: a change made while this stream
                # was yielding is seen here rather than lost.
                await self._changed.wait_for(
                    lambda: any(seen.get(d) != v for d, v in self._status.items())
                )
