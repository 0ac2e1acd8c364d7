"""A hub's state in one SQLite file: survives restarts, safe with several threads.

* WAL mode: readers never wait for the writer. Durability is chosen per transaction: the
  state changes a client is told about (a send, a receipt, a withdrawal, an expiry, an office
  change, a used refresh token) commit with `synchronous=FULL` (the WAL is fsync'ed: a power
  cut loses nothing the hub acknowledged); the bookkeeping (rate-window counts, new tokens,
  audit entries of reads, purges of expired rows) commits with `synchronous=NORMAL`, which
  survives a crash of the process but may lose its last commits in a power cut (the audit
  chain then ends earlier, still linear and verifiable: head and entries are in the same
  transactions). Each FULL commit also makes every NORMAL commit before it durable.
* One connection per thread; every state change is one `BEGIN IMMEDIATE` transaction (SQLite
  then serialises writers; `busy_timeout` makes the others wait rather than fail), so the
  store interface's guarantees hold without a lock of the hub's own. Within one process the
  writers also queue on a lock of the store: it only wakes the next writer at once, where
  SQLite's busy handler would sleep (1, 2, 5, 10… ms) — correctness never rests on it. An
  in-memory database (`":memory:"`) is one connection shared under a lock.
* Group commit: the durable changes a client waits for (a send, a status change) are handed
  to `_grouped`; the thread that gets the write lock commits every change queued meanwhile in
  one transaction (each in its own savepoint) and one fsync, and each caller returns only once
  that commit is on disk. The fsync, not the work, is what a send costs on a disk (about 1 ms
  on an idle one, several on a busy one): shared, it no longer caps sends at one per fsync.
* Versioned schema: `PRAGMA user_version` is the number of migrations applied; opening a
  store applies the missing ones in one transaction, and refuses a file made by a newer hub.
* `backup(path)` copies the live database with SQLite's online backup API.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs

from ..errors import HubAdminError
from ..protocol import AuditEntry, Message, MessageStatus, format_time, parse_time
from ._audit import GENESIS, seal
from ._store import AuditDraft, Listing, OfficeRecord, TokenRecord, message_id

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE offices (
        office_no TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        service_types TEXT NOT NULL,
        certificates TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        office_no TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX tokens_by_office ON tokens (office_no);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('message', 0);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        receiver TEXT NOT NULL,
        accepted_at TEXT NOT NULL,
        status TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        request_digest TEXT NOT NULL,
        document TEXT NOT NULL,
        content BLOB,
        UNIQUE (sender, idempotency_key)
    );
    CREATE INDEX inbox ON messages (receiver, accepted_at, id);
    CREATE INDEX outbox ON messages (sender, accepted_at, id);
    CREATE INDEX ordered ON messages (accepted_at, id);
    CREATE INDEX holding ON messages (accepted_at, id) WHERE content IS NOT NULL;
    CREATE TABLE rate_windows (
        office_no TEXT NOT NULL,
        window TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (office_no, window)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        office_no TEXT NOT NULL,
        action TEXT NOT NULL,
        message_id TEXT,
        counterpart TEXT,
        envelope_sha256 TEXT,
        detail TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_by_office ON audit (office_no, seq);
    CREATE INDEX audit_by_counterpart ON audit (counterpart, seq);
    CREATE TABLE audit_head (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 0, '"""
    + GENESIS
    + """');
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this hub writes (`PRAGMA user_version`)."""

_AUDIT_COLUMNS = (
    "seq, at, office_no, action, message_id, counterpart, envelope_sha256, detail, "
    "previous_hash, hash"
)


def _statements(script: str) -> list[str]:
    # executescript() would commit first; a migration must be one transaction.
    return [statement.strip() for statement in script.split(";") if statement.strip()]


@functools.lru_cache(maxsize=256)
def _office(row: tuple[object, ...]) -> OfficeRecord:
    # Keyed by the whole row, so a changed office is a new entry: what is cached is only the
    # decoding (two JSON documents and the record) of a row read from the store every time.
    number, user_id, password_hash, service_types, certificates, disabled = row
    return OfficeRecord(
        office_no=str(number),
        user_id=str(user_id),
        password_hash=str(password_hash),
        service_types=tuple(json.loads(str(service_types))),
        certificates=tuple(json.loads(str(certificates))),
        disabled=bool(disabled),
    )


def _message(document: object) -> Message:
    return Message.from_json(json.loads(str(document)))


def _audit_entry(row: tuple[object, ...]) -> AuditEntry:
    seq, at, office_no, action, message, counterpart, sha256, detail, previous, hash_ = row
    return AuditEntry(
        seq=int(str(seq)),
        at=parse_time(str(at)),
        office_no=str(office_no),
        action=str(action),
        message_id=None if message is None else str(message),
        counterpart=None if counterpart is None else str(counterpart),
        envelope_sha256=None if sha256 is None else str(sha256),
        detail=str(detail),
        previous_hash=str(previous),
        hash=str(hash_),
    )


_T = TypeVar("_T")


@attrs.define
class _Pending(Generic[_T]):
    """A job handed to the group commit, and what became of it."""

    job: Callable[[sqlite3.Connection], _T]
    done: bool = False
    value: _T | None = None
    error: BaseException | None = None

    def outcome(self) -> _T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # set whenever there is no error


class SqliteStore:
    """A hub's state in SQLite: `SqliteStore("hub.sqlite")` (created, or reopened with its
    state and migrated), or `SqliteStore()` in memory."""

    def __init__(self, path: str | Path = ":memory:", *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.RLock()
        # One writer at a time in this process, waiting on a lock that wakes it at once:
        # SQLite's own busy handler (for writers of other processes) sleeps 1, 2, 5, 10… ms.
        self._write_lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._batch: list[_Pending[Any]] = []
        self._opened: list[sqlite3.Connection] = []
        self._synchronous: dict[int, str | None] = {}
        """Each open connection's `PRAGMA synchronous` (by `id`), so it is set only on a
        change."""
        self._shared: sqlite3.Connection | None = None
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            self._shared = self._connect()
        with self._connection() as db:
            self._migrate(db)

    # -- connections and transactions ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE … COMMIT
            check_same_thread=False,  # close() may run on another thread
        )
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # FULL per transaction: `_write(durable=…)`
        with self._lock:
            self._opened.append(db)
            self._synchronous[id(db)] = "NORMAL"
        return db

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._shared is not None:
            with self._lock:
                yield self._shared
            return
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        yield db

    @contextlib.contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction; `durable`: its commit is fsync'ed."""
        with (
            self._connection() as db,
            self._write_lock,
            self._transaction(db, durable=durable),
        ):
            yield db

    @contextlib.contextmanager
    def _transaction(self, db: sqlite3.Connection, *, durable: bool) -> Iterator[None]:
        # The connection's `synchronous` is set before the transaction (outside one, as SQLite
        # wants) whenever it is not already what this one needs: a run of durable commits (or
        # of bookkeeping ones) then costs no PRAGMA statements.
        wanted = "FULL" if durable else "NORMAL"
        if self._synchronous.get(id(db)) != wanted:
            self._synchronous[id(db)] = None  # unknown until the PRAGMA has run
            db.execute(f"PRAGMA synchronous = {wanted}")
            self._synchronous[id(db)] = wanted
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def writing(self) -> bool:
        """Whether a write of this process holds (or queues for) the write lock just now: a
        caller that must not wait (an event loop) then hands its work to a thread."""
        return self._write_lock.locked() or bool(self._batch)

    def _grouped(self, job: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `job` in a durable transaction, shared with the jobs other threads hand in
        meanwhile (group commit): it returns only once the commit that holds its writes is
        fsync'ed, so what the hub answers is on disk, as with a transaction of its own.

        While one thread (the leader) commits, the others queue their jobs; the next to get
        the write lock runs every queued job, each in its own savepoint (a job that fails is
        rolled back alone and its caller gets the error), and commits them with one fsync.
        A commit that fails fails every job of the batch: none of them was acknowledged."""
        if self._shared is not None:  # in memory: no fsync to share
            with self._write(durable=True) as db:
                return job(db)
        pending = _Pending(job)
        with self._batch_lock:
            self._batch.append(pending)
        with self._connection() as db, self._write_lock:
            if not pending.done:
                with self._batch_lock:
                    batch, self._batch = self._batch, []
                self._commit(db, batch)
        return pending.outcome()

    def _commit(self, db: sqlite3.Connection, batch: list[_Pending[Any]]) -> None:
        try:
            with self._transaction(db, durable=True):
                for pending in batch:
                    db.execute("SAVEPOINT job")
                    try:
                        pending.value = pending.job(db)
                    except Exception as error:
                        db.execute("ROLLBACK TO job")
                        pending.error = error
                    db.execute("RELEASE job")
        except BaseException as error:
            for pending in batch:
                pending.value, pending.error = None, pending.error or error
            raise
        finally:
            for pending in batch:
                pending.done = True

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise HubAdminError(
                    f"{self.path} のスキーマ（版 {version}）はこの連携基盤より新しいものです。 / "
                    f"The store {self.path} has schema version {version}; this hub knows up to "
                    f"{SCHEMA_VERSION}: upgrade careplan-link."
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def schema_version(self) -> int:
        with self._connection() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def backup(self, target: str | Path) -> None:
        """Copy the live database to `target` (SQLite's online backup API: writers go on)."""
        destination = sqlite3.connect(str(target))
        try:
            with self._connection() as db:
                db.backup(destination)
        finally:
            destination.close()

    def clear(self) -> None:
        """Delete every row (FakeHub.reset); the schema stays."""
        with self._write() as db:
            for table in ("offices", "tokens", "messages", "rate_windows", "audit"):
                db.execute(f"DELETE FROM {table}")
            db.execute("UPDATE counters SET value = 0")
            db.execute("UPDATE audit_head SET seq = 0, hash = ?", (GENESIS,))

    # -- offices --------------------------------------------------------------------------------

    @staticmethod
    def _office_values(office: OfficeRecord) -> tuple[object, ...]:
        return (
            office.office_no,
            office.user_id,
            office.password_hash,
            json.dumps([*office.service_types]),
            json.dumps([*office.certificates]),
            int(office.disabled),
        )

    def add_office(self, office: OfficeRecord, audit: AuditDraft) -> bool:
        with self._write(durable=True) as db:
            inserted = db.execute(
                "INSERT INTO offices VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                self._office_values(office),
            ).rowcount
            if inserted:
                self._append(db, audit)
            return bool(inserted)

    def save_office(self, office: OfficeRecord, audit: AuditDraft | None = None) -> None:
        with self._write(durable=True) as db:
            db.execute("INSERT OR REPLACE INTO offices VALUES (?, ?, ?, ?, ?, ?)",
                       self._office_values(office))  # fmt: skip
            if audit is not None:
                self._append(db, audit)

    def office(self, office_no: str) -> OfficeRecord | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM offices WHERE office_no = ?", (office_no,)).fetchone()
        return None if row is None else _office(row)

    def offices(self) -> list[OfficeRecord]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM offices ORDER BY office_no").fetchall()
        return [_office(row) for row in rows]

    # -- tokens ---------------------------------------------------------------------------------

    def add_tokens(self, tokens: Sequence[TokenRecord]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT INTO tokens VALUES (?, ?, ?, ?)",
                [(t.token_hash, t.kind, t.office_no, format_time(t.expires_at)) for t in tokens],
            )

    def token(self, token_hash: str) -> TokenRecord | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT token_hash, kind, office_no, expires_at FROM tokens WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return None if row is None else TokenRecord(row[0], row[1], row[2], parse_time(row[3]))

    def take_token(self, token_hash: str) -> TokenRecord | None:
        with self._write(durable=True) as db:
            row = db.execute(
                "DELETE FROM tokens WHERE token_hash = ? "
                "RETURNING token_hash, kind, office_no, expires_at",
                (token_hash,),
            ).fetchone()
        return None if row is None else TokenRecord(row[0], row[1], row[2], parse_time(row[3]))

    def revoke_tokens(self, office_no: str) -> int:
        with self._write(durable=True) as db:
            return db.execute("DELETE FROM tokens WHERE office_no = ?", (office_no,)).rowcount

    def drop_expired_tokens(self, now: datetime.datetime) -> int:
        with self._write() as db:
            return db.execute(
                "DELETE FROM tokens WHERE expires_at <= ?", (format_time(now),)
            ).rowcount

    # -- messages -------------------------------------------------------------------------------

    def add_message(
        self, message: Message, content: bytes, key: str, digest: str, audit: AuditDraft
    ) -> Message | None:
        def job(db: sqlite3.Connection) -> Message | None:
            taken = db.execute(
                "SELECT 1 FROM messages WHERE sender = ? AND idempotency_key = ?",
                (message.sender, key),
            ).fetchone()
            if taken is not None:
                return None
            (number,) = db.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'message' RETURNING value"
            ).fetchone()
            stored = attrs.evolve(message, id=message_id(int(number)))
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.id,
                    stored.sender,
                    stored.receiver,
                    format_time(stored.accepted_at),
                    stored.status.value,
                    key,
                    digest,
                    json.dumps(stored.to_json()),
                    content,
                ),
            )
            self._append(db, attrs.evolve(audit, message_id=stored.id))
            return stored

        return self._grouped(job)

    def sent_with_key(self, sender: str, key: str) -> tuple[str, Message] | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT request_digest, document FROM messages "
                "WHERE sender = ? AND idempotency_key = ?",
                (sender, key),
            ).fetchone()
        return None if row is None else (str(row[0]), _message(row[1]))

    def message(self, message_id: str) -> Message | None:
        with self._connection() as db:
            row = db.execute("SELECT document FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else _message(row[0])

    def content(self, message_id: str) -> bytes | None:
        with self._connection() as db:
            row = db.execute("SELECT content FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def change_message(
        self,
        expected: MessageStatus,
        message: Message,
        *,
        drop_content: bool = False,
        audit: AuditDraft | None = None,
    ) -> bool:
        def job(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE messages SET status = ?, document = ?, "
                "content = CASE WHEN ? THEN NULL ELSE content END "
                "WHERE id = ? AND status = ?",
                (
                    message.status.value,
                    json.dumps(message.to_json()),
                    int(drop_content),
                    message.id,
                    expected.value,
                ),
            ).rowcount
            if changed and audit is not None:
                self._append(db, audit)
            return bool(changed)

        return self._grouped(job)

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
        with self._connection() as db:
            rows = db.execute(
                f"SELECT document FROM messages WHERE {where} ORDER BY accepted_at, id LIMIT ?",
                (*values, listing.limit + 1),
            ).fetchall()
        return [_message(row[0]) for row in rows]

    def holding_content(self, cutoff: datetime.datetime, limit: int) -> list[Message]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT document FROM messages WHERE content IS NOT NULL AND accepted_at < ? "
                "ORDER BY accepted_at, id LIMIT ?",
                (format_time(cutoff), limit),
            ).fetchall()
        return [_message(row[0]) for row in rows]

    def all_messages(self) -> list[Message]:
        with self._connection() as db:
            rows = db.execute("SELECT document FROM messages ORDER BY accepted_at, id").fetchall()
        return [_message(row[0]) for row in rows]

    # -- rate limits ----------------------------------------------------------------------------

    def count_request(self, office_no: str, window: datetime.datetime) -> int:
        with self._write() as db:
            (count,) = db.execute(
                "INSERT INTO rate_windows VALUES (?, ?, 1) ON CONFLICT (office_no, window) "
                "DO UPDATE SET count = count + 1 RETURNING count",
                (office_no, format_time(window)),
            ).fetchone()
        return int(count)

    def drop_windows(self, before: datetime.datetime) -> int:
        with self._write() as db:
            return db.execute(
                "DELETE FROM rate_windows WHERE window < ?", (format_time(before),)
            ).rowcount

    # -- audit ----------------------------------------------------------------------------------

    def _append(self, db: sqlite3.Connection, draft: AuditDraft) -> AuditEntry:
        """Append within the caller's transaction (BEGIN IMMEDIATE: no other writer)."""
        seq, previous = db.execute("SELECT seq, hash FROM audit_head").fetchone()
        entry = seal(draft, int(seq) + 1, str(previous))
        db.execute(
            f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.seq,
                format_time(entry.at),
                entry.office_no,
                entry.action,
                entry.message_id,
                entry.counterpart,
                entry.envelope_sha256,
                entry.detail,
                entry.previous_hash,
                entry.hash,
            ),
        )
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (entry.seq, entry.hash))
        return entry

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        with self._write() as db:
            return self._append(db, draft)

    def audit_entries(
        self, office_no: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        query = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq > ?"
        values: list[object] = [after]
        if office_no is not None:
            query += " AND (office_no = ? OR counterpart = ?)"
            values += [office_no, office_no]
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            values.append(limit)
        with self._connection() as db:
            rows = db.execute(query, values).fetchall()
        return [_audit_entry(row) for row in rows]

    def audit_head(self) -> tuple[int, str]:
        with self._connection() as db:
            seq, hash_ = db.execute("SELECT seq, hash FROM audit_head").fetchone()
        return int(seq), str(hash_)

    # -- the store itself -----------------------------------------------------------------------

    def ping(self) -> None:
        with self._connection() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close every connection this store opened (from any thread)."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._shared = None
        for db in opened:
            db.close()
        self._synchronous.clear()
        self._local = threading.local()
