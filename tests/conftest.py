# SPDX-License-Identifier: Apache-2.0
"""Suite-wide fixtures: a private simulator home and the leak check.

Every test session gets its own simulator folder (keys, certificates, card
state) so runs never share card state by accident; keys are generated once
per session. The autouse leak check fails any test that leaves a transport,
a virtual card or a simulator pty open (python-can's virtual-channel check,
STYLE §8).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.transport import open_transports
from hw_sim.card import open_cards
from hw_sim.home import ENV_VAR
from hw_sim.pty import open_ptys


@pytest.fixture(scope="session", autouse=True)
def sim_home_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator folder of this test session; ``MYNA_EDGE_SIM_HOME`` points at it.

    The one simulator-home fixture (issue 13.8 unified three names): request
    it by this name wherever a test needs the folder itself.
    """
    home = tmp_path_factory.mktemp("sim-home")
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(home)
    yield home
    if previous is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = previous


#: Ptys opened by module- or session-scoped fixtures (stacks a test may start
#: lazily with ``request.getfixturevalue``): those outlive the test by design.
_SHARED_PTYS: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> Iterator[object]:
    """Note the ptys a broader-scoped fixture opens, so the leak check leaves them to it."""
    if fixturedef.scope == "function":
        return (yield)
    before = set(open_ptys())
    try:
        return (yield)
    finally:
        _SHARED_PTYS.update(set(open_ptys()) - before)


@pytest.fixture(autouse=True)
def _no_leaked_handles() -> Iterator[None]:
    before_transports = set(map(id, open_transports()))
    before_cards = set(map(id, open_cards()))
    before_ptys = set(open_ptys())
    _SHARED_PTYS.intersection_update(before_ptys)  # a closed one's path may be reused
    yield
    leaked = [t for t in open_transports() if id(t) not in before_transports]
    leaked_cards = [c for c in open_cards() if id(c) not in before_cards]
    for handle in leaked:
        handle.close()
    for card in leaked_cards:
        card.close()
    assert not leaked, f"test left transports open: {leaked}"
    assert not leaked_cards, f"test left virtual cards open: {leaked_cards}"
    # Not closed here: an emulator thread may still be reading them; its owner must stop it.
    leaked_ptys = sorted(set(open_ptys()) - before_ptys - _SHARED_PTYS)
    assert not leaked_ptys, f"test left simulator ptys open: {leaked_ptys}"
