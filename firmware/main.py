# SPDX-License-Identifier: Apache-2.0
"""Firmware entry point: boot selector, hardware layer, then the app until a reboot.

Part of the boot platform (with ``myna_boot/``): never in an update image.
On the board MicroPython runs this file at boot (``rp2`` imports; the slots
live under ``/fw``); under the unix port the simulator runs ``micropython
main.py --link /dev/pts/N [--fs DIR] [--power-cut-at N]``. The hardware
layer is made once, from the factory firmware, and kept across the
in-place reboots that follow an update; each boot re-selects the slot and
imports ``myna_fw.app`` from it. A trial image that fails to start is
abandoned and the next selection reverts it.
"""

import sys

from myna_boot.boot import Boot
from myna_boot.flash import PowerCut


def _options(argv):
    options = {}
    i = 0
    while i + 1 < len(argv):
        options[argv[i].lstrip("-").replace("-", "_")] = argv[i + 1]
        i += 2
    return options


def _hardware():
    try:
        import rp2  # noqa: F401 - only present on the RP2040 port

        from myna_fw.hw.rp2 import Rp2Hardware

        hw = Rp2Hardware()
        return hw, Boot("/fw", keys=hw.storage)
    except ImportError:
        from myna_fw.hw.unix import UnixHardware

        hw = UnixHardware.from_argv(sys.argv[1:])
        options = _options(sys.argv[1:])
        boot = Boot(options.get("fs"), int(options.get("power_cut_at", 0)), hw.report_flash, hw.storage)
        return hw, boot


def main():
    hw, boot = _hardware()
    while getattr(hw, "running", True):
        slot = boot.select()
        try:
            from myna_fw.app import App
            from myna_fw.version import FIRMWARE_VERSION

            app = App(hw, boot=boot)
            version = boot.version(FIRMWARE_VERSION)
            if hasattr(hw, "report"):
                hw.report("boot %d %d.%d.%d %d" % (slot, version[0], version[1], version[2], boot.trial))
                hw.report("ready")
            while getattr(hw, "running", True) and not app.reboot:
                app.step(hw.ticks_ms())
                hw.wait(1 if app.entry is not None or hw.busy() else 5)
        except Exception as error:
            if not boot.trial:
                raise
            sys.print_exception(error)  # the trial failed: the next pass reverts it


try:
    main()
except PowerCut:
    print("powercut")
    sys.exit(3)
