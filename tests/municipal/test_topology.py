# SPDX-License-Identifier: Apache-2.0
"""The start-up topology check (the Takamatsu incident): replicas vs storage, live replicas.

Declared: ``replicas > 1`` on SQLite is refused when the file is loaded.
Live: a second server on a SQLite ledger another live server holds refuses
to start (a real ``flock`` held by a real second process, too), and on
PostgreSQL (a real cluster, ``tests.postgres_support``) more servers than
``replicas`` declares are refused while the declared number start.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from municipal.config import MunicipalConfig, load_config
from municipal.errors import MunicipalConfigError
from municipal.server import MunicipalServer
from municipal.topology import ReplicaLease, TopologyError, check_declared_topology
from myna_edge.demo.issue import DemoMunicipality
from tests.postgres_support import PostgresCluster, postgres_cluster

_TOML = """\
listen = "127.0.0.1:0"
database = "{database}"
registry = "registry.json"
signing_key = "signing.key.pem"
replicas = {replicas}
"""


def _write(tmp_path: Path, *, database: str, replicas: int) -> Path:
    path = tmp_path / "municipal.toml"
    path.write_text(_TOML.format(database=database, replicas=replicas), encoding="utf-8")
    return path


def test_a_multi_server_site_on_sqlite_is_refused_at_load(tmp_path: Path) -> None:
    path = _write(tmp_path, database="sqlite:///ledger.sqlite", replicas=2)
    with pytest.raises(TopologyError, match="replicas = 2 but the ledger is SQLite"):
        load_config(path)


def test_one_server_on_sqlite_and_many_on_postgres_load(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, database="sqlite:///l.sqlite", replicas=1)).replicas == 1
    url = "postgresql://municipal@db.example/ledger"
    assert load_config(_write(tmp_path, database=url, replicas=3)).replicas == 3


@pytest.mark.parametrize("replicas", [0, 65])
def test_replicas_out_of_range_are_refused(tmp_path: Path, replicas: int) -> None:
    with pytest.raises(MunicipalConfigError, match="replicas"):
        load_config(_write(tmp_path, database="postgresql://h/db", replicas=replicas))


def test_the_topology_error_is_a_config_error() -> None:
    with pytest.raises(MunicipalConfigError):
        check_declared_topology(2, "sqlite:///x.sqlite")
    assert issubclass(TopologyError, ValueError)


def test_a_second_server_on_a_held_sqlite_ledger_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with ReplicaLease(url) as first:
        assert first.slot == 0
        with pytest.raises(TopologyError, match="another live replica holds the SQLite ledger"):
            ReplicaLease(url).acquire()
    with ReplicaLease(url) as again:  # released: the successor starts
        assert again.slot == 0


def test_a_live_replica_in_another_process_is_seen_and_its_death_frees_the_ledger(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys
                from municipal.topology import ReplicaLease
                lease = ReplicaLease({url!r}).acquire()
                print("held", flush=True)
                sys.stdin.read()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TopologyError):
            ReplicaLease(url).acquire()
    finally:
        holder.kill()  # dies without releasing: the kernel drops the lock
        holder.wait(timeout=10)
        if holder.stdin is not None:
            holder.stdin.close()
        if holder.stdout is not None:
            holder.stdout.close()
    with ReplicaLease(url):
        pass


def test_the_server_refuses_to_start_beside_a_live_replica(tmp_path: Path) -> None:
    async def scenario() -> None:
        running = await DemoMunicipality.start(tmp_path / "municipal")
        try:
            second = MunicipalServer(replace(running.config, listen="127.0.0.1:0"))
            with pytest.raises(TopologyError):
                await second.start()
            second.office.ledger.close()
        finally:
            await running.stop()
        restarted = MunicipalServer(replace(running.config, listen="127.0.0.1:0"))
        assert await restarted.start() > 0  # the first one's stop released the ledger
        await restarted.stop(0)

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


def test_postgres_takes_the_declared_replicas_and_refuses_one_more(
    cluster: PostgresCluster,
) -> None:
    url = cluster.new_database()
    with ReplicaLease(url, replicas=2) as first, ReplicaLease(url, replicas=2) as second:
        assert {first.slot, second.slot} == {0, 1}
        with pytest.raises(TopologyError, match="more replicas run than the configuration"):
            ReplicaLease(url, replicas=2).acquire()
    with ReplicaLease(url, replicas=1) as single:  # the slots were given back with the sessions
        assert single.slot == 0
        with pytest.raises(TopologyError):
            ReplicaLease(url, replicas=1).acquire()


def test_a_single_server_config_on_shared_postgres_finds_the_other(
    cluster: PostgresCluster,
) -> None:
    url = cluster.new_database()
    config = MunicipalConfig(registry=Path("r.json"), signing_key=Path("k.pem"), database=url)
    with (
        ReplicaLease(config.database, config.replicas),
        pytest.raises(TopologyError, match="held by live servers"),
    ):
        ReplicaLease(config.database, config.replicas).acquire()
