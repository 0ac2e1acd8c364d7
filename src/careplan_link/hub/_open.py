"""`open_store(url)`: a store from the URL an operator writes."""

from __future__ import annotations

import urllib.parse

from ..errors import HubAdminError
from ._memory import MemoryStore
from ._sqlite import SqliteStore
from ._store import HubStore

__all__ = ["open_store"]


def open_store(url: str, *, migrate: bool = True) -> HubStore:
    """`memory:` (gone when the process ends), `sqlite:///relative/path.sqlite` or
    `sqlite:////absolute/path.sqlite` (the SQLAlchemy convention: three slashes, then the
    path), or `postgresql://user:password@host:port/database` (libpq's URL; `?pool_size=N`
    sets the connections this process keeps, 10 by default; the `[hub]` extra's psycopg).

    `migrate=False`: a PostgreSQL database must already be at this hub's schema version
    (`careplan-link hub migrate`); SQLite files are always migrated on opening."""
    if url in ("memory:", "memory://"):
        return MemoryStore()
    scheme, _, rest = url.partition(":")
    if scheme == "sqlite":
        if not rest.startswith("///") or len(rest) == 3:
            raise HubAdminError(
                f"SQLite の URL は sqlite:///パス です。 / A SQLite URL is sqlite:///path, "
                f"not {url!r}."
            )
        path = urllib.parse.unquote(rest[3:])
        return SqliteStore(":memory:" if path == ":memory:" else path)
    if scheme in ("postgresql", "postgres"):
        from ._postgres import PostgresStore

        conninfo, pool_size = _pool_size(url)
        return PostgresStore(conninfo, pool_size=pool_size, migrate=migrate)
    raise HubAdminError(
        f"ストアの URL {scheme}:… を開けません。 / Cannot open the store {scheme}:…: use "
        "memory:, sqlite:///path or postgresql://…"
    )


def _pool_size(url: str) -> tuple[str, int]:
    """The URL without `pool_size` (libpq would refuse it), and the pool size."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    sizes = [value for name, value in query if name == "pool_size"]
    rest = [(name, value) for name, value in query if name != "pool_size"]
    size = 10
    if sizes:
        try:
            size = int(sizes[-1])
        except ValueError:
            size = 0
        if size < 1:
            raise HubAdminError(
                "pool_size は 1 以上の整数です。 / pool_size is a whole number of at least 1."
            )
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest))), size
