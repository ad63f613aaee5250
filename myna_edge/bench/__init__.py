# SPDX-License-Identifier: Apache-2.0
"""``myna-edge bench``: the suite registry, in one place.

Why a registry of ``"module:function"`` strings, and nothing else here: the
command (``bench.cli``) and the report (``bench.report``) read ``SUITES``
through this module (tests patch it here), while each suite is imported only
when it runs, so a suite needing an optional library (matplotlib,
PostgreSQL, OpenTelemetry) costs nothing until named. Importing a suite
module from here would close loops (the report imports the latency suite,
which imports the card workloads) and load them all at start-up.

The modules:

* ``card``: the card-layer workloads (per-APDU overhead, APDUs and bytes per read);
* ``latency``, ``link``, ``flows`` (+ ``flow_split``, ``counter``), ``verifier``
  (+ ``verifier_load``, ``metrics``, ``tracing``), ``capacity``, ``issuance``
  (+ ``issuance_rows``; issue 14): the other suites;
* ``cli``: the command; ``report``, ``rows``, ``plots``, ``machine``: the report folder;
* ``hil``: the suites on real devices, their safety plan and ``bench calibrate``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_REPORT_DIR", "SUITES"]

#: Benchmark suites: name -> ``module:function``; each function takes the
#: number of timing rounds and returns a JSON-able report of figures (ratios
#: against a baseline of the same run, and exact counts).
SUITES: dict[str, str] = {
    "card": "myna_edge.bench.card:card_suite",
    "readers": "hw_sim.readers.bench:readers_suite",
    "latency": "myna_edge.bench.latency:latency_suite",
    "link": "myna_edge.bench.link:link_suite",
    "verifier": "myna_edge.bench.tracing:verifier_suite_with_tracing",
    "capacity": "myna_edge.bench.capacity:capacity_suite",
    "flows": "myna_edge.bench.flows:flows_suite",
    "issuance": "myna_edge.bench.issuance:issuance_suite",
}
#: Where ``myna-edge bench`` (no suite named) writes its report.
DEFAULT_REPORT_DIR = Path("bench-report")
