# SPDX-License-Identifier: Apache-2.0
"""Naming the devices of a hardware-in-the-loop run: reader, card ATR, board, printer.

Why: a figure measured on hardware means little without the hardware it
was measured on, so the report names the reader (PC/SC name and vendor
attributes, or the libnfc device name and chip), the card's ATR, the
controller board's firmware version and serial, and the printer's model as
it reports it. Everything that cannot be asked is "not reported", never a
guess. The reader is identified after the run's transport is closed,
because both backends hold the reader exclusively while a session is open.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
from typing import Any, Final
from urllib.parse import unquote

import serial

from host.transport.base import CardTransport

_log = logging.getLogger(__name__)

__all__ = ["NOT_REPORTED", "device_kind", "printer_identity", "reader_identity"]

NOT_REPORTED: Final = "not reported"
#: ESC/POS GS I n: transmit printer ID (n=1 model ID, n=2 type ID; Epson
#: n=67 "C" the model name as "_" + text + NUL). Printers without it stay silent.
_GS_I: Final = b"\x1d\x49"
_MODEL_ID: Final = 1
_TYPE_ID: Final = 2
_MODEL_NAME: Final = 67
_PRINTER_ANSWER_S: Final = 0.3


def device_kind(url: str) -> str:
    """``simulator`` for the in-process ``sim://`` card, ``hardware`` for anything else.

    A reader or board reached through a device path is hardware as far as
    the run knows (vpcd and the PN532 emulator are built to look like it).
    """
    return "simulator" if url.startswith("sim:") else "hardware"


def reader_identity(transport: CardTransport) -> dict[str, str]:
    """Name, firmware and ATR of a (closed) transport's reader and card."""
    info = {
        "url": transport.url,
        "kind": device_kind(transport.url),
        "atr": transport.atr.hex().upper(),
        "name": NOT_REPORTED,
        "firmware": NOT_REPORTED,
    }
    if transport.scheme == "sim":
        info["name"] = f"in-process virtual card (profile {getattr(transport, 'profile', '?')})"
        info["firmware"] = "simulator"
    elif transport.scheme == "pcsc":
        name = str(getattr(transport, "reader", ""))
        info["name"] = name or NOT_REPORTED
        if name:
            info["firmware"] = _pcsc_vendor(name)
    elif transport.scheme == "libnfc":
        info["name"], info["firmware"] = _libnfc_about(transport.url)
    return info


def _pcsc_vendor(reader: str) -> str:
    """Vendor name, IFD type and version from a direct (card-less) PC/SC connection."""
    try:
        from host.transport.pcsc.library import establish, lib

        scard: Any = lib()
        context = establish()
    except Exception:  # noqa: BLE001 - identification is best effort
        return NOT_REPORTED
    try:
        code, handle, _ = scard.SCardConnect(context, reader, scard.SCARD_SHARE_DIRECT, 0)
        if code != 0:
            return NOT_REPORTED
        try:
            parts = []
            for attribute in ("SCARD_ATTR_VENDOR_NAME", "SCARD_ATTR_VENDOR_IFD_TYPE"):
                code, value = scard.SCardGetAttrib(handle, getattr(scard, attribute))
                if code == 0 and value:
                    parts.append(bytes(value).rstrip(b"\0").decode("ascii", "replace"))
            code, value = scard.SCardGetAttrib(handle, scard.SCARD_ATTR_VENDOR_IFD_VERSION)
            if code == 0 and len(value) >= 4:
                # PC/SC Part 3: 0xMMmmbbbb (major, minor, build), little-endian DWORD.
                word = int.from_bytes(bytes(value[:4]), "little")
                parts.append(f"version {word >> 24}.{(word >> 16) & 0xFF}.{word & 0xFFFF}")
            return ", ".join(parts) or NOT_REPORTED
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    except Exception:  # noqa: BLE001 - identification is best effort
        return NOT_REPORTED
    finally:
        with contextlib.suppress(Exception):
            scard.SCardReleaseContext(context)


def _libnfc_about(url: str) -> tuple[str, str]:
    """libnfc's device name and the chip line of its information (e.g. ``PN532 v1.6``)."""
    connstring = unquote(url.removeprefix("libnfc://").split("?", 1)[0])
    try:
        from host.transport import nfc_binding

        nfc: Any = nfc_binding.load()
        context = ctypes.POINTER(nfc.nfc_context)()
        nfc.nfc_init(ctypes.byref(context))
    except Exception:  # noqa: BLE001 - identification is best effort
        return NOT_REPORTED, NOT_REPORTED
    name, firmware = NOT_REPORTED, NOT_REPORTED
    try:
        device = nfc.nfc_open(context, connstring.encode() or None)
        if not device:
            return name, firmware
        try:
            raw = ctypes.cast(nfc.nfc_device_get_name(device), ctypes.c_char_p).value
            name = raw.decode("ascii", "replace") if raw else NOT_REPORTED
            buffer = ctypes.POINTER(ctypes.c_char)()
            if nfc.nfc_device_get_information_about(device, ctypes.byref(buffer)) >= 0 and buffer:
                about = (ctypes.cast(buffer, ctypes.c_char_p).value or b"").decode(
                    "ascii", "replace"
                )
                firmware = next(
                    (line.strip() for line in about.splitlines() if "chip:" in line), firmware
                )
                nfc.nfc_free(buffer)
        finally:
            nfc.nfc_close(device)
    except Exception as exc:  # noqa: BLE001 - identification is best effort
        _log.debug("libnfc identification failed: %s", exc)
    finally:
        with contextlib.suppress(Exception):
            nfc.nfc_exit(context)
    return name, firmware


def printer_identity(url: str) -> dict[str, str]:
    """The printer's model ID, type ID and model name, as far as it answers ``GS I``.

    Asked on a short-lived port of its own before the driver opens it; a
    printer (or the simulator) that ignores ``GS I`` is "not reported". The
    model name is only asked once the model ID was answered, because a
    device that ignores ``GS I`` may print the ``n`` byte ``C``.
    """
    info = {"url": url, "kind": device_kind(url), "model_id": NOT_REPORTED}
    try:
        port = serial.serial_for_url(url, baudrate=115200, timeout=_PRINTER_ANSWER_S)
    except (serial.SerialException, OSError, ValueError):
        return info
    try:
        model = _ask_id(port, _MODEL_ID, 1)
        if model:
            info["model_id"] = f"0x{model[0]:02X}"
            kind = _ask_id(port, _TYPE_ID, 1)
            if kind:
                info["type_id"] = f"0x{kind[0]:02X}"
            name = _ask_id(port, _MODEL_NAME, 64)
            if name.startswith(b"_"):
                info["model_name"] = name[1:].split(b"\0", 1)[0].decode("ascii", "replace")
    except (serial.SerialException, OSError):
        pass
    finally:
        port.close()
    return info


def _ask_id(port: serial.SerialBase, n: int, most: int) -> bytes:
    port.timeout = 0
    port.read(4096)  # drop anything stale before asking
    port.timeout = _PRINTER_ANSWER_S
    port.write(_GS_I + bytes((n,)))
    port.flush()
    if most == 1:
        return bytes(port.read(1))
    deadline = time.monotonic() + _PRINTER_ANSWER_S
    answer = b""
    while time.monotonic() < deadline and b"\0" not in answer[1:] and len(answer) < most:
        answer += bytes(port.read(1))
    return answer
