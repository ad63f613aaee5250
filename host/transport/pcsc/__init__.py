# SPDX-License-Identifier: Apache-2.0
"""``pcsc://``: a card in a PC/SC reader, through pyscard and pcscd.

Device: any PC/SC reader pcscd drives (USB CCID contactless readers, and
vsmartcard's vpcd with the simulator's bridge in CI). pyscard's low-level
``smartcard.scard`` calls are used, so every PC/SC return code is seen and
translated here, once (STYLE §3).

URL grammar::

    pcsc://[READER][?wait=SECONDS&share=exclusive|shared&protocol=t1|t0|any
                   &extended=auto|0|1]

    READER    empty: the first reader with a card; digits: the reader at that
              index of pcscd's list; else a reader name (URL-quoted), matched
              exactly, else as the one name that contains it (case-insensitive)
    wait      seconds to wait for a card on open (default 0: fail at once)
    share     exclusive (default): no other process touches the card while
              this transport is open, i.e. for one flow; shared: PC/SC shared
    protocol  t1 (default; contactless readers present T=CL as T=1), t0, any
    extended  auto (default): SCARD_ATTR_MAXINPUT if the reader reports it,
              else a table of readers known to pass extended APDUs (vpcd);
              1/0 force it

Capabilities:

    ===================  ===========  =========================================
    extended length      per reader   ``extended=``; vpcd: yes
    max response bytes   65538 / 258  with / without extended length
    ATR                  yes          from pcscd (contactless: synthesised)
    card removal         yes          ``CardRemovedError``, ``wait_for_removal``,
                                      ``card_events`` (insertion too)
    ===================  ===========  =========================================

Errors (PC/SC code → host error): no readers / unknown reader / reader gone
→ ``ReaderNotFoundError``; no card → ``NoCardError``; removed, reset,
unpowered, unresponsive, not transacted, or an empty answer →
``CardRemovedError``; sharing violation → ``ReaderBusyError``; no service,
service stopped, invalid handle (pcscd restarted) →
``BackendUnavailableError``; timeout → ``TransportTimeoutError``; anything
else → ``TransportError`` with the code. A failed command is never resent
(it may have been a VERIFY): after ``CardRemovedError`` the transport stays
failed; open a new one once the card is back.

Quirk: pcscd polls vpcd for the card every ~0.4 s, so an insertion shows up
within about half a second.
"""

from host.transport.pcsc.events import CardEvents, card_events
from host.transport.pcsc.library import list_readers, pcsc_error
from host.transport.pcsc.transport import PcscTransport
from host.transport.pcsc.url import PcscUrl, parse_pcsc_url

__all__ = [
    "CardEvents",
    "PcscTransport",
    "PcscUrl",
    "card_events",
    "list_readers",
    "parse_pcsc_url",
    "pcsc_error",
]
