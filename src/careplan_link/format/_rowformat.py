"""Per-layout row formatters, compiled once per layout: the mirror image of `_rowcode`'s
builders, `",".join((a0, c1[a1], ...))` over a record's values with caches of written text."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from types import CodeType
from typing import Any

from . import _ms932
from ._convert import TYPED_KINDS, format_value
from ._layout import Column, Kind, Layout
from ._rowcode import builds_tuple, compile_generated
from ._values import YearMonth

__all__ = ["needs_quotes", "quote", "row_formatter", "saw_special_characters"]


def saw_special_characters(line: Callable[[Any], str]) -> bool:
    """Whether a formatter met text that plain cp932 encoding would get wrong."""
    defaults = line.__defaults__ or ()
    return any(isinstance(d, _FormatCache) and d.saw_special_characters() for d in defaults)


def quote(text: str) -> str:
    """An item in double quotes, inner quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def needs_quotes(text: str) -> bool:
    """Whether an item holds a separator and must be quoted whatever the policy."""
    return "," in text or '"' in text or "\n" in text or "\r" in text


# Numbers compare equal across types (1 == True == Decimal(1)); the formatter writes them inline
# after an exact type check, and their caches never store anything.
_UNCACHED = frozenset({Kind.INTEGER, Kind.DECIMAL, Kind.YYYYMM})


class _FormatCache(dict[Any, str]):
    """Value → written text of one column; formats (and type-checks) on a miss.

    Values are keys, so only types whose equal values always write the same text are stored:
    str, date, time and the special values.
    """

    __slots__ = ("kind", "quote_always", "special", "store", "text_kind", "unchecked")

    def __init__(self, column: Column, quote_always: bool) -> None:
        super().__init__({None: ""})
        self.kind = column.kind
        self.quote_always = quote_always
        # Decided once: a Kind's hash is a Python call, too dear for every miss.
        self.store = column.kind not in _UNCACHED
        self.text_kind = column.kind not in TYPED_KINDS
        self.special = False
        self.unchecked: list[str] = []

    def __missing__(self, value: Any) -> str:
        # Files whose texts all differ miss on every row: a str in a column of text is its own
        # text, without the general path's type dispatch.
        text = value if type(value) is str and self.text_kind else format_value(self.kind, value)
        # Each distinct text is looked at once, so the writer need not scan the whole output
        # for characters that are not writable or that Windows encodes differently. None is
        # ASCII (isascii() needs no scan); the others are scanned together when asked, one
        # regular-expression search for all of them rather than one per text.
        if not text.isascii():
            self.unchecked.append(text)
        if text and (self.quote_always or needs_quotes(text)):
            text = '"' + text.replace('"', '""') + '"'
        # No size limit: the cache lives for one write call and holds the texts the output
        # holds anyway; a limit would send every new 被保険者番号 past it down the slow path.
        if self.store:
            self[value] = text
        return text

    def saw_special_characters(self) -> bool:
        """Whether a text formatted so far holds a character plain cp932 encoding gets wrong."""
        if self.unchecked:
            # A character class matches character by character: joining creates no match.
            self.special = self.special or _ms932.has_special_characters("".join(self.unchecked))
            self.unchecked.clear()
        return self.special


def row_formatter(layout: Layout, quote_kinds: frozenset[Kind]) -> Callable[[Any], str]:
    """A function that writes one record of `layout` as a line (without the line break).

    `quote_kinds` are the kinds written in quotes whenever non-empty. Raises TypeError or
    ValueError for a value it cannot write; the caller then reports where.
    """
    namespace: dict[str, Any] = {
        "_q": quote,
        "Decimal": Decimal,
        "YearMonth": YearMonth,
    }
    for index, column in enumerate(layout.columns):
        # For ints, decimals and months the cache only sees values of another type (and so
        # raises, sending the row to the explicit path); for the others it is the fast path.
        namespace[f"c{index}"] = _FormatCache(column, column.kind in quote_kinds)
    exec(_formatter_code(layout, quote_kinds, builds_tuple(layout)), namespace)
    line: Callable[[Any], str] = namespace["make"]()
    return line


@functools.cache
def _formatter_code(layout: Layout, quote_kinds: frozenset[Kind], as_tuple: bool) -> CodeType:
    # `as_tuple` is part of the key: layouts compare equal whatever their record type.
    parts = []
    # A generated record is a tuple: its values are unpacked at once (reading them one by one as
    # attributes goes through a descriptor the interpreter does not specialize, ~40 ns each).
    for index, column in enumerate(layout.columns):
        v = f"a{index}"
        get = v if as_tuple else f"(a{index} := r.{column.attribute})"
        quoted = column.kind in quote_kinds
        if column.kind is Kind.INTEGER:
            # str() of an int is one C call, cheaper than a cache for high-cardinality sums;
            # `type(...) is int` also keeps bool out (True == 1 but is no number of the standard).
            text = f"str({v})"
            guard = "int"
        elif column.kind is Kind.DECIMAL:
            # Never cached: Decimal('11.4') == Decimal('11.40') but they write differently.
            text = f"format({v}, 'f')"
            guard = "Decimal"
        elif column.kind is Kind.YYYYMM:
            # YearMonth hashes in Python; formatting it inline is cheaper than a cache lookup.
            text = f"f'{{{v}.year:04d}}{{{v}.month:02d}}'"
            guard = "YearMonth"
        else:
            parts.append(f"c{index}[{v if as_tuple else 'r.' + column.attribute}]")
            continue
        shown = f"_q({text})" if quoted else text
        # The first condition binds the value once; the branches reuse it. None (an empty
        # item, the most common value of most such columns) is tested first: it needs no call.
        parts.append(
            f"('' if {get} is None else {shown} if type({v}) is {guard} else c{index}[{v}])"
        )
    names = ["_q", "Decimal", "YearMonth"] + [f"c{i}" for i in range(len(layout.columns))]
    defaults = ", ".join(f"{n}={n}" for n in names)
    unpack = f"  {', '.join(f'a{i}' for i in range(len(parts)))}, = r\n" if as_tuple else ""
    source = (
        f"def make():\n def line(r, {defaults}):\n{unpack}"
        "  return ','.join((" + ", ".join(parts) + ",))\n return line\n"
    )
    return compile_generated(source, f"row formatter {layout.id} {layout.csv_version}")
