# SPDX-License-Identifier: Apache-2.0
"""Card transports, chosen by URL like pyserial's ``serial_for_url``.

=====================================  ==========================================
URL                                    backend
=====================================  ==========================================
``sim://PROFILE[?home=DIR&persist=0]``  in-process virtual card (the embedded
                                       default; :mod:`host.transport.sim`)
``pcsc://[READER][?wait=S&share=...]``  a PC/SC reader through pcscd, pyscard
                                       (:mod:`host.transport.pcsc`)
``libnfc://pn532_uart:/dev/ttyX``      a PN532 through libnfc, pynfc
                                       (:mod:`host.transport.libnfc`)
=====================================  ==========================================

Backends are imported only when
opened, so a missing optional library raises ``BackendUnavailableError`` on
open and never at import (python-can's registry).
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from host.errors import BackendUnavailableError, InvalidReaderUrlError
from host.transport.base import (
    TRACE,
    ApduEvent,
    CardTransport,
    Direction,
    Observer,
    TransportCapabilities,
    open_transports,
)

__all__ = [
    "BACKENDS",
    "TRACE",
    "ApduEvent",
    "CardTransport",
    "Direction",
    "Observer",
    "TransportCapabilities",
    "open_transport",
    "open_transports",
    "transport_for_url",
]

#: scheme -> "module:class", imported lazily.
BACKENDS: dict[str, str] = {
    "sim": "host.transport.sim:SimTransport",
    "pcsc": "host.transport.pcsc:PcscTransport",
    "libnfc": "host.transport.libnfc:LibnfcTransport",
}


def transport_for_url(url: str) -> CardTransport:
    """Build (but do not open) the transport a reader URL names.

    Raises:
        InvalidReaderUrlError: the URL has no known scheme.
        BackendUnavailableError: the backend's module cannot be imported here.
    """
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:  # e.g. an unbalanced "[" in the host part
        raise InvalidReaderUrlError(f"malformed reader URL {url!r}") from exc
    if not scheme or scheme not in BACKENDS:
        known = ", ".join(f"{s}://" for s in sorted(BACKENDS))
        raise InvalidReaderUrlError(f"unknown reader URL scheme in {url!r}; known: {known}")
    module_name, _, class_name = BACKENDS[scheme].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailableError(f"the {scheme}:// backend cannot load: {exc}") from exc
    cls: type[CardTransport] = getattr(module, class_name)
    return cls(url)


def open_transport(url: str) -> CardTransport:
    """Build and open the transport a reader URL names.

    Raises:
        InvalidReaderUrlError, BackendUnavailableError: as ``transport_for_url``.
        TransportError: the backend could not reach a card.
    """
    transport = transport_for_url(url)
    try:
        return transport.open()
    except BaseException:
        transport.close()
        raise
