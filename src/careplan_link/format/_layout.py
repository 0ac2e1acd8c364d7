"""What a layout is: the columns of one interface in one CSV version, as data.

Every interface of the standard is one `Layout`, a tuple of `Column`s. The concrete layouts are
generated from the transcription of the standard (`tools/generate_layouts.py`) into
`_generated.py`; this module only defines their shape.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ._record import Record

__all__ = ["CodeTable", "Column", "Kind", "Layout"]


class Kind(enum.Enum):
    """How an item is written, and so which Python type it reads as."""

    CSV_VERSION = "csv_version"  # str, 6 digits (No.1 of every record)
    DIGITS = "digits"  # str of digits: office, insurer numbers; leading zeros kept
    ALPHANUMERIC = "alphanumeric"  # str: 被保険者番号, TAIS codes, サテライト枝番
    CODE = "code"  # str from a code table
    SERVICE_CODE = "service_code"  # str, 6 characters (type 2 + item 4)
    INTEGER = "integer"  # int
    DECIMAL = "decimal"  # decimal.Decimal (単位数単価, 99.99)
    YYYYMM = "yyyymm"  # YearMonth | ZeroMonth
    YYYYMMDD = "yyyymmdd"  # datetime.date | ZeroDate
    HHMM = "hhmm"  # datetime.time | NoTime
    POSTAL_CODE = "postal_code"  # str, XXX-XXXX
    PHONE = "phone"  # str
    FLAG31 = "flag31"  # str of 31 '0'/'1' (日割対象日)
    FREE_TEXT = "free_text"  # str, quoted on write (フリーテキスト)


@attrs.frozen
class CodeTable:
    """A code table of the standard: code → meaning (Japanese)."""

    name: str
    name_ja: str
    values: tuple[tuple[str, str], ...]

    def __contains__(self, code: object) -> bool:
        return any(code == value for value, _ in self.values)

    def meaning(self, code: str) -> str | None:
        """The Japanese meaning of `code`, or None if it is not in the table."""
        for value, meaning in self.values:
            if value == code:
                return meaning
        return None


@attrs.frozen
class Column:
    """One item (項目) of a layout."""

    no: int
    """1-based column number (the standard's No.)."""
    name_ja: str
    """項目名 as the standard writes it."""
    attribute: str
    """The record attribute holding this item."""
    kind: Kind
    max_length: int | None
    """項目長; None where the standard gives none (―)."""
    required: bool
    """The 必須 mark (○)."""
    code_table: CodeTable | None = None
    uncertain: bool = False
    """Part of this column's definition was reconstructed (see docs/decisions.md)."""

    @property
    def quoted(self) -> bool:
        """Written inside double quotes in canonical form (free text items only)."""
        return self.kind is Kind.FREE_TEXT


@attrs.frozen
class Layout:
    """The columns of one interface in one CSV version."""

    id: str
    """The interface id of the standard's transcription, e.g. `table6_plan`."""
    name_ja: str
    prefix: str
    """File-name prefix, e.g. `UPPLAN`."""
    csv_version: str
    """The CSVバージョン this layout belongs to: `202407` (v4.1) or `202208` (v3.2)."""
    columns: tuple[Column, ...] = attrs.field(repr=False)
    key_columns: tuple[int, ...]
    """Column numbers of the key that ties records to their parent (or, for parents, children)."""
    has_month: bool
    """The file name carries a month field."""
    record_type: type[Record] = attrs.field(eq=False, repr=False)

    @property
    def column_count(self) -> int:
        return len(self.columns)

    def column(self, attribute_or_no: str | int) -> Column:
        """The column with this attribute name or number."""
        for column in self.columns:
            if attribute_or_no in (column.attribute, column.no):
                return column
        raise KeyError(attribute_or_no)
