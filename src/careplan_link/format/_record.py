"""The common base of the generated record classes."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Record"]


class Record:
    """Base class of every record type (one frozen attrs class per interface and version).

    Each field carries its column number and 項目名 in its metadata (`no`, `item`).
    """

    __slots__ = ()

    csv_version: str

    def values(self) -> tuple[Any, ...]:
        """The typed values in column order."""
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]
