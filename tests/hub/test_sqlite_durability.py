"""SQLite's durability per transaction: what a client is told commits with synchronous=FULL,
the bookkeeping with NORMAL (docs/hub-operations.md, "Stores and backups")."""

from __future__ import annotations

from pathlib import Path

from careplan_link.hub import SqliteStore

from .helpers import PROVIDER, Rig


def _transactions(statements: list[str]) -> list[tuple[str, list[str]]]:
    """(synchronous level, statements) of each BEGIN … COMMIT in the trace."""
    level, current, found = "NORMAL", None, []
    for statement in statements:
        text = " ".join(statement.split())
        if text.startswith("PRAGMA synchronous"):
            level = text.rsplit(" ", 1)[-1]
        elif text.startswith("BEGIN"):
            current = []
        elif text == "COMMIT" and current is not None:
            found.append((level, current))
            current = None
        elif current is not None:
            current.append(text)
    return found


def test_a_send_is_fsynced_and_the_rate_count_is_not(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite")
    rig = Rig(store, rate_limit=100)
    care, provider = rig.login(), rig.login(PROVIDER)
    statements: list[str] = []
    with store._connection() as db:  # this thread's connection, which the rig's calls use
        db.set_trace_callback(statements.append)
    sent = rig.send(care, b"x", "k")
    assert rig.receipt(provider, sent["id"], "downloaded").status == 200
    with store._connection() as db:
        db.set_trace_callback(None)
        # Between writes the connection keeps the last level (it is switched only on a
        # change), and the store knows which it is.
        level = db.execute("PRAGMA synchronous").fetchone()[0]
        assert level == {"FULL": 2, "NORMAL": 1}[store._synchronous[id(db)] or ""]
    levels = {}
    for level, body in _transactions(statements):
        kind = body[0].split()[0:3]
        levels.setdefault(" ".join(kind), set()).add(level)
    assert levels["INSERT INTO rate_windows"] == {"NORMAL"}
    durable = [body for level, body in _transactions(statements) if level == "FULL"]
    assert any(any(s.startswith("INSERT INTO messages") for s in body) for body in durable)
    assert any(any(s.startswith("UPDATE messages") for s in body) for body in durable)
    store.close()
