# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster for tests (``myna_edge.chaos.pgcluster``), with the CI rule.

Why a wrapper: the cluster itself lives in ``myna_edge.chaos.pgcluster`` so
that ``myna-edge chaos`` can start (and restart) one too; here only the
test rule is added: when the binaries are missing the caller fails under
CI=true and skips otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from myna_edge.chaos import pgcluster
from myna_edge.chaos.pgcluster import PG_BIN, PostgresCluster
from tests.prerequisites import missing_prerequisite

__all__ = ["PG_BIN", "PostgresCluster", "postgres_cluster"]


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster; fail under CI=true (skip otherwise) when PostgreSQL is missing."""
    if not (PG_BIN / "initdb").exists():
        missing_prerequisite(f"PostgreSQL binaries not found in {PG_BIN}")
    with pgcluster.postgres_cluster() as cluster:
        yield cluster
