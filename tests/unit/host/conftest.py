# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the host unit tests: ``sim://`` URLs in the session's simulator home.

The home is the suite-wide ``sim_home_dir`` (``tests/conftest.py``): RSA key
generation is slow, so the PKI and card keys are made once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sim_url(sim_home_dir: Path) -> Callable[[str], str]:
    """Build a ``sim://PROFILE`` URL in the session home that never saves card state."""

    def build(profile: str = "default") -> str:
        return f"sim://{profile}?home={sim_home_dir}&persist=0"

    return build
