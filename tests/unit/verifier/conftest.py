# SPDX-License-Identifier: Apache-2.0
"""Fixtures the verifier's storage tests share: one PostgreSQL cluster, a storage per backend.

Why here: the same SQL (``verifier.storage.base``) must hold on SQLite and on
PostgreSQL, so several modules run each test on both; each used to declare
these two fixtures itself. One cluster serves the whole folder (each test
gets a database of its own); a module that restarts its server declares its
own ``cluster``, which wins over this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_support import PostgresCluster, postgres_cluster
from verifier.storage import Storage, open_storage


@pytest.fixture(scope="session")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A migrated, empty storage on SQLite, then on PostgreSQL (a new database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.sqlite'}"
    else:
        url = request.getfixturevalue("cluster").new_database()
    with open_storage(url) as opened:
        yield opened
