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
  its entry. The lock is held for the database's own work and the commit, never for a round
  trip to the hub: the database seals the entry itself (its SHA-256 over the canonical text the
  hub sends in pieces, `_template`: only the number, the previous hash and a send's message id
  come from the locked heads), so a send (both heads' locks, the writes, COMMIT) and a read's
  audit entry (the head's lock, the entry, COMMIT) are one round trip in psycopg's pipeline
  mode, and a status change takes the lock in the round trip that commits. A row lock rather
  than an advisory lock: the head row is read and rewritten anyway, and both are released at
  commit (docs/decisions.md).
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
* Group commit within a process (`_grouped`): the sends of one process's threads take turns,
  and the sends queued during a turn are stored by the next in one transaction (each its own
  statement, numbered and chained in order; one lock wait in the database and one WAL flush for
  all); so are the audit entries of reads. Each caller is answered once the transaction holding
  its write has committed — durably for a send — as with a transaction of its own; a
  transaction a statement fails is tried again write by write, so that only a failing write
  fails (an unreachable database fails them all: none was acknowledged).
* Versioned schema: the table `careplan_link_schema` lists the migrations applied; `migrate()`
  (run at start, or by `careplan-link hub migrate`) applies the missing ones in one transaction
  under `pg_advisory_xact_lock`, so several processes starting at once migrate once, and
  refuses a database made by a newer hub.

Connections come from a pool (psycopg_pool) of `pool_size` per store, that is per hub process.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ..errors import HubAdminError
from ..protocol import AuditEntry, Message, MessageStatus
from ._audit import GENESIS, canonical
from ._store import AuditDraft, Listing, OfficeRecord, TokenRecord

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
    "SELECT set_config('synchronous_commit', 'on', true) FROM message_head WHERE one = 1 FOR UPDATE"
)
"""A send's first locking read (with its durable commit); then `_LOCK_AUDIT_HEAD`. A send is
the only transaction that takes both, always in this order: no deadlock."""

_LOCK_AUDIT_HEAD = "SELECT seq, hash FROM audit_head WHERE one = 1 FOR UPDATE"

# The audit entry's hash is computed by the database, in the statement that writes the entry,
# so that no round trip to the hub (and no wait of the hub's thread for Python's GIL) happens
# while the chain's lock is held. The hub sends the entry's canonical text (`_audit.canonical`)
# in pieces around what only the locked heads decide — the entry's number and previous hash,
# and a send's message id — and the database joins them: `_template` cuts the text, and
# `verify_chain` (the tests, the benchmark, `careplan-link hub audit verify`) recomputes every
# hash in Python.
_ID_SLOT = ',"message_id":""'
_PREVIOUS_SLOT = ',"previous_hash":""'
_SEQ_SLOT = ',"seq":0}'

_SEALED = (
    "encode(sha256(convert_to(%(text)s::text || {id}%(previous)s::text || h.previous || "
    "'\",\"seq\":' || h.seq::text || '}}', 'UTF8')), 'hex')"
)
"""SQL of the entry's hash over the heads `h` (columns seq, previous[, id])."""

_APPEND = (
    "WITH h AS (SELECT seq + 1 AS seq, hash AS previous FROM audit_head WHERE one = 1), "
    f"s AS (SELECT h.seq, h.previous, {_SEALED.format(id='')} AS hash FROM h), "
    f"a AS (INSERT INTO audit ({_AUDIT_COLUMNS}) SELECT s.seq, %(at)s, %(office_no)s, "
    "%(action)s, %(message_id)s, %(counterpart)s, %(envelope_sha256)s, %(detail)s, "
    "s.previous, s.hash FROM s), "
    "ah AS (UPDATE audit_head SET seq = s.seq, hash = s.hash FROM s WHERE one = 1) "
    "SELECT seq, previous, hash FROM s"
)
"""An audit entry and the chain's new head; run after `_LOCK_AUDIT_HEAD`, in its transaction
(a statement of its own, so it reads the head as the lock left it)."""

_PROTOCOL_TIME = "to_jsonb(to_char({time} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"
"""SQL of `protocol.format_time({time})` as a JSON string (a test compares the two)."""

_SHIFTED_DOCUMENT = (
    # `_shifted` in SQL: the message's time, and each history entry's that was the same.
    "jsonb_set(jsonb_set(%(document)s, '{accepted_at}', h.at), '{history}', coalesce(("
    "SELECT jsonb_agg(CASE WHEN e -> 'at' = %(document)s -> 'accepted_at' "
    "THEN jsonb_set(e, '{at}', h.at) ELSE e END ORDER BY n) "
    "FROM jsonb_array_elements(%(document)s -> 'history') WITH ORDINALITY AS x (e, n)), '[]'))"
)

_ADD_MESSAGE = (
    # One statement for the four writes, after both locks: nothing between them and COMMIT.
    "WITH t AS (SELECT m.number + 1 AS number, a.seq + 1 AS seq, a.hash AS previous, "
    "greatest(m.accepted_at, %(accepted_at)s) AS accepted_at, "
    "coalesce(m.accepted_at > %(accepted_at)s, false) AS shifted "
    "FROM message_head m, audit_head a WHERE m.one = 1 AND a.one = 1), "
    "h AS (SELECT t.*, 'msg-' || lpad(t.number::text, 12, '0') AS id, "
    f"{_PROTOCOL_TIME.format(time='t.accepted_at')} AS at FROM t), "
    "m AS (INSERT INTO messages SELECT h.id, %(sender)s, %(receiver)s, h.accepted_at, "
    "%(status)s, %(key)s, %(digest)s, jsonb_set(CASE WHEN h.shifted THEN "
    f"{_SHIFTED_DOCUMENT} ELSE %(document)s END, '{{id}}', to_jsonb(h.id)), %(content)s FROM h "
    "ON CONFLICT ON CONSTRAINT one_message_per_key DO NOTHING RETURNING 1), "
    f"s AS (SELECT h.*, {_SEALED.format(id='h.id || ')} AS hash FROM h WHERE EXISTS "
    "(SELECT 1 FROM m)), "
    "mh AS (UPDATE message_head SET number = s.number, accepted_at = s.accepted_at "
    "FROM s WHERE one = 1), "
    f"a AS (INSERT INTO audit ({_AUDIT_COLUMNS}) SELECT s.seq, %(at)s, %(office_no)s, "
    "%(action)s, s.id, %(counterpart)s, %(envelope_sha256)s, %(detail)s, s.previous, s.hash "
    "FROM s), "
    "ah AS (UPDATE audit_head SET seq = s.seq, hash = s.hash FROM s WHERE one = 1) "
    "SELECT (SELECT id FROM s), (SELECT accepted_at FROM h)"
)
"""A send's writes; run after `_LOCK_MESSAGE_HEAD` and `_LOCK_AUDIT_HEAD`, in their
transaction. The message takes the next number and, if the last message's time is later than
its own (another process's clock ran ahead, or another thread of this one accepted a send
later but stored it first), that time (`_shifted`). Answers (id, accepted_at), or (NULL, …)
when the key was taken: then nothing is written."""

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


def _template(draft: AuditDraft, *, with_id: bool = False) -> dict[str, str]:
    """The pieces of the canonical text (`_audit.canonical`) of the entry `draft` becomes, cut
    where `_SEALED` puts the previous hash, the number and (`with_id`: a send's) the message id.

    Each slot is found by its key: the keys are sorted (`previous_hash`, `seq` last) and `,"`
    occurs nowhere inside an encoded string (every `"` in one is escaped), so each slot's text
    occurs once."""
    text = canonical(
        AuditEntry(
            seq=0,
            at=draft.at,
            office_no=draft.office_no,
            action=draft.action,
            message_id="" if with_id else draft.message_id,
            counterpart=draft.counterpart,
            envelope_sha256=draft.envelope_sha256,
            detail=draft.detail,
            previous_hash="",
        )
    )
    end = _PREVIOUS_SLOT + _SEQ_SLOT
    if not text.endswith(end) or text.count(end) != 1:
        raise RuntimeError(f"the audit entry's canonical form changed: {text[-60:]!r}")
    text = text[: -len(end)]
    pieces = {"text": text, "previous": _PREVIOUS_SLOT[:-1]}
    if with_id:
        before, found, after = text.partition(_ID_SLOT)
        if not found or _ID_SLOT in after:
            raise RuntimeError("the audit entry's canonical form changed: no message_id slot")
        pieces = {"text": before + _ID_SLOT[:-1], "previous": '"' + after + _PREVIOUS_SLOT[:-1]}
    return pieces


def _draft_values(draft: AuditDraft) -> dict[str, object]:
    return {
        "at": draft.at,
        "office_no": draft.office_no,
        "action": draft.action,
        "message_id": draft.message_id,
        "counterpart": draft.counterpart,
        "envelope_sha256": draft.envelope_sha256,
        "detail": draft.detail,
    }


def _sealed(draft: AuditDraft, row: tuple[Any, ...] | None) -> AuditEntry:
    """The entry the database sealed: `_APPEND`'s answer (seq, previous hash, hash)."""
    assert row is not None  # one row: the head always exists
    seq, previous, hash_ = row
    return AuditEntry(
        seq=int(seq),
        at=draft.at,
        office_no=draft.office_no,
        action=draft.action,
        message_id=draft.message_id,
        counterpart=draft.counterpart,
        envelope_sha256=draft.envelope_sha256,
        detail=draft.detail,
        previous_hash=str(previous),
        hash=str(hash_),
    )


def _shifted(message: Message, accepted_at: datetime.datetime) -> Message:
    """The message accepted at `accepted_at` instead (its history's first times with it)."""
    original = message.accepted_at
    history = tuple(
        attrs.evolve(change, at=accepted_at) if change.at == original else change
        for change in message.history
    )
    return attrs.evolve(message, accepted_at=accepted_at, history=history)


_MAX_BATCH = 64
"""The most writes one grouped transaction holds (`PostgresStore._grouped`)."""


@attrs.define
class _Pending:
    """A write waiting for its turn, and then what became of it."""

    values: dict[str, object]
    row: tuple[Any, ...] | None = None
    error: Exception | None = None
    done: bool = False


@attrs.define
class _Group:
    """Writes of one kind from this process's threads: they take turns, and those queued
    meanwhile commit together (`PostgresStore._grouped`)."""

    locks: tuple[str, ...]
    """The locking reads that begin the transaction, in the order every writer takes them."""
    statement: str
    """One write, answering one row."""
    queue: list[_Pending] = attrs.field(factory=list)
    queue_lock: threading.Lock = attrs.field(factory=threading.Lock)
    turn: threading.Lock = attrs.field(factory=threading.Lock)


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
        self._sends = _Group((_LOCK_MESSAGE_HEAD, _LOCK_AUDIT_HEAD), _ADD_MESSAGE)
        self._appends = _Group((_LOCK_AUDIT_HEAD,), _APPEND)
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
        # One round trip: BEGIN, the locks of both heads, the writes (the database numbers the
        # message and seals its audit entry) and COMMIT go in one pipeline sync, so the locks
        # are held for the database's own work and the commit's WAL flush, never for a round
        # trip to this process. The sends of this process's threads take turns, and those
        # that queue meanwhile are committed together by the next (`_grouped`): one
        # flush, and one lock wait in the database, for the batch. A taken key inserts
        # nothing (ON CONFLICT: the unique constraint has the last word), and then nothing
        # else is written.
        values = {
            "sender": message.sender,
            "receiver": message.receiver,
            "accepted_at": message.accepted_at,
            "status": message.status.value,
            "key": key,
            "digest": digest,
            "document": Jsonb(message.to_json()),
            "content": content,
            **_draft_values(audit),
            **_template(attrs.evolve(audit, message_id=""), with_id=True),
        }
        number, accepted_at = self._grouped(self._sends, values)
        if number is None:
            return None
        if _utc(accepted_at) != message.accepted_at:
            message = _shifted(message, _utc(accepted_at))
        return attrs.evolve(message, id=str(number))

    def _grouped(self, group: _Group, values: dict[str, object]) -> tuple[Any, ...]:
        """Run `group.statement` with `values` in a transaction shared with the writes of the
        group that this process's other threads queue meanwhile (group commit), and return
        its row once that transaction has committed — as durably as alone: a send's commit
        waits for the WAL flush (`_LOCK_MESSAGE_HEAD`), and answers only then.

        One thread at a time (per group) commits: BEGIN, the group's locks, every queued
        write and COMMIT go in one pipeline sync, so the database's locks are held for its
        own work and the commit, never for a round trip to this process, and the threads of
        this process wait for their turn here rather than on the database's row locks."""
        pending = _Pending(values)
        with group.queue_lock:
            group.queue.append(pending)
        with group.turn:
            if not pending.done:
                with group.queue_lock:
                    batch, group.queue = group.queue[:_MAX_BATCH], group.queue[_MAX_BATCH:]
                self._commit(group, batch)
        if pending.error is not None:
            raise pending.error
        assert pending.row is not None  # set with `done`, unless there is an error
        return pending.row

    def _commit(self, group: _Group, batch: list[_Pending]) -> None:
        """One transaction for `batch`. If a statement fails, nothing of the transaction was
        written, and each write is tried again alone, so that only a write that fails by
        itself fails. If the database cannot be reached (or the connection is lost, and with
        it the commit's outcome), every write of the batch fails with that error, none of
        them acknowledged — as each would have failed alone."""
        try:
            with self._pool.connection() as db, db.pipeline(), db.transaction():
                for lock in group.locks:
                    db.execute(lock)
                written = [db.execute(group.statement, pending.values) for pending in batch]
            for pending, cursor in zip(batch, written, strict=True):
                pending.row = cursor.fetchone()
        except Exception as error:
            if len(batch) > 1 and not isinstance(error, psycopg.OperationalError):
                for pending in batch:
                    self._commit(group, [pending])
                return
            for pending in batch:
                pending.error = error
        finally:
            for pending in batch:
                if pending.row is None and pending.error is None:  # interrupted
                    pending.error = RuntimeError("the write's transaction was interrupted")
                pending.done = True

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
        # it changed the row, the audit head's lock (the last thing taken), the entry the
        # database seals and COMMIT in a second.
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
    def _append(db: psycopg.Connection[Any], draft: AuditDraft) -> psycopg.Cursor[Any]:
        """Append within the caller's transaction: lock the chain's head (FOR UPDATE: every
        other appender waits until this transaction ends), then write the entry the database
        seals on it and the new head. Nothing is read back here, so in a pipeline both go with
        the COMMIT that follows; the cursor answers (seq, previous hash, hash) for `_sealed`."""
        db.execute(_LOCK_AUDIT_HEAD)
        return db.execute(_APPEND, {**_draft_values(draft), **_template(draft)})

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        # One round trip: BEGIN, the head's lock, the entries queued meanwhile and COMMIT.
        return _sealed(
            draft, self._grouped(self._appends, {**_draft_values(draft), **_template(draft)})
        )

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
