"""The stores the hub's and the client's tests run on: memory, SQLite and PostgreSQL.

PostgreSQL runs only when `CAREPLAN_LINK_TEST_POSTGRES` names a server
(`postgresql://user@host:port/database`; `.ci/postgres.sh` starts one and sets it); otherwise
those parameters are skipped, saying so. The database is emptied (TRUNCATE) before each test:
the tests of one run share it, one at a time. Under pytest-xdist each worker gets a database of
its own (`<database>_gw0`, …), made on first use, so two workers never empty each other's.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from careplan_link.hub import HubStore, MemoryStore, SqliteStore

POSTGRES_ENV = "CAREPLAN_LINK_TEST_POSTGRES"
STORE_KINDS = ("memory", "sqlite", "postgresql")

NO_POSTGRES = (
    f"PostgreSQL tests need a server: set {POSTGRES_ENV}=postgresql://user@host:port/db "
    "(source .ci/postgres.sh; postgres_start)"
)


def postgres_url() -> str | None:
    base = os.environ.get(POSTGRES_ENV) or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if base is None or not worker:
        return base
    return _worker_database(base, worker)


@functools.cache
def _worker_database(base: str, worker: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/')}_{worker}"
    with psycopg.connect(base, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parts._replace(path=f"/{name}").geturl()


def store_params() -> list[object]:
    """`pytest.param`s of the store kinds; PostgreSQL marked skipped without a server."""
    return [
        pytest.param(
            kind,
            id=kind,
            marks=pytest.mark.skipif(
                kind == "postgresql" and postgres_url() is None, reason=NO_POSTGRES
            ),
        )
        for kind in STORE_KINDS
    ]


def open_test_store(kind: str, folder: Path) -> HubStore:
    """A fresh, empty store of `kind` (SQLite in `folder`)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(folder / "hub.sqlite")
    url = postgres_url()
    if url is None:
        pytest.skip(NO_POSTGRES)
    from careplan_link.hub._postgres import PostgresStore

    store = PostgresStore(url, pool_size=4)
    store.clear()
    return store
