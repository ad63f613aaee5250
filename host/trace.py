# SPDX-License-Identifier: Apache-2.0
"""The wire-trace log level, one home for every host layer that logs wire traffic.

Why its own module: card transports (APDUs) and serial peripherals (board
frames, ESC/POS bytes) both log wire traffic below DEBUG (STYLE §7), and a
peripheral importing the level from ``host.transport.base`` made it depend
on the card layer for a number. ``host.transport`` re-exports it.
"""

from __future__ import annotations

import logging
from typing import Final

__all__ = ["TRACE"]

#: Wire traffic goes below DEBUG (STYLE §7), so DEBUG logs stay readable.
TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")
