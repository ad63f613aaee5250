# SPDX-License-Identifier: Apache-2.0
"""The boot platform: slot selection, image verification, update reception.

Not part of any update image (images may only carry ``myna_fw/`` files), so
an update can never replace the verification key or the code that checks
it. On the RP2040 it is frozen into the MicroPython build with ``main.py``;
under the unix port it runs from this folder. See docs/firmware-updates.md.
"""
