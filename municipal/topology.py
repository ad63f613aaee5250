# SPDX-License-Identifier: Apache-2.0
"""The start-up topology check: the deployed configuration must match the site (issue 14).

Why (the Takamatsu incident, 2023): a build made for one server was
deployed on a site with several, and two servers each believed they owned
the issue state. Two rules, both checked before the service answers:

1. declared: ``replicas = N`` in the configuration says how many servers
   share this municipality's ledger. SQLite is one server's file, so
   ``replicas > 1`` on ``sqlite:///`` is refused (``TopologyError``);
   shared storage (``postgresql://``) is required.
2. live: each server takes one of ``N`` replica slots on the storage for as
   long as it runs, and refuses to start when none is free (a replica found
   another live one where it believed it was alone, or more servers run
   than declared). On SQLite the slot is an exclusive ``flock`` on
   ``<ledger>.replica-lock`` (the kernel drops it when the process dies, so
   a crashed server never blocks its successor); on PostgreSQL it is a
   session advisory lock per slot (``pg_try_advisory_lock``), dropped with
   the session.

``ReplicaLease`` holds the slot; the server takes it in ``start`` and gives
it back in ``stop``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from municipal.errors import MunicipalConfigError

__all__ = ["MAX_REPLICAS", "ReplicaLease", "TopologyError", "check_declared_topology"]

#: Upper bound on ``replicas`` (a site with more is a configuration error).
MAX_REPLICAS: Final = 64


class TopologyError(MunicipalConfigError):
    """The configuration does not match the deployment (replicas vs storage, live replicas)."""


def _is_sqlite(database: str) -> bool:
    return database.startswith("sqlite:")


def check_declared_topology(replicas: int, database: str) -> None:
    """Refuse a declared topology the storage cannot serve.

    Raises:
        TopologyError: ``replicas`` outside 1..MAX_REPLICAS, or > 1 on SQLite.
    """
    if not 1 <= replicas <= MAX_REPLICAS:
        raise TopologyError(f"replicas must be 1-{MAX_REPLICAS}, not {replicas}")
    if replicas > 1 and _is_sqlite(database):
        raise TopologyError(
            f"replicas = {replicas} but the ledger is SQLite, one server's file: a multi-server"
            " site needs shared storage (postgresql://)"
        )


def _slot_key(slot: int) -> int:
    """A stable signed 64-bit advisory-lock key for ``slot`` of this service's ledger."""
    digest = hashlib.sha256(f"myna-edge municipal replica {slot}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ReplicaLease:
    """One of ``replicas`` slots on the ledger's storage, held while the server runs.

    Args:
        database: the ledger URL (``sqlite:///PATH`` or ``postgresql://...``).
        replicas: the declared number of servers on it.
    """

    def __init__(self, database: str, replicas: int = 1) -> None:
        check_declared_topology(replicas, database)
        self.database = database
        self.replicas = replicas
        self.slot: int | None = None
        self._fd: int | None = None
        self._pg: Any = None

    def __repr__(self) -> str:
        # The URL may carry a password: only the scheme is shown.
        scheme = self.database.partition(":")[0]
        return f"ReplicaLease({scheme}:…, replicas={self.replicas}, slot={self.slot})"

    def acquire(self) -> Self:
        """Take a free slot.

        Raises:
            TopologyError: every slot is held by a live replica.
            MunicipalConfigError: the storage cannot be reached to take one.
        """
        if _is_sqlite(self.database):
            self._acquire_sqlite()
        else:
            self._acquire_postgres()
        return self

    def _acquire_sqlite(self) -> None:
        path = Path(self.database.removeprefix("sqlite:///").removeprefix("sqlite://"))
        if str(path) in ("", ":memory:"):
            self.slot = 0  # a private in-memory ledger: nothing to share
            return
        lock = path.with_name(path.name + ".replica-lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise MunicipalConfigError(f"cannot open the replica lock {lock}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TopologyError(
                f"another live replica holds the SQLite ledger {path.name}: this configuration"
                " declares a single server (replicas = 1) on storage only one server may use"
            ) from None
        self._fd, self.slot = fd, 0

    def _acquire_postgres(self) -> None:
        import psycopg  # the PostgreSQL driver, loaded only for a PostgreSQL ledger

        try:
            connection = psycopg.connect(self.database, autocommit=True)
        except psycopg.Error as exc:
            raise MunicipalConfigError("cannot reach the ledger's PostgreSQL") from exc
        for slot in range(self.replicas):
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (_slot_key(slot),)
            ).fetchone()
            if row is not None and row[0]:
                self._pg, self.slot = connection, slot
                return
        connection.close()
        raise TopologyError(
            f"all {self.replicas} replica slot(s) on the ledger's PostgreSQL are held by live"
            f" servers: more replicas run than the configuration declares (replicas ="
            f" {self.replicas})"
        )

    def release(self) -> None:
        """Give the slot back; harmless twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        pg, self._pg = self._pg, None
        if pg is not None:
            with contextlib.suppress(Exception):
                pg.close()  # the session's advisory locks go with it
        self.slot = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
