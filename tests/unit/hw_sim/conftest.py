# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the ``hw_sim`` unit tests: a powered card in the session's simulator folder.

The folder is the suite-wide ``sim_home_dir`` (``tests/conftest.py``), so
keys are made once per session; tests that save card state copy its PKI
into a folder of their own (``card_helpers.with_shared_pki``).

A module whose tests start inside an application overrides ``card`` with a
fixture of the same name that takes this one and sends its SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, open_card


@pytest.fixture
def card(sim_home_dir: Path) -> Iterator[VirtualCard]:
    """The ``default`` card, powered on, that saves no state."""
    with open_card("default", home=sim_home_dir, persist=False) as card:
        card.power_on()
        yield card
