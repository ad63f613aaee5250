# SPDX-License-Identifier: Apache-2.0
"""host.transport.nfc_binding: pynfc's three wrong declarations are fixed.

These run against the installed pynfc (its declarations are what is under
test); libnfc itself is not called except where a NULL-safe call suffices.
"""

from __future__ import annotations

import ctypes
import importlib.util
from typing import Any

import pytest

from host.transport import nfc_binding as nb
from tests.integration.reader_stack import require


@pytest.fixture(scope="module")
def nfc() -> Any:
    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    return nb.load()


def test_load_is_idempotent(nfc: Any) -> None:
    assert nb.load() is nfc


def test_nfc_open_takes_bytes_or_null(nfc: Any) -> None:
    assert nfc.nfc_open.argtypes[1] is ctypes.c_char_p
    # The conversion pynfc's c_char*1024 refused now works for bytes and None.
    assert ctypes.c_char_p.from_param(b"pn532_uart:/dev/null") is not None
    assert ctypes.c_char_p.from_param(None) is None


def test_array_arguments_are_pointers(nfc: Any) -> None:
    targets = nfc.nfc_initiator_list_passive_targets.argtypes[2]
    assert targets is ctypes.POINTER(nfc.nfc_target)
    targets.from_param((nfc.nfc_target * 4)())  # accepted: a real buffer
    devices = nfc.nfc_list_devices.argtypes[1]
    assert devices is ctypes.POINTER(nfc.nfc_connstring)
    devices.from_param((nfc.nfc_connstring * 4)())


def test_struct_layouts_match_libnfc(nfc: Any) -> None:
    assert ctypes.sizeof(nfc.nfc_target) == 291
    assert ctypes.sizeof(nfc.nfc_connstring) == 1024


def test_no_device_list_on_a_fresh_context(nfc: Any) -> None:
    context = ctypes.POINTER(nfc.nfc_context)()
    nfc.nfc_init(ctypes.byref(context))
    assert context
    try:
        found = (nfc.nfc_connstring * 4)()
        assert nfc.nfc_list_devices(context, found, 4) >= 0  # ran, no ArgumentError
    finally:
        nfc.nfc_exit(context)


def test_transceive_returns_bytes_or_code() -> None:
    class Lib:
        def __init__(self, result: int) -> None:
            self.result = result

        def nfc_initiator_transceive_bytes(
            self, device: Any, tx: Any, n: int, rx: Any, size: int, timeout: int
        ) -> int:
            assert size == nb.RX_BUFFER
            assert timeout == 300
            assert bytes(tx[:n]) == b"\x00\xa4"
            if self.result > 0:
                rx[0], rx[1] = 0x90, 0x00
            return self.result

    assert nb.transceive(Lib(2), None, b"\x00\xa4", 300) == b"\x90\x00"
    assert nb.transceive(Lib(nb.NFC_ETIMEOUT), None, b"\x00\xa4", 300) == nb.NFC_ETIMEOUT
