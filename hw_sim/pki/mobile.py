# SPDX-License-Identifier: Apache-2.0
"""The smartphone CAs of the test PKI: a second ``TestPki`` beside the card's.

Why a separate folder: phone certificates must chain to issuing CAs of
their own (UNCONFIRMED for real JPKI, see ``profile.CaFamily``), with their
own CRLs and revocations, so that a verifier policy can accept or refuse
them per operation and a phone reported lost is revoked without touching
the holder's card. The folder is ``<card pki>/mobile``; everything else
(issue, revoke, CRL, OCSP through ``OcspResponder(mobile_pki)``, export)
is ``TestPki`` unchanged, with the mobile DNs
(``OU=JPKI for smartphone user authentication`` / ``… digital signature``)
and CRL URLs (``…/mobile-auth.crl``, ``…/mobile-sign.crl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from hw_sim.home import sim_home
from hw_sim.pki.authority import TestPki
from hw_sim.pki.profile import CaFamily

__all__ = ["MOBILE_FOLDER", "open_mobile_pki"]

#: The mobile CAs' folder inside the card PKI's folder.
MOBILE_FOLDER: Final = "mobile"


def open_mobile_pki(card_pki: Path | str | None = None) -> TestPki:
    """Open (generating on first use) the mobile CAs beside the card PKI ``card_pki``.

    Args:
        card_pki: the card PKI's folder; default ``pki`` in the simulator home.

    Raises:
        PkiCacheError: the folder is damaged or holds card CAs.
        OSError: the folder cannot be created or written.
    """
    base = Path(card_pki) if card_pki is not None else sim_home() / "pki"
    return TestPki.open(base / MOBILE_FOLDER, family=CaFamily.MOBILE)
