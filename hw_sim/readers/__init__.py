# SPDX-License-Identifier: Apache-2.0
"""Ways to present a virtual card to the host as real reader hardware.

Why: a simulator that only our own driver accepts proves little; these put
the virtual card behind the real software stacks, so independent code
(pcscd, OpenSC, libnfc) talks to it as to hardware:

* ``vpcd``: the card as vsmartcard vpcd's ICC, behind pcscd (``sim pcsc``);
  ``pcscd`` runs a private pcscd (own network namespace when root);
* ``pn532_frames`` (framing), ``pn532`` (the chip, sans-I/O) and
  ``pn532_pty`` (the pty shell): a PN532 NFC controller with the card as an
  ISO 14443-4 Type B target in its field, for libnfc's ``pn532_uart``
  driver (``sim pn532``);
* ``stack``: ready-made rigs for tests and benchmarks; ``bench``: the
  ``myna-edge bench readers`` figures; ``cli``: the ``sim`` commands.
"""

from hw_sim.readers.pn532 import Pn532
from hw_sim.readers.pn532_pty import Pn532Pty
from hw_sim.readers.vpcd import DEFAULT_PORT, VpcdBridge, VpcdProtocol

__all__ = ["DEFAULT_PORT", "Pn532", "Pn532Pty", "VpcdBridge", "VpcdProtocol"]
