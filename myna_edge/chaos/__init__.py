# SPDX-License-Identifier: Apache-2.0
"""``myna-edge chaos``: the whole-stack reliability campaign.

Each scenario attacks the running stack (agent, verifier, simulated devices,
databases) and then checks the system's invariants: every transfer committed
exactly once or reversed, none both, none lost, none stuck; no PIN try spent
that the user did not spend; no secret anywhere it may not be. The same
scenario functions run in CI with bounded sizes (``tests/chaos``) and from
the command line with a seed and a count for longer local runs, so a failure
found in a long run replays exactly from its seed.

A scenario is a function ``run_scenario(seed: int, count: int, workdir: Path)
-> dict[str, object]`` returning its JSON-able figures (runs, kills, faults
injected, executions, hits) and raising :class:`ChaosInvariantError` when an
invariant does not hold.
"""

from __future__ import annotations

__all__ = ["SCENARIOS", "ChaosInvariantError"]

#: Scenario name -> ``module:function``; imported only when run.
SCENARIOS: dict[str, str] = {
    "crash": "myna_edge.chaos.crash:run_scenario",
    "replicas": "myna_edge.chaos.replicas.scenario:run_scenario",
    "rolling-restart": "myna_edge.chaos.replicas.rolling:run_scenario",
    "faults": "myna_edge.chaos.faults.scenario:run_scenario",
    "fuzz": "myna_edge.chaos.fuzz.campaign:run_scenario",
    "secrets": "myna_edge.chaos.secrets.scenario:run_scenario",
    "issuance": "myna_edge.chaos.issuance.scenario:run_scenario",
}


class ChaosInvariantError(AssertionError):
    """A system invariant did not hold after the attack; the text says which and for what."""
