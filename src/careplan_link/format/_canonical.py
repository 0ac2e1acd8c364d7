"""Canonical form, in one place: what it is, where a file first departs from it, and why.

A file is in canonical form when writing back the records read from it gives the same bytes:
free text in double quotes when not empty (inner quotes doubled), every other item bare, CRLF
after every record, each typed value in its canonical text (`244`, not `0244`), and every
character in the code Windows writes for it (MS932 has two or three codes for some characters:
髙 is 0xFBFC and 0xEEE0; Windows writes the first). Receivers differ in what they tolerate, so a
file in canonical form is read the same way by everyone.

The reader collects what this module needs while it reads (the decoded text, the chunks holding
characters with several codes, the first typed value whose text is not canonical); the checks
below cost one pass of the C regex engine in the usual case, and locate the first departure
(line, record, column, cause) only when there is one.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence

import attrs

from .._issue import Issue
from . import _ms932
from ._convert import format_value, parse_value
from ._layout import Column, Kind, Layout

__all__ = [
    "Departure",
    "canonical_line_pattern",
    "count_lines",
    "delimiters_are_canonical",
    "delimiters_of",
    "encoding_departure",
    "first_departure",
    "structural_departure",
    "typed_departure",
]

_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_BARE = re.compile(r'[^,"\r\n]*')


def count_lines(text: str) -> int:
    """Line breaks in `text` (CRLF, LF or CR each count once)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


@functools.cache
def canonical_line_pattern(layout: Layout) -> re.Pattern[str]:
    """The grammar of a run of records of `layout` written in canonical form, CRLF included.

    Free text is quoted when non-empty (inner quotes doubled, line breaks allowed inside);
    every other item is bare. A text that this pattern matches in full is what the writer would
    make of the records read from it, so the structural check is one pass of the C regex engine
    instead of rebuilding every row in Python. Possessive quantifiers keep the engine from
    backtracking.
    """
    bare = r'[^,"\r\n]*+'
    quoted = r'(?:"(?:[^"]++|"")++")?'
    items = [quoted if column.kind is Kind.FREE_TEXT else bare for column in layout.columns]
    return re.compile("(?:" + ",".join(items) + r"\r\n)*+")


# Every byte but the four that make a file's structure: comma, double quote, CR, LF. None of
# them can be the second byte of an MS932 (or any byte of a UTF-8) multi-byte character, so
# deleting the rest leaves exactly the file's delimiters, in order.
_NOT_DELIMITERS = bytes(b for b in range(256) if b not in b',"\r\n')


def delimiters_of(data: bytes) -> bytes:
    """The delimiters of `data` (commas, double quotes, CR, LF) in order: the skeleton
    `delimiters_are_canonical` checks. One C pass, about a byte a nanosecond."""
    return data.translate(None, _NOT_DELIMITERS)


@functools.cache
def _record_pattern(layout: Layout) -> re.Pattern[bytes]:
    """`canonical_line_pattern` of one record with the items' content taken out, and without
    its CRLF: a bare item leaves nothing, a quoted free text its two quotes and the commas and
    line breaks inside it."""
    free = rb'(?:"[^"]*+")?'
    return re.compile(
        b",".join(free if column.kind is Kind.FREE_TEXT else b"" for column in layout.columns)
    )


@functools.cache
def _delimiter_pattern(layout: Layout) -> re.Pattern[bytes]:
    """The delimiters of a whole canonical file: records of `_record_pattern`, each with CRLF."""
    return re.compile(b"(?:" + _record_pattern(layout).pattern + rb"\r\n)*+")


def delimiters_are_canonical(
    layout: Layout, delimiters: bytes, column: Callable[[str], Sequence[object]]
) -> bool:
    """Whether a file read without error, whose bytes hold no `""` and whose delimiters are
    `delimiters`, is structurally canonical (`structural_departure` finds nothing): the fast
    path of that check, over a text a fifth as long. `column(attribute)` gives the values of
    the file's records in a column (`Columns`: they are at hand for the rules anyway).

    Without `""` in the file (no empty quoted item, no doubled inner quote), the delimiters say
    everything `canonical_line_pattern` checks but one thing: whether an item without quotes
    is empty. The delimiter pattern puts every quote around a free text item (so no other item
    is quoted, and every quoted item is non-empty, having no `""`), CRLF after every record
    and the layout's number of items in each; and a non-empty free text without quotes shows
    as fewer quoted items than non-empty free text values. False only means "not proven": the
    caller then runs the full check, which also says where and why.
    """
    if (
        not _repeats_one_record(layout, delimiters)
        and not _few_records_all_match(layout, delimiters)
        and _delimiter_pattern(layout).fullmatch(delimiters) is None
    ):
        return False
    return delimiters.count(b'"') == 2 * _non_empty_free_texts(layout, column)


def _repeats_one_record(layout: Layout, delimiters: bytes) -> bool:
    """Whether `delimiters` are one canonical record's, repeated: then the delimiter pattern
    (a repetition of that record) matches them all, and is matched against the first only.

    The usual file quotes the same items on every record (its free text filled or empty
    alike): one comparison in C then replaces a regex pass over every record. When the
    first CRLF lies inside a quoted text, the part before it is not a record, the pattern
    refuses it, and the caller matches the whole."""
    end = delimiters.find(b"\r\n") + 2
    if end < 2 or len(delimiters) % end:
        return False
    first = delimiters[:end]
    return (
        delimiters == first * (len(delimiters) // end)
        and _delimiter_pattern(layout).fullmatch(first) is not None
    )


# Records of a file with more distinct delimiter skeletons than this are matched as a whole.
_FEW_SKELETONS = 64


def _few_records_all_match(layout: Layout, delimiters: bytes) -> bool:
    """Whether `delimiters`, cut at every CRLF, are a few distinct records that each match the
    one-record pattern: then the delimiter pattern matches them all.

    A 第7表 has two kinds of record (details quote the provider's name, the 全合計 leaves it
    empty), so its delimiters are not one record repeated; its distinct skeletons are still
    few, and matching them costs a cut and a set instead of a regex pass over every record. A
    CRLF inside a quoted text leaves the piece before it with an odd number of quotes, which
    the one-record pattern (quotes in pairs) refuses, and the caller matches the whole."""
    if not delimiters.endswith(b"\r\n"):
        return False
    skeletons = set(delimiters[:-2].split(b"\r\n"))
    if len(skeletons) > _FEW_SKELETONS:
        return False
    pattern = _record_pattern(layout)
    return all(pattern.fullmatch(skeleton) is not None for skeleton in skeletons)


def _non_empty_free_texts(layout: Layout, column: Callable[[str], Sequence[object]]) -> int:
    """How many free text items of the file are not empty (counted in C)."""
    non_empty = 0
    for item in layout.columns:
        if item.kind is Kind.FREE_TEXT:
            values = column(item.attribute)
            non_empty += len(values) - values.count(None)
    return non_empty


@attrs.frozen
class Departure:
    """Where a file first departs from canonical form, and why."""

    line: int
    """The line where the record starts."""
    record: int | None
    column: Column | None
    """The item that departs (None for a line end)."""
    cause_ja: str
    cause_en: str
    value: str | None = None

    def issue(self, file: str) -> Issue:
        """The `read.not_canonical` warning."""
        where_ja = f"{self.line} 行目" + (f" {self.column.no} 列目" if self.column else "")
        where_en = f"line {self.line}" + (f" column {self.column.no}" if self.column else "")
        return Issue(
            "read.not_canonical",
            "warning",
            f"標準の書式と異なります（{where_ja}から）: {self.cause_ja}",
            f"not in canonical form from {where_en}: {self.cause_en}",
            file=file,
            record=self.record,
            line=self.line,
            column=self.column.no if self.column else None,
            item=self.column.name_ja if self.column else None,
            value=self.value,
        )


def first_departure(*candidates: Departure | None) -> Departure | None:
    """The earliest of several departures (by line, then column)."""
    found = [d for d in candidates if d is not None]
    if not found:
        return None
    return min(found, key=lambda d: (d.line, d.column.no if d.column else 1 << 30))


def _record_of(record_lines: Sequence[int], line: int) -> int | None:
    index = bisect.bisect_right(record_lines, line) - 1
    return index + 1 if index >= 0 and record_lines[index] == line else None


def structural_departure(
    layout: Layout, text: str, record_lines: Sequence[int]
) -> Departure | None:
    """The first record whose quoting or line end is not canonical (None if all are)."""
    pattern = canonical_line_pattern(layout)
    match = pattern.match(text)
    start = match.end() if match is not None else 0
    if start == len(text):
        return None
    line = count_lines(text[:start]) + 1
    column, ja, en, value = _diagnose(layout, text, start)
    return Departure(line, _record_of(record_lines, line), column, ja, en, value)


def _diagnose(layout: Layout, text: str, start: int) -> tuple[Column | None, str, str, str | None]:
    """Why the record at `start` is not canonical: its first item or line end that is not."""
    position = start
    last = len(layout.columns) - 1
    for index, column in enumerate(layout.columns):
        free = column.kind is Kind.FREE_TEXT
        if text.startswith('"', position):
            match = _QUOTED.match(text, position)
            item = match.group() if match is not None else text[position : position + 40]
            if not free:
                return (
                    column,
                    'フリーテキスト以外の項目が " で囲まれています',
                    "an item that is not free text is in quotes (only free text is quoted)",
                    item,
                )
            if item == '""':
                return (
                    column,
                    '空の項目が "" と書かれています（空の項目は何も書きません）',
                    'an empty item is written as "" (an empty item is written as nothing)',
                    item,
                )
            if match is None:
                break
            position = match.end()
        else:
            match = _BARE.match(text, position)
            assert match is not None  # the pattern matches the empty string
            if free and match.group():
                return (
                    column,
                    'フリーテキストが " で囲まれていません',
                    "free text is not in quotes",
                    match.group(),
                )
            position = match.end()
        if index < last:
            if not text.startswith(",", position):
                break
            position += 1
            continue
        if text.startswith("\r\n", position):
            break  # canonical after all: should not happen
        if position >= len(text):
            return (
                None,
                "最後のレコードの後に改行（CRLF）がありません",
                ("no line break (CRLF) after the last record"),
                None,
            )
        if text.startswith("\n", position):
            return (
                None,
                "改行が LF です（標準は CRLF）",
                "the line ends with LF (CRLF expected)",
                None,
            )
        if text.startswith("\r", position):
            return (
                None,
                "改行が CR です（標準は CRLF）",
                "the line ends with CR (CRLF expected)",
                None,
            )
        break
    return None, "書式が標準と異なります", "the record is not written the canonical way", None


def _column_at(layout: Layout, text: str, start: int, offset: int) -> Column | None:
    """The column of the canonical record at `start` that holds `offset`."""
    position = start
    for column in layout.columns:
        match = (_QUOTED if text.startswith('"', position) else _BARE).match(text, position)
        end = match.end() if match is not None else position
        if offset < end:
            return column
        position = end + 1  # the comma
    return None


def encoding_departure(
    layout: Layout,
    texts: Callable[[], Sequence[str]],
    ambiguous: Sequence[tuple[int, str, bytes]],
    record_lines: Sequence[int],
) -> Departure | None:
    """The first character written with another of its MS932 codes than Windows writes.

    `texts()` gives the decoded chunks of the file (called only to locate a departure);
    `ambiguous` the (position among them, text, bytes) of the chunks holding characters with
    several codes. Comparing their bytes (not only
    looking for the characters Python's codec gets wrong) also finds a duplicate code Windows
    never writes, such as NEC row 13's 0x8790 for ≒ where Windows writes 0x81E0: strict
    Shift_JIS readers reject those.
    """
    for position, text, data in ambiguous:
        try:
            windows = _ms932.encode(text)
        except ValueError:
            return None  # characters that are no MS932 characters: reported as errors
        if windows == data:
            continue
        offset = _first_difference(windows, data)
        head = _ms932.decode(data[:offset])
        index = len(head)
        if head and "\udc80" <= head[-1] <= "\udcff":
            index -= 1  # the bytes differ in the second byte of a character
        char = text[index]
        start = len(_ms932.encode(text[:index]))
        written = data[start : start + len(_ms932.encode(char))]
        chunks = texts()
        full = "".join(chunks)
        at = sum(map(len, chunks[:position])) + index
        match = canonical_line_pattern(layout).match(full, 0, at)
        record_start = match.end() if match is not None else 0
        line = count_lines(full[:record_start]) + 1
        theirs, ours = written.hex().upper(), _ms932.encode(char).hex().upper()
        return Departure(
            line,
            _record_of(record_lines, line),
            _column_at(layout, full, record_start, at),
            f"{char} が 0x{theirs} で書かれています（Windows の MS932 は 0x{ours}。"
            "同じ文字の別の符号で、バイト単位で比べる受信側には別の文字です）",
            f"{char} is written 0x{theirs}; Windows writes it 0x{ours} (another code of the same "
            "character: receivers that compare bytes see a different character)",
            char,
        )
    return None


def typed_departure(
    layout: Layout, record: int, line: int, column_index: int, text: str
) -> Departure:
    """A typed item whose text is not its value's canonical text (`0244` for 244)."""
    column = layout.columns[column_index]
    canonical = format_value(column.kind, parse_value(column.kind, text))
    return Departure(
        line,
        record,
        column,
        f"{text} は標準の書き方では {canonical} です",
        f"{text!r} is written {canonical!r} in canonical form",
        text,
    )


def _first_difference(a: bytes, b: bytes) -> int:
    """Offset of the first difference between two byte strings (blocks compared in C first)."""
    block = 4096
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start : start + block] == b[start : start + block]:
        start += block
    for offset in range(start, min(start + block, limit)):
        if a[offset] != b[offset]:
            return offset
    return limit
