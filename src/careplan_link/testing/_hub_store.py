"""Where FakeHub keeps its state: one interface, two stores (in memory, and SQLite).

The hub's rules (`_hub_model`) only talk to `HubStore`, so the same hub runs on a dict for fast
tests and on SQLite (`:memory:` or a file) when it is served over HTTP or must survive a
restart. The model serialises every call (one lock), so stores need no locking of their own.
"""

from __future__ import annotations

import bisect
import datetime
import json
import sqlite3
from collections.abc import Sequence
from typing import Protocol

import attrs

from ..client._protocol import Message, format_time, parse_time

__all__ = [
    "HubStore",
    "Listing",
    "MemoryStore",
    "OfficeRecord",
    "SqliteStore",
    "TokenRecord",
]


@attrs.frozen
class OfficeRecord:
    office_no: str
    user_id: str
    password_sha256: str = attrs.field(repr=False)
    service_types: tuple[str, ...]
    """Empty: any service type is accepted."""
    certificates: tuple[str, ...]
    """PEM, newest first."""


@attrs.frozen
class TokenRecord:
    value: str = attrs.field(repr=False)
    kind: str
    """`access` or `refresh`."""
    office_no: str
    expires_at: datetime.datetime


@attrs.frozen
class Listing:
    """What to list: one office's inbox (receiver) or outbox (sender), after a position."""

    receiver: str | None = None
    sender: str | None = None
    after: tuple[datetime.datetime, str] | None = None
    limit: int = 100
    statuses: frozenset[str] | None = None
    since: datetime.datetime | None = None
    idempotency_key: str | None = None


class HubStore(Protocol):
    """The state of a hub. Messages are listed in the order (accepted_at, id)."""

    def save_office(self, office: OfficeRecord) -> None: ...
    def office(self, office_no: str) -> OfficeRecord | None: ...
    def save_token(self, token: TokenRecord) -> None: ...
    def token(self, value: str) -> TokenRecord | None: ...
    def take_token(self, value: str) -> TokenRecord | None:
        """Remove and return a token (a refresh token is used once)."""
        ...

    def next_number(self) -> int: ...
    def add_message(self, message: Message, content: bytes, key: str, digest: str) -> None: ...
    def save_message(self, message: Message) -> None:
        """Store a changed status and history."""
        ...

    def message(self, message_id: str) -> Message | None: ...
    def content(self, message_id: str) -> bytes | None: ...
    def drop_content(self, message_id: str) -> None: ...
    def sent_with_key(self, sender: str, key: str) -> tuple[str, str] | None:
        """(request digest, message id) of the send that used this idempotency key."""
        ...

    def messages(self, listing: Listing) -> list[Message]: ...
    def accepted_before(self, cutoff: datetime.datetime, after: str | None) -> list[Message]:
        """Messages accepted before `cutoff`, after message id `after`, oldest first."""
        ...

    def all_messages(self) -> list[Message]: ...
    def close(self) -> None: ...


def _matches(message: Message, listing: Listing) -> bool:
    if listing.statuses is not None and message.status.value not in listing.statuses:
        return False
    return listing.since is None or message.accepted_at >= listing.since


class MemoryStore:
    """A hub's state in dictionaries; listings use sorted per-office indexes."""

    def __init__(self) -> None:
        self._offices: dict[str, OfficeRecord] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._messages: dict[str, Message] = {}
        self._contents: dict[str, bytes] = {}
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        self._key_of: dict[str, str] = {}
        self._order: list[tuple[datetime.datetime, str]] = []
        self._inbox: dict[str, list[tuple[datetime.datetime, str]]] = {}
        self._outbox: dict[str, list[tuple[datetime.datetime, str]]] = {}
        self._number = 0

    def save_office(self, office: OfficeRecord) -> None:
        self._offices[office.office_no] = office

    def office(self, office_no: str) -> OfficeRecord | None:
        return self._offices.get(office_no)

    def save_token(self, token: TokenRecord) -> None:
        self._tokens[token.value] = token

    def token(self, value: str) -> TokenRecord | None:
        return self._tokens.get(value)

    def take_token(self, value: str) -> TokenRecord | None:
        return self._tokens.pop(value, None)

    def next_number(self) -> int:
        self._number += 1
        return self._number

    def add_message(self, message: Message, content: bytes, key: str, digest: str) -> None:
        position = (message.accepted_at, message.id)
        self._messages[message.id] = message
        self._contents[message.id] = content
        self._keys[(message.sender, key)] = (digest, message.id)
        self._key_of[message.id] = key
        # Messages arrive in clock order with growing ids: appending keeps every index sorted.
        self._order.append(position)
        self._inbox.setdefault(message.receiver, []).append(position)
        self._outbox.setdefault(message.sender, []).append(position)

    def save_message(self, message: Message) -> None:
        self._messages[message.id] = message

    def message(self, message_id: str) -> Message | None:
        return self._messages.get(message_id)

    def content(self, message_id: str) -> bytes | None:
        return self._contents.get(message_id)

    def drop_content(self, message_id: str) -> None:
        self._contents.pop(message_id, None)

    def sent_with_key(self, sender: str, key: str) -> tuple[str, str] | None:
        return self._keys.get((sender, key))

    def messages(self, listing: Listing) -> list[Message]:
        if listing.idempotency_key is not None:
            found = self._keys.get((listing.sender or "", listing.idempotency_key))
            return [self._messages[found[1]]] if found else []
        if listing.receiver is not None:
            index = self._inbox.get(listing.receiver, [])
        else:
            index = self._outbox.get(listing.sender or "", [])
        start = 0 if listing.after is None else bisect.bisect_right(index, listing.after)
        found_messages = []
        for _, message_id in index[start:]:
            message = self._messages[message_id]
            if listing.sender is not None and message.sender != listing.sender:
                continue
            if listing.receiver is not None and message.receiver != listing.receiver:
                continue
            if _matches(message, listing):
                found_messages.append(message)
                if len(found_messages) > listing.limit:
                    break
        return found_messages

    def accepted_before(self, cutoff: datetime.datetime, after: str | None) -> list[Message]:
        start = 0
        if after is not None and after in self._messages:
            start = bisect.bisect_right(self._order, (self._messages[after].accepted_at, after))
        end = bisect.bisect_left(self._order, (cutoff, ""))
        return [self._messages[message_id] for _, message_id in self._order[start:end]]

    def all_messages(self) -> list[Message]:
        return [self._messages[message_id] for _, message_id in self._order]

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS offices (office_no TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    value TEXT PRIMARY KEY, kind TEXT NOT NULL, office_no TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    document TEXT NOT NULL,
    content BLOB
);
CREATE INDEX IF NOT EXISTS inbox ON messages (receiver, accepted_at, id);
CREATE INDEX IF NOT EXISTS outbox ON messages (sender, accepted_at, id);
CREATE INDEX IF NOT EXISTS ordered ON messages (accepted_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS sends ON messages (sender, idempotency_key);
"""


class SqliteStore:
    """A hub's state in SQLite: `SqliteStore()` in memory, `SqliteStore("hub.db")` in a file
    (reopened with its state). Times are stored as fixed-width ISO text, so they sort."""

    def __init__(self, path: str = ":memory:") -> None:
        # The hub serialises calls, possibly from several threads: one connection is shared.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def save_office(self, office: OfficeRecord) -> None:
        document = json.dumps(attrs.asdict(office))
        self._db.execute(
            "INSERT OR REPLACE INTO offices VALUES (?, ?)", (office.office_no, document)
        )

    def office(self, office_no: str) -> OfficeRecord | None:
        row = self._db.execute(
            "SELECT document FROM offices WHERE office_no = ?", (office_no,)
        ).fetchone()
        if row is None:
            return None
        fields = json.loads(row[0])
        fields["service_types"] = tuple(fields["service_types"])
        fields["certificates"] = tuple(fields["certificates"])
        return OfficeRecord(**fields)

    def save_token(self, token: TokenRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
            (token.value, token.kind, token.office_no, format_time(token.expires_at)),
        )

    def token(self, value: str) -> TokenRecord | None:
        row = self._db.execute(
            "SELECT value, kind, office_no, expires_at FROM tokens WHERE value = ?", (value,)
        ).fetchone()
        return None if row is None else TokenRecord(row[0], row[1], row[2], parse_time(row[3]))

    def take_token(self, value: str) -> TokenRecord | None:
        token = self.token(value)
        if token is not None:
            self._db.execute("DELETE FROM tokens WHERE value = ?", (value,))
        return token

    def next_number(self) -> int:
        self._db.execute(
            "INSERT INTO counters VALUES ('message', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1"
        )
        row = self._db.execute("SELECT value FROM counters WHERE name = 'message'").fetchone()
        return int(row[0])

    def add_message(self, message: Message, content: bytes, key: str, digest: str) -> None:
        self._db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.id,
                message.sender,
                message.receiver,
                format_time(message.accepted_at),
                message.status.value,
                key,
                digest,
                json.dumps(message.to_json()),
                content,
            ),
        )

    def save_message(self, message: Message) -> None:
        self._db.execute(
            "UPDATE messages SET status = ?, document = ? WHERE id = ?",
            (message.status.value, json.dumps(message.to_json()), message.id),
        )

    def message(self, message_id: str) -> Message | None:
        row = self._db.execute(
            "SELECT document FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return None if row is None else Message.from_json(json.loads(row[0]))

    def content(self, message_id: str) -> bytes | None:
        row = self._db.execute(
            "SELECT content FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def drop_content(self, message_id: str) -> None:
        self._db.execute("UPDATE messages SET content = NULL WHERE id = ?", (message_id,))

    def sent_with_key(self, sender: str, key: str) -> tuple[str, str] | None:
        row = self._db.execute(
            "SELECT request_digest, id FROM messages WHERE sender = ? AND idempotency_key = ?",
            (sender, key),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def messages(self, listing: Listing) -> list[Message]:
        clauses, values = [], []
        for column, value in (
            ("receiver", listing.receiver),
            ("sender", listing.sender),
            ("idempotency_key", listing.idempotency_key),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        if listing.after is not None:
            clauses.append("(accepted_at, id) > (?, ?)")
            values += [format_time(listing.after[0]), listing.after[1]]
        if listing.statuses is not None:
            clauses.append(f"status IN ({', '.join('?' * len(listing.statuses))})")
            values += sorted(listing.statuses)
        if listing.since is not None:
            clauses.append("accepted_at >= ?")
            values.append(format_time(listing.since))
        where = " AND ".join(clauses) or "1"
        rows = self._db.execute(
            f"SELECT document FROM messages WHERE {where} ORDER BY accepted_at, id LIMIT ?",
            (*values, listing.limit + 1),
        ).fetchall()
        return [Message.from_json(json.loads(row[0])) for row in rows]

    def accepted_before(self, cutoff: datetime.datetime, after: str | None) -> list[Message]:
        values: Sequence[str] = (format_time(cutoff),)
        condition = "accepted_at < ?"
        if after is not None:
            condition += (
                " AND (accepted_at, id) > (SELECT accepted_at, id FROM messages WHERE id = ?)"
            )
            values = (format_time(cutoff), after)
        rows = self._db.execute(
            f"SELECT document FROM messages WHERE {condition} ORDER BY accepted_at, id",
            values,
        ).fetchall()
        return [Message.from_json(json.loads(row[0])) for row in rows]

    def all_messages(self) -> list[Message]:
        rows = self._db.execute("SELECT document FROM messages ORDER BY accepted_at, id")
        return [Message.from_json(json.loads(row[0])) for row in rows.fetchall()]

    def close(self) -> None:
        self._db.close()
