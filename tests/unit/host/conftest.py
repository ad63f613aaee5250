# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the host unit tests: one simulator home shared by the session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sim_home_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulator home for ``sim://…?home=`` URLs, shared by the whole session.

    RSA key generation is slow, so the PKI and card keys are made once here
    and reused by every test that opens a virtual card.
    """
    return tmp_path_factory.mktemp("host-sim-home")


@pytest.fixture(scope="session")
def sim_url(sim_home_dir: Path) -> Callable[[str], str]:
    """Build a ``sim://PROFILE`` URL in the session home that never saves card state."""

    def build(profile: str = "default") -> str:
        return f"sim://{profile}?home={sim_home_dir}&persist=0"

    return build
