# SPDX-License-Identifier: Apache-2.0
"""Where the verifier keeps its state, behind one small interface.

``open_storage(url)`` picks the backend from the URL, as pyserial picks a
port handler: ``sqlite:///PATH`` (the default, one machine, zero set-up) or
``postgresql://...`` (several stateless replicas). The PostgreSQL driver is
imported only when such a URL is opened.
"""

from __future__ import annotations

from verifier.errors import ConfigError
from verifier.storage.base import (
    AuditEntry,
    IdempotencyRecord,
    Reservation,
    Session,
    Storage,
    Transaction,
    Transfer,
)

__all__ = [
    "AuditEntry",
    "IdempotencyRecord",
    "Reservation",
    "Session",
    "Storage",
    "Transaction",
    "Transfer",
    "open_storage",
]


def open_storage(url: str) -> Storage:
    """Open (and migrate) the database at ``url``.

    Raises:
        ConfigError: the URL scheme is not sqlite:/// or postgresql://.
        StorageError: the database cannot be opened or migrated.
    """
    storage: Storage
    if url.startswith("sqlite:///"):
        from verifier.storage.sqlite import SqliteStorage

        storage = SqliteStorage(url.removeprefix("sqlite:///"))
    elif url.startswith(("postgresql://", "postgres://")):
        from verifier.storage.postgres import PostgresStorage

        storage = PostgresStorage(url)
    else:
        raise ConfigError("database URL must start with sqlite:/// or postgresql://")
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    return storage
