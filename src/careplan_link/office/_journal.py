"""The office's local journal: every unit it sent or received, and what happened to it.

One SQLite file (WAL, mode 0600: it holds insured numbers), kept for years — nothing is ever
purged. Each unit (one transmission unit, sent or received) has a row; each thing that
happened to it (validated, sealed, sending, sent, delivered, downloaded, imported, rejected
with reasons, withdrawn …) an event row with its time. `history()` flattens both into the
delivery history an office shows at 運営指導, exportable as CSV (MS932 or UTF-8, for Excel) or
JSON; each entry carries the envelope's SHA-256, which the hub's audit log also records.

Crash safety: every `record` is its own committed transaction, or part of one
`transaction()` that commits several events that happen together (with `synchronous=FULL`
each commit is an fsync: a unit's statuses go in one). A send is journaled before the
envelope goes out (`sending`, with the unit's idempotency key) and completed after (`sent`,
with the message id); a restart finds the unfinished send (`unfinished_sends`) and sends the
unit again, which the hub recognises by the key instead of storing it twice.

The journal is also a record of imported units (`imported_by`, `newest_serial`, `add`: the
`ImportedUnits` protocol), so one file is all an office's state.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import enum
import io
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from ..errors import CareplanLinkError
from ..protocol import TRANSITIONS, MessageStatus
from ._imported import ImportedUnit

__all__ = ["Direction", "Event", "HistoryEntry", "Journal", "JournalError", "JournalUnit"]


class JournalError(CareplanLinkError):
    """The journal file cannot be opened or written (it names the file)."""


class Direction(enum.StrEnum):
    """Whether the office sent the unit or received it."""

    SENT = "sent"
    RECEIVED = "received"


class Event(enum.StrEnum):
    """What can happen to a unit. The hub's statuses (delivered … expired) are recorded once
    each, when `refresh_statuses` or `receive` learns of them."""

    VALIDATED = "validated"
    INVALID = "invalid"
    """Validation found errors: the unit was not sent (detail: the issue codes)."""
    SEALED = "sealed"
    SENDING = "sending"
    """The envelope is about to go out (written before the send: the intent)."""
    SENT = "sent"
    SEND_FAILED = "send_failed"
    DELIVERED = "delivered"
    DOWNLOADED = "downloaded"
    IMPORTED = "imported"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    """Received, but left for a later run (a local failure)."""
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


# The hub's statuses, recorded at most once per unit.
HUB_EVENTS = frozenset(
    {
        Event.DELIVERED,
        Event.DOWNLOADED,
        Event.IMPORTED,
        Event.REJECTED,
        Event.WITHDRAWN,
        Event.EXPIRED,
    }
)

# The hub's final statuses, those its status table leads nowhere from: a unit that reached
# one changes no more.
FINAL_EVENTS = frozenset(
    Event(status.value)
    for status in MessageStatus
    if not any(start is status for start, _ in TRANSITIONS)
)


@attrs.frozen
class JournalUnit:
    """One transmission unit as the journal keeps it."""

    key: str
    """Sent units: the unit's idempotency key; received ones: `in:<message id>`."""
    direction: Direction
    sender: str
    sender_service_type: str
    receiver: str
    receiver_service_type: str
    serial: str
    """ファイル連番."""
    kind: str
    """The unit kind (`plan`, `schedule`, `results` …)."""
    month: str | None
    """対象年月 (YYYYMM) from the file names, when they carry one."""
    insured_nos: tuple[str, ...] = ()
    """被保険者番号 of the unit's users (so that the history can be filtered by user)."""
    sha256: str | None = None
    """SHA-256 of the envelope (hex): matches the hub's audit log."""
    message_id: str | None = None

    @property
    def partner(self) -> str:
        """The other office."""
        return self.receiver if self.direction is Direction.SENT else self.sender


@attrs.frozen
class HistoryEntry:
    """One event of one unit: a line of the delivery history."""

    at: datetime.datetime
    event: Event
    direction: Direction
    partner: str
    sender: str
    receiver: str
    receiver_service_type: str
    serial: str
    kind: str
    month: str | None
    insured_nos: tuple[str, ...]
    message_id: str | None
    sha256: str | None
    reasons: tuple[str, ...] = ()
    detail: str | None = None

    def to_json(self) -> dict[str, object]:
        """The entry as JSON values (times in ISO 8601 with their offset)."""
        document = attrs.asdict(self, recurse=False)
        document["at"] = self.at.isoformat()
        document["event"] = self.event.value
        document["direction"] = self.direction.value
        document["insured_nos"] = list(self.insured_nos)
        document["reasons"] = list(self.reasons)
        return document


EXPORT_COLUMNS = tuple(f.name for f in attrs.fields(HistoryEntry))
EXPORT_FORMATS = ("csv", "json")
EXPORT_ENCODINGS = ("cp932", "utf-8")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_service_type TEXT NOT NULL,
    receiver TEXT NOT NULL,
    receiver_service_type TEXT NOT NULL,
    serial TEXT NOT NULL,
    kind TEXT NOT NULL,
    month TEXT,
    insured_nos TEXT NOT NULL,
    sha256 TEXT,
    message_id TEXT
);
CREATE INDEX IF NOT EXISTS units_message ON units (message_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    unit_id INTEGER NOT NULL REFERENCES units (id),
    event TEXT NOT NULL,
    at TEXT NOT NULL,
    reasons TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_unit ON events (unit_id);
CREATE TABLE IF NOT EXISTS imported_units (
    sender TEXT NOT NULL,
    sender_service_type TEXT NOT NULL,
    receiver TEXT NOT NULL,
    receiver_service_type TEXT NOT NULL,
    serial TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (sender, sender_service_type, receiver, receiver_service_type, serial)
);
"""

_UNIT_COLUMNS = (
    "key, direction, sender, sender_service_type, receiver, receiver_service_type, serial, "
    "kind, month, insured_nos, sha256, message_id"
)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Journal:
    """An office's journal in the SQLite file `path` (created 0600; `:memory:` for a test).

    Safe to share between threads of one process. Use as a context manager or `close()`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.path = str(path)
        self._clock = clock or _now
        try:
            if self.path != ":memory:":
                _create_private(Path(self.path))
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise JournalError(
                f"記録ファイル {self.path} を開けません / cannot open the journal {self.path}: "
                f"{error}"
            ) from None
        # Reentrant: `record` inside `transaction()` joins it (`_depth` counts the nesting).
        self._lock = threading.RLock()
        self._depth = 0

    # -- life cycle ----------------------------------------------------------------------------

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------------------------

    def record(
        self,
        unit: JournalUnit,
        event: Event | str,
        *,
        at: datetime.datetime | None = None,
        reasons: Sequence[str] = (),
        detail: str | None = None,
    ) -> bool:
        """Add `event` to `unit`'s timeline (creating the unit, or filling in its message id
        and envelope hash once known), committed before returning. A hub status already in
        the timeline is not added again (returns False); a `detail` given with it is kept on
        the one already there."""
        event = Event(event)
        when = (at or self._clock()).astimezone(datetime.UTC)
        with self._lock, self._write():
            unit_id = self._unit_id(unit)
            if event in HUB_EVENTS:
                found = self._db.execute(
                    "SELECT id FROM events WHERE unit_id = ? AND event = ?",
                    (unit_id, event.value),
                ).fetchone()
                if found is not None:
                    if detail is not None:  # the office's own words on a status it knew
                        self._db.execute(
                            "UPDATE events SET detail = ? WHERE id = ? AND detail IS NULL",
                            (detail, found[0]),
                        )
                    return False
            self._db.execute(
                "INSERT INTO events (unit_id, event, at, reasons, detail) VALUES (?, ?, ?, ?, ?)",
                (unit_id, event.value, when.isoformat(), json.dumps(list(reasons)), detail),
            )
        return True

    def record_all(
        self, unit: JournalUnit, events: Iterable[tuple[Event, datetime.datetime | None]]
    ) -> None:
        """`record` each (event, time or None for now) in order, in one transaction: one
        commit (one fsync) for events that happened together."""
        with self.transaction():
            for event, at in events:
                self.record(unit, event, at=at)

    def now(self) -> datetime.datetime:
        """The journal's clock: the time `record` gives an event recorded now."""
        return self._clock()

    def _unit_id(self, unit: JournalUnit) -> int:
        row = self._db.execute(
            "SELECT id, sha256, message_id FROM units WHERE key = ?", (unit.key,)
        ).fetchone()
        if row is None:
            cursor = self._db.execute(
                f"INSERT INTO units ({_UNIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    unit.key,
                    unit.direction.value,
                    unit.sender,
                    unit.sender_service_type,
                    unit.receiver,
                    unit.receiver_service_type,
                    unit.serial,
                    unit.kind,
                    unit.month,
                    json.dumps(list(unit.insured_nos)),
                    unit.sha256,
                    unit.message_id,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid
        unit_id, sha256, message_id = row
        # The hash and id become known along the way (sealed, then sent): fill them in. The
        # hub's message (its id and hash) wins over a later sealing of the same unit.
        if unit.message_id is not None and message_id != unit.message_id:
            self._db.execute(
                "UPDATE units SET message_id = ?, sha256 = coalesce(?, sha256) WHERE id = ?",
                (unit.message_id, unit.sha256, unit_id),
            )
        elif unit.sha256 is not None and sha256 is None:
            self._db.execute("UPDATE units SET sha256 = ? WHERE id = ?", (unit.sha256, unit_id))
        if unit.insured_nos:
            self._db.execute(
                "UPDATE units SET insured_nos = ? WHERE id = ? AND insured_nos = '[]'",
                (json.dumps(list(unit.insured_nos)), unit_id),
            )
        return int(unit_id)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit every `record` made inside as one transaction (all or none of them), when
        the block ends; other threads' writes wait. Nested blocks join the outer one."""
        with self._lock, self._write():
            yield

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        # Called with the lock held.
        outermost = self._depth == 0
        if outermost:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if outermost:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if outermost:
            self._db.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------------

    def units(self) -> list[JournalUnit]:
        """Every unit, in the order they were first journaled."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_UNIT_COLUMNS} FROM units ORDER BY id").fetchall()
        return [_unit(row) for row in rows]

    def unit(self, unit_or_message_id: str) -> JournalUnit | None:
        """The unit with this key or message id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_UNIT_COLUMNS} FROM units WHERE key = ? OR message_id = ? "
                "ORDER BY id LIMIT 1",
                (unit_or_message_id, unit_or_message_id),
            ).fetchone()
        return None if row is None else _unit(row)

    def timeline(self, unit_or_message_id: str | JournalUnit) -> list[HistoryEntry]:
        """The unit's events, oldest first (empty for an unknown unit)."""
        key = (
            unit_or_message_id.key
            if isinstance(unit_or_message_id, JournalUnit)
            else unit_or_message_id
        )
        return self._entries("WHERE u.key = ? OR u.message_id = ?", (key, key))

    def events(self, unit: JournalUnit | str) -> list[Event]:
        """Just the events of `unit`'s timeline, oldest first."""
        return [entry.event for entry in self.timeline(unit)]

    def unfinished_sends(self) -> list[JournalUnit]:
        """Units whose send was started (`sending`) and not completed (`sent`) nor given up
        (`send_failed` after the last `sending`): a crash interrupted them."""
        result = []
        for unit in self.units():
            if unit.direction is not Direction.SENT:
                continue
            events = self.events(unit.key)
            if Event.SENDING not in events:
                continue
            last = max(i for i, e in enumerate(events) if e is Event.SENDING)
            after = events[last + 1 :]
            if Event.SENT not in after and Event.SEND_FAILED not in after:
                result.append(unit)
        return result

    def sent_keys(self, receiver: str, serial: str) -> set[str]:
        """The keys of the units sent (`sent` journaled) to office `receiver` under the
        ファイル連番 `serial`: usually none, so that a caller can skip hashing a unit's files
        to find its key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT u.key FROM units u JOIN events e ON e.unit_id = u.id WHERE "
                "u.direction = 'sent' AND u.receiver = ? AND u.serial = ? AND e.event = ?",
                (receiver, serial, Event.SENT.value),
            ).fetchall()
        return {str(row[0]) for row in rows}

    def awaiting_status(self) -> list[str]:
        """The message ids of sent units whose hub status can still change: sent, and neither
        imported, rejected, withdrawn nor expired (the hub's final statuses). What
        `refresh_statuses` can learn something about; empty means it has nothing to learn."""
        final = tuple(event.value for event in FINAL_EVENTS)
        marks = ", ".join("?" * len(final))
        with self._lock:
            rows = self._db.execute(
                "SELECT u.message_id FROM units u WHERE u.direction = 'sent' AND "
                "u.message_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events e WHERE "
                f"e.unit_id = u.id AND e.event IN ({marks})) ORDER BY u.id",
                final,
            ).fetchall()
        return [str(row[0]) for row in rows]

    def history(
        self,
        month: str | None = None,
        partner: str | None = None,
        insured_no: str | None = None,
    ) -> list[HistoryEntry]:
        """Every event of every unit, in the order journaled; filtered by 対象年月 (YYYYMM), by the
        other office (事業所番号) and by a user's 被保険者番号."""
        clauses: list[str] = []
        values: list[str] = []
        if month is not None:
            clauses.append("u.month = ?")
            values.append(month)
        if partner is not None:
            clauses.append(
                "((u.direction = 'sent' AND u.receiver = ?) OR "
                "(u.direction = 'received' AND u.sender = ?))"
            )
            values += [partner, partner]
        if insured_no is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(u.insured_nos) WHERE value = ?)")
            values.append(insured_no)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._entries(where, tuple(values))

    def _entries(self, where: str, values: tuple[str, ...]) -> list[HistoryEntry]:
        query = (
            f"SELECT {', '.join('u.' + c.strip() for c in _UNIT_COLUMNS.split(','))}, "
            f"e.event, e.at, e.reasons, e.detail FROM events e JOIN units u ON u.id = e.unit_id "
            f"{where} ORDER BY e.id"
        )
        with self._lock:
            rows = self._db.execute(query, values).fetchall()
        entries = []
        for row in rows:
            unit = _unit(row[:12])
            event, at, reasons, detail = row[12:]
            entries.append(
                HistoryEntry(
                    at=datetime.datetime.fromisoformat(at),
                    event=Event(event),
                    direction=unit.direction,
                    partner=unit.partner,
                    sender=unit.sender,
                    receiver=unit.receiver,
                    receiver_service_type=unit.receiver_service_type,
                    serial=unit.serial,
                    kind=unit.kind,
                    month=unit.month,
                    insured_nos=unit.insured_nos,
                    message_id=unit.message_id,
                    sha256=unit.sha256,
                    reasons=tuple(json.loads(reasons)),
                    detail=detail,
                )
            )
        return entries

    def export(
        self,
        format: str = "csv",
        encoding: str = "cp932",
        *,
        entries: Iterable[HistoryEntry] | None = None,
    ) -> bytes:
        """The history (or `entries`) as CSV (a header line, CRLF, `encoding`: MS932 for
        Excel in Japanese, or UTF-8 with a BOM so that Excel reads it as UTF-8) or JSON
        (a list of objects, UTF-8)."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format is one of {', '.join(EXPORT_FORMATS)}, not {format!r}")
        if encoding not in EXPORT_ENCODINGS:
            raise ValueError(f"encoding is one of {', '.join(EXPORT_ENCODINGS)}, not {encoding!r}")
        chosen = list(self.history() if entries is None else entries)
        if format == "json":
            documents = [entry.to_json() for entry in chosen]
            return json.dumps(documents, ensure_ascii=False, indent=1).encode("utf-8")
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for entry in chosen:
            document = entry.to_json()
            writer.writerow(
                " ".join(map(str, value)) if isinstance(value, list) else value or ""
                for value in (document[column] for column in EXPORT_COLUMNS)
            )
        if encoding == "utf-8":
            return "\ufeff".encode() + text.getvalue().encode("utf-8")
        # Office numbers, codes and reasons are ASCII; details are our own bilingual text.
        return text.getvalue().encode("cp932", errors="replace")

    # -- ImportedUnits -------------------------------------------------------------------------

    def imported_by(self, unit: ImportedUnit) -> str | None:
        """The message `unit` was imported from, or None (`ImportedUnits`)."""
        with self._lock:
            row = self._db.execute(
                "SELECT message_id FROM imported_units WHERE sender = ? AND "
                "sender_service_type = ? AND receiver = ? AND receiver_service_type = ? "
                "AND serial = ?",
                (*unit.pair, unit.serial),
            ).fetchone()
        return None if row is None else str(row[0])

    def newest_serial(self, unit: ImportedUnit) -> str | None:
        """The highest ファイル連番 imported from `unit`'s sender for its receiver."""
        with self._lock:
            row = self._db.execute(
                "SELECT max(serial) FROM imported_units WHERE sender = ? AND "
                "sender_service_type = ? AND receiver = ? AND receiver_service_type = ?",
                unit.pair,
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def add(self, unit: ImportedUnit, message_id: str) -> None:
        """Record that `unit` was imported from `message_id` (committed at once)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO imported_units VALUES (?, ?, ?, ?, ?, ?)",
                (*unit.pair, unit.serial, message_id),
            )


def _unit(row: Sequence[object]) -> JournalUnit:
    key, direction, sst_sender, sst, receiver, rst, serial, kind, month, nos, sha, mid = row
    return JournalUnit(
        key=str(key),
        direction=Direction(str(direction)),
        sender=str(sst_sender),
        sender_service_type=str(sst),
        receiver=str(receiver),
        receiver_service_type=str(rst),
        serial=str(serial),
        kind=str(kind),
        month=None if month is None else str(month),
        insured_nos=tuple(json.loads(str(nos))),
        sha256=None if sha is None else str(sha),
        message_id=None if mid is None else str(mid),
    )


def _create_private(path: Path) -> None:
    """Create the journal (and its WAL and shared-memory files) readable by this user only:
    it holds insured numbers. An existing file is narrowed to 0600 as well."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name == path or name.exists():
            descriptor = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(descriptor)
            if os.name == "posix":
                name.chmod(0o600)
