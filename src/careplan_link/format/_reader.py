"""Reading standard files: `parse_plan` (whole file), `iter_records` (streaming), and the lenient
reading validation does (`read_leniently`: everything that can be read, and why the rest cannot).

The pipeline: bytes are read in chunks cut only after a line break (in MS932 the bytes of CR, LF,
comma and double quote never occur inside a double-byte character, so the cut is safe), decoded,
split into physical lines and fed to the C `csv` state machine (quoted fields, doubled quotes,
line breaks inside quotes, CRLF/LF/CR). Each row is then typed column by column. Conversions of
repeated values (dates, months, times, numbers) are cached per column, because a 第6表 repeats
the same few values on every line.

Memory stays bounded whatever the file holds: no record longer than `max_record_bytes` is ever
held. A physical line is refused as soon as it passes the cap, before it is decoded; a record
spanning lines (line breaks inside quotes) is measured at chunk boundaries and when it ends. The
rest of a refused record is skipped by counting quotes, without keeping it.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, Union, cast

import attrs

from .._issue import Issue
from ..errors import FormatError
from . import _ms932
from ._canonical import (
    Departure,
    delimiters_are_canonical,
    delimiters_of,
    encoding_departure,
    first_departure,
    structural_departure,
    typed_departure,
)
from ._columns import ColumnRecords, Columns
from ._convert import TYPED_KINDS, parse_value, type_error_message
from ._editions import EDITIONS
from ._file import CareplanFile
from ._filename import FileName
from ._layout import Kind, Layout
from ._layouts import LAYOUTS, get_layout, layout_family
from ._record import ReadGaps, Record
from ._rowcode import BlockTyper, builds_tuple, row_builder

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "Reading",
    "Source",
    "iter_records",
    "parse_plan",
    "read_leniently",
]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

DEFAULT_MAX_RECORD_BYTES = 1 << 20
"""The longest record read (1 MiB). The standard sets no maximum length for free text, but a
record of a megabyte is far beyond any real one, and the cap keeps memory bounded."""

_CHUNK_SIZE = 1 << 20
# The reader's fast paths (a batch per chunk without quotes, a tight loop per plain row); tests
# turn them off to compare with the general path, which handles every row.
_FAST_PATHS = True
_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# The likely-cause analysis of rows that do not fit the layout looks at this many of them.
_ROWS_KEPT_FOR_DIAGNOSIS = 20


def parse_plan(
    source: Source,
    *,
    name: str | FileName | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> CareplanFile:
    """Read any standard file completely.

    `source` is a path, bytes or a binary stream; the interface comes from the file name (a
    path's own name, or `name=` for bytes and streams). Raises `FormatError` with every issue of
    the file when a name or a value cannot be read; reading notes that are not errors (a BOM, a
    header line, blank lines) are in `CareplanFile.notes`. A record longer than
    `max_record_bytes` is an error (`csv.record_too_long`), never held in memory.
    """
    with _open(source, name) as (stream, file_name):
        reader = _Reader(stream, file_name, max_record_bytes=max_record_bytes)
        records = _collect(reader)
    if reader.errors:
        raise FormatError(reader.finished_errors(len(records)))
    return reader.file(records)


def iter_records(
    source: Source,
    *,
    name: str | FileName | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Stream the records of a standard file with bounded memory.

    Memory stays constant and time linear whatever the file holds: a record longer than
    `max_record_bytes` (default 1 MiB) raises `FormatError` (`csv.record_too_long`) as soon as
    it passes the cap, without reading the rest of it into memory. Raises `FormatError` at the
    first record that cannot be read (with all of that record's issues): records before it have
    been yielded, so a consumer that must import all or nothing should collect them first, or
    use `parse_plan`.
    """
    with _open(source, name) as (stream, file_name):
        # Streaming keeps nothing per record (no line table), so memory stays bounded.
        reader = _Reader(
            stream,
            file_name,
            stop_at_first_error=True,
            keep_lines=False,
            max_record_bytes=max_record_bytes,
        )
        yield from reader.records()
        if reader.errors:
            # Only the issues of the first bad record (which was not yielded).
            first = reader.errors[0].record
            raise FormatError([i for i in reader.errors if i.record == first])


@attrs.frozen
class Reading:
    """What a lenient read found: the records it could read, and every issue of reading."""

    file: CareplanFile
    """The records that could be read; `file.gaps` says which could not (None if all could)."""
    issues: tuple[Issue, ...]
    """Errors of reading, notes (BOM, header line, blank lines) and `read.not_canonical`."""
    columns: Columns = attrs.field(eq=False, repr=False)
    """The file's values column by column, for the rules (made while reading)."""


def read_leniently(
    source: Source,
    *,
    name: str | FileName | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Reading:
    """Read a file as validation does: past every record or value that cannot be read.

    A value that cannot be typed is reported and left None in its record (the record is kept,
    so the rules can check the rest of it); a record that cannot be split into the layout's
    items is reported and left out. Rows that do not fit the layout at all are reported once
    for the file, with the likely cause. The canonical form is checked when the file could be
    read without error. Raises `FormatError` only when the file cannot be read at all (an image
    name, a UTF-8 file without BOM).
    """
    return read_for_rules(source, name=name, max_record_bytes=max_record_bytes, by_column=False)


def read_for_rules(
    source: Source,
    *,
    name: str | FileName | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    by_column: bool = True,
) -> Reading:
    """`read_leniently`, for validation: with `by_column`, rows are typed column by column
    into the columns the rules read (`BlockTyper`), and the file's records are made from
    them only if asked for (`ColumnRecords`); the issues and values are the same."""
    with _open(source, name) as (stream, file_name):
        reader = _Reader(
            stream,
            file_name,
            keep_partial=True,
            check_form=True,
            max_record_bytes=max_record_bytes,
            share_texts=True,
            by_column=by_column,
        )
        records, values = _collect_with_columns(reader)
    file = reader.file(records)
    columns = Columns(file, values)
    issues = [*reader.finished_errors(len(records)), *reader.notes]
    if not reader.errors and not reader.notes:
        departure = reader.departure(file, columns)
        if departure is not None:
            issues.append(departure.issue(reader.file_label))
    return Reading(file=file, issues=tuple(issues), columns=columns)


def _collect(reader: _Reader) -> tuple[Record, ...]:
    # Millions of fresh records would make the cyclic collector rescan them again and again;
    # they hold no cycles, so pause it while they are made.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return tuple(reader.records())
    finally:
        if was_enabled:
            gc.enable()


# Rows are typed into columns (`by_column`), and records turned into columns, this many at a
# time, as they are read: a block of rows of the widest layout (63 items) stays within a core's
# cache while its columns are typed (the all-distinct 100k unit read in 0.87 of the row-by-row
# time with blocks of 128, 0.89–0.99 with 256 and 512).
_COLUMN_BLOCK = 128


def _collect_with_columns(
    reader: _Reader,
) -> tuple[tuple[Record, ...] | ColumnRecords, list[list[Any]] | None]:
    """`_collect`, and the records' values column by column (None when the layout's records
    are not the tuples of their values: `builds_tuple`).

    Validation's rules read every file column by column. Transposing the records once all are
    read touches every value again from cold memory (each value's reference count is
    written); a block of records just made is still in the cache, and transposing it there
    costs about a third less (measured on a 第7表 of 40,000 distinct lines)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        made = reader.records()
        records: list[Record] = []
        columns: list[list[Any]] | None = None
        while block := list(itertools.islice(made, _COLUMN_BLOCK)):
            if not records and builds_tuple(reader.layout):
                columns = [[] for _ in reader.layout.columns]
            records += block
            if columns is not None:
                for column, values in zip(columns, zip(*block, strict=True), strict=True):
                    column.extend(values)
        store = reader.store
        if store is not None:  # typed column by column: no record was yielded
            columns = store.finish()
            return ColumnRecords(reader.layout.record_type, columns), columns
        return tuple(records), columns
    finally:
        if was_enabled:
            gc.enable()


class _ColumnStore:
    """The values of a file read `by_column`, column by column: blocks typed by column, and
    the records of the rows the general path typed, transposed a block at a time (in order:
    each kind is put in before the other is added to)."""

    def __init__(self, width: int) -> None:
        self.columns: list[list[Any]] = [[] for _ in range(width)]
        self._records: list[Record] = []

    def add_columns(self, typed: list[list[Any]]) -> None:
        if self._records:
            self._transpose()
        for column, values in zip(self.columns, typed, strict=True):
            column += values

    def add_record(self, record: Record) -> None:
        self._records.append(record)
        if len(self._records) >= _COLUMN_BLOCK:
            self._transpose()

    def finish(self) -> list[list[Any]]:
        self._transpose()
        return self.columns

    def _transpose(self) -> None:
        if self._records:
            for column, values in zip(self.columns, zip(*self._records, strict=True), strict=True):
                column.extend(values)
            self._records.clear()


@contextlib.contextmanager
def _open(source: Source, name: str | FileName | None) -> Iterator[tuple[IO[bytes], FileName]]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        file_name = _parse_name(name if name is not None else path.name)
        with path.open("rb") as stream:
            yield stream, file_name
        return
    if isinstance(source, bytes | bytearray | memoryview):
        if name is None:
            raise ValueError("name= is required when reading bytes")
        yield io.BytesIO(bytes(source)), _parse_name(name)
        return
    if hasattr(source, "read"):
        if name is None:
            stream_name = getattr(source, "name", None)
            if not isinstance(stream_name, str):
                raise ValueError("name= is required when reading a stream without a name")
            name = Path(stream_name).name
        yield source, _parse_name(name)
        return
    raise TypeError(f"cannot read from {type(source).__name__}")


def _parse_name(name: str | FileName) -> FileName:
    file_name = name if isinstance(name, FileName) else FileName.parse(name)
    if file_name.is_image:
        raise FormatError(
            [
                Issue(
                    "name.not_csv",
                    "error",
                    "画像ファイル（UPKIHON_IMAGE）はCSVではありません",
                    "an UPKIHON_IMAGE file is a JPEG image, not a CSV file",
                    file=str(file_name),
                )
            ]
        )
    return file_name


def _count_breaks(data: bytes) -> int:
    """Line breaks in `data` (CRLF, LF or CR each count once)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _after_breaks(data: bytes, count: int) -> int:
    """The offset just after the `count`-th line break of `data` (0 for none)."""
    if count <= 0:
        return 0
    match = next(itertools.islice(_LINE_BREAK.finditer(data), count - 1, None), None)
    return match.end() if match is not None else len(data)


class _RecordTooLong(Exception):
    """Raised from the line source, through `csv.reader`, when a record passes the cap."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Lines:
    """Physical lines of a binary stream, decoded chunk by chunk, holding no record longer than
    the cap.

    The reader tells it, after each row, the line where that row ended (`record_end`); a record
    is open across a chunk boundary when fewer lines than were handed out ended a row. The
    chunks an open record spans are kept (they are at most the cap plus one chunk) to measure it.
    """

    def __init__(self, stream: IO[bytes], file: str, notes: list[Issue], max_record: int) -> None:
        if max_record < 1:
            raise ValueError("max_record_bytes must be positive")
        self._stream = stream
        self._file = file
        self._notes = notes
        self.max_record = max_record
        # Any line within one read is then shorter than the cap, and a record inside one chunk
        # of the usual size needs no measuring.
        self._read_size = max(1, min(_CHUNK_SIZE, max_record // 2))
        self.encoding = "cp932"
        self.saw_bad_characters = False
        self.plain = True
        """MS932 without bad characters so far: rows need no character check (one flag for the
        reader to test per row)."""
        self.quote_free = False
        """The chunk being read holds no double quote: each of its rows is one physical line."""
        self._pending = b""
        self._started = False
        self._at_end = False
        self.lines_done = 0
        """Physical lines handed out (those of the chunk being read included)."""
        self.record_end = 0
        """The line where the last row ended (set by the reader)."""
        self._chunks: list[tuple[int, bytes]] = []
        """(first line, bytes) of the chunks the open record spans; the last is the current one."""
        self.measured_from = 1 << 62
        """Rows that start on this line or later lie in the current chunk, which is no longer
        than the cap: they cannot be too long (`record_too_long` need not measure them)."""
        self._held = 0
        """Bytes of the open record in the chunks before the current one."""
        self._skip_quotes = 0
        self._skip_data = b""
        # For the canonical-form check: the chunks' bytes (decoded again only to locate a
        # departure: their texts would hold twice the memory, 114 against 60 MB for the 100k
        # all-distinct unit of bench_validate), and the text and bytes of the chunks holding
        # characters with several codes (whose bytes must be compared).
        self.track = False
        self.chunks: list[bytes] = []
        self.ambiguous: list[tuple[int, str, bytes]] = []
        # The chunks' delimiters (`_canonical.delimiters_of`), and whether a chunk holds `""`
        # (then only the full check can tell): the fast path of the structural check.
        self.delimiters: list[bytes] = []
        self.quote_pairs = False

    # -- lines -------------------------------------------------------------------------------

    def lines(self) -> Iterator[str]:
        """The lines from where reading stands (a new iterator after a refused record)."""
        # The chunks' lines are chained in C: a Python generator resumed per line would cost
        # about as much as splitting it. The next chunk is read once the csv reader has taken
        # every line of the previous one, as the accounting of open records needs.
        return itertools.chain.from_iterable(self._chunk_lines())

    def _chunk_lines(self) -> Iterator[io.StringIO]:
        while True:
            data = self._next_chunk()
            if data is None:
                return
            text = self._decode(data)
            yield io.StringIO(text, newline="")

    def _next_chunk(self) -> bytes | None:
        # Every line of the previous chunk has been read by now: is a record still open?
        self._account_open_record()
        data = self._read_complete_lines()
        if data is None:
            return None
        self._chunks.append((self.lines_done + 1, data))
        self.measured_from = self.lines_done + 1 if len(data) <= self.max_record else 1 << 62
        self.quote_free = b'"' not in data
        self.lines_done += _count_breaks(data)
        if data[-1:] not in (b"\n", b"\r"):
            self.lines_done += 1  # the last line of a file without a final line break
        return data

    def _account_open_record(self) -> None:
        if not self._chunks:
            return
        if self.record_end >= self.lines_done:
            self._chunks.clear()
            self._held = 0
            return
        start_chunk, start = self._locate(self.record_end + 1)
        del self._chunks[:start_chunk]
        self._held = sum(len(data) for _, data in self._chunks) - start
        if self._held + len(self._pending) > self.max_record:
            self._refuse(self._pending)

    def _locate(self, line: int) -> tuple[int, int]:
        """(index in the kept chunks, byte offset) where `line` starts."""
        for index in range(len(self._chunks) - 1, -1, -1):
            first, data = self._chunks[index]
            if first <= line:
                return index, _after_breaks(data, line - first)
        return 0, 0

    def _read_complete_lines(self) -> bytes | None:
        """The next run of complete lines (the rest of the file at its end), or None."""
        if self._at_end:
            return None
        if not self._started:
            self._started = True
            self._pending = self._stream.read(self._read_size)
            if self._pending.startswith(_BOM):
                self._pending = self._pending[len(_BOM) :]
                self.encoding = "utf-8"
                self.plain = False
                self._notes.append(_note_bom(self._file))
        while True:
            chunk = self._stream.read(self._read_size)
            data = self._pending + chunk
            if not chunk:
                self._at_end = True
                self._pending = b""
                if not data:
                    return None
                self._check_first_line(data)
                return data
            cut = data.rfind(b"\n") + 1 or data.rfind(b"\r", 0, len(data) - 1) + 1
            if cut == 0:
                # One line so far, and no end in sight: refuse it before it passes the cap.
                if self._held + len(data) > self.max_record:
                    self._refuse(data)
                self._pending = data
                continue
            self._check_first_line(data)
            self._pending = data[cut:]
            return data[:cut]

    def _check_first_line(self, data: bytes) -> None:
        """The first line of `data` continues the partial line read before: is it too long?"""
        if self._held + min(len(data), self._read_size + len(self._pending)) <= self.max_record:
            return  # cannot be: every line inside one read is shorter than the cap
        match = _LINE_BREAK.search(data)
        if self._held + (match.end() if match else len(data)) > self.max_record:
            self._refuse(data)

    def record_too_long(self, first_line: int, last_line: int) -> bool:
        """Whether the row that spanned lines `first_line`…`last_line` is longer than the cap."""
        chunks = self._chunks
        if not chunks:
            return False
        first, data = chunks[-1]
        if first_line >= first and len(data) <= self.max_record:
            return False  # inside one chunk no longer than the cap
        start_chunk, start = self._locate(first_line)
        end_chunk, end = self._locate(last_line + 1)
        size = end - start + sum(len(data) for _, data in chunks[start_chunk:end_chunk])
        return size > self.max_record

    def _refuse(self, data: bytes) -> NoReturn:
        """Stop at a record longer than the cap; `data` is what follows the kept chunks."""
        quotes = 0
        if self._chunks and self.record_end < self.lines_done:
            start_chunk, start = self._locate(self.record_end + 1)
            for index, (_, chunk) in enumerate(self._chunks[start_chunk:]):
                quotes += chunk.count(b'"', start if index == 0 else 0)
        self._chunks.clear()
        self._held = 0
        self._skip_quotes = quotes
        self._skip_data = data
        self._pending = b""
        self._stop_tracking()
        raise _RecordTooLong(self.record_end + 1)

    def skip_refused_record(self) -> None:
        """Read past the rest of the refused record, keeping nothing of it.

        The record ends at the first line break after an even number of quotes (a line break
        inside quotes belongs to the item); lines passed are counted to keep line numbers.
        """
        quotes, data = self._skip_quotes, self._skip_data
        self._skip_data = b""
        after_cr = False  # the last read ended with CR: a LF first in the next is its CRLF
        at_line_start = True  # nothing of the current line read yet
        while True:
            position = 1 if after_cr and data.startswith(b"\n") else 0
            # Only line breaks are visited one by one; quotes are counted between them in C.
            next_cr, next_lf = data.find(b"\r", position), data.find(b"\n", position)
            while next_cr >= 0 or next_lf >= 0:
                if next_cr >= 0 and (next_lf < 0 or next_cr < next_lf):
                    end = next_cr + 2 if next_lf == next_cr + 1 else next_cr + 1
                else:
                    end = next_lf + 1
                quotes += data.count(b'"', position, end)
                position = end
                self.lines_done += 1
                if quotes % 2 == 0:
                    rest = data[end:]
                    if data[end - 1 : end] == b"\r" and not rest:
                        rest = self._stream.read(self._read_size)
                        rest = rest[1:] if rest.startswith(b"\n") else rest
                    self._pending = rest
                    self.record_end = self.lines_done
                    return
                if next_cr >= 0 and next_cr < end:
                    next_cr = data.find(b"\r", end)
                if next_lf >= 0 and next_lf < end:
                    next_lf = data.find(b"\n", end)
            quotes += data.count(b'"', position)
            if data:
                after_cr = data.endswith(b"\r")
                at_line_start = data[-1:] in (b"\r", b"\n")
            data = self._stream.read(self._read_size)
            if not data:
                self._at_end = True
                if not at_line_start:
                    self.lines_done += 1  # the refused record's last line had no line break
                self.record_end = self.lines_done
                return

    # -- decoding ----------------------------------------------------------------------------

    def _decode(self, data: bytes) -> str:
        text = self._decode_only(data)
        # While checking the form, one scan looks for bad characters and for characters with
        # several codes at once; the separate scan for bad ones runs only when it finds some.
        # ASCII text (a str knows whether it is, without a scan) has no bad character and no
        # character with several codes.
        if self.track and self._scan_for_form(text, data):
            return text
        if not self.saw_bad_characters and not text.isascii() and _ms932.has_bad_characters(text):
            self.saw_bad_characters = True
            self.plain = False
            if self.encoding == "cp932" and _is_utf8(data):
                raise FormatError(
                    [
                        Issue(
                            "encoding.utf8",
                            "error",
                            "ファイルが UTF-8 で書かれています。"
                            "MS932（Shift_JIS）で出力してください",
                            "the file is encoded in UTF-8; the standard requires MS932 (Shift_JIS)",
                            file=self._file,
                        )
                    ]
                )
        return text

    def decoded(self) -> list[str]:
        """The texts of the chunks kept for the canonical-form check, decoded again (as they
        were read: a chunk ends at a line end, so no character lies across two)."""
        return [self._decode_only(data) for data in self.chunks]

    def _decode_only(self, data: bytes) -> str:
        if self.encoding == "utf-8":
            return data.decode("utf-8", "surrogateescape")
        return _ms932.decode(data)

    def _scan_for_form(self, text: str, data: bytes) -> bool:
        """Keep what the canonical-form check needs of a chunk: its bytes, its delimiters and
        whether it holds `""` (the structural fast path), and its text too when it holds
        characters with several codes. True when it holds neither those nor bad characters."""
        delimiters = delimiters_of(data)
        quotes = delimiters.count(b'"')
        plain, doubled = True, None
        if not text.isascii():
            found, doubled = _ms932.scan_characters(text, quotes)
            plain = not found
        if not plain:
            self.ambiguous.append((len(self.chunks), text, data))
        self.chunks.append(data)
        # A chunk ends at a line end, so no `""` lies across two chunks.
        self.quote_pairs = self.quote_pairs or (
            quotes > 1 and (b'""' in data if doubled is None else doubled)
        )
        if not self.quote_pairs:
            self.delimiters.append(delimiters)
        return plain

    def _stop_tracking(self) -> None:
        self.track = False
        self.chunks.clear()
        self.delimiters.clear()
        self.ambiguous.clear()


def _note_bom(file: str) -> Issue:
    return Issue(
        "read.bom",
        "warning",
        "UTF-8 のBOMがあります。UTF-8 として読みました（標準はBOMなしの MS932 です）",
        "the file starts with a UTF-8 BOM and was read as UTF-8 "
        "(the standard is MS932 without BOM)",
        file=file,
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Reader:
    """Reads one file: yields the records it can type, collects errors and notes."""

    def __init__(
        self,
        stream: IO[bytes],
        name: FileName,
        *,
        stop_at_first_error: bool = False,
        keep_lines: bool = True,
        keep_partial: bool = False,
        check_form: bool = False,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        share_texts: bool = False,
        by_column: bool = False,
    ) -> None:
        self.name = name
        # Validation's rules read columns: rows are typed column by column into `store`
        # (made with the layout, when its records are the tuples of their values), and
        # `records()` then yields nothing.
        self.by_column = by_column and share_texts
        self.store: _ColumnStore | None = None
        self._typer: BlockTyper | None = None
        self._plan: _RowPlan | None = None
        # Equal texts of a column as one object (`_rowcode._Sharer`): for validation, whose
        # rules pass over every column several times.
        self.share_texts = share_texts
        self.keep_lines = keep_lines
        self.keep_partial = keep_partial
        self.stop_at_first_error = stop_at_first_error
        self.file_label = str(name)
        self.errors: list[Issue] = []
        self.notes: list[Issue] = []
        self.record_lines: list[int] = []
        self.csv_version: str | None = None
        self._layout: Layout | None = None
        self._lines = _Lines(stream, self.file_label, self.notes, max_record_bytes)
        # Records are at most the cap, so no item can be longer: raise the csv module's own
        # item limit (128 KiB by default; process-wide, so it is only ever raised) to the cap,
        # since free text has no maximum length in the standard.
        if csv.field_size_limit() < max_record_bytes:
            csv.field_size_limit(max_record_bytes)
        self._lines.track = check_form
        self.check_form = check_form
        # What the lenient read could not read (record numbers), and the items of kept records
        # that could not be typed (index of the kept record → column numbers).
        self.numbers: list[int] = []
        self.unread: list[int] = []
        self.unread_items: dict[int, frozenset[int]] = {}
        # Rows whose item count does not fit the layout: (record, line, count), and a few rows.
        self.misfits: list[tuple[int, int, int]] = []
        self.misfit_rows: list[list[str]] = []
        self.rows_typed_badly = 0  # rows of the right width with an item that cannot be read
        self.typed_texts: list[tuple[int, str]] = []
        self.typed_at: tuple[int, int] | None = None

    @property
    def layout(self) -> Layout:
        """The file's layout: its first record's CSVバージョン says which; until then (and in
        a file without records) the name says which edition to expect. Found when first
        needed: the edition of a name costs a short file a tenth of its read, and the first
        record usually makes it moot."""
        if self._layout is None:
            self._layout = get_layout(self.name.layout_id, EDITIONS.for_name(self.name).family)
        return self._layout

    @layout.setter
    def layout(self, layout: Layout) -> None:
        self._layout = layout

    def file(self, records: tuple[Record, ...] | ColumnRecords) -> CareplanFile:
        gaps = None
        if self.unread or self.unread_items:
            gaps = ReadGaps(
                numbers=tuple(self.numbers),
                unread_records=tuple(self.unread),
                unread_items=dict(self.unread_items),
            )
        return CareplanFile(
            name=self.name,
            layout=self.layout,
            csv_version=self.csv_version,
            # A `ColumnRecords` is a sequence of the records as a tuple is (`by_column`).
            records=cast(tuple[Record, ...], records),
            notes=tuple(self.notes),
            record_lines=tuple(self.record_lines),
            gaps=gaps,
        )

    # -- rows --------------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        lines = self._lines
        reader = csv.reader(lines.lines(), strict=True)
        base = 0  # lines before the current csv reader (a new one follows a refused record)
        last_line = 0
        record_no = 0
        seen_data = False
        plan: _RowPlan | None = None
        width = 0
        # Replaced by the layout's builder once the first row gives the layout.
        fast_build: Callable[[list[Any]], Record] = _no_builder
        keep_lines = self.keep_lines
        record_lines = self.record_lines
        keep_partial = self.keep_partial
        numbers = self.numbers
        typed_texts = self.typed_texts
        record: Record | None
        # Rows of a batch that left the batch path (below), in reverse order; one line each.
        pending: list[list[str]] = []
        fast = _FAST_PATHS
        store: _ColumnStore | None = None  # typed column by column (`by_column`)
        while True:
            try:
                if pending:
                    row = pending.pop()
                    line = last_line = last_line + 1
                elif (
                    fast
                    and plan is not None
                    and lines.quote_free
                    and lines.plain
                    and (remaining := lines.lines_done - base - reader.line_num) > 1
                ):
                    # The rest of a chunk without quotes (a file without free text, or with
                    # none filled): every row is one line, so exactly `remaining` rows finish
                    # the chunk without the reader fetching the next one (whose accounting of
                    # an open record needs `record_end` of the row before). Taken and typed in
                    # C-driven loops, with no Python step per row; a short layout's rows would
                    # otherwise cost more in this loop than in reading them. Without quotes the
                    # reader raises nothing (its errors are about quotes; every line of a chunk
                    # is within the cap, and so within the item limit raised to it).
                    first = last_line + 1
                    batch = list(itertools.islice(reader, remaining))
                    last_line = lines.record_end = base + reader.line_num
                    records = None
                    if (
                        store is not None
                        and len(batch) == last_line - first + 1
                        and {*map(len, batch)} == {width}
                    ):
                        for start in range(0, len(batch), _COLUMN_BLOCK):
                            part = batch[start : start + _COLUMN_BLOCK]
                            at = range(first + start, first + start + len(part))
                            self._type_block(part, record_no + 1, at)
                            record_no += len(part)
                        continue
                    if len(batch) == last_line - first + 1 and {*map(len, batch)} == {width}:
                        with contextlib.suppress(ValueError):
                            records = list(map(fast_build, batch))
                    if typed_texts and self.typed_at is None:
                        # The builder's caches saw the first text that is not canonical in
                        # one of these rows (before any row that failed).
                        self.typed_at = _first_with(batch, typed_texts[0], record_no, first)
                    if records is None:
                        # Some row is not a plain record: each goes the general way.
                        batch.reverse()
                        pending = batch
                        last_line = first - 1
                        continue
                    if keep_partial:
                        numbers.extend(range(record_no + 1, record_no + len(batch) + 1))
                    if keep_lines:
                        record_lines.extend(range(first, last_line + 1))
                    record_no += len(batch)
                    yield from records
                    continue
                elif fast and store is not None:
                    # The steady state of `by_column`: the loop below, with rows gathered
                    # into blocks, each typed column by column (`_type_block`).
                    rows: list[list[str]] = []
                    at_lines: list[int] = []
                    try:
                        for row in reader:
                            line = last_line + 1
                            last_line = lines.record_end = base + reader.line_num
                            if (
                                len(row) != width
                                or not lines.plain
                                or (
                                    last_line != line
                                    and line < lines.measured_from
                                    and lines.record_too_long(line, last_line)
                                )
                            ):
                                break
                            rows.append(row)
                            at_lines.append(line)
                            if len(rows) == _COLUMN_BLOCK:
                                self._type_block(rows, record_no + 1, at_lines)
                                record_no += len(rows)
                                rows, at_lines = [], []
                        else:
                            return  # (the last rows typed below)
                    finally:
                        # The rows gathered before the one that left the loop (a row of
                        # another kind, or one the csv reader or the cap refused, raised
                        # here and handled below), or the last of the file: typed first.
                        if rows:
                            self._type_block(rows, record_no + 1, at_lines)
                            record_no += len(rows)
                            rows = []
                elif fast and plan is not None:
                    # The steady state, once the layout is known: one physical line per row,
                    # of the layout's width, characters known good, typed by the compiled
                    # builder. A `for` over the C reader with nothing else per row costs a
                    # fraction of the general loop below (which a short layout's rows would
                    # otherwise spend more time in than in reading them); any other row
                    # leaves it, with `line` and `last_line` set, for the general path. A
                    # row over several lines (a line break inside quoted free text) stays
                    # unless it is longer than the cap.
                    for row in reader:
                        line = last_line + 1
                        last_line = lines.record_end = base + reader.line_num
                        if (
                            len(row) != width
                            or not lines.plain
                            or (
                                last_line != line
                                and line < lines.measured_from
                                and lines.record_too_long(line, last_line)
                            )
                        ):
                            break
                        try:
                            record = fast_build(row)
                        except ValueError:
                            break  # typed again, explicitly, below
                        record_no += 1
                        if typed_texts and self.typed_at is None:
                            self.typed_at = (record_no, line)
                        if keep_partial:
                            numbers.append(record_no)
                        if keep_lines:
                            record_lines.append(line)
                        yield record
                    else:
                        return
                else:
                    row = next(reader)
                    line = last_line + 1
                    last_line = lines.record_end = base + reader.line_num
            except StopIteration:
                return
            except csv.Error as error:
                record_no += 1
                end_of_data = self._csv_error(error, record_no, last_line + 1)
                self.unread.append(record_no)
                last_line = lines.record_end = base + reader.line_num
                if end_of_data or self.stop_at_first_error:
                    return
                continue
            except _RecordTooLong as refused:
                record_no += 1
                self._too_long(record_no, refused.line)
                self.unread.append(record_no)
                self._stop_form_check()
                if self.stop_at_first_error:
                    return
                lines.skip_refused_record()
                base = last_line = lines.record_end = lines.lines_done
                reader = csv.reader(lines.lines(), strict=True)
                continue
            if last_line != line and lines.record_too_long(line, last_line):
                record_no += 1
                self._too_long(record_no, line)
                self.unread.append(record_no)
                if self.stop_at_first_error:
                    return
                continue
            if not row:
                self.notes.append(self._note_blank_line(line))
                self._stop_form_check()
                continue
            if not seen_data:
                seen_data = True
                if _is_header(row):
                    self.notes.append(self._note_header(line))
                    self._stop_form_check()
                    continue
            if plan is None:
                self.csv_version = row[0]
                self.layout = get_layout(self.name.layout_id, row[0])
                plan = _RowPlan(
                    self.layout,
                    typed_texts if self.check_form else None,
                    share_texts=self.share_texts,
                )
                width, fast_build = plan.width, plan.fast_build
                self._plan = plan
                if self.by_column and builds_tuple(self.layout):
                    store = self.store = _ColumnStore(width)
                    self._typer = BlockTyper(self.layout, typed_texts if self.check_form else None)
            record_no += 1
            if store is not None and len(row) == width and lines.plain:
                # Typed by the block typer too (a block of one), so that its values are the
                # same objects as the other rows' (the rules' tests of a column of one value,
                # `uniform`, compare by identity first: the first row typed by the row
                # builder's caches made every such test take its slow path).
                self._type_block([row], record_no, [line])
                continue
            # The common case inline (a method call per row costs as much as a column): a row
            # of the layout's width, characters already known good, typed by the compiled
            # builder; anything else goes through `_RowPlan.build`, which reports it.
            if len(row) == width and lines.plain:
                try:
                    record = fast_build(row)
                except ValueError:
                    record = plan.explicit_build(row, self, record_no, line, set())
            else:
                record = plan.build(row, self, record_no, line)
            if typed_texts and self.typed_at is None:
                self.typed_at = (record_no, line)
            if record is None:
                self.unread.append(record_no)
                if self.stop_at_first_error:
                    return
                continue
            if keep_partial:
                numbers.append(record_no)
            if keep_lines:
                record_lines.append(line)
            if store is not None:
                store.add_record(record)
            else:
                yield record

    def _type_block(self, rows: list[list[str]], first: int, lines: Sequence[int]) -> None:
        """Type `rows` (records `first`, `first + 1`, …, starting on `lines`; each as wide as
        the layout, characters known good) column by column into the store; when a value
        cannot be typed, row by row as the general path does, reporting why."""
        assert self.store is not None and self._typer is not None
        typed_texts = self.typed_texts
        noted = bool(typed_texts)
        try:
            typed = self._typer.type(rows)
        except ValueError:
            self._type_one_by_one(rows, first, lines)
            return
        if typed_texts and not noted and self.typed_at is None:
            # Noted column by column: the departure the row builder would have met first.
            found = self._typer.first_departure(rows)
            offset, index, text = found if found else (0, *typed_texts[0])
            if found is None:  # the noted text is in one of the rows
                offset = next(n for n, row in enumerate(rows) if row[index] == text)
            typed_texts[0] = (index, text)
            self.typed_at = (first + offset, lines[offset])
        self.store.add_columns(typed)
        if self.keep_partial:
            self.numbers.extend(range(first, first + len(rows)))
        if self.keep_lines:
            self.record_lines.extend(lines)

    def _type_one_by_one(self, rows: list[list[str]], first: int, lines: Sequence[int]) -> None:
        """`_type_block`'s rows, one by one, as the general path types them."""
        assert self.store is not None and self._plan is not None
        plan = self._plan
        for offset, (row, line) in enumerate(zip(rows, lines, strict=True)):
            record_no = first + offset
            record: Record | None
            try:
                record = plan.fast_build(row)
            except ValueError:
                record = plan.explicit_build(row, self, record_no, line, set())
            if self.typed_texts and self.typed_at is None:
                self.typed_at = (record_no, line)
            if record is None:
                self.unread.append(record_no)
                continue
            if self.keep_partial:
                self.numbers.append(record_no)
            if self.keep_lines:
                self.record_lines.append(line)
            self.store.add_record(record)

    def partial(self, row: list[Any], holes: set[int], record: int, line: int) -> Record | None:
        """The record of a row some of whose items could not be read (None in them), kept by a
        lenient read so that the rest of it is checked."""
        if not self.keep_partial:
            return None
        self.unread_items[len(self.numbers)] = frozenset(holes)
        return self.layout.record_type(*row)

    def _stop_form_check(self) -> None:
        """A BOM, header or blank line makes the file non-canonical, and is reported already."""
        self.check_form = False
        self._lines._stop_tracking()

    def departure(self, file: CareplanFile, columns: Columns) -> Departure | None:
        """Where the file, read without error, first departs from canonical form (`columns`:
        the file's)."""
        if not self._lines.track:
            return None
        typed = None
        if self.typed_at is not None and self.typed_texts:
            record, line = self.typed_at
            index, text = self.typed_texts[0]
            typed = typed_departure(self.layout, record, line, index, text)
        # The chunks' texts, decoded again only when a departure must be located.
        texts = functools.cache(self._lines.decoded)
        structural = None
        # Most files are canonical: their delimiters alone prove it, over a fifth of the text;
        # the full check runs where they cannot, and says where and why.
        if self._lines.quote_pairs or not delimiters_are_canonical(
            self.layout, b"".join(self._lines.delimiters), columns.__getitem__
        ):
            structural = structural_departure(self.layout, "".join(texts()), file.record_lines)
        encoding = None
        if self._lines.encoding == "cp932" and self._lines.ambiguous:
            encoding = encoding_departure(
                self.layout, texts, self._lines.ambiguous, file.record_lines
            )
        return first_departure(structural, encoding, typed)

    # -- issues ------------------------------------------------------------------------------

    def error(self, code: str, ja: str, en: str, **where: Any) -> None:
        self.errors.append(Issue(code, "error", ja, en, file=self.file_label, **where))

    def finished_errors(self, records: int) -> list[Issue]:
        """The errors, with rows that do not fit the layout at all said once for the file.

        `records` is the number of records read: none, and no row of the right width, means
        that no row fits.
        """
        misfits = self.misfits
        if len(misfits) < 2 or records or self.rows_typed_badly:
            return self.errors
        counts = sorted({count for _, _, count in misfits})
        cause = _likely_cause(self.misfit_rows, self.layout)
        ja_cause, en_cause = cause if cause else ("", "")
        shown = ", ".join(map(str, counts))
        summary = Issue(
            "csv.layout_mismatch",
            "error",
            f"どのレコードも {self.layout.name_ja}（CSVバージョン {self.layout.csv_version}）の"
            f"項目数 {len(self.layout.columns)} に合いません（項目数 {shown}）{ja_cause}",
            f"no record fits the {self.layout.id} layout (CSVバージョン "
            f"{self.layout.csv_version}, {len(self.layout.columns)} items): the rows have "
            f"{shown} items{en_cause}",
            file=self.file_label,
            line=misfits[0][1],
            value=shown,
        )
        return [summary, *(i for i in self.errors if i.code != "csv.column_count")]

    def _too_long(self, record: int, line: int) -> None:
        limit = self._lines.max_record
        self.error(
            "csv.record_too_long",
            f"レコードが長すぎます（{limit:,} バイトまで）。読まずに次のレコードへ進みました"
            "（閉じられていない引用符があると、ファイルの残りが1つのレコードになります）",
            f"a record longer than {limit:,} bytes was refused and skipped (a quote that is "
            "never closed makes the rest of the file one record)",
            record=record,
            line=line,
        )

    def _csv_error(self, error: csv.Error, record: int, line: int) -> bool:
        text = str(error)
        if "end of data" in text:
            self.error(
                "csv.unterminated_quote",
                '引用符（"）が閉じられないままファイルが終わっています',
                'the file ends inside a quoted item (a " is not closed)',
                record=record,
                line=line,
            )
            return True
        if "field limit" in text:
            self.error(
                "csv.field_too_large",
                f"項目が長すぎます（{csv.field_size_limit()}文字まで）",
                f"an item is longer than {csv.field_size_limit()} characters",
                record=record,
                line=line,
            )
            return False
        self.error(
            "csv.bad_quote",
            '引用符の使い方が正しくありません（閉じた " の後にはカンマか改行が必要です）',
            'malformed quoting: a closing " must be followed by a comma or a line break',
            record=record,
            line=line,
        )
        return False

    def _note_blank_line(self, line: int) -> Issue:
        return Issue(
            "read.blank_line",
            "warning",
            "空行があります（読み飛ばしました）",
            "blank line (skipped)",
            file=self.file_label,
            line=line,
        )

    def _note_header(self, line: int) -> Issue:
        return Issue(
            "read.header",
            "warning",
            "1行目は見出し行として読み飛ばしました（標準のCSVに見出し行はありません）",
            "the first line was skipped as a header line (standard files have none)",
            file=self.file_label,
            line=line,
        )


def _is_header(row: list[str]) -> bool:
    """A first row of titles (no digit in its first item) or of column numbers (1, 2, 3 …)."""
    first = row[0]
    if first and not any(c.isascii() and c.isdigit() for c in first):
        return True
    return len(row) > 2 and row[:3] == ["1", "2", "3"]


def _likely_cause(rows: list[list[str]], layout: Layout) -> tuple[str, str] | None:
    """Why rows do not fit `layout`: another interface's or edition's item count, or the days
    of a month as columns. Text starting with a separator, to follow the main message."""
    counts = {len(row) for row in rows}
    if len(counts) == 1:
        (count,) = counts
        other_version = [
            other
            for (layout_id, version), other in LAYOUTS.items()
            if layout_id == layout.id and version != layout.csv_version
            and len(other.columns) == count
        ]  # fmt: skip
        if other_version:
            version = other_version[0].csv_version
            return (
                f"。CSVバージョン {version} の項目数です。CSVバージョンの値を確認してください",
                f"; that is the {version} layout's count: check the CSVバージョン value",
            )
        # Another interface of the same edition first, of any edition otherwise.
        others = sorted(
            {
                other.prefix
                for (layout_id, version), other in LAYOUTS.items()
                if layout_id != layout.id
                and version == layout.csv_version
                and len(other.columns) == count
            }
        ) or sorted(
            {
                f"{other.prefix}（{version}）"
                for (layout_id, version), other in LAYOUTS.items()
                if layout_id != layout.id and len(other.columns) == count
            }
        )
        if others:
            shown = "、".join(others)
            return (
                f"。{shown} の項目数です。"
                "ファイル名の種類（接頭辞）と中身が合っているか確認してください",
                f"; that is the item count of {', '.join(others)}: do the file name's prefix "
                "and its content agree?",
            )
    if any(_has_day_columns(row) for row in rows):
        return (
            "。日ごとの列（1日〜31日）があるようです。標準のCSVは日の列を持たず、"
            "サービス提供日ごとに1レコードです",
            "; the rows seem to hold a column per day of the month (1–31): the standard has no "
            "day columns, it has one record per service date",
        )
    return None


def _has_day_columns(row: list[str]) -> bool:
    """31 consecutive short items (day marks or counts), at least one filled."""
    run = filled = 0
    for item in row:
        if len(item) <= 2:
            run += 1
            filled += bool(item)
            if run >= 31 and filled:
                return True
        else:
            run = filled = 0
    return False


def _first_with(
    rows: list[list[str]], departure: tuple[int, str], record_no: int, line: int
) -> tuple[int, int]:
    """(record, line) of the first of `rows` (one line each, the first being record
    `record_no + 1` on `line`) holding the departing text at its index."""
    index, text = departure
    for offset, row in enumerate(rows):
        if row[index] == text:
            return record_no + 1 + offset, line + offset
    raise AssertionError("the departing text came from one of the rows")


def _no_builder(row: list[Any]) -> Record:
    raise AssertionError("no row is typed before the layout is known")


class _RowPlan:
    """How to type the rows of one layout: which columns convert, with per-column caches."""

    def __init__(
        self,
        layout: Layout,
        typed_texts: list[tuple[int, str]] | None,
        *,
        share_texts: bool = False,
    ) -> None:
        self.layout = layout
        self.width = len(layout.columns)
        self.record_type = layout.record_type
        self.fast_build = row_builder(layout, typed_texts, share_texts=share_texts)
        self.typed = [
            (column.no - 1, column) for column in layout.columns if column.kind in TYPED_KINDS
        ]
        # Column 1 (CSVバージョン) stays a str even when empty; it is never None.
        self.plain = [
            column.no - 1
            for column in layout.columns
            if column.kind not in TYPED_KINDS and column.kind is not Kind.CSV_VERSION
        ]

    def build(self, row: list[Any], reader: _Reader, record: int, line: int) -> Record | None:
        if len(row) != self.width:
            self._column_count_error(row, reader, record, line)
            return None
        lines = reader._lines
        if lines.saw_bad_characters or lines.encoding == "utf-8":
            holes: set[int] = set()
            self._check_characters(row, reader, record, line, holes)
            if holes:
                return self.explicit_build(row, reader, record, line, holes)
        try:
            return self.fast_build(row)
        except ValueError:
            return self.explicit_build(row, reader, record, line, set())

    def explicit_build(
        self, row: list[Any], reader: _Reader, record: int, line: int, holes: set[int]
    ) -> Record | None:
        """Type the row column by column, reporting every item that cannot be typed."""
        for index, column in self.typed:
            raw = row[index]
            if column.no in holes:
                row[index] = None
                continue
            try:
                row[index] = parse_value(column.kind, raw) if raw else None
            except ValueError:
                row[index] = None
                holes.add(column.no)
                ja, en = type_error_message(column.kind)
                reader.error(
                    f"value.{column.kind.value}",
                    ja,
                    en,
                    record=record,
                    line=line,
                    column=column.no,
                    item=column.name_ja,
                    value=raw,
                )
        for index in self.plain:
            if not row[index] or index + 1 in holes:
                row[index] = None
        if holes:
            reader.rows_typed_badly += 1
            return reader.partial(row, holes, record, line)
        return self.record_type(*row)

    def _column_count_error(self, row: list[Any], reader: _Reader, record: int, line: int) -> None:
        reader.misfits.append((record, line, len(row)))
        if len(reader.misfit_rows) < _ROWS_KEPT_FOR_DIAGNOSIS:
            reader.misfit_rows.append(row)
        family = self.layout.csv_version
        cause = _likely_cause([row], self.layout)
        if cause is None and record == 1 and not any(c.isascii() and c.isdigit() for c in row[0]):
            cause = ("。見出し行ではありませんか", "; is it a header line?")
        hint_ja, hint_en = cause if cause else ("", "")
        reader.error(
            "csv.column_count",
            f"項目数が {len(row)} です。{self.layout.name_ja}（CSVバージョン {family}）は "
            f"{self.width} 項目です{hint_ja}",
            f"{len(row)} items, but {self.layout.id} (CSVバージョン {family}) has "
            f"{self.width}{hint_en}",
            record=record,
            line=line,
            value=str(len(row)),
        )

    def _check_characters(
        self, row: list[Any], reader: _Reader, record: int, line: int, holes: set[int]
    ) -> None:
        utf8 = reader._lines.encoding == "utf-8"
        for index, text in enumerate(row):
            column = self.layout.columns[index]
            for _, char in _ms932.bad_characters(text):
                holes.add(column.no)
                shown = _ms932.describe_bad_character(char, utf8=utf8)
                reader.error(
                    "encoding.bad_character",
                    f"MS932 の文字ではありません（{shown}。外字・未定義の文字は使えません）",
                    f"not an MS932 character ({shown}; 外字 and undefined codes are not allowed)",
                    record=record,
                    line=line,
                    column=column.no,
                    item=column.name_ja,
                    value=text,
                )
            if utf8:
                for char in _ms932.unencodable_characters(text):
                    if _ms932.has_bad_characters(char):
                        continue
                    holes.add(column.no)
                    reader.error(
                        "encoding.not_ms932",
                        f"MS932 で表せない文字です: {char}（U+{ord(char):04X}）",
                        f"a character MS932 cannot represent: {char} (U+{ord(char):04X})",
                        record=record,
                        line=line,
                        column=column.no,
                        item=column.name_ja,
                        value=text,
                    )


def layout_for(record: Record) -> Layout:
    """The layout a record belongs to (by its class and CSVバージョン)."""
    for layout in LAYOUTS.values():
        if type(record) is layout.record_type and layout.csv_version == layout_family(
            record.csv_version
        ):
            return layout
    raise KeyError(f"no layout for {type(record).__name__} {record.csv_version!r}")
