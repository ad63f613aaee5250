# SPDX-License-Identifier: Apache-2.0
"""The verifier's start-up topology check: declared replicas against the storage (issue 14).

Why (the Takamatsu incident, 2023: a single-server build on a multi-server
site): ``replicas = N`` in the configuration says how many verifiers (and
centre roles) share ``database``. SQLite is one server's file, so a
declaration of more than one replica on ``sqlite:///`` is refused when the
configuration is loaded, before anything listens. The municipality also
takes a live replica slot on its ledger (``municipal.topology``); the
verifier's replicas share PostgreSQL by design and are not counted live.
"""

from __future__ import annotations

from typing import Final

from verifier.errors import ConfigError

__all__ = ["MAX_REPLICAS", "TopologyConfigError", "check_declared_topology"]

#: Upper bound on ``replicas``.
MAX_REPLICAS: Final = 64


class TopologyConfigError(ConfigError):
    """The configuration does not match the deployment (replicas vs storage)."""


def check_declared_topology(replicas: int, database: str) -> None:
    """Refuse ``replicas`` > 1 on SQLite, or a count outside 1..MAX_REPLICAS.

    Raises:
        TopologyConfigError: the storage cannot serve the declared replicas.
    """
    if not 1 <= replicas <= MAX_REPLICAS:
        raise TopologyConfigError(f"replicas must be 1-{MAX_REPLICAS}, not {replicas}")
    if replicas > 1 and database.startswith("sqlite:"):
        raise TopologyConfigError(
            f"replicas = {replicas} but the database is SQLite, one server's file: a"
            " multi-server site needs shared storage (postgresql://)"
        )
