# SPDX-License-Identifier: Apache-2.0
"""A test PKI shaped like JPKI, so virtual cards carry believable certificates.

Real JPKI certificates chain to J-LIS roots and carry the basic four items in
places a verifier must know (``reference/jpki-card.md`` §6). The simulator
needs the same shapes with keys it owns: ``TestPki`` generates two roots
(user authentication, digital signature) and the card-data issuer key once
per folder, issues holder certificates, revokes them and publishes CRLs.
Profile constants are in ``hw_sim.pki.profile``; smartphone certificates
come from separate mobile CAs (``open_mobile_pki``, UNCONFIRMED).

Example::

    pki = TestPki.open(tmp_path / "pki")
    key = pki.holder_key("alice")
    cert = pki.issue(CertKind.SIGN, alice, key.public_key())
"""

from hw_sim.pki.authority import TestPki
from hw_sim.pki.mobile import open_mobile_pki
from hw_sim.pki.profile import SAN_OIDS, CaFamily, CertKind
from hw_sim.pki.store import PkiCacheError

__all__ = ["SAN_OIDS", "CaFamily", "CertKind", "PkiCacheError", "TestPki", "open_mobile_pki"]
