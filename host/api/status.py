# SPDX-License-Identifier: Apache-2.0
"""``StatusBoard``: the agent's live device status, for GetStatus and WatchStatus.

Why its own class: the status is written by the agent's monitor and by
commands (what a command learnt about the verifier) and read by any number
of ``WatchStatus`` streams; one condition variable keeps a change made
while a stream was yielding from being lost. The controller's firmware
(``FirmwareInfo``, issue 17) is part of its status: a new version is an
event even when the state stays the same.
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
        self._firmware: dict[str, tpb.FirmwareInfo] = {}
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

    def firmware(self, device: str) -> tpb.FirmwareInfo | None:
        """The firmware ``device`` reported last (None when unknown)."""
        return self._firmware.get(device)

    async def set_firmware(self, device: str, info: tpb.FirmwareInfo | None) -> None:
        """Record the firmware ``device`` runs (None: unknown) and wake the watchers on a change."""
        async with self._changed:
            if self._firmware.get(device) != info:
                if info is None:
                    self._firmware.pop(device, None)
                else:
                    self._firmware[device] = info
                self._changed.notify_all()

    def statuses(self) -> list[tpb.DeviceStatus]:
        """Every device's status, by name."""
        return [
            tpb.DeviceStatus(device=d, state=s, firmware=self._firmware.get(d))
            for d, s in sorted(self._status.items())
        ]

    def _key(self, device: str) -> tuple[int, bytes]:
        info = self._firmware.get(device)
        return self._status[device], info.SerializeToString() if info is not None else b""

    async def watch(self) -> AsyncIterator[tpb.WatchStatusResponse]:
        """The current status first, then every change, until the caller stops."""
        seen: dict[str, tuple[int, bytes]] = {}
        while True:
            for status in self.statuses():
                key = self._key(status.device)
                if seen.get(status.device) != key:
                    seen[status.device] = key
                    yield tpb.WatchStatusResponse(status=status)
            async with self._changed:
                # A predicate, not a bare wait: a change made while this stream
                # was yielding is seen here rather than lost.
                await self._changed.wait_for(
                    lambda: any(seen.get(d) != self._key(d) for d in self._status)
                )
