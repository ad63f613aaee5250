# SPDX-License-Identifier: Apache-2.0
"""The hardware simulator: everything that stands in for hardware.

``hw_sim.card`` is the virtual My Number card, ``hw_sim.pki`` the JPKI-shaped
test PKI that issues its certificates. Later issues add reader bridges
(vpcd, PN532) and the serial peripherals. The host reaches this package only
through its ``sim://`` transport backend.
"""

__all__: list[str] = []
