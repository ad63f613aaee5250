# SPDX-License-Identifier: Apache-2.0
"""pynfc 0.1.1's ctypes layer, with its declarations fixed for libnfc 1.8.

Why: pynfc binds libnfc through ctypes and three argument declarations are
wrong for libnfc 1.8 (pynfc-notes.md §1): ``nfc_open``'s connstring is a
``char[1024]`` (so ``bytes`` and NULL are refused), and
``nfc_initiator_list_passive_targets`` / ``nfc_list_devices`` take
zero-length arrays (a 0-byte buffer libnfc would overrun). ``load()``
corrects them — module-global, idempotent — and returns pynfc's ``nfc``
module; nothing else in pynfc is used (not its Mifare/DESFire helpers, and
not ``pynfc.Nfc``, which rewrites ``nfc_open.argtypes`` itself).

Also here: the libnfc error codes the transport maps, and small helpers
that hide ctypes buffers. pynfc resolves libnfc through the unversioned
``libfreefare.so``, which Debian ships only in ``libfreefare-dev``.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from types import ModuleType
from typing import Any, Final

__all__ = [
    "NFC_ECHIP",
    "NFC_EIO",
    "NFC_EOVFLOW",
    "NFC_ERFTRANS",
    "NFC_ETGRELEASED",
    "NFC_ETIMEOUT",
    "RX_BUFFER",
    "load",
    "transceive",
]

NFC_EIO: Final = -1
NFC_EOVFLOW: Final = -5
NFC_ETIMEOUT: Final = -6
NFC_ETGRELEASED: Final = -10
NFC_ERFTRANS: Final = -20
NFC_ECHIP: Final = -90
#: libnfc's own receive buffer for transceive is 264 bytes with the status.
RX_BUFFER: Final = 264

_lock = threading.Lock()
_fixed: ModuleType | None = None


def load() -> ModuleType:
    """Import ``pynfc.nfc`` and fix its declarations (once).

    Raises:
        ImportError: pynfc, libnfc or libfreefare.so is missing.
        OSError: the shared libraries cannot be loaded.
    """
    global _fixed
    with _lock:
        if _fixed is not None:
            return _fixed
        # Optional and untyped: imported on first use only.
        module: Any = importlib.import_module("pynfc.nfc")
        nfc: ModuleType = module
        module.nfc_open.argtypes = [ctypes.POINTER(module.nfc_context), ctypes.c_char_p]
        module.nfc_initiator_list_passive_targets.argtypes = [
            ctypes.POINTER(module.nfc_device),
            module.nfc_modulation,
            ctypes.POINTER(module.nfc_target),
            ctypes.c_size_t,
        ]
        module.nfc_list_devices.argtypes = [
            ctypes.POINTER(module.nfc_context),
            ctypes.POINTER(module.nfc_connstring),
            ctypes.c_size_t,
        ]
        _fixed = nfc
        return nfc


def transceive(nfc: Any, device: Any, command: bytes, timeout_ms: int) -> bytes | int:
    """Send ``command`` with ``nfc_initiator_transceive_bytes``.

    Returns the response bytes, or libnfc's negative error code.
    """
    tx = (ctypes.c_ubyte * len(command)).from_buffer_copy(command)
    rx = (ctypes.c_ubyte * RX_BUFFER)()
    count = int(
        nfc.nfc_initiator_transceive_bytes(device, tx, len(command), rx, RX_BUFFER, timeout_ms)
    )
    if count < 0:
        return count
    return bytes(rx[:count])
