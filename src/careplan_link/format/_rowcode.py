"""Per-layout row builders and formatters, compiled once per layout.

Typing a row column by column through a loop of Python calls costs more than decoding and
splitting it. As attrs does for `__init__`, we generate one function per layout whose body is a
single expression over the row, e.g. for 第6表

    def build(r):
        return new(record_type, (r[0], r[1] or None, ..., c3[r[3]], c4[r[4]], ...))

where each `cN` is a dict of already converted values whose `__missing__` converts (and raises
`ValueError` for a value that cannot be typed). Repeated values — a 第6表 repeats the same dates,
times and codes on every line — cost one dictionary lookup. Any exception sends the row to the
slow, explicit path in the reader, which reports every issue precisely; the fast path therefore
never has to be right about errors, only about valid rows.

The formatter is the mirror image: `",".join((r.a, c1[r.b], ...))` with caches of written text.
"""

from __future__ import annotations

import functools
import itertools
import linecache
from collections.abc import Callable
from decimal import Decimal
from types import CodeType
from typing import Any

from . import _ms932
from ._convert import TYPED_KINDS, format_value, parse_value
from ._layout import Column, Kind, Layout
from ._record import Record, is_tuple_record
from ._values import YearMonth

__all__ = [
    "needs_quotes",
    "quote",
    "row_builder",
    "row_formatter",
    "saw_special_characters",
]

_CACHE_LIMIT = 4096


class _ParseCache(dict[str, Any]):
    """Text → typed value of one column; converts on a miss, remembers up to a limit.

    When the canonical form is checked (`departures` is a list), the first text that is not
    its value's canonical text (`007` for 7) is appended there as (column index, text): the
    reader notes the record it came from. Reading without the check costs nothing more.
    """

    __slots__ = ("departures", "index", "kind")

    def __init__(self, kind: Kind, index: int, departures: list[tuple[int, str]] | None) -> None:
        super().__init__({"": None})
        self.kind = kind
        self.index = index
        self.departures = departures

    def __missing__(self, text: str) -> Any:
        value = parse_value(self.kind, text)
        departures = self.departures
        if departures is not None and not departures and format_value(self.kind, value) != text:
            departures.append((self.index, text))
        if len(self) < _CACHE_LIMIT:
            self[text] = value
        return value


class _IntegerCache(_ParseCache):
    """`_ParseCache` of an integer column, where files whose amounts all differ miss on every
    row: a plain run of ASCII digits is converted here, in one call."""

    __slots__ = ()

    def __missing__(self, text: str) -> Any:
        # isascii() and isdigit() together are exactly [0-9]+; anything else (a sign, an
        # error) takes the general path, which knows the rules.
        if not (text.isascii() and text.isdigit()):
            return super().__missing__(text)
        value = int(text)
        departures = self.departures
        # Digits are canonical unless they have a leading zero (007 for 7).
        if departures is not None and not departures and text[0] == "0" and len(text) > 1:
            departures.append((self.index, text))
        if len(self) < _CACHE_LIMIT:
            self[text] = value
        return value


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


def row_builder(
    layout: Layout, departures: list[tuple[int, str]] | None = None
) -> Callable[[list[str]], Record]:
    """A function that types a row of `layout` (exactly as wide) into its record.

    Raises ValueError (or another exception) for a row it cannot type; the caller then takes the
    explicit path to report why. Each call gives fresh caches (so one file's values do not stay
    in memory after it); the code is compiled once per layout. With a `departures` list, the
    first typed text that is not canonical is appended to it (see `_ParseCache`).
    """
    code, namespace, caches = _builder_plan(layout)
    namespace = dict(namespace)
    for index, kind, cache in caches:
        namespace[f"c{index}"] = cache(kind, index, departures)
    exec(code, namespace)
    build: Callable[[list[str]], Record] = namespace["make"]()
    return build


_BuilderPlan = tuple[CodeType, dict[str, Any], tuple[tuple[int, Kind, type[_ParseCache]], ...]]
# Keyed by the layout's identity: hashing a Layout hashes every Column, which cost a 1k-record
# file of a short layout a tenth of its read. The layout is kept in the value, so its id stays
# its own. Layouts are few (module constants, and a test's copies).
_builder_plans: dict[int, tuple[Layout, _BuilderPlan]] = {}


def _builder_plan(layout: Layout) -> _BuilderPlan:
    """What `row_builder` needs of a layout that does not change from file to file: the compiled
    code, the names it binds (record type, tuple constructor) and which cache each typed column
    gets."""
    entry = _builder_plans.get(id(layout))
    if entry is not None and entry[0] is layout:
        return entry[1]
    record_type = layout.record_type
    namespace: dict[str, Any] = {"record_type": record_type, "new": tuple.__new__}
    caches: list[tuple[int, Kind, type[_ParseCache]]] = []
    for index, column in enumerate(layout.columns):
        if column.kind in TYPED_KINDS:
            cache = _IntegerCache if column.kind is Kind.INTEGER else _ParseCache
            caches.append((index, column.kind, cache))
    plan = (_builder_code(layout, builds_tuple(layout)), namespace, tuple(caches))
    _builder_plans[id(layout)] = (layout, plan)
    return plan


def builds_tuple(layout: Layout) -> bool:
    """Whether a record of `layout` is built as the tuple of its values, in one call, rather
    than through its class's constructor (argument binding per field).

    True for the generated record types (`tuple_record`), whose fields are the layout's
    columns in order; a layout given another record type (a test's, a vendor's) is built by
    calling it.
    """
    record_type: Any = layout.record_type
    return is_tuple_record(record_type) and record_type.__match_args__ == tuple(
        column.attribute for column in layout.columns
    )


@functools.cache
def _builder_code(layout: Layout, as_tuple: bool) -> CodeType:
    args = []
    for index, column in enumerate(layout.columns):
        if column.kind is Kind.CSV_VERSION:
            args.append(f"r[{index}]")
        elif column.kind in TYPED_KINDS:
            args.append(f"c{index}[r[{index}]]")
        else:
            args.append(f"r[{index}] or None")
    typed = [f"c{i}" for i, c in enumerate(layout.columns) if c.kind in TYPED_KINDS]
    # Caches are bound as default arguments: local lookups beat global ones.
    if as_tuple:
        names = ["record_type", "new", *typed]
        body = "  return new(record_type, (" + ", ".join(args) + ",))\n"
    else:
        names = ["record_type", *typed]
        body = "  return record_type(" + ", ".join(args) + ")\n"
    defaults = ", ".join(f"{n}={n}" for n in names)
    source = f"def make():\n def build(r, {defaults}):\n{body} return build\n"
    return _compile(source, f"row builder {layout.id} {layout.csv_version}")


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
    exec(_formatter_code(layout, quote_kinds), namespace)
    line: Callable[[Any], str] = namespace["make"]()
    return line


@functools.cache
def _formatter_code(layout: Layout, quote_kinds: frozenset[Kind]) -> CodeType:
    parts = []
    for index, column in enumerate(layout.columns):
        v = f"a{index}"
        get = f"(a{index} := r.{column.attribute})"
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
            parts.append(f"c{index}[r.{column.attribute}]")
            continue
        shown = f"_q({text})" if quoted else text
        # The first condition binds the value once; the branches reuse it. None (an empty
        # item, the most common value of most such columns) is tested first: it needs no call.
        parts.append(
            f"('' if {get} is None else {shown} if type({v}) is {guard} else c{index}[{v}])"
        )
    names = ["_q", "Decimal", "YearMonth"] + [f"c{i}" for i in range(len(layout.columns))]
    defaults = ", ".join(f"{n}={n}" for n in names)
    source = (
        f"def make():\n def line(r, {defaults}):\n"
        "  return ','.join((" + ", ".join(parts) + ",))\n return line\n"
    )
    return _compile(source, f"row formatter {layout.id} {layout.csv_version}")


_serial = itertools.count(1)


def _compile(source: str, what: str) -> CodeType:
    """Compile generated source under a file name of its own, registered in `linecache` (as
    attrs does for its `__init__`s), so that a traceback shows the generated line and
    `inspect.getsource` finds the function.

    The name is unique per compilation (two layouts may share id and CSVバージョン, in a test's
    copy of the package); `mtime` None tells `linecache.checkcache` there is no file to check,
    so the entry stays. The code is compiled once per layout (the callers are cached), so
    the cache grows by a few dozen entries at most.
    """
    filename = f"<careplan_link {what} #{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec")
