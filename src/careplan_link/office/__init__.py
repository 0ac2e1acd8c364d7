"""careplan_link.office: an office's workflow and its local state.

Above `client` (which only moves envelopes): prepare a unit (group, validate, verify the
recipient's certificates, seal), send it with a journal entry, receive (download, open,
validate, hand to the vendor's software, receipt), and the journal that makes all of it
crash-safe and keeps the delivery history an office shows at 運営指導 (docs/office.md); and
`FolderSync`, the folder hand-off of `careplan-link sync` on top of it (docs/sync.md).
"""

from __future__ import annotations

from ..errors import InvalidBundle, SerialAlreadyUsed
from ._config import ConfigError, Folders, SyncConfig, load_config
from ._flow import ImportOrderHeld, Outcome, PreparedUnit, Received, SendOutcome
from ._imported import ImportedUnit, ImportedUnits, MemoryImportedUnits, SqliteImportedUnits
from ._journal import Direction, Event, HistoryEntry, Journal, JournalError, JournalUnit
from ._sync import FolderSync, SyncPass
from ._workflow import AsyncWorkflow, Handler, UnitSource, Workflow, units_of

__all__ = [
    "AsyncWorkflow",
    "ConfigError",
    "Direction",
    "Event",
    "FolderSync",
    "Folders",
    "Handler",
    "HistoryEntry",
    "ImportOrderHeld",
    "ImportedUnit",
    "ImportedUnits",
    "InvalidBundle",
    "Journal",
    "JournalError",
    "JournalUnit",
    "MemoryImportedUnits",
    "Outcome",
    "PreparedUnit",
    "Received",
    "SendOutcome",
    "SerialAlreadyUsed",
    "SqliteImportedUnits",
    "SyncConfig",
    "SyncPass",
    "UnitSource",
    "Workflow",
    "load_config",
    "units_of",
]
