"""A hub's state in PostgreSQL, shared by several hub processes (on one or several hosts).

Every guarantee of the store interface (`_store`) is kept by the database, never by a lock of
the process, so any number of hub processes may share one database:

* An idempotency key is the unique constraint `(sender, idempotency_key)`: of two sends with
  the same key, from any processes, one inserts; the other inserts nothing and reads the first.
* A status transition is one `UPDATE … WHERE id = … AND status = <expected>`: of two receipts
  racing, one changes the row, the other sees 0 rows and answers from the stored message.
* A refresh token is used once: `DELETE … RETURNING`.
* The audit chain stays linear: every transaction that appends an entry takes the row lock of
  the chain's head (`SELECT … FROM audit_head … FOR UPDATE`), reads (seq, hash), writes the
  entry and the new head, and commits; another writer waits on that row lock. A state change
  that is audited (send, receipt, withdrawal, expiry, office changes) is one transaction with
  its entry. The lock is taken as late as it can be, and held for one round trip and the
  commit: the hot paths run in psycopg's pipeline mode, so a status change (or a read's audit
  entry) takes it in the round trip before the one that writes the entry and commits, and a
  send takes it, with the message head's, in the first of its two round trips (the entry's
  hash needs the head's). A row lock rather than an advisory lock: the head row is read and
  rewritten anyway, and both are released at commit (docs/decisions.md).
* Cursors stay stable while other processes insert: messages are listed in (accepted_at, id)
  order, and a new message takes its number (and, if another process's clock ran ahead, a time
  no earlier than the last message's) while it holds the `message_head` row lock, so commits
  happen in listing order: a page never gains a message before its cursor afterwards.
* Durability per transaction, as the SQLite store: what a client is told (a send, a receipt,
  a withdrawal, an expiry, an office change, a used or revoked token) commits with
  `synchronous_commit = on` (the answer leaves after the WAL is on disk); the bookkeeping (rate
  counts, new tokens, audit entries of reads and replays, purges of expired rows) commits with
  `synchronous_commit = off`: a crash of the database server may lose its last fraction of a
  second of those, never the database's consistency (the audit head and its entries commit
  together: the chain ends earlier and still verifies). A durable commit also makes durable
  every commit before it.
* Housekeeping (retention, purge) is elected: `elect(name, period)` takes a session advisory
  lock (`pg_try_advisory_lock`) and a conditional update of the job's last run, so one process
  runs it once per period however many workers ask.
* Versioned schema: the table `careplan_link_schema` lists the migrations applied; `migrate()`
  (run at start, or by `careplan-link hub migrate`) applies the missing ones in one transaction
  under `pg_advisory_xact_lock`, so several processes starting at once migrate once, and
  refuses a database made by a newer hub.

Connections come from a pool (psycopg_pool) of `pool_size` per store, that is per hub process.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ..errors import HubAdminError
from ..protocol import AuditEntry, Message, MessageStatus
from ._audit import GENESIS, seal
from ._store import AuditDraft, Listing, OfficeRecord, TokenRecord, message_id

__all__ = ["POSTGRES_SCHEMA_VERSION", "PostgresStore"]

# The advisory lock key space of this application ("cplk"), and the keys in it.
_LOCK_CLASS = 0x63706C6B
_MIGRATION_LOCK = 1

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE offices (
        office_no TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        service_types JSONB NOT NULL,
        certificates JSONB NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        office_no TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX tokens_by_office ON tokens (office_no);
    CREATE INDEX tokens_by_expiry ON tokens (expires_at);
    CREATE TABLE message_head (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        number BIGINT NOT NULL,
        accepted_at TIMESTAMPTZ
    );
    INSERT INTO message_head VALUES (1, 0, NULL);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        receiver TEXT NOT NULL,
        accepted_at TIMESTAMPTZ NOT NULL,
        status TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        request_digest TEXT NOT NULL,
        document JSONB NOT NULL,
        content BYTEA,
        CONSTRAINT one_message_per_key UNIQUE (sender, idempotency_key)
    );
    CREATE INDEX inbox ON messages (receiver, accepted_at, id);
    CREATE INDEX outbox ON messages (sender, accepted_at, id);
    CREATE INDEX ordered ON messages (accepted_at, id);
    CREATE INDEX holding ON messages (accepted_at, id) WHERE content IS NOT NULL;
    CREATE TABLE rate_windows (
        office_no TEXT NOT NULL,
        window_start TIMESTAMPTZ NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (office_no, window_start)
    );
    CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        at TIMESTAMPTZ NOT NULL,
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
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 0, '"""
    + GENESIS
    + """');
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        last_run TIMESTAMPTZ NOT NULL
    );
    """,
)
POSTGRES_SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this hub writes (rows of `careplan_link_schema`)."""

_AUDIT_COLUMNS = (
    "seq, at, office_no, action, message_id, counterpart, envelope_sha256, detail, "
    "previous_hash, hash"
)
_DURABLE = "SELECT set_config('synchronous_commit', 'on', true)"
"""`SET LOCAL synchronous_commit = on` as a query, to go in a pipeline with what follows."""

_LOCK_MESSAGE_HEAD = (
    "SELECT set_config('synchronous_commit', 'on', true), number, accepted_at "
    "FROM message_head WHERE one = 1 FOR UPDATE"
)
"""A send's first locking read (with its durable commit); then `_LOCK_AUDIT_HEAD`. A send is
the only transaction that takes both, always in this order: no deadlock."""

_LOCK_AUDIT_HEAD = "SELECT seq, hash FROM audit_head WHERE one = 1 FOR UPDATE"

_ADD_MESSAGE = (
    # One statement for the four writes (fewer round trips while the locks are held).
    "WITH m AS (INSERT INTO messages VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT ON CONSTRAINT one_message_per_key DO NOTHING RETURNING 1), "
    "h AS (UPDATE message_head SET number = %s, accepted_at = %s "
    "WHERE one = 1 AND EXISTS (SELECT 1 FROM m)), "
    f"a AS (INSERT INTO audit ({_AUDIT_COLUMNS}) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM m)), "
    "ah AS (UPDATE audit_head SET seq = %s, hash = %s "
    "WHERE one = 1 AND EXISTS (SELECT 1 FROM m)) "
    "SELECT count(*) FROM m"
)

_TABLES = ("offices", "tokens", "messages", "rate_windows", "audit", "jobs")


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


def _office(row: tuple[Any, ...]) -> OfficeRecord:
    number, user_id, password_hash, service_types, certificates, disabled = row
    return OfficeRecord(
        office_no=number,
        user_id=user_id,
        password_hash=password_hash,
        service_types=tuple(service_types),
        certificates=tuple(certificates),
        disabled=bool(disabled),
    )


def _token(row: tuple[Any, ...] | None) -> TokenRecord | None:
    return None if row is None else TokenRecord(row[0], row[1], row[2], _utc(row[3]))


def _message(document: Any) -> Message:
    return Message.from_json(document)


def _audit_entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, office_no, action, message, counterpart, sha256, detail, previous, hash_ = row
    return AuditEntry(
        seq=int(seq),
        at=_utc(at),
        office_no=office_no,
        action=action,
        message_id=message,
        counterpart=counterpart,
        envelope_sha256=sha256,
        detail=detail,
        previous_hash=previous,
        hash=hash_,
    )


def _audit_values(entry: AuditEntry) -> tuple[object, ...]:
    return (
        entry.seq,
        entry.at,
        entry.office_no,
        entry.action,
        entry.message_id,
        entry.counterpart,
        entry.envelope_sha256,
        entry.detail,
        entry.previous_hash,
        entry.hash,
    )


def _shifted(message: Message, accepted_at: datetime.datetime) -> Message:
    """The message accepted at `accepted_at` instead (its history's first times with it)."""
    original = message.accepted_at
    history = tuple(
        attrs.evolve(change, at=accepted_at) if change.at == original else change
        for change in message.history
    )
    return attrs.evolve(message, accepted_at=accepted_at, history=history)


class PostgresStore:
    """A hub's state in PostgreSQL: `PostgresStore("postgresql://user@host/db")`. The schema
    is migrated on opening (`migrate=False` leaves it to `careplan-link hub migrate`, and then
    refuses a database that is not up to date)."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 10,
        migrate: bool = True,
        timeout: float = 30.0,
    ) -> None:
        # One connection first: a wrong address or login fails now, with libpq's reason,
        # rather than after the pool has retried for `timeout` seconds.
        try:
            psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as error:
            raise HubAdminError(
                f"PostgreSQL に接続できません: {error} / Cannot connect to PostgreSQL: {error}"
            ) from None
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            # Bookkeeping commits without waiting for the WAL flush; `_write(durable=True)`
            # turns it back on for what a client is told (see the module docstring).
            kwargs={"autocommit": True, "options": "-c timezone=UTC -c synchronous_commit=off"},
            name="careplan-link hub",
            open=True,
        )
        try:
            if migrate:
                self.migrate()
            elif self.schema_version() != POSTGRES_SCHEMA_VERSION:
                raise HubAdminError(
                    "データベースのスキーマが最新ではありません。"
                    "careplan-link hub migrate を実行してください。 / "
                    "The database schema is not up to date: run `careplan-link hub migrate`."
                )
        except BaseException:
            self._pool.close()
            raise

    # -- connections and transactions ----------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as db:
            yield db

    @contextlib.contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """One transaction; `durable`: its commit waits until the WAL is flushed."""
        with self._pool.connection() as db, db.transaction():
            if durable:
                db.execute("SET LOCAL synchronous_commit = on")
            yield db

    def migrate(self) -> list[int]:
        """Apply the missing migrations (one transaction, one process at a time); the numbers
        applied (empty: the database was up to date)."""
        with self._write(durable=True) as db:
            db.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _MIGRATION_LOCK))
            db.execute(
                "CREATE TABLE IF NOT EXISTS careplan_link_schema ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = db.execute("SELECT coalesce(max(version), 0) FROM careplan_link_schema")
            version = int(row.fetchone()[0])  # type: ignore[index]
            self._refuse_newer(version)
            applied = []
            for number in range(version + 1, POSTGRES_SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[number - 1]):
                    db.execute(statement.encode())
                db.execute("INSERT INTO careplan_link_schema (version) VALUES (%s)", (number,))
                applied.append(number)
            return applied

    @staticmethod
    def _refuse_newer(version: int) -> None:
        if version > POSTGRES_SCHEMA_VERSION:
            raise HubAdminError(
                f"データベースのスキーマ（版 {version}）はこの連携基盤より新しいものです。 / "
                f"The database has schema version {version}; this hub knows up to "
                f"{POSTGRES_SCHEMA_VERSION}: upgrade careplan-link."
            )

    def schema_version(self) -> int:
        with self._connection() as db:
            exists = db.execute("SELECT to_regclass('careplan_link_schema')").fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = db.execute("SELECT coalesce(max(version), 0) FROM careplan_link_schema")
            return int(row.fetchone()[0])  # type: ignore[index]

    def clear(self) -> None:
        """Delete every row (FakeHub.reset, tests); the schema stays."""
        with self._write(durable=True) as db:
            db.execute(f"TRUNCATE {', '.join(_TABLES)}")
            db.execute("UPDATE message_head SET number = 0, accepted_at = NULL")
            db.execute("UPDATE audit_head SET seq = 0, hash = %s", (GENESIS,))

    @contextlib.contextmanager
    def elect(self, name: str, period: float) -> Iterator[bool]:
        """Whether this process runs the job `name` now: True for one caller among all the
        processes sharing the database, at most once every `period` seconds. The session
        advisory lock keeps two runs from overlapping; the conditional update of the job's last
        run keeps a second process from running it again in the same period."""
        key = int.from_bytes(name.encode()[:4].ljust(4, b"\0"), "big") & 0x7FFFFFFF
        with self._connection() as db:
            locked = db.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, key)
            ).fetchone()
            if not (locked and locked[0]):
                yield False
                return
            try:
                due = db.execute(
                    "INSERT INTO jobs VALUES (%s, now()) ON CONFLICT (name) DO UPDATE "
                    "SET last_run = now() WHERE jobs.last_run <= now() - make_interval(secs => %s) "
                    "RETURNING 1",
                    (name, period * 0.9),  # a little slack: timers of workers drift
                ).fetchone()
                yield due is not None
            finally:
                db.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, key))

    # -- offices --------------------------------------------------------------------------------

    @staticmethod
    def _office_values(office: OfficeRecord) -> tuple[object, ...]:
        return (
            office.office_no,
            office.user_id,
            office.password_hash,
            Jsonb([*office.service_types]),
            Jsonb([*office.certificates]),
            office.disabled,
        )

    def add_office(self, office: OfficeRecord, audit: AuditDraft) -> bool:
        with self._write(durable=True) as db:
            inserted = db.execute(
                "INSERT INTO offices VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                self._office_values(office),
            ).rowcount
            if inserted:
                self._append(db, audit)
            return bool(inserted)

    def save_office(self, office: OfficeRecord, audit: AuditDraft | None = None) -> None:
        with self._write(durable=True) as db:
            db.execute(
                "INSERT INTO offices VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (office_no) "
                "DO UPDATE SET user_id = excluded.user_id, password_hash = excluded.password_hash,"
                " service_types = excluded.service_types, certificates = excluded.certificates,"
                " disabled = excluded.disabled",
                self._office_values(office),
            )
            if audit is not None:
                self._append(db, audit)

    def office(self, office_no: str) -> OfficeRecord | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM offices WHERE office_no = %s", (office_no,)).fetchone()
        return None if row is None else _office(row)

    def offices(self) -> list[OfficeRecord]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM offices ORDER BY office_no").fetchall()
        return [_office(row) for row in rows]

    # -- tokens ---------------------------------------------------------------------------------

    def add_tokens(self, tokens: Sequence[TokenRecord]) -> None:
        with self._write() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO tokens VALUES (%s, %s, %s, %s)",
                [(t.token_hash, t.kind, t.office_no, t.expires_at) for t in tokens],
            )

    def token(self, token_hash: str) -> TokenRecord | None:
        with self._connection() as db:
            return _token(
                db.execute(
                    "SELECT token_hash, kind, office_no, expires_at FROM tokens "
                    "WHERE token_hash = %s",
                    (token_hash,),
                ).fetchone()
            )

    def take_token(self, token_hash: str) -> TokenRecord | None:
        with self._write(durable=True) as db:
            return _token(
                db.execute(
                    "DELETE FROM tokens WHERE token_hash = %s "
                    "RETURNING token_hash, kind, office_no, expires_at",
                    (token_hash,),
                ).fetchone()
            )

    def revoke_tokens(self, office_no: str) -> int:
        with self._write(durable=True) as db:
            return db.execute("DELETE FROM tokens WHERE office_no = %s", (office_no,)).rowcount

    def drop_expired_tokens(self, now: datetime.datetime) -> int:
        with self._connection() as db:
            return db.execute("DELETE FROM tokens WHERE expires_at <= %s", (now,)).rowcount

    # -- messages -------------------------------------------------------------------------------

    def add_message(
        self, message: Message, content: bytes, key: str, digest: str, audit: AuditDraft
    ) -> Message | None:
        # Two round trips, the locks held for the second only (see the module docstring):
        # BEGIN and the locks of both heads go in one pipeline sync; the writes and COMMIT in
        # the next. A taken key inserts nothing (ON
        # CONFLICT: the unique constraint has the last word), and then nothing else is written.
        with self._pool.connection() as db, db.pipeline(), db.transaction():
            head = db.execute(_LOCK_MESSAGE_HEAD)
            chain = db.execute(_LOCK_AUDIT_HEAD)
            _, number, last = head.fetchone()  # type: ignore[misc]  # one row, by the schema
            seq, previous = chain.fetchone()  # type: ignore[misc]
            if last is not None and _utc(last) > message.accepted_at:
                message = _shifted(message, _utc(last))
            message = attrs.evolve(message, id=message_id(int(number) + 1))
            entry = seal(attrs.evolve(audit, message_id=message.id), int(seq) + 1,
                         str(previous))  # fmt: skip
            written = db.execute(
                _ADD_MESSAGE,
                (
                    message.id,
                    message.sender,
                    message.receiver,
                    message.accepted_at,
                    message.status.value,
                    key,
                    digest,
                    Jsonb(message.to_json()),
                    content,
                    int(number) + 1,
                    message.accepted_at,
                    *_audit_values(entry),
                    entry.seq,
                    entry.hash,
                ),
            )
        row = written.fetchone()
        return message if row and row[0] else None

    def sent_with_key(self, sender: str, key: str) -> tuple[str, Message] | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT request_digest, document FROM messages "
                "WHERE sender = %s AND idempotency_key = %s",
                (sender, key),
            ).fetchone()
        return None if row is None else (str(row[0]), _message(row[1]))

    def message(self, message_id: str) -> Message | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT document FROM messages WHERE id = %s", (message_id,)
            ).fetchone()
        return None if row is None else _message(row[0])

    def content(self, message_id: str) -> bytes | None:
        with self._connection() as db:
            row = db.execute("SELECT content FROM messages WHERE id = %s", (message_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def change_message(
        self,
        expected: MessageStatus,
        message: Message,
        *,
        drop_content: bool = False,
        audit: AuditDraft | None = None,
    ) -> bool:
        # BEGIN, the durability and the conditional update in one round trip; then, only if
        # it changed the row, the audit head's lock (the last thing taken) and the entry with
        # COMMIT in a second.
        with self._pool.connection() as db, db.pipeline() as pipeline, db.transaction():
            db.execute(_DURABLE)
            update = db.execute(
                "UPDATE messages SET status = %s, document = %s, "
                "content = CASE WHEN %s THEN NULL ELSE content END "
                "WHERE id = %s AND status = %s",
                (
                    message.status.value,
                    Jsonb(message.to_json()),
                    drop_content,
                    message.id,
                    expected.value,
                ),
            )
            pipeline.sync()  # the row count is known once the server has answered
            changed = update.rowcount
            if changed and audit is not None:
                self._append(db, audit)
        return bool(changed)

    def messages(self, listing: Listing) -> list[Message]:
        clauses: list[str] = []
        values: list[object] = []
        for column, value in (
            ("receiver", listing.receiver),
            ("sender", listing.sender),
            ("idempotency_key", listing.idempotency_key),
        ):
            if value is not None:
                clauses.append(f"{column} = %s")
                values.append(value)
        if listing.after is not None:
            clauses.append("(accepted_at, id) > (%s, %s)")
            values += [listing.after[0], listing.after[1]]
        if listing.statuses is not None:
            clauses.append("status = ANY(%s)")
            values.append(sorted(listing.statuses))
        if listing.since is not None:
            clauses.append("accepted_at >= %s")
            values.append(listing.since)
        where = " AND ".join(clauses) or "TRUE"
        with self._connection() as db:
            rows = db.execute(
                f"SELECT document FROM messages WHERE {where} ORDER BY accepted_at, id LIMIT %s",
                (*values, listing.limit + 1),
            ).fetchall()
        return [_message(row[0]) for row in rows]

    def holding_content(self, cutoff: datetime.datetime, limit: int) -> list[Message]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT document FROM messages WHERE content IS NOT NULL AND accepted_at < %s "
                "ORDER BY accepted_at, id LIMIT %s",
                (cutoff, limit),
            ).fetchall()
        return [_message(row[0]) for row in rows]

    def all_messages(self) -> list[Message]:
        with self._connection() as db:
            rows = db.execute("SELECT document FROM messages ORDER BY accepted_at, id").fetchall()
        return [_message(row[0]) for row in rows]

    # -- rate limits ----------------------------------------------------------------------------

    def count_request(self, office_no: str, window: datetime.datetime) -> int:
        with self._connection() as db:
            row = db.execute(
                "INSERT INTO rate_windows VALUES (%s, %s, 1) ON CONFLICT (office_no, window_start)"
                " DO UPDATE SET count = rate_windows.count + 1 RETURNING count",
                (office_no, window),
            ).fetchone()
        return int(row[0])  # type: ignore[index]

    def drop_windows(self, before: datetime.datetime) -> int:
        with self._connection() as db:
            return db.execute(
                "DELETE FROM rate_windows WHERE window_start < %s", (before,)
            ).rowcount

    # -- audit ----------------------------------------------------------------------------------

    @staticmethod
    def _seal(db: psycopg.Connection[Any], draft: AuditDraft) -> AuditEntry:
        """Lock the chain's head (FOR UPDATE: every other appender waits until this
        transaction ends) and seal the next entry on it."""
        seq, previous = db.execute(_LOCK_AUDIT_HEAD).fetchone()  # type: ignore[misc]
        return seal(draft, int(seq) + 1, str(previous))

    def _append(self, db: psycopg.Connection[Any], draft: AuditDraft) -> AuditEntry:
        """Append within the caller's transaction: the entry and the new head together. In a
        pipeline, the entry's write goes with the COMMIT that follows it."""
        entry = self._seal(db, draft)
        db.execute(
            f"WITH a AS (INSERT INTO audit ({_AUDIT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)) "
            "UPDATE audit_head SET seq = %s, hash = %s WHERE one = 1",
            (*_audit_values(entry), entry.seq, entry.hash),
        )
        return entry

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        # Two round trips: BEGIN with the head's lock, then the entry with COMMIT.
        with self._pool.connection() as db, db.pipeline(), db.transaction():
            return self._append(db, draft)

    def audit_entries(
        self, office_no: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        query = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq > %s"
        values: list[object] = [after]
        if office_no is not None:
            query += " AND (office_no = %s OR counterpart = %s)"
            values += [office_no, office_no]
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT %s"
            values.append(limit)
        with self._connection() as db:
            rows = db.execute(query.encode(), values).fetchall()
        return [_audit_entry(row) for row in rows]

    def audit_head(self) -> tuple[int, str]:
        with self._connection() as db:
            seq, hash_ = db.execute("SELECT seq, hash FROM audit_head").fetchone()  # type: ignore[misc]
        return int(seq), str(hash_)

    # -- the store itself -----------------------------------------------------------------------

    def ping(self) -> None:
        # A short wait: a health check must answer while the pool waits for a lost server.
        with self._pool.connection(timeout=5.0) as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
