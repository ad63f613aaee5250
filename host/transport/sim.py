# SPDX-License-Identifier: Apache-2.0
"""``sim://``: the in-process virtual My Number card as a transport.

Device: ``hw_sim.card.VirtualCard``, the simulator's ISO 7816-4 engine with
the JPKI and card-info applications, called in-process (no reader, no
daemon). It is the embedded default reader and what unit tests and
benchmarks run against; the same card also sits behind pcscd (vpcd) and the
PN532 emulator for the other backends' contract suites. This is the only
host module that imports ``hw_sim`` (STYLE §1; ruff's TID251 enforces it).

URL grammar::

    sim://[PROFILE][?home=DIR&persist=0|1&extended=0|1]
    sim://?slot=NAME[&home=DIR&persist=0|1&extended=0|1]
    (either form also takes &timing=FILE)

    PROFILE  a card profile of hw_sim.card.profiles(); empty = "default"
    slot     a reader slot (hw_sim.readers.slot) instead of a fixed card:
             the card is whatever ``myna-edge sim reader insert NAME
             [--profile P]`` put there; an empty slot is "no card"
             (NoCardError) and a card taken away mid-session is
             CardRemovedError at the next APDU. Takes no PROFILE.
    home     the simulator folder (keys, PKI, card state); default
             hw_sim.home.sim_home() ($MYNA_EDGE_SIM_HOME, else the cache)
    persist  1 (default): PIN counters and changed PINs are saved on close,
             as a real card remembers them; 0: every open starts fresh
    extended 1 (default): the path carries extended-length APDUs; 0: it
             behaves like a short-APDU-only reader (responses up to 258
             bytes; an extended command raises TransportError), so the
             driver's chunked strategy can be tested and measured
    timing   a calibration profile (``myna-edge bench calibrate``); the
             transport's ``timing`` model is then the measured one instead
             of the built-in UNCONFIRMED constants (hw_sim.card.timing)

Capabilities:

    ===================  ======  =========================================
    extended length      yes     Lc up to 65535, Le up to 65536 (``extended=0``: no)
    max response bytes   65538   a whole EF in one READ BINARY (``extended=0``: 258)
    ATR                  yes     from the profile; do not identify by it
    card removal         no      only ``close()`` ends the session (``slot=``: yes)
    ===================  ======  =========================================

Quirks: the card answers every bad APDU with a status word (never an
exception); ``CardNotPoweredError``/``CardClosedError`` from the simulator
become ``CardRemovedError``/``TransportClosedError`` here. RSA keys are
generated on first use of a home folder and cached there, so the first open
of a new home takes seconds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

from host.errors import (
    CardRemovedError,
    InvalidReaderUrlError,
    NoCardError,
    ReaderNotFoundError,
    TransportClosedError,
    TransportError,
)
from host.transport.base import CardTransport, TransportCapabilities
from hw_sim.card import VirtualCard, open_card
from hw_sim.card.timing import LinkTiming, default_link
from hw_sim.card.timing_profile import TimingProfileError, load_profile
from hw_sim.errors import (
    CardClosedError,
    CardNotPoweredError,
    SlotStateError,
    UnknownProfileError,
)
from hw_sim.home import sim_home
from hw_sim.pki import TestPki, open_mobile_pki
from hw_sim.readers.slot import SlotState, read_slot

__all__ = [
    "DEFAULT_PROFILE",
    "TRUST_FOLDER",
    "SimTransport",
    "SimUrl",
    "parse_sim_url",
    "sim_card_present",
    "sim_trust_dir",
]

DEFAULT_PROFILE: Final = "default"
#: Folder under the sim home where ``sim_trust_dir`` exports the public PKI.
TRUST_FOLDER: Final = "trust"
_PROFILE_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")
_QUERY_KEYS: Final = frozenset({"home", "persist", "extended", "slot", "timing"})
_SHORT_MAX_RESPONSE: Final = 258


class SimUrl:
    """A parsed ``sim://`` URL.

    Attributes:
        profile: the card profile name.
        home: the simulator folder, or None for the default.
        persist: save card state on close.
        extended: the path carries extended-length APDUs.
        slot: the reader slot whose card this is, or None for a fixed card.
        timing: a calibration profile to price exchanges with, or None.
    """

    __slots__ = ("extended", "home", "persist", "profile", "slot", "timing")

    def __init__(
        self,
        profile: str,
        home: Path | None,
        persist: bool,
        extended: bool = True,
        *,
        slot: str | None = None,
        timing: Path | None = None,
    ) -> None:
        self.profile = profile
        self.home = home
        self.persist = persist
        self.extended = extended
        self.slot = slot
        self.timing = timing

    def __repr__(self) -> str:
        return f"SimUrl(profile={self.profile!r}, home={self.home!r}, persist={self.persist})"


def parse_sim_url(url: str) -> SimUrl:
    """Parse ``sim://PROFILE[?home=DIR&persist=0|1]``.

    Raises:
        InvalidReaderUrlError: another scheme, a path, a bad profile name, or
            an unknown, repeated or malformed query parameter.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidReaderUrlError(f"malformed sim:// URL {url!r}") from exc
    if parts.scheme != "sim":
        raise InvalidReaderUrlError(f"not a sim:// URL: {url!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise InvalidReaderUrlError(f"sim:// URLs take no path or fragment: {url!r}")
    profile = parts.netloc or DEFAULT_PROFILE
    if not _PROFILE_NAME.fullmatch(profile):
        raise InvalidReaderUrlError(f"bad profile name in {url!r}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise InvalidReaderUrlError(f"malformed query in {url!r}") from exc
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise InvalidReaderUrlError(
            f"unknown sim:// parameter(s) {', '.join(sorted(unknown))} in {url!r}"
        )
    if any(len(values) != 1 for values in query.values()):
        raise InvalidReaderUrlError(f"repeated parameter in {url!r}")
    home: Path | None = None
    if "home" in query:
        if not query["home"][0]:
            raise InvalidReaderUrlError(f"empty home= in {url!r}")
        home = Path(query["home"][0])
    timing: Path | None = None
    if "timing" in query:
        if not query["timing"][0]:
            raise InvalidReaderUrlError(f"empty timing= in {url!r}")
        timing = Path(query["timing"][0])
    persist, extended = (_flag(query, key, url) for key in ("persist", "extended"))
    slot: str | None = None
    if "slot" in query:
        slot = query["slot"][0]
        if parts.netloc:
            raise InvalidReaderUrlError(f"sim://?slot= takes no profile (insert one): {url!r}")
        if not _PROFILE_NAME.fullmatch(slot) or slot in (".", ".."):
            raise InvalidReaderUrlError(f"bad slot name in {url!r}")
    return SimUrl(profile, home, persist, extended, slot=slot, timing=timing)


def _flag(query: dict[str, list[str]], key: str, url: str) -> bool:
    if key not in query:
        return True
    if query[key][0] not in ("0", "1"):
        raise InvalidReaderUrlError(f"{key} must be 0 or 1 in {url!r}")
    return query[key][0] == "1"


class SimTransport(CardTransport):
    """A transport to an in-process ``VirtualCard`` (see the module docstring)."""

    scheme = "sim"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._parsed = parse_sim_url(url)
        self._card: VirtualCard | None = None
        self._atr = b""
        self._profile = self._parsed.profile
        self._insertion: str | None = None  # the slot insertion this session belongs to
        self._timing: LinkTiming | None = None

    @property
    def timing(self) -> LinkTiming:
        """The model that prices this card's exchanges: ``timing=FILE``'s, else the default."""
        return self._timing if self._timing is not None else default_link()

    @property
    def atr(self) -> bytes:
        """The virtual card's ATR (empty before open)."""
        return self._atr

    @property
    def capabilities(self) -> TransportCapabilities:
        """Extended length and whole-EF responses, unless the URL says ``extended=0``."""
        if self._parsed.extended:
            return TransportCapabilities(extended_length=True, max_response_bytes=65538)
        return TransportCapabilities(extended_length=False, max_response_bytes=_SHORT_MAX_RESPONSE)

    @property
    def profile(self) -> str:
        """The card profile this URL names (``slot=``: the card found at open)."""
        return self._profile

    @property
    def virtual_card(self) -> VirtualCard:
        """The simulated card, for tests and benchmarks (its APDU log, timing).

        Raises:
            TransportClosedError: the transport is not open.
        """
        if self._card is None or not self.is_open:
            raise TransportClosedError(f"transport {self.url} is not open")
        return self._card

    def _open(self) -> None:
        if self._parsed.timing is not None:
            try:
                self._timing = load_profile(self._parsed.timing).link
            except TimingProfileError as exc:
                raise InvalidReaderUrlError(f"sim:// timing=: {exc}") from exc
        if self._parsed.slot is not None:
            found = self._slot_state()
            if found is None:
                raise NoCardError(f"no card on sim reader slot {self._parsed.slot!r}")
            self._profile, self._insertion = found.profile, found.insertion
        try:
            card = open_card(
                profile=self._profile, home=self._parsed.home, persist=self._parsed.persist
            )
        except UnknownProfileError as exc:
            raise ReaderNotFoundError(f"no sim card profile {self._profile!r}") from exc
        try:
            self._atr = card.power_on()
        except BaseException:
            card.close()
            raise
        self._card = card

    def _transmit(self, command: bytes) -> bytes:
        if self._card is None:
            raise TransportClosedError(f"transport {self.url} is not open")
        if not self._parsed.extended and _is_extended(command):
            raise TransportError("this reader path does not carry extended-length APDUs")
        if self._insertion is not None:
            found = self._slot_state()
            if found is None or found.insertion != self._insertion:
                self._card.power_off()  # it left the field: its session is gone for good
                raise CardRemovedError(f"the card left sim reader slot {self._parsed.slot!r}")
        try:
            return self._card.transmit(command)
        except CardNotPoweredError as exc:
            raise CardRemovedError("the virtual card is not powered") from exc
        except CardClosedError as exc:
            raise TransportClosedError("the virtual card was closed") from exc

    def _slot_state(self) -> SlotState | None:
        assert self._parsed.slot is not None
        try:
            return read_slot(self._parsed.slot, home=self._parsed.home)
        except (SlotStateError, OSError) as exc:
            raise TransportError(f"sim reader slot {self._parsed.slot!r}: {exc}") from exc

    def _close(self) -> None:
        self._insertion = None
        card, self._card = self._card, None
        if card is not None:
            card.close()


def _is_extended(command: bytes) -> bool:
    """Whether a command uses the extended Lc/Le encoding (ISO 7816-4 §5.1)."""
    return len(command) >= 7 and command[4] == 0


def sim_trust_dir(url: str) -> Path:
    """Export the sim PKI's public material to ``<home>/trust/`` and return that folder.

    The folder then holds ``auth-ca.pem``, ``sign-ca.pem``, the two CRLs,
    ``card-data-issuer.pub.pem`` and ``mobile/`` (the phones' CAs); the CLI
    uses it as the default trust folder for ``sim://`` readers.

    Raises:
        InvalidReaderUrlError: ``url`` is not a valid ``sim://`` URL.
        OSError: the folder cannot be written.
    """
    home = sim_home(parse_sim_url(url).home)
    trust = home / TRUST_FOLDER
    TestPki.open(home / "pki").export_public(trust)
    # The phones' CAs: the verifier names a credential by its CA's sub-folder.
    open_mobile_pki(home / "pki").export_public(trust / "mobile")
    return trust


def sim_card_present(url: str) -> bool | None:
    """Whether a card is on the reader of a ``sim://?slot=`` URL (None: a fixed-card URL).

    For the agent's status monitor: it reads the slot file only, never the card.

    Raises:
        InvalidReaderUrlError: ``url`` is not a valid ``sim://`` URL.
        TransportError: the slot file is damaged or unreadable.
    """
    parsed = parse_sim_url(url)
    if parsed.slot is None:
        return None
    try:
        return read_slot(parsed.slot, home=parsed.home) is not None
    except (SlotStateError, OSError) as exc:
        raise TransportError(f"sim reader slot {parsed.slot!r}: {exc}") from exc
