"""The receiver's record of imported transmission units: what `Workflow.receive` checks
replays against (the journal is one too).

A unit is identified by its sender (office and service type), its receiver (office and
service type) and its ファイル連番. `receive` refuses a unit already imported
(`ALREADY_IMPORTED`) and one whose ファイル連番 is older than the newest imported from that
sender for that receiver (`OLDER_THAN_IMPORTED`): senders send units to one partner in
ascending ファイル連番, and receivers import them in that order (the standard's rule).

`MemoryImportedUnits` (the default of a Client) lasts as long as the process;
`SqliteImportedUnits(path)` keeps the record in a file, which is what a receiver needs for
the check to hold across runs. Any object with the three methods of `ImportedUnits` will do
(the vendor's own database).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Protocol

import attrs

from ..envelope import Manifest

__all__ = ["ImportedUnit", "ImportedUnits", "MemoryImportedUnits", "SqliteImportedUnits"]


@attrs.frozen
class ImportedUnit:
    """One transmission unit as the replay checks see it."""

    sender: str
    sender_service_type: str
    """Empty for the v3 naming rule, which has no service types."""
    receiver: str
    receiver_service_type: str
    serial: str
    """ファイル連番, 14 digits: ordered as text."""

    @classmethod
    def of(cls, manifest: Manifest) -> ImportedUnit:
        """The unit a verified envelope's manifest describes."""
        return cls(
            manifest.sender.number,
            manifest.sender.service_type or "",
            manifest.receiver.number,
            manifest.receiver.service_type or "",
            manifest.serial,
        )

    @property
    def pair(self) -> tuple[str, str, str, str]:
        """Sender and receiver: the scope in which ファイル連番 ascend."""
        return (
            self.sender,
            self.sender_service_type,
            self.receiver,
            self.receiver_service_type,
        )


class ImportedUnits(Protocol):
    """What `receive` needs of a record of imported units."""

    def imported_by(self, unit: ImportedUnit) -> str | None:
        """The id of the hub message this unit was imported from, or None."""
        ...

    def newest_serial(self, unit: ImportedUnit) -> str | None:
        """The highest ファイル連番 imported from `unit`'s sender for its receiver, or None."""
        ...

    def add(self, unit: ImportedUnit, message_id: str) -> None:
        """Record that `unit` was imported from message `message_id`."""
        ...


class MemoryImportedUnits:
    """An in-process record of imported units (lost when the process ends)."""

    def __init__(self) -> None:
        self._units: dict[ImportedUnit, str] = {}
        self._newest: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()

    def imported_by(self, unit: ImportedUnit) -> str | None:
        return self._units.get(unit)

    def newest_serial(self, unit: ImportedUnit) -> str | None:
        return self._newest.get(unit.pair)

    def add(self, unit: ImportedUnit, message_id: str) -> None:
        with self._lock:
            self._units.setdefault(unit, message_id)
            newest = self._newest.get(unit.pair)
            if newest is None or unit.serial > newest:
                self._newest[unit.pair] = unit.serial


_SCHEMA = """
CREATE TABLE IF NOT EXISTS imported_units (
    sender TEXT NOT NULL,
    sender_service_type TEXT NOT NULL,
    receiver TEXT NOT NULL,
    receiver_service_type TEXT NOT NULL,
    serial TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (sender, sender_service_type, receiver, receiver_service_type, serial)
)
"""


class SqliteImportedUnits:
    """A record of imported units in an SQLite file (`:memory:` for a test), kept across runs.

    Each `add` is committed at once: `receive` records a unit after the handler imported it
    and before it sends the `imported` receipt, so a crash in between never imports it twice.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(_SCHEMA)

    def imported_by(self, unit: ImportedUnit) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT message_id FROM imported_units WHERE sender = ? AND "
                "sender_service_type = ? AND receiver = ? AND receiver_service_type = ? "
                "AND serial = ?",
                (*unit.pair, unit.serial),
            ).fetchone()
        return None if row is None else str(row[0])

    def newest_serial(self, unit: ImportedUnit) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT max(serial) FROM imported_units WHERE sender = ? AND "
                "sender_service_type = ? AND receiver = ? AND receiver_service_type = ?",
                unit.pair,
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def add(self, unit: ImportedUnit, message_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO imported_units VALUES (?, ?, ?, ?, ?, ?)",
                (*unit.pair, unit.serial, message_id),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
