"""The values of a file's records column by column, fetched once for all rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from ._file import CareplanFile
from ._rowcode import builds_tuple

__all__ = ["Columns"]


class Columns:
    """Column-wise access to a file's values, all fetched at once, in C, when first asked for.

    Rules check each distinct value of a column once (a 第6表 repeats the same few values on
    every line), so `distinct` is what they ask for first; the full column (`columns[attr]`)
    locates the records holding a bad value. Rules ask about nearly every column, so all are
    fetched in one pass (one tuple of every value per record, transposed) rather than one pass
    over the records per column.
    """

    def __init__(self, file: CareplanFile) -> None:
        self._file = file
        self._values: dict[str, Sequence[Any]] | None = None
        self._distinct: dict[str, set[Any]] = {}

    def __getitem__(self, attribute: str) -> Sequence[Any]:
        values = self._values
        if values is None:
            layout = self._file.layout
            names = [column.attribute for column in layout.columns]
            records: Any = self._file.records
            # A generated record is the tuple of its values (`tuple_record`): the columns are
            # the records transposed, in C. Another record type is read field by field first.
            if not builds_tuple(layout) or any(type(r) is not layout.record_type for r in records):
                records = map(attrgetter(*names), records)
            # Every record has every column: the transposed tuples are all as long.
            by_column = zip(*records, strict=True) if self._file.records else [()] * len(names)
            values = self._values = dict(zip(names, by_column, strict=True))
        return values[attribute]

    def distinct(self, attribute: str) -> set[Any]:
        """The column's distinct values (values of one column are all of one type or None)."""
        distinct = self._distinct.get(attribute)
        if distinct is None:
            distinct = self._distinct[attribute] = set(self[attribute])
        return distinct

    def where(self, attribute: str, bad: Callable[[Any], bool]) -> list[int]:
        """Indices of the records whose value is bad; `bad` runs once per distinct value."""
        bad_values = {value for value in self.distinct(attribute) if bad(value)}
        if not bad_values:
            return []
        return [index for index, value in enumerate(self[attribute]) if value in bad_values]
