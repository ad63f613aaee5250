# SPDX-License-Identifier: Apache-2.0
"""The verifier's declared-topology check: ``replicas > 1`` on SQLite refuses to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.config import load_config
from verifier.errors import ConfigError
from verifier.topology import TopologyConfigError


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "verifier.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_multi_server_site_on_sqlite_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'database = "sqlite:///verifier.db"\nreplicas = 3\n')
    with pytest.raises(TopologyConfigError, match="replicas = 3 but the database is SQLite"):
        load_config(path)


def test_the_default_sqlite_with_replicas_from_a_flag_is_refused_too() -> None:
    with pytest.raises(TopologyConfigError):
        load_config(None, replicas=2)


def test_many_replicas_on_postgres_and_one_on_sqlite_load(tmp_path: Path) -> None:
    url = "postgresql://verifier@db.example/verifier"
    path = _write(tmp_path, f'database = "{url}"\nreplicas = 4\n')
    assert load_config(path).replicas == 4
    assert load_config(None).replicas == 1


def test_out_of_range_replicas_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="replicas"):
        load_config(_write(tmp_path, "replicas = 0\n"))
    assert issubclass(TopologyConfigError, ConfigError)
