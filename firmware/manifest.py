# SPDX-License-Identifier: Apache-2.0
# Versioned manifest for freezing the firmware into a MicroPython RP2040 build:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/firmware/manifest.py
# Keep the version equal to myna_fw/version.py FIRMWARE_VERSION
# (tests/unit/firmware/test_firmware_manifest.py checks it).
metadata(
    description="myna-edge peripheral controller: keypad, secure PIN entry, display, tamper",
    version="1.0.0",
    license="Apache-2.0",
)
include("$(PORT_DIR)/boards/manifest.py")
# The factory image: the app (updatable into /fw/slot0|1 by signed images,
# which then come first on sys.path) and the boot platform with its trust
# anchors (never updatable; a production build swaps myna_boot/trust.py
# for the release keys: docs/firmware-updates.md).
package("myna_fw", opt=3)
package("myna_boot", opt=3)
module("main.py", opt=3)
