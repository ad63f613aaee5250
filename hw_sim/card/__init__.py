# SPDX-License-Identifier: Apache-2.0
"""The virtual My Number card: an ISO/IEC 7816-4 card with the JPKI applications.

It lets the whole stack run in CI without a card: the host reaches it
through its ``sim://`` transport, and reader bridges present it to pcscd
and libnfc as real hardware. It answers as the real card does according to
``reference/jpki-card.md`` (AIDs, files, APDUs, status words, PIN rules),
not as our own host driver happens to expect, and marks the points the
reference leaves UNCONFIRMED where they are decided.

Layers, each in its own module:

* ``apdu`` (framing), ``engine`` (dispatch), ``file_commands``,
  ``pin_commands``, ``crypto_commands``, ``issuer_commands`` (the commands;
  the last is our documented model of the issuer-protected PIN reset, since
  the real issuer protocol is not public), ``session``
  (selection and security status), ``filesystem`` and ``pins`` (what the
  card holds) — all sans-I/O;
* ``jpki_ap``, ``text_ap``, ``surface_ap`` (the three applications' files),
  with ``tlv``, ``cv_cert``, ``images`` and ``signing`` under them;
* ``profiles`` (the catalogue), ``issue`` (building a card from the test
  PKI), ``storage`` (the saved state);
* ``virtual_card`` (power, logging, the APDU log) and ``factory``
  (``open_card``/``reset_card``).

Example::

    with open_card("default", home=tmp_path) as card:
        card.power_on()
        card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))  # → 90 00
"""

from hw_sim.card.apdu_log import ApduLog, ApduLogEntry
from hw_sim.card.engine import CardSnapshot
from hw_sim.card.factory import open_card, reset_card
from hw_sim.card.profiles import CardProfile, CertStatus, get_profile, profiles
from hw_sim.card.virtual_card import VirtualCard, open_cards

__all__ = [
    "ApduLog",
    "ApduLogEntry",
    "CardProfile",
    "CardSnapshot",
    "CertStatus",
    "VirtualCard",
    "get_profile",
    "open_card",
    "open_cards",
    "profiles",
    "reset_card",
]
