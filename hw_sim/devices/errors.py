# SPDX-License-Identifier: Apache-2.0
"""Errors of the simulated serial devices (a branch of ``hw_sim.errors.SimError``)::

SimError
└── DeviceError                    a simulated device cannot run or was misused
    ├── MicroPythonMissingError    the MicroPython unix port is not installed
    └── DeviceTimeoutError (TimeoutError)  the device did not reach a state in time
"""

from __future__ import annotations

from hw_sim.errors import SimError

__all__ = ["DeviceError", "DeviceTimeoutError", "MicroPythonMissingError"]


class DeviceError(SimError):
    """A simulated device cannot run or was used wrongly."""


class MicroPythonMissingError(DeviceError):
    """The ``micropython`` unix-port binary was not found."""


class DeviceTimeoutError(DeviceError, TimeoutError):
    """The simulated device did not reach the expected state in time."""
