"""`Issue`: one finding about a file, a record or a unit, used by the whole library.

Format errors, validation findings and the CLI's JSON all speak in `Issue`s, so a vendor maps one
type to its user interface. Location fields are None where they do not apply (a file-name issue
has no record, a unit issue has no file).
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["Issue", "Severity"]

Severity = Literal["error", "warning"]


@attrs.frozen
class Issue:
    """A finding, with a stable code (see docs/error-codes.md) and a message in two languages."""

    code: str
    severity: Severity
    message_ja: str
    message_en: str
    file: str | None = None
    """The file's name (not its path)."""
    record: int | None = None
    """1-based record number, counting records (not lines, not a header line)."""
    line: int | None = None
    """1-based physical line where the record starts."""
    column: int | None = None
    """1-based column number (the standard's No.)."""
    item: str | None = None
    """項目名 of the column."""
    value: str | None = None
    """The offending value as read (or as given, on write)."""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        """Where the issue is, e.g. `UPPLAN_….CSV record 3 (line 4) column 12 サービス開始時刻`."""
        parts = [self.file] if self.file else []
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.line is not None:
            parts.append(f"(line {self.line})")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.item:
            parts.append(self.item)
        return " ".join(parts)

    def message(self, lang: Literal["ja", "en"] = "en") -> str:
        """The message in one language, prefixed with the location and the code."""
        text = self.message_ja if lang == "ja" else self.message_en
        where = self.location()
        value = f" [{self.value!r}]" if self.value is not None else ""
        return f"{where}: {self.code}: {text}{value}" if where else f"{self.code}: {text}{value}"

    def __str__(self) -> str:
        return self.message("en")

    def to_dict(self) -> dict[str, str | int | None]:
        """The issue as a JSON-ready dict (the CLI's `--json` form)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "record": self.record,
            "line": self.line,
            "column": self.column,
            "item": self.item,
            "value": self.value,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
        }
