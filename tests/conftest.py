# SPDX-License-Identifier: Apache-2.0
"""Suite-wide fixtures: a private simulator home and the leak check.

Every test session gets its own simulator folder (keys, certificates, card
state) so runs never share card state by accident; keys are generated once
per session. The autouse leak check fails any test that leaves a transport
or a virtual card open (python-can's virtual-channel check, STYLE §8).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.transport import open_transports
from hw_sim.card import open_cards
from hw_sim.home import ENV_VAR


@pytest.fixture(scope="session", autouse=True)
def session_sim_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the simulator at a folder private to this test session."""
    home = tmp_path_factory.mktemp("sim-home")
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(home)
    yield home
    if previous is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = previous


@pytest.fixture(autouse=True)
def _no_leaked_handles() -> Iterator[None]:
    before_transports = set(map(id, open_transports()))
    before_cards = set(map(id, open_cards()))
    yield
    leaked = [t for t in open_transports() if id(t) not in before_transports]
    leaked_cards = [c for c in open_cards() if id(c) not in before_cards]
    for handle in leaked:
        handle.close()
    for card in leaked_cards:
        card.close()
    assert not leaked, f"test left transports open: {leaked}"
    assert not leaked_cards, f"test left virtual cards open: {leaked_cards}"
