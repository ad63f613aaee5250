# SPDX-License-Identifier: Apache-2.0
"""The APDU layer over a transport: framing choices and status words.

A transport moves raw bytes; the driver above wants "send this command, give
me the data or a typed error". Between the two sit the ISO 7816-4 rules that
depend on the reader path rather than on the card application: extended
length when the path carries it, command chaining (CLA bit 0x10) when it does
not, ``61xx`` (more data: GET RESPONSE) and ``6Cxx`` (wrong Le: resend). The
JPKI card answers T=1 and has never been seen to send ``61xx``/``6Cxx``
(jpki-card.md §4.3), but PC/SC readers in T=0 mode and some contactless
bridges do, so the layer handles both, with bounded loops: a card or bridge
that keeps answering ``61xx`` gets a ``MalformedResponseError``, not a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import replace
from typing import Final

from host.apdu import (
    MAX_SHORT_LC,
    MAX_SHORT_LE,
    SW_OK,
    CommandApdu,
    ResponseApdu,
    error_for,
)
from host.errors import MalformedResponseError
from host.transport.base import CardTransport, TransportCapabilities

__all__ = ["DEFAULT_MAX_GET_RESPONSE", "INS_GET_RESPONSE", "PIN_STATUS_WORDS", "ApduChannel"]

_log = logging.getLogger(__name__)

INS_GET_RESPONSE: Final = 0xC0
_CLA_CHAINING: Final = 0x10
_CLA_CHANNEL_BITS: Final = 0x03

#: 256 GET RESPONSE rounds of 256 bytes cover the largest extended response (64 KiB).
DEFAULT_MAX_GET_RESPONSE: Final = 256

#: The status words an empty or failed VERIFY may answer; pass them as
#: ``allow`` to read a PIN's counter without an exception (jpki-card.md §4.3).
PIN_STATUS_WORDS: Final = frozenset({*range(0x63C0, 0x63D0), 0x6984})


class ApduChannel:
    """Sends ``CommandApdu``s over one ``CardTransport`` and checks the answers.

    The channel does not own the transport: closing it is the caller's job.
    """

    def __init__(
        self,
        transport: CardTransport,
        *,
        max_get_response: int = DEFAULT_MAX_GET_RESPONSE,
    ) -> None:
        if max_get_response < 1:
            raise ValueError("max_get_response must be at least 1")
        self._transport = transport
        self._max_get_response = max_get_response

    @property
    def transport(self) -> CardTransport:
        """The transport below this channel."""
        return self._transport

    @property
    def capabilities(self) -> TransportCapabilities:
        """What the reader path carries (extended length, response size)."""
        return self._transport.capabilities

    def send(self, command: CommandApdu, *, allow: Container[int] = frozenset()) -> ResponseApdu:
        """Send ``command`` and return the card's complete answer.

        Args:
            command: the command; its ``le`` is capped to 256 on a path without
                extended length (the rest then comes through ``61xx``).
            allow: status words other than 9000 to return instead of raising,
                e.g. ``PIN_STATUS_WORDS`` for a PIN counter query.

        Raises:
            CardError: a subclass for a status word not 9000 and not allowed.
            MalformedResponseError: no status word, or endless ``61xx`` chaining.
            TransportError: the transport's failures, unchanged.
        """
        response = self._exchange(command)
        if response.sw != SW_OK and response.sw not in allow:
            _log.debug("%s: SW=%04X", command.label, response.sw)
            raise error_for(response.sw, command.label)
        return response

    # --- internals ----------------------------------------------------------

    def _exchange(self, command: CommandApdu) -> ResponseApdu:
        extended = command.needs_extended and self.capabilities.extended_length
        if command.needs_extended and not extended:
            command = self._send_chain_head(command)
        response = self._transmit(command, extended)
        if response.sw1 == 0x6C:
            # 6Cxx: the card names the right Le; resend once (a second 6Cxx
            # is then reported as WrongLengthError, never looped on).
            command = replace(command, le=response.sw2 or MAX_SHORT_LE)
            response = self._transmit(command, extended)
        return self._get_remaining(command, response)

    def _send_chain_head(self, command: CommandApdu) -> CommandApdu:
        """Send all but the last block of a chained command; return the last one.

        Also caps Le to the short maximum: the rest comes through ``61xx``.
        """
        le = None if command.le is None else min(command.le, MAX_SHORT_LE)
        data = command.data
        while len(data) > MAX_SHORT_LC:
            block, data = data[:MAX_SHORT_LC], data[MAX_SHORT_LC:]
            part = replace(command, cla=command.cla | _CLA_CHAINING, data=block, le=None)
            response = self._transmit(part, False)
            if response.sw != SW_OK:
                raise error_for(response.sw, command.label)
        return replace(command, data=data, le=le)

    def _get_remaining(self, command: CommandApdu, response: ResponseApdu) -> ResponseApdu:
        """Follow ``61xx`` with GET RESPONSE until the card gives a final status."""
        collected = bytearray(response.data)
        rounds = 0
        while response.sw1 == 0x61:
            if rounds >= self._max_get_response:
                raise MalformedResponseError(
                    f"{command.label}: more than {self._max_get_response} GET RESPONSE rounds"
                )
            rounds += 1
            get = CommandApdu(
                command.cla & _CLA_CHANNEL_BITS,
                INS_GET_RESPONSE,
                0,
                0,
                le=response.sw2 or MAX_SHORT_LE,
                name="GET RESPONSE",
            )
            response = self._transmit(get, False)
            collected += response.data
        if rounds:
            return ResponseApdu(bytes(collected), response.sw1, response.sw2)
        return response

    def _transmit(self, command: CommandApdu, extended: bool) -> ResponseApdu:
        return ResponseApdu.parse(self._transport.transmit(command.encode(extended)))
