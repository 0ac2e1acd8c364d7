"""`CareplanFile`: one standard file, read or about to be written."""

from __future__ import annotations

import attrs

from .._issue import Issue
from ._filename import FileName
from ._layout import Layout
from ._ms932 import Substitution
from ._record import ReadGaps, Record
from ._writer import QuotePolicy, write_file

__all__ = ["CareplanFile"]


@attrs.frozen
class CareplanFile:
    """A standard file: its name, layout, CSVバージョン and typed records."""

    name: FileName
    layout: Layout
    csv_version: str | None
    """The CSVバージョン of the first record (None for a file without records)."""
    records: tuple[Record, ...] = attrs.field(repr=lambda records: f"<{len(records)} records>")
    notes: tuple[Issue, ...] = ()
    """Warnings found while reading (BOM, header line, blank lines); never errors."""
    record_lines: tuple[int, ...] = attrs.field(default=(), eq=False, repr=False)
    """The physical line each record starts on (from `parse_plan`; empty otherwise)."""
    gaps: ReadGaps | None = attrs.field(default=None, eq=False, repr=False)
    """What a lenient read (validation) could not read; None when every record was read."""

    def line_of(self, index: int) -> int | None:
        """The line where record `index` (0-based) starts, if known."""
        return self.record_lines[index] if index < len(self.record_lines) else None

    def to_bytes(
        self,
        *,
        quoting: QuotePolicy = QuotePolicy.CANONICAL,
        substitution: Substitution | None = None,
    ) -> bytes:
        """The file in canonical form (or with another quoting policy)."""
        return write_file(self.records, self.name, quoting=quoting, substitution=substitution)
