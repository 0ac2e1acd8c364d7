"""`open_store(url)`: a store from the URL an operator writes."""

from __future__ import annotations

import urllib.parse

from ..errors import HubAdminError
from ._memory import MemoryStore
from ._sqlite import SqliteStore
from ._store import HubStore

__all__ = ["open_store"]


def open_store(url: str) -> HubStore:
    """`memory:` (gone when the process ends), `sqlite:///relative/path.sqlite` or
    `sqlite:////absolute/path.sqlite` (the SQLAlchemy convention: three slashes, then the
    path). `postgresql://…` is reserved for the PostgreSQL store (not in this version)."""
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
        raise HubAdminError(
            "PostgreSQL のストアはまだありません（次の版）。 / The PostgreSQL store is not "
            "available in this version; use sqlite:///path."
        )
    raise HubAdminError(
        f"ストアの URL {url!r} を開けません。 / Cannot open the store {url!r}: use memory: "
        "or sqlite:///path."
    )
