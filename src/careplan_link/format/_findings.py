"""Collecting validation issues for one file without flooding the report.

A file of 100,000 records with the same wrong office number on every line should produce a
readable report: the first `PER_RULE_LIMIT` occurrences of each (code, column) are listed with
their record, line and column, then one issue says how many more there are.

A file read leniently may hold records with items that could not be read (None in them, see
`ReadGaps`): on those records only rules about one readable item are reported; a rule that
compares items, or looks at an unread one, would judge a value that is not there.
"""

from __future__ import annotations

from collections import Counter

from .._issue import Issue, Severity
from ._convert import format_value
from ._file import CareplanFile
from ._layout import Column, Kind

__all__ = ["PER_RULE_LIMIT", "Findings"]

PER_RULE_LIMIT = 100


class Findings:
    """The issues of one file, with locations filled in from the file."""

    def __init__(self, file: CareplanFile | None, file_name: str | None = None) -> None:
        self.file = file
        self.file_name = file_name if file_name is not None else (str(file.name) if file else None)
        self.issues: list[Issue] = []
        gaps = file.gaps if file is not None else None
        self._numbers = gaps.numbers if gaps is not None else None
        self._holes = gaps.unread_items if gaps is not None else {}
        self._counts: Counter[tuple[str, int | None]] = Counter()
        self._first: dict[tuple[str, int | None], Issue] = {}

    def add(
        self,
        code: str,
        severity: Severity,
        ja: str,
        en: str,
        *,
        index: int | None = None,
        column: Column | None = None,
        value: object = None,
        single_item: bool = False,
    ) -> None:
        """Report an issue; `index` is the 0-based record index, `column` the column.

        `single_item` marks a rule about `column`'s value alone: the only kind reported on a
        record some of whose items could not be read.
        """
        holes = self._holes.get(index) if self._holes and index is not None else None
        if holes is not None and (not single_item or column is None or column.no in holes):
            return
        key = (code, column.no if column else None)
        self._counts[key] += 1
        if self._counts[key] > PER_RULE_LIMIT:
            return
        issue = Issue(
            code,
            severity,
            ja,
            en,
            file=self.file_name,
            record=self._record_number(index),
            line=self.file.line_of(index) if self.file is not None and index is not None else None,
            column=column.no if column else None,
            item=column.name_ja if column else None,
            value=_text(value),
        )
        self._first.setdefault(key, issue)
        self.issues.append(issue)

    def _record_number(self, index: int | None) -> int | None:
        if index is None:
            return None
        return self._numbers[index] if self._numbers is not None else index + 1

    def finish(self) -> list[Issue]:
        """The issues, with one summary per rule that went over the limit."""
        for key, count in self._counts.items():
            if count <= PER_RULE_LIMIT:
                continue
            first = self._first[key]
            more = count - PER_RULE_LIMIT
            self.issues.append(
                Issue(
                    first.code,
                    first.severity,
                    f"同じ問題が他に {more:,} 件あります（最初の {PER_RULE_LIMIT} 件を表示）",
                    f"the same problem occurs in {more:,} more records "
                    f"(the first {PER_RULE_LIMIT} are listed)",
                    file=first.file,
                    column=first.column,
                    item=first.item,
                )
            )
        return self.issues


def _text(value: object) -> str | None:
    """A value as the file writes it (dates as YYYYMMDD, months as YYYYMM …)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    for kind in (Kind.YYYYMMDD, Kind.YYYYMM, Kind.HHMM, Kind.INTEGER, Kind.DECIMAL):
        try:
            return format_value(kind, value)
        except (TypeError, ValueError):
            continue
    return str(value)
