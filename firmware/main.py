# SPDX-License-Identifier: Apache-2.0
"""Firmware entry point: pick the hardware layer, run the app forever.

On the board MicroPython runs this file at boot (``rp2`` imports); under
the unix port the simulator runs ``micropython main.py --link /dev/pts/N``.
"""

import sys


def main():
    try:
        import rp2  # noqa: F401 - only present on the RP2040 port

        from myna_fw.hw.rp2 import Rp2Hardware

        hw = Rp2Hardware()
    except ImportError:
        from myna_fw.hw.unix import UnixHardware

        hw = UnixHardware.from_argv(sys.argv[1:])
    from myna_fw.app import App

    app = App(hw)
    if hasattr(hw, "running"):
        # unix: stop when the simulator closes our stdin or says quit
        print("ready")
        while hw.running:
            app.step(hw.ticks_ms())
            hw.wait(1 if app.entry is not None or hw.busy() else 5)
    else:  # pragma: no cover - the board
        app.run()


main()
