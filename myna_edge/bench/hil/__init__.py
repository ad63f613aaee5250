# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench --reader/--controller/--printer`` and ``bench calibrate``: real devices.

Why a package: the hardware-in-the-loop run has a safety plan every card
command passes through before it is sent, device identification, a trace of
the exchanges and the calibration of the simulator's timing model; each is
small and testable alone. Nothing is imported here, so ``myna-edge bench``
without devices never loads them.

* ``suite``: the suites on real devices and their Markdown report;
* ``plan``: the card plan and its guard (no PIN try is ever spent by surprise);
* ``devices``: which reader, board or printer is on the other end;
* ``trace``: exchanges seen by the transport's observer, priced by the model;
* ``calibrate``: ``bench calibrate``, fitting a timing profile;
* ``cli``: the options and the command.
"""

from __future__ import annotations

__all__: list[str] = []
