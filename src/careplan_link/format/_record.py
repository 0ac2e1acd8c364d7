"""The common base of the generated record classes, and what a lenient read could not type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["ReadGaps", "Record"]


class Record:
    """Base class of every record type (one frozen attrs class per interface and version).

    Each field carries its column number and 項目名 in its metadata (`no`, `item`).
    """

    __slots__ = ()

    csv_version: str

    def values(self) -> tuple[Any, ...]:
        """The typed values in column order."""
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]


@attrs.frozen
class ReadGaps:
    """What validation could not read of a file, so that it can check everything else.

    Validation reads past a value it cannot type: the record is kept with None in that item
    (`unread_items`), and a record it cannot split into the layout's items at all is left out
    (`unread_records`). Rules then say nothing about what was not read, and record numbers stay
    those of the file.
    """

    numbers: tuple[int, ...]
    """The record number (1-based, in the file) of each record kept, in order."""
    unread_records: tuple[int, ...] = ()
    """Numbers of the records left out (wrong item count, broken quoting, too long …)."""
    unread_items: Mapping[int, frozenset[int]] = attrs.field(factory=dict)
    """Index of a kept record → the column numbers whose value could not be typed (None)."""

    def number(self, index: int) -> int:
        """The record number of the kept record at `index` (0-based)."""
        return self.numbers[index]
