# SPDX-License-Identifier: Apache-2.0
"""firmware/manifest.py is versioned and agrees with myna_fw/version.py."""

from __future__ import annotations

import re

from hw_sim.devices.controller import FIRMWARE_DIR


def test_manifest_version_matches_firmware() -> None:
    manifest = (FIRMWARE_DIR / "manifest.py").read_text()
    version = (FIRMWARE_DIR / "myna_fw" / "version.py").read_text()
    declared = re.search(r'version="(\d+)\.(\d+)\.(\d+)"', manifest)
    actual = re.search(r"FIRMWARE_VERSION = \((\d+), (\d+), (\d+)\)", version)
    assert declared is not None
    assert actual is not None
    assert declared.groups() == actual.groups()
    assert 'package("myna_fw"' in manifest
    assert 'module("main.py"' in manifest
