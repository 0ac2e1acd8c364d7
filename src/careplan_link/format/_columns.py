"""The values of a file's records column by column, fetched once for all rules."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from ._file import CareplanFile

__all__ = ["Columns"]


class Columns:
    """Column-wise access to a file's values: `columns["service_code"]` is a list.

    Rules work column by column (checking each distinct value once); each column is fetched
    once, in C, the first time it is asked for.
    """

    def __init__(self, file: CareplanFile) -> None:
        self._file = file
        self._values: dict[str, list[Any]] = {}

    def __getitem__(self, attribute: str) -> list[Any]:
        values = self._values.get(attribute)
        if values is None:
            values = self._values[attribute] = list(map(attrgetter(attribute), self._file.records))
        return values
