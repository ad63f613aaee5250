# SPDX-License-Identifier: Apache-2.0
"""The faults scenario: the fault matrix over every flow.

* ``scenario``: ``run_scenario`` (listed in ``myna_edge.chaos.SCENARIOS``), the
  one place that lists the fault kinds and runs each over every flow;
* one module per fault kind: ``card`` (card pulls before and after every card
  command), ``serial`` (corrupted and dropped bytes on the controller and
  printer links), ``net`` (a slow, silent, refusing or absent verifier,
  through ``relay``) and ``disk`` (the journal's disk full at every prompt);
* ``world`` (the verifier, agents and devices the runs share), ``drive`` (one
  flow driven through the terminal API, with a pullable card) and ``check``
  (the promises every run must keep, checked after it).

Nothing is imported here, so a test can take one fault kind or the world alone.
"""

__all__: list[str] = []
