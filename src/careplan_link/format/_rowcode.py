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

The formatter, the mirror image, is in `_rowformat`.
"""

from __future__ import annotations

import functools
import itertools
import linecache
from collections.abc import Callable
from types import CodeType
from typing import Any

from ._convert import READ_ONLY_CANONICALLY, TYPED_KINDS, format_value, parse_value
from ._layout import Kind, Layout
from ._record import Record, is_tuple_record

__all__ = ["BlockTyper", "builds_tuple", "compile_generated", "row_builder"]

_CACHE_LIMIT = 4096


class _Converter:
    """Text → typed value of one column, remembered in `cache` (a plain dict) up to a limit.

    The builder looks values up in `cache` itself: subscripting an exact dict is what the
    interpreter does fastest (a dict subclass with `__missing__`, which converted on a miss,
    cost ~60 ns more per typed item, a third of a 第7表 row's typing). `convert` is called on a
    miss. When the canonical form is checked (`departures` is a list), the first text that is
    not its value's canonical text (`007` for 7) is appended there as (column index, text): the
    reader notes the record it came from. Reading without the check costs nothing more.
    """

    __slots__ = ("cache", "departures", "index", "kind")

    def __init__(self, kind: Kind, index: int, departures: list[tuple[int, str]] | None) -> None:
        self.cache: dict[str, Any] = {"": None}
        self.kind = kind
        self.index = index
        # Texts of these kinds are canonical whenever they can be read: nothing to check.
        self.departures = None if kind in READ_ONLY_CANONICALLY else departures

    def convert(self, text: str) -> Any:
        value = parse_value(self.kind, text)
        departures = self.departures
        if departures is not None and not departures and format_value(self.kind, value) != text:
            departures.append((self.index, text))
        if len(self.cache) < _CACHE_LIMIT:
            self.cache[text] = value
        return value


class _Sharer(_Converter):
    """`_Converter` of a column of text when equal texts are to share one object: the cache
    maps each text to the first object read with it.

    The csv module makes a new str for every item, so a column that holds one 事業所番号 on
    100k lines holds 100k objects, scattered in memory. Every later pass over such a column (a
    rule's set of its values, its types, a join) then reads cold memory, about 130 ns an item
    against 12 for one shared object; sharing while the text is still hot costs a lookup.
    Validation reads this way (its rules pass over every column several times); `parse_plan`
    does not, as its callers may read a column once or never.

    Columns of few values by their nature (`_FEW_TEXTS`: CSVバージョン, office and insurer
    numbers, codes of a code table) are looked up like typed ones (a miss sends the row to the
    converting builder). The others (被保険者番号, names, サービスコード …) repeat per user or
    per service in one file and not at all in another (a 補足 has one record a user): they are
    shared by `dict.setdefault`, which never misses, so a file whose values all differ does not
    push every row to the converting builder; their caches are not bounded (validation holds
    every value anyway, and a cache entry is smaller than the text it shares).
    """

    __slots__ = ()

    def __init__(self, kind: Kind, index: int, departures: list[tuple[int, str]] | None) -> None:
        super().__init__(kind, index, None)  # a text is its own canonical form
        if kind is Kind.CSV_VERSION:
            self.cache[""] = ""  # CSVバージョン stays a str even when empty

    def convert(self, text: str) -> Any:
        if len(self.cache) < _CACHE_LIMIT:
            self.cache[text] = text
        return text


class _IntegerConverter(_Converter):
    """`_Converter` of an integer column, where files whose amounts all differ miss on every
    row: a plain run of ASCII digits is converted here, in one call."""

    __slots__ = ()

    def convert(self, text: str) -> Any:
        # isascii() and isdigit() together are exactly [0-9]+; anything else (a sign, an
        # error) takes the general path, which knows the rules.
        if not (text.isascii() and text.isdigit()):
            return super().convert(text)
        value = int(text)
        departures = self.departures
        # Digits are canonical unless they have a leading zero (007 for 7).
        if departures is not None and not departures and text[0] == "0" and len(text) > 1:
            departures.append((self.index, text))
        if len(self.cache) < _CACHE_LIMIT:
            self.cache[text] = value
        return value


# After this many rows with a text not in a column's cache, the next `_CONVERTING_SPELL` rows
# are typed by the converting builder straight away: in a file whose values mostly differ the
# plain one would start each row, fail on a miss and start again. Then the plain one gets its
# chance again: a realistic file misses while its caches fill (a 補足 has thousands of birth
# dates) and hardly ever after.
_MISSES_BEFORE_CONVERTING = 64
# Kinds of text whose values are few in any file (see `_Sharer`).
_FEW_TEXTS = frozenset({Kind.CSV_VERSION, Kind.DIGITS, Kind.CODE})
_CONVERTING_SPELL = 1024
# At the end of its first converting spell, a builder looks at which columns brought a new
# value on at least this share of the spell's rows (or filled an integer cache): those are
# typed without their cache for the rest of the file (see `row_builder`). An integer converts
# inline in about the time of four cache hits, and a miss costs a lookup, the conversion and
# often the row's restart: inline wins from about a third of misses. A shared text saves the
# rules cold reads on every repeat: it stays shared unless most values are new.
_DISTINCT_INTEGERS = 0.25
_DISTINCT_TEXTS = 0.5
# A file's rows left to the re-planned builder: all of them.
_FOREVER = 1 << 62


def row_builder(
    layout: Layout,
    departures: list[tuple[int, str]] | None = None,
    *,
    share_texts: bool = False,
) -> Callable[[list[str]], Record]:
    """A function that types a row of `layout` (exactly as wide) into its record.

    Raises ValueError (or another exception) for a row it cannot type; the caller then takes the
    explicit path to report why. Each call gives fresh caches (so one file's values do not stay
    in memory after it); the code is compiled once per layout. With a `departures` list, the
    first typed text that is not canonical is appended to it (see `_Converter`). With
    `share_texts`, equal texts of a column are one object (see `_Sharer`).

    The builder re-plans once per file, at the end of its first converting spell (a file whose
    values keep missing the caches; with `share_texts`, the file's first rows): columns that
    brought a new value on a good share of the spell's rows (`_DISTINCT_INTEGERS`,
    `_DISTINCT_TEXTS`: amounts, names of a file with one record a user) or filled an integer
    cache are typed without their cache from then on (digits converted inline, texts not
    shared), by a builder compiled for that set of columns. A lookup that misses costs more
    than converting (hashing a fresh text, probing, then converting anyway), and once those
    columns no longer miss, the plain builder (no exception, no second lookup) types most rows
    again.
    """
    code, namespace, converters = _builder_plan(layout, share_texts)
    namespace = dict(namespace)
    # Columns that may turn out distinct: (index, cache, whether an integer column).
    watched: list[tuple[int, dict[str, Any], bool]] = []
    for index, kind, converter in converters:
        made = converter(kind, index, departures)
        namespace[f"c{index}"] = made.cache
        namespace[f"m{index}"] = made.convert
        namespace[f"s{index}"] = made.cache.setdefault
        if kind is Kind.INTEGER or (converter is _Sharer and kind not in _FEW_TEXTS):
            watched.append((index, made.cache, kind is Kind.INTEGER))
    build, own = _instantiate(code, namespace)
    state = own["state"]
    sizes: list[int] = []  # of the watched caches when the first spell began
    plain_begin = own["begin"]

    def begin() -> None:
        plain_begin()
        sizes[:] = [len(cache) for _, cache, _ in watched]

    def replan(row: list[str]) -> Record:
        converting = state[2]
        own["begin"], own["replan"] = plain_begin, converting  # once per file
        direct = frozenset(
            index
            for (index, cache, integer), before in zip(watched, sizes, strict=True)
            if len(cache) - before
            >= _CONVERTING_SPELL * (_DISTINCT_INTEGERS if integer else _DISTINCT_TEXTS)
            or (integer and len(cache) >= _CACHE_LIMIT)
        )
        if direct:
            code = _builder_code(layout, builds_tuple(layout), share_texts, direct)
            state[0], state[2] = _FOREVER, _instantiate(code, namespace)[0]
        return state[2](row)  # type: ignore[no-any-return]

    own["begin"], own["replan"] = begin, replan
    if share_texts and watched:
        # Shared texts never miss (`_Sharer`), so a file of all-different names would never
        # start a spell: the first rows are a spell, and the re-plan follows them.
        begin()
    return build


def _instantiate(
    code: CodeType, caches: dict[str, Any]
) -> tuple[Callable[[list[str]], Record], dict[str, Any]]:
    """A builder from compiled `code`, bound to `caches` (the file's converters), with its own
    spell state; and the namespace its code reads `begin` and `replan` from at call time (rare
    calls), so that `row_builder` can replace them. A builder never re-plans unless given a
    `replan` (the converting twin by default)."""
    own = dict(caches)
    # [rows left to the spell's builder, rows that missed a cache since the last spell, the
    # spell's builder: the converting twin, or the re-planned builder once the file has one]
    state: list[Any] = [0, 0, None]
    own.update(
        state=state, limit=_MISSES_BEFORE_CONVERTING, spell=_CONVERTING_SPELL, full=_CACHE_LIMIT
    )
    exec(code, own)
    build, converting = own["make"]()
    state[2] = converting

    def begin() -> None:
        state[0], state[1] = _CONVERTING_SPELL, 0

    own["begin"], own["replan"] = begin, converting
    return build, own


_BuilderPlan = tuple[CodeType, dict[str, Any], tuple[tuple[int, Kind, type[_Converter]], ...]]
# Keyed by the layout's identity: hashing a Layout hashes every Column, which cost a 1k-record
# file of a short layout a tenth of its read. The layout is kept in the value, so its id stays
# its own. Layouts are few (module constants, and a test's copies).
_builder_plans: dict[tuple[int, bool], tuple[Layout, _BuilderPlan]] = {}


def _builder_plan(layout: Layout, share_texts: bool) -> _BuilderPlan:
    """What `row_builder` needs of a layout that does not change from file to file: the compiled
    code, the names it binds (record type, tuple constructor) and which converter each cached
    column gets."""
    entry = _builder_plans.get((id(layout), share_texts))
    if entry is not None and entry[0] is layout:
        return entry[1]
    record_type = layout.record_type
    namespace: dict[str, Any] = {"record_type": record_type, "new": tuple.__new__}
    converters: list[tuple[int, Kind, type[_Converter]]] = []
    for index, column in enumerate(layout.columns):
        if column.kind in TYPED_KINDS:
            converter = _IntegerConverter if column.kind is Kind.INTEGER else _Converter
            converters.append((index, column.kind, converter))
        elif share_texts:
            converters.append((index, column.kind, _Sharer))
    code = _builder_code(layout, builds_tuple(layout), share_texts)
    plan = (code, namespace, tuple(converters))
    _builder_plans[(id(layout), share_texts)] = (layout, plan)
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
def _builder_code(
    layout: Layout, as_tuple: bool, share_texts: bool = False, direct: frozenset[int] = frozenset()
) -> CodeType:
    """Two functions per layout, both one expression over the row: `build` looks every typed
    text (every text, with `share_texts`) up in its column's cache (a KeyError on a text not
    seen yet), `converting` converts what is not cached. `build` hands a row that missed to
    `converting`, and after `_MISSES_BEFORE_CONVERTING` such rows (`begin`) the next
    `_CONVERTING_SPELL` rows as well; the spell's last row goes to `replan` (see
    `row_builder`). The `direct` columns skip their cache: integers of plain digits are
    converted inline, texts are not shared."""
    plain, converting = [], []
    shared = []  # columns shared by `setdefault` (see `_Sharer`)
    for index, column in enumerate(layout.columns):
        if index in direct and column.kind is Kind.INTEGER:
            # Digits without a leading zero are canonical and need no note: converted inline.
            # Anything else (empty, 0, a sign, an error) goes by the cache as before.
            inline = f"int(t) if (t := r[{index}]).isdigit() and t.isascii() and t[0] != '0' else"
            plain.append(f"({inline} c{index}[t])")
            converting.append(f"({inline} c{index}[t] if t in c{index} else m{index}(t))")
        elif index in direct:  # a text column whose values differ: not worth sharing
            item = f"r[{index}] or None"
            plain.append(item)
            converting.append(item)
        elif share_texts and column.kind in _FEW_TEXTS:
            plain.append(f"c{index}[r[{index}]]")
            converting.append(f"(c{index}[t] if (t := r[{index}]) in c{index} else m{index}(t))")
        elif share_texts and column.kind not in TYPED_KINDS:
            shared.append(index)
            # An empty item (most of a file's optional items) needs no call.
            item = f"(s{index}(t, t) if (t := r[{index}]) else None)"
            plain.append(item)
            converting.append(item)
        elif column.kind is Kind.CSV_VERSION:
            item = f"r[{index}]"
            plain.append(item)
            converting.append(item)
        elif column.kind is Kind.INTEGER:
            plain.append(f"c{index}[r[{index}]]")
            # Amounts that all differ fill the cache and then miss on every row: once it is
            # full, plain digits without a leading zero (canonical, nothing to note) are
            # converted inline rather than through a call.
            converting.append(
                f"(c{index}[t] if (t := r[{index}]) in c{index} else int(t)"
                f" if len(c{index}) >= full and t.isdigit() and t.isascii() and t[0] != '0'"
                f" else m{index}(t))"
            )
        elif column.kind in TYPED_KINDS:
            plain.append(f"c{index}[r[{index}]]")
            converting.append(f"(c{index}[t] if (t := r[{index}]) in c{index} else m{index}(t))")
        else:
            item = f"r[{index}] or None"
            plain.append(item)
            converting.append(item)
    typed = [
        i
        for i, c in enumerate(layout.columns)
        if c.kind in TYPED_KINDS or (share_texts and c.kind in _FEW_TEXTS)
    ]
    if as_tuple:
        names = ["record_type", "new"]

        def made(args: list[str]) -> str:
            return "new(record_type, (" + ", ".join(args) + ",))"
    else:
        names = ["record_type"]

        def made(args: list[str]) -> str:
            return "record_type(" + ", ".join(args) + ")"

    # Caches and converters are bound as default arguments: local lookups beat global ones.
    sharers = [f"s{i}" for i in shared]
    caches = ", ".join(f"{n}={n}" for n in [*names, *(f"c{i}" for i in typed), *sharers])
    both = ", ".join(
        f"{n}={n}"
        for n in [
            *names,
            *(f"c{i}" for i in typed),
            *(f"m{i}" for i in typed),
            *sharers,
            "full",
        ]
    )
    source = (
        "def make():\n"
        f" def converting(r, {both}):\n"
        f"  return {made(converting)}\n"
        f" def build(r, {caches}, state=state, limit=limit):\n"
        "  if state[0]:\n"
        "   state[0] -= 1\n"
        "   if state[0]:\n"
        "    return state[2](r)\n"
        "   return replan(r)\n"
        "  try:\n"
        f"   return {made(plain)}\n"
        "  except KeyError:\n"
        "   state[1] += 1\n"
        "   if state[1] >= limit:\n"
        "    begin()\n"
        "   return state[2](r)\n"
        " return build, converting\n"
    )
    direct_note = f" direct {sorted(direct)}" if direct else ""
    return compile_generated(source, f"row builder {layout.id} {layout.csv_version}{direct_note}")


# An empty item of a text column that is not shared reads as None (`r[i] or None`), told in C
# by `dict.get(text, text)`.
_NONE_FOR_EMPTY: dict[str, None] = {"": None}


class BlockTyper:
    """Types rows of a layout column by column, a block of rows at a time, into the columns
    themselves: what validation reads (`share_texts`), with no record made.

    Validation's rules read every file column by column. Typing each row into its record and
    transposing the records cost a Python step per item and one more C pass over every value;
    typed column by column, each column of a block is one C call (`map` over its cache's
    lookup, `int`, `setdefault`), and the records are made only if asked for
    (`ColumnRecords`). The values are those `row_builder(layout, departures,
    share_texts=True)` gives (which the reader keeps for the rows of a block that cannot be
    typed): the same caches and converters, the same re-plan after the first
    `_CONVERTING_SPELL` rows (columns whose values mostly differ are then typed without
    their cache), the same departures noted. A departure is noted per column here, not per
    row: `first_departure` finds the row the row builder would have noted it at.
    """

    def __init__(self, layout: Layout, departures: list[tuple[int, str]] | None) -> None:
        _, _, converters = _builder_plan(layout, True)
        self.layout = layout
        # Per column: (its converter, whether an integer column, whether a shared text whose
        # values may turn out to differ: both may be typed without their cache later).
        self._columns: list[tuple[_Converter, bool, bool]] = []
        for index, kind, converter in converters:
            made = converter(kind, index, departures)
            shared = converter is _Sharer and kind not in _FEW_TEXTS
            self._columns.append((made, kind is Kind.INTEGER, shared))
        self._tracked = [
            (index, kind)
            for index, kind, converter in converters
            if converter is not _Sharer and kind not in READ_ONLY_CANONICALLY
        ]
        self._sizes = [len(made.cache) for made, _, _ in self._columns]
        self._rows = 0
        self._direct: frozenset[int] | None = None  # decided after the first spell

    def type(self, rows: list[list[str]]) -> list[list[Any]]:
        """The values of `rows` (each as wide as the layout), column by column. Raises
        ValueError when some value cannot be typed (the caller then types the rows one by
        one, and reports why)."""
        direct = self._direct or frozenset()
        typed: list[list[Any]] = []
        for index, ((made, integer, shared), texts) in enumerate(
            zip(self._columns, zip(*rows, strict=True), strict=True)
        ):
            cache = made.cache
            if index in direct and integer:
                typed.append(_integers(texts, cache, made.convert))
            elif index in direct:
                typed.append(list(map(_NONE_FOR_EMPTY.get, texts, texts)))
            elif shared:
                # The cache maps "" to None, and every other text to its first object.
                typed.append(list(map(cache.setdefault, texts, texts)))
            else:
                try:
                    typed.append(list(map(cache.__getitem__, texts)))
                except KeyError:
                    convert = made.convert
                    typed.append([cache[t] if t in cache else convert(t) for t in texts])
        self._rows += len(rows)
        if self._direct is None and self._rows >= _CONVERTING_SPELL:
            self._direct = frozenset(
                index
                for index, ((made, integer, shared), before) in enumerate(
                    zip(self._columns, self._sizes, strict=True)
                )
                if (integer or shared)
                and (
                    len(made.cache) - before
                    >= self._rows * (_DISTINCT_INTEGERS if integer else _DISTINCT_TEXTS)
                    or (integer and len(made.cache) >= _CACHE_LIMIT)
                )
            )
        return typed

    def first_departure(self, rows: list[list[str]]) -> tuple[int, int, str] | None:
        """(row, column index, text) of the first text of `rows` (typed without error) that is
        not its value's canonical text, in the order the row builder would have met it: row by
        row, left to right."""
        tracked = self._tracked
        for offset, row in enumerate(rows):
            for index, kind in tracked:
                text = row[index]
                if text and format_value(kind, parse_value(kind, text)) != text:
                    return offset, index, text
        return None


def _integers(
    texts: tuple[str, ...], cache: dict[str, Any], convert: Callable[[str], Any]
) -> list[Any]:
    """An integer column whose values mostly differ: converted by `int` in C when every text
    is an integer's canonical text (told by writing them back), else item by item as the
    row builder's inline conversion does."""
    try:
        values = list(map(int, texts))
    except ValueError:
        pass
    else:
        # `int` also takes spaces, signs, underscores and other scripts' digits: only texts
        # that are exactly what the value writes are canonical (and typed alike by the cache).
        if tuple(map(str, values)) == texts:
            return values
    return [
        int(t) if t.isdigit() and t.isascii() and t[0] != "0" else cache[t] if t in cache
        else convert(t)
        for t in texts
    ]  # fmt: skip


_serial = itertools.count(1)


def compile_generated(source: str, what: str) -> CodeType:
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
