"""The values of a file's records column by column, fetched once for all rules."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from ._file import CareplanFile

__all__ = ["Columns"]


class Columns:
    """Column-wise access to a file's values, each fetched once, in C, when first asked for.

    Rules check each distinct value of a column once (a 第6表 repeats the same few values on
    every line), so `distinct` is what they ask for first; the full list (`columns[attr]`) is
    only needed to locate the records holding a bad value, and is fetched only then.
    """

    def __init__(self, file: CareplanFile) -> None:
        self._file = file
        self._values: dict[str, list[Any]] = {}
        self._distinct: dict[str, set[Any]] = {}

    def __getitem__(self, attribute: str) -> list[Any]:
        values = self._values.get(attribute)
        if values is None:
            values = self._values[attribute] = list(map(attrgetter(attribute), self._file.records))
        return values

    def distinct(self, attribute: str) -> set[Any]:
        """The column's distinct values (values of one column are all of one type or None)."""
        distinct = self._distinct.get(attribute)
        if distinct is None:
            values = self._values.get(attribute)
            source = (
                values if values is not None else map(attrgetter(attribute), self._file.records)
            )
            distinct = self._distinct[attribute] = set(source)
        return distinct

    def where(self, attribute: str, bad: Callable[[Any], bool]) -> list[int]:
        """Indices of the records whose value is bad; `bad` runs once per distinct value."""
        bad_values = {value for value in self.distinct(attribute) if bad(value)}
        if not bad_values:
            return []
        return [index for index, value in enumerate(self[attribute]) if value in bad_values]
