"""The values of a file's records column by column, fetched once for all rules."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from operator import attrgetter
from typing import Any, overload

from ._file import CareplanFile
from ._layout import Kind
from ._rowcode import builds_tuple

__all__ = ["ColumnRecords", "Columns", "ColumnsOf", "uniform"]

# Kinds whose values are hashed by a Python function: YearMonth (an attrs class). Dates and times
# hash in C (their special values, enums, are rare), which beats reducing by identity first.
_PYTHON_HASHED = frozenset({Kind.YYYYMM})
# How many values of a column `checkable` looks at to tell a column of repeated values.
_SAMPLE = 1024


class Columns:
    """Column-wise access to a file's values, all fetched at once, in C, when first asked for.

    Rules check each distinct value of a column once (a 第6表 repeats the same few values on
    every line), so `distinct` is what they ask for first; the full column (`columns[attr]`)
    locates the records holding a bad value. Rules ask about nearly every column, so all are
    fetched in one pass (one tuple of every value per record, transposed) rather than one pass
    over the records per column.
    """

    def __init__(self, file: CareplanFile, values: Sequence[Sequence[Any]] | None = None) -> None:
        """`values`: the file's values column by column, in the layout's order, when the reader
        made them already (it transposes records while they are still in the cache)."""
        self._file = file
        self._values: dict[str, Sequence[Any]] | None = None
        if values is not None:
            names = [column.attribute for column in file.layout.columns]
            self._values = dict(zip(names, values, strict=True))
        self._distinct: dict[str, set[Any]] = {}
        self._joined: dict[str, str | None] = {}
        # Columns whose values hash in Python (YearMonth, the special values): a set of them
        # would call that hash once per record. The reader gives equal texts one value object,
        # so such a column is first reduced by identity, in C, and only the few distinct
        # objects are hashed.
        self._python_hashed = {
            column.attribute for column in file.layout.columns if column.kind in _PYTHON_HASHED
        }

    def __getitem__(self, attribute: str) -> Sequence[Any]:
        values = self._values
        if values is None:
            layout = self._file.layout
            names = [column.attribute for column in layout.columns]
            records: Any = self._file.records
            # A generated record is the tuple of its values (`tuple_record`): the columns are
            # the records transposed, in C. Another record type is read field by field first.
            if not builds_tuple(layout) or {*map(type, records)} - {layout.record_type}:
                records = map(attrgetter(*names), records)
            # Every record has every column: the transposed tuples are all as long.
            by_column = zip(*records, strict=True) if self._file.records else [()] * len(names)
            values = self._values = dict(zip(names, by_column, strict=True))
        return values[attribute]

    def distinct(self, attribute: str) -> set[Any]:
        """The column's distinct values (values of one column are all of one type or None)."""
        distinct = self._distinct.get(attribute)
        if distinct is None:
            column = self[attribute]
            if uniform(column):
                # One value throughout (an empty item, the file's month, the CSVバージョン:
                # most columns of most files): no set made of every record's value.
                distinct = self._distinct[attribute] = {column[0]}
                return distinct
            values: Collection[Any] = column
            if attribute in self._python_hashed:
                values = dict(zip(map(id, values), values, strict=True)).values()
            distinct = self._distinct[attribute] = set(values)
        return distinct

    def made_distinct(self, attribute: str) -> set[Any] | None:
        """The column's distinct values when a rule has asked for them already (`distinct`),
        else None: a rule that can do without them then makes no set."""
        return self._distinct.get(attribute)

    def joined(self, attribute: str) -> str | None:
        """The column's values joined by line feeds, when they are all texts (None when one
        is None or of another type): the item rules match a pattern in it, the file rules
        and the control-character rule search it, each once for the whole column."""
        if attribute in self._joined:
            return self._joined[attribute]
        try:
            joined: str | None = "\n".join(self[attribute])
        except TypeError:
            joined = None
        self._joined[attribute] = joined
        return joined

    def single(self, attribute: str) -> bool:
        """Whether the column holds one value throughout (`len(distinct) == 1`), told without
        a set of its values where it plainly holds several: its first and last (or middle)
        values differ, told by two comparisons (a 被保険者番号 a user in a file of many)."""
        distinct = self._distinct.get(attribute)
        if distinct is None:
            column = self[attribute]
            if uniform(column):
                return True
            if column:
                first = column[0]
                for other in (column[-1], column[len(column) // 2]):
                    # Values that are neither one object nor equal are two distinct values of
                    # the set (`is not` first: a value unequal to itself is one set element).
                    if other is not first and other != first:
                        return False
            distinct = self.distinct(attribute)
        return len(distinct) == 1

    def checkable(self, attribute: str, *, mostly_distinct: int = _SAMPLE // 2) -> Collection[Any]:
        """What a rule that tests every value in C should test: the distinct values (a set)
        when the column repeats its values, or the column itself when a sample of it shows
        mostly different values (names, 被保険者番号, amounts of a file of many users), where
        hashing every value into a set would cost more than the test it saves.

        `mostly_distinct`: how many distinct values among the sample's `_SAMPLE` make the
        column "mostly different"; a rule whose test of a value costs less than hashing it
        gives a lower number (a 第7表 of a detail line and a 全合計 a user holds each amount
        twice: half its values differ)."""
        distinct = self._distinct.get(attribute)
        if distinct is not None:
            return distinct
        values = self[attribute]
        if (
            len(values) > 2 * _SAMPLE
            and attribute not in self._python_hashed
            and not _probably_uniform(values)
            and len(set(values[:_SAMPLE])) > mostly_distinct
        ):
            return values
        return self.distinct(attribute)

    def where(self, attribute: str, bad: Callable[[Any], bool]) -> list[int]:
        """Indices of the records whose value is bad; `bad` runs once per distinct value."""
        bad_values = {value for value in self.distinct(attribute) if bad(value)}
        if not bad_values:
            return []
        return [index for index, value in enumerate(self[attribute]) if value in bad_values]


def _probably_uniform(values: Sequence[Any]) -> bool:
    """Whether the first, middle and last values are one object: then the column most
    likely holds that value throughout (`uniform` tells), and no sample of it is hashed
    to tell whether its values mostly differ (most columns of most files hold one value)."""
    first = values[0]
    return values[-1] is first and values[len(values) // 2] is first


def uniform(values: Sequence[Any]) -> bool:
    """Whether `values` are told to be all equal to the first: then the set of them is
    `{values[0]}`, as `set(values)` would make it. False when they differ, are empty, or
    their last or middle value is another object than the first (equal or not: the caller's
    general path then decides).

    Told in C at a few nanoseconds a value: `count` compares by identity first, and a read
    file gives equal texts of a column one value object, so no `__eq__` runs in the usual
    column of one value (an empty item, the file's month); the probes at the middle and the
    end leave a column of many values at once, before counting.
    """
    if not values:
        return False
    first = values[0]
    return (
        values[-1] is first
        and values[len(values) // 2] is first
        and values.count(first) == len(values)
    )


class ColumnRecords(Sequence[Any]):
    """A file's records kept as its columns (a file read for validation: its rules read the
    columns, and a record is made only when asked for). A sequence of the records as the
    tuple `parse_plan` gives is: equal to it, hashed alike; iterating, slicing or comparing
    makes every record once."""

    __slots__ = ("_columns", "_made", "_make")

    def __init__(self, record_type: type, columns: list[list[Any]]) -> None:
        """`record_type`: a generated record type (`builds_tuple`), the tuple of its values."""
        self._columns = columns
        self._make = functools.partial(tuple.__new__, record_type)
        self._made: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return len(self._columns[0]) if self._columns else 0

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._all()[index]
        if self._made is not None:
            return self._made[index]
        return self._make(tuple(column[index] for column in self._columns))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ColumnRecords):
            other = other._all()
        if not isinstance(other, tuple):
            return NotImplemented
        return self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"ColumnRecords(<{len(self)} records>)"

    def _all(self) -> tuple[Any, ...]:
        if self._made is None:
            self._made = tuple(map(self._make, zip(*self._columns, strict=True)))
        return self._made


class ColumnsOf:
    """Each file's `Columns`, made once for every rule of a validation run.

    The item rules, the file rules, the unit rules and the 第7表 arithmetic all read the same
    files column by column; transposing a file costs about as much as a tenth of reading it, so
    it is done once. Files are told apart by identity (they hash by value, which would compare
    every record), and each is held so that its identity cannot be reused meanwhile.
    """

    def __init__(self) -> None:
        self._made: dict[int, tuple[CareplanFile, Columns]] = {}

    def __call__(self, file: CareplanFile) -> Columns:
        made = self._made.get(id(file))
        if made is None:
            made = self._made[id(file)] = (file, Columns(file))
        return made[1]

    def adopt(self, file: CareplanFile, columns: Columns) -> Columns:
        """Use `columns` (made by whoever read `file`) as the file's for the rest of the run."""
        self._made[id(file)] = (file, columns)
        return columns
