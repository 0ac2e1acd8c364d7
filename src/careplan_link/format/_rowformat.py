"""Per-layout row formatters, compiled once per layout: the mirror image of `_rowcode`'s
builders, `",".join((a0, c1[a1], ...))` over a record's values with caches of written text."""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import CodeType
from typing import Any

from . import _ms932
from ._convert import TYPED_KINDS, format_value
from ._layout import Column, Kind, Layout
from ._rowcode import builds_tuple, compile_generated
from ._values import YearMonth

__all__ = ["FileWriter", "needs_quotes", "quote", "row_formatter", "saw_special_characters"]


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


# ---------------------------------------------------------------------------------------------
# Column by column: the file's text in C-level passes.
#
# The row formatter above runs a few bytecodes per item, more than the csv floor spends on the
# whole item. Here a block of records is turned into columns (`zip(*block)`), each column into its
# texts by one C-level pass (`map` over a dict's lookup, a type set, a join), and the texts back
# into lines (`map(",".join, zip(*texts))`). Python runs per distinct value, not per item.
# Any value it cannot write raises TypeError or ValueError, and the caller then writes the file
# row by row (the row formatter, then the explicit path that says where).

# A block's values are read column by column, i.e. out of the order they lie in memory: a block
# small enough for the CPU's cache reads each line from memory once (2,048 records wrote a
# 第7表 ~1.5x slower than 512; 256 gains nothing more and pays the per-column calls more often).
_BLOCK = 512
_NONE_TYPE = type(None)
_INT_TYPES = frozenset({int, _NONE_TYPE})
_STR_TYPES = frozenset({str, _NONE_TYPE})
# dict.get(value, value) in `map`: None → "", anything else unchanged, without a Python call.
_NONE_EMPTY: dict[Any, str] = {None: ""}
# After quoting every text: an empty one was empty, not a quoted empty text.
_QUOTED_EMPTY = {'""': ""}
_QUOTE = '"{}"'.format
# Texts that need quotes whatever the policy (see `needs_quotes`).
_SEPARATORS = (",", '"', "\n", "\r")
# When more than 1/_NEW_SHARE of a block's values were new to a column's cache, its later blocks
# skip the cache (text columns: plain passes; ints: `str`): a Python call per new value costs
# more than the passes (files where every name and number differs).
_NEW_SHARE = 4


class _IntTexts(dict[int, str]):
    """int → its text, for a column already known to hold only ints and None."""

    __slots__ = ()

    def __missing__(self, value: int) -> str:
        text = self[value] = str(value)
        return text


class _ColumnWriter:
    """The texts of one column, block by block, with what it learnt of earlier blocks."""

    __slots__ = ("by_id", "cache", "distinct", "kind", "quote_always", "special", "texts")

    def __init__(self, column: Column, quote_always: bool) -> None:
        self.kind = column.kind
        self.quote_always = quote_always
        self.cache = _FormatCache(column, quote_always)
        self.texts = _IntTexts({None: ""})  # type: ignore[dict-item]
        # Decimals (11.4 == 11.40, written differently) and months (hashed in Python) are
        # remembered by identity: the records stay alive while their file is written (see
        # `FileWriter.text`), so no identity is reused, and a parsed file shares one object
        # per distinct text.
        self.by_id: dict[int, str] = {id(None): ""}
        self.distinct = False
        self.special = False

    def write(self, values: tuple[Any, ...]) -> Any:
        """The texts of `values` (a sized iterable); TypeError/ValueError for a bad value."""
        # Columns left empty (a 補足's unused slots): a tuple comparison, item by item by
        # identity in C, which stops at the first value that is not None.
        if values[0] is None and values == (None,) * len(values):
            return itertools.repeat("", len(values))
        kind = self.kind
        if kind is Kind.INTEGER:
            return self._integers(values)
        if kind is Kind.DECIMAL or kind is Kind.YYYYMM:
            return self._by_identity(values)
        if self.distinct and kind not in TYPED_KINDS:
            texts = self._plain_texts(values)
            if texts is not None:
                return texts
        cache = self.cache
        known = len(cache)
        texts = list(map(cache.__getitem__, values))
        if cache.store and (len(cache) - known) * _NEW_SHARE > len(values):
            self.distinct = True
        return texts

    def _integers(self, values: tuple[Any, ...]) -> Any:
        # `type(...)` rather than isinstance: bool is an int but no number of the standard.
        types = set(map(type, values))
        if not types <= _INT_TYPES:
            raise TypeError(f"expected int, got {', '.join(sorted(t.__name__ for t in types))}")
        if self.distinct:
            texts = list(map(str, values))
            if _NONE_TYPE in types:
                texts = list(map(_NONE_EMPTY.get, values, texts))
        else:
            known = len(self.texts)
            texts = list(map(self.texts.__getitem__, values))
            if (len(self.texts) - known) * _NEW_SHARE > len(values):
                self.distinct = True
        if self.quote_always:
            texts = list(map(_QUOTED_EMPTY.get, (q := list(map(_QUOTE, texts))), q))
        return texts

    def _by_identity(self, values: tuple[Any, ...]) -> Any:
        ids = list(map(id, values))
        by_id = self.by_id
        try:
            return list(map(by_id.__getitem__, ids))
        except KeyError:
            pass
        cache = self.cache
        objects = dict(zip(ids, values, strict=True))
        for key in objects.keys() - by_id.keys():
            # The cache formats and type-checks (it stores nothing for these kinds).
            by_id[key] = cache[objects[key]]
        return list(map(by_id.__getitem__, ids))

    def _plain_texts(self, values: tuple[Any, ...]) -> list[str] | None:
        """Texts of a column of str (and None) without a Python call per item, or None when
        the column needs the cache (other types, texts that hold separators)."""
        types = set(map(type, values))
        if not types <= _STR_TYPES:
            return None
        texts: list[str] = (
            list(map(_NONE_EMPTY.get, values, values)) if _NONE_TYPE in types else list(values)
        )
        # One text for the checks: they look at single characters, so joining creates no match.
        joined = "".join(texts)
        if self.quote_always:
            if '"' in joined:
                return None
        elif any(separator in joined for separator in _SEPARATORS):
            return None
        if not joined.isascii() and _ms932.has_special_characters(joined):
            self.special = True
        if self.quote_always:
            quoted = list(map(_QUOTE, texts))
            texts = list(map(_QUOTED_EMPTY.get, quoted, quoted))
        return texts

    def forget_identities(self) -> None:
        self.by_id = {id(None): ""}

    def saw_special_characters(self) -> bool:
        return self.special or self.cache.saw_special_characters()


class FileWriter:
    """Writes the lines of a file of `layout`, column by column (see above).

    `text(records)` returns the text (every line ended by CRLF) and whether a text holds a
    character plain cp932 encoding gets wrong. One writer serves one file: it remembers values
    by identity while the records are alive.
    """

    def __init__(self, layout: Layout, quote_kinds: frozenset[Kind]) -> None:
        self.columns = [_ColumnWriter(c, c.kind in quote_kinds) for c in layout.columns]
        self.as_tuple = builds_tuple(layout)
        attributes = [c.attribute for c in layout.columns]
        self.getter: Callable[[Any], tuple[Any, ...]] = (
            operator.attrgetter(*attributes)
            if len(attributes) > 1
            else lambda record: (getattr(record, attributes[0]),)
        )

    def text(self, records: Sequence[Any]) -> tuple[str, bool]:
        blocks = []
        columns = self.columns
        # Identities are those of this call's records (held by the caller until it returns).
        for column in columns:
            column.forget_identities()
        for start in range(0, len(records), _BLOCK):
            block = records[start : start + _BLOCK]
            if self.as_tuple:
                rows = block
            else:
                # Another record type's attributes may be made on access: an identity is
                # known only while the block holding its object is alive.
                rows = list(map(self.getter, block))
                for column in columns:
                    column.forget_identities()
            values = list(zip(*rows, strict=True))
            if len(values) != len(columns):
                raise ValueError("a record does not have the layout's columns")
            texts = [column.write(v) for column, v in zip(columns, values, strict=True)]
            blocks.append("\r\n".join(map(",".join, zip(*texts, strict=True))))
        if not blocks:
            return "", False
        blocks.append("")
        special = any(column.saw_special_characters() for column in columns)
        return "\r\n".join(blocks), special
