# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the ``hw_sim`` unit tests: one simulator folder and a powered card.

A module whose tests start inside an application overrides ``card`` with a
fixture of the same name that takes this one and sends its SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hw_sim.card import VirtualCard, open_card


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulator folder shared by the test_card_* modules: keys are made once."""
    return tmp_path_factory.getbasetemp() / "card-sim-home"


@pytest.fixture
def card(home: Path) -> Iterator[VirtualCard]:
    """The ``default`` card, powered on, that saves no state."""
    with open_card("default", home=home, persist=False) as card:
        card.power_on()
        yield card
