# SPDX-License-Identifier: Apache-2.0
"""The replicas scenario: two verifiers on one PostgreSQL, one killed, the database restarted.

* ``scenario``: ``run_scenario`` (listed in ``myna_edge.chaos.SCENARIOS``),
  the seeded faults and the outcome checks;
* ``rolling``: the "rolling-restart" scenario: each replica SIGTERMed and
  started again in turn under transfers, none failed or doubled;
* ``stack``: the verifier replicas and the terminal agents as processes,
  stopped by PID;
* ``agent``: one terminal's agent process (``python -m
  myna_edge.chaos.replicas.agent``) with a stand-in for the secure PIN pad.

The PostgreSQL cluster itself is ``myna_edge.chaos.pgcluster``: the verifier
benchmarks use it too. Nothing is imported here, so the agent process starts
without the scenario's imports.
"""

__all__: list[str] = []
