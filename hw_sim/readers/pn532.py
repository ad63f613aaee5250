# SPDX-License-Identifier: Apache-2.0
"""A PN532 NFC controller with the virtual card as an ISO 14443-4 Type B or A target.

Sans-I/O: ``Pn532.handle(payload)`` takes one host command (code +
parameters, after the ``D4`` TFI) and returns the response payload (code+1
+ data, before framing). It answers the commands libnfc 1.8's ``pn532_uart``
driver sends (pn532.md §2, §7): SAMConfiguration, Diagnose (echo),
GetFirmwareVersion (PN532 v1.6, ISO A/B/18092), SetParameters,
Read/WriteRegister (a register file), RFConfiguration, InListPassiveTarget
(Type B, and Type A for phones, at 106 kbps), InDataExchange (with MI chaining for answers
over 262 bytes), InCommunicateThru (probes: "timeout"; the Type B presence
check R(NAK)), InDeselect, InRelease, PowerDown and InAutoPoll. Anything
else gets ``None``: the shell sends the error frame, as a PN532 does.

Target values (ATQB, ATTRIB_RES): the PUPI and ATTRIB_RES byte of a real
My Number card are UNCONFIRMED (pn532.md §3.2); Application Data and
Protocol Info are the ``00 00 05 E0`` / ``B3 81 A1`` seen in card ATRs.

Phones (``hw_sim.card.phones``) answer what their ``contactless`` says:
InListPassiveTarget BrTy 00 (106 kbps Type A) gives ``01 01`` + SENS_RES,
SEL_RES, NFCID1 length and UID, then the ATS with its TL (the PN532 sends
RATS itself, SetParameters fAutomaticRATS; libnfc's
``pn53x_decode_target_data`` reads the ATS length from TL); BrTy 03 gives
the Android phone's ATQB; an iPhone is Type A only. libnfc's Type A
presence check (``pn53x_ISO14443A_4_is_present``) sends an R(NAK) ``B2``
through InCommunicateThru and wants status 00 and one byte: we answer the
R(ACK) ``A2``/``A3`` (UNCONFIRMED for real phones, like the Type B case).

InAutoPoll (``60 PollNr Period Type…``, UM0701 §7.3.13) answers ``61 NbTg``
then ``Type Len TargetData`` per target, the TargetData laid out as for
InListPassiveTarget (libnfc ``pn53x_InAutoPoll`` decodes it with
``pn53x_decode_target_data`` and maps the type with ``pn53x_ptt_to_nm``).
Target type codes (libnfc ``pn53x.h`` ``pn53x_target_type``): ``00``
generic passive 106 kbps, ``10`` MIFARE (106 A, no RATS), ``20`` passive
106 kbps ISO/IEC 14443-4A (RATS sent, ATS reported), ``03`` / ``23``
ISO/IEC 14443-4B (without / with the TCL flag). We report the first type in
the host's list that the credential answers, one target: ``nfc-poll`` asks
``20 10 03 11 12 04`` (libnfc adds ``20`` before ``10`` when
``NP_AUTO_ISO14443_4`` is on), so a phone is reported as ``20`` with its ATS,
the card as ``03``. The order rule and reporting a single target for an
Android that answers both A and B are UNCONFIRMED for a real PN532.
Answers to ``10`` and ``00`` carry no ATS (no RATS: ``pn53x_decode_target_data``
then leaves ``szAtsLen`` 0).
"""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import Final

from hw_sim.card import VirtualCard
from hw_sim.card.contactless import TypeA, TypeB
from hw_sim.errors import CardClosedError, CardNotPoweredError

__all__ = ["ATQB", "ATTRIB_RES", "FIRMWARE", "MAX_DATA_IN", "AutoPollType", "Pn532"]

_log = logging.getLogger(__name__)

#: IC 32 (PN532), version 1.6, supports ISO 14443A, 14443B and 18092.
FIRMWARE: Final = bytes.fromhex("32010607")
#: 50 | PUPI (UNCONFIRMED, stable) | Application Data | Protocol Info.
ATQB: Final = bytes.fromhex("50 4D594E41 000005E0 B381A1")
#: MBLI 0, CID 1 (the PN532 uses CID 1 for Type B; UNCONFIRMED for the card).
ATTRIB_RES: Final = bytes.fromhex("01")
#: DataIn of one InDataExchange answer (UM-Q: 0..262 bytes).
MAX_DATA_IN: Final = 262
_BRTY_TYPE_A: Final = 0x00
_BRTY_TYPE_B: Final = 0x03


class AutoPollType(IntEnum):
    """InAutoPoll target type codes (libnfc ``pn53x_target_type``; UM0701 §7.3.13)."""

    GENERIC_PASSIVE_106 = 0x00
    ISO14443_4B_106 = 0x03
    MIFARE = 0x10
    ISO14443_4A_106 = 0x20
    ISO14443_4B_TCL_106 = 0x23


_AUTO_POLL_A: Final = frozenset(
    {AutoPollType.GENERIC_PASSIVE_106, AutoPollType.MIFARE, AutoPollType.ISO14443_4A_106}
)
_AUTO_POLL_B: Final = frozenset({AutoPollType.ISO14443_4B_106, AutoPollType.ISO14443_4B_TCL_106})
_R_NAK_A: Final = frozenset({0xB2, 0xB3})  # R(NAK), no CID, block 0/1
_R_ACK: Final = 0xA2
_STATUS_OK: Final = 0x00
_STATUS_TIMEOUT: Final = 0x01
_STATUS_MI: Final = 0x40
_STATUS_RELEASED: Final = 0x29
_STATUS_GONE: Final = 0x2B  # Type B card previously activated has disappeared
_R_NAK_CID1: Final = bytes.fromhex("BA01")


class Pn532:
    """The PN532 state machine (see the module docstring).

    Args:
        card: the card in the field, or None for an empty field.
    """

    def __init__(self, card: VirtualCard | None = None) -> None:
        self._card = card
        self._registers: dict[int, int] = {}
        self._active = False
        self._pending: list[bytes] = []
        self.exchanges = 0

    @property
    def card(self) -> VirtualCard | None:
        """The card in the field (None: empty)."""
        return self._card

    @property
    def target_active(self) -> bool:
        """Whether a target (Type A or B) is selected."""
        return self._active

    def place(self, card: VirtualCard | None) -> None:
        """Put ``card`` in the field (None takes the card away)."""
        if self._card is not None and not self._card.closed and self._card.powered:
            self._card.power_off()
        self._card = card
        self._active = False
        self._pending = []

    def handle(self, payload: bytes) -> bytes | None:
        """Answer one command payload; None means "send the error frame"."""
        if not payload:
            return None
        code, params = payload[0], payload[1:]
        handler = _HANDLERS.get(code)
        if handler is None:
            _log.debug("PN532: unsupported command %02X", code)
            return None
        data = handler(self, params)
        return None if data is None else bytes([code + 1]) + data

    # --- commands -----------------------------------------------------------

    def _empty(self, _params: bytes) -> bytes:
        return b""

    def _diagnose(self, params: bytes) -> bytes:
        return params  # test 0 (communication line): echo (pn532.md §2.2)

    def _firmware(self, _params: bytes) -> bytes:
        return FIRMWARE

    def _read_register(self, params: bytes) -> bytes | None:
        if len(params) % 2:
            return None
        addresses = [params[i] << 8 | params[i + 1] for i in range(0, len(params), 2)]
        return bytes(self._registers.get(a, 0) for a in addresses)

    def _write_register(self, params: bytes) -> bytes | None:
        if len(params) % 3:
            return None
        for i in range(0, len(params), 3):
            self._registers[params[i] << 8 | params[i + 1]] = params[i + 2]
        return b""

    def _status_only(self, _params: bytes) -> bytes:
        self._deactivate()
        return bytes([_STATUS_OK])

    def _power_down(self, _params: bytes) -> bytes:
        self._deactivate()
        return bytes([_STATUS_OK])

    def _list_passive(self, params: bytes) -> bytes | None:
        if len(params) < 2:
            return None
        card = self._card
        if card is None or card.closed:
            return b"\x00"
        if params[1] == _BRTY_TYPE_A:
            type_a = _type_a(card)
            # InitData = a UID to select (libnfc passes it for a given target).
            if type_a is None or (len(params) > 2 and params[2:] != type_a.uid):
                return b"\x00"
            self._activate(card)
            return b"\x01\x01" + type_a.pn532_target()
        type_b = _type_b(card)
        if params[1] != _BRTY_TYPE_B or type_b is None:
            return b"\x00"
        self._activate(card)
        return b"\x01\x01" + type_b.pn532_target()

    def _auto_poll(self, params: bytes) -> bytes | None:
        if len(params) < 3:
            return None  # PollNr, Period and at least one type (UM0701 §7.3.13)
        card = self._card
        if card is None or card.closed:
            return b"\x00"
        for code in params[2:]:
            target = self._auto_poll_target(card, code)
            if target is not None:
                self._activate(card)
                return b"\x01" + bytes([code, len(target)]) + target
        return b"\x00"

    def _auto_poll_target(self, card: VirtualCard, code: int) -> bytes | None:
        """TargetData (Tg first) if ``card`` answers type ``code``, else None."""
        type_a = _type_a(card)
        if code in _AUTO_POLL_A and type_a is not None:
            target = type_a.pn532_target()
            if code != AutoPollType.ISO14443_4A_106:
                target = target[: -len(type_a.ats)]  # no RATS, no ATS
            return b"\x01" + target
        type_b = _type_b(card)
        if code in _AUTO_POLL_B and type_b is not None:
            return b"\x01" + type_b.pn532_target()
        return None

    def _communicate_thru(self, params: bytes) -> bytes:
        card = self._card
        present = self._active and card is not None and card.powered
        if params == _R_NAK_CID1 and present:
            return b"\x00\xaa\x01"  # R(ACK), CID 1: the target is present
        type_a = _type_a(card) if present and card is not None else None
        if len(params) == 1 and params[0] in _R_NAK_A and type_a is not None:
            return bytes([_STATUS_OK, _R_ACK | (params[0] & 1)])  # Type A: present
        return bytes([_STATUS_TIMEOUT])  # probes for other technologies: nothing there

    def _data_exchange(self, params: bytes) -> bytes | None:
        if not params:
            return None
        card = self._card
        if not self._active or card is None:
            return bytes([_STATUS_RELEASED])
        if len(params) == 1:
            if not self._pending:
                return bytes([_STATUS_TIMEOUT])
            return self._next_piece()
        self._pending = []
        self.exchanges += 1
        try:
            answer = card.transmit(params[1:])
        except (CardNotPoweredError, CardClosedError):
            self._active = False
            return bytes([_STATUS_GONE])
        self._pending = [answer[i : i + MAX_DATA_IN] for i in range(0, len(answer), MAX_DATA_IN)]
        return self._next_piece()

    # --- helpers ------------------------------------------------------------

    def _next_piece(self) -> bytes:
        piece = self._pending.pop(0)
        return bytes([_STATUS_MI if self._pending else _STATUS_OK]) + piece

    def _activate(self, card: VirtualCard) -> None:
        if not self._active:
            card.power_on()  # REQB/ATTRIB: the card enters the field fresh
            self._active = True
        self._pending = []

    def _deactivate(self) -> None:
        card = self._card
        if self._active and card is not None and not card.closed:
            card.power_off()
        self._active = False
        self._pending = []


_CARD_TYPE_B: Final = TypeB(ATQB, ATTRIB_RES)


def _type_a(card: VirtualCard) -> TypeA | None:
    contactless = card.contactless
    return None if contactless is None else contactless.type_a


def _type_b(card: VirtualCard) -> TypeB | None:
    contactless = card.contactless
    return _CARD_TYPE_B if contactless is None else contactless.type_b


_HANDLERS = {
    0x00: Pn532._diagnose,
    0x02: Pn532._firmware,
    0x06: Pn532._read_register,
    0x08: Pn532._write_register,
    0x12: Pn532._empty,
    0x14: Pn532._empty,
    0x16: Pn532._power_down,
    0x32: Pn532._empty,
    0x40: Pn532._data_exchange,
    0x42: Pn532._communicate_thru,
    0x44: Pn532._status_only,
    0x4A: Pn532._list_passive,
    0x52: Pn532._status_only,
    0x60: Pn532._auto_poll,
}
