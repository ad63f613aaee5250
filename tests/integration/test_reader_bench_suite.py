# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench readers`` (``hw_sim.readers.bench.readers_suite``) end to end.

It starts its own pcscd and PN532 rigs, so it lives in a module of its own
(one pcscd per machine). Timings are only checked for being ratios; the
APDU counts are exact.
"""

from __future__ import annotations

import importlib.util
import shutil

from hw_sim.readers.bench import readers_suite
from tests.integration.reader_stack import require


def test_suite_reports_ratios_and_exact_counts() -> None:
    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    report = readers_suite(2)
    pcsc, libnfc = report["pcsc"], report["libnfc"]
    assert isinstance(pcsc, dict), pcsc
    assert isinstance(libnfc, dict), libnfc
    assert pcsc["transport_over_bare_pyscard"] > 0
    assert pcsc["auth_certificate"]["apdus"] == 3  # type: ignore[index]
    assert pcsc["auth_certificate_apdus_over_minimum"] == 1.0
    opensc = pcsc["opensc_auth_certificate"]
    if shutil.which("pkcs15-tool"):
        assert isinstance(opensc, dict)
        assert opensc["apdus_after_probing"] >= pcsc["auth_certificate"]["apdus"]  # type: ignore[index]
    assert libnfc["transport_over_bare_libnfc"] > 0
    chunked = libnfc["auth_certificate"]
    assert chunked == libnfc["auth_certificate_chunked"]  # AUTO is chunked on libnfc
