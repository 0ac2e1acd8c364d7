"""Reading standard files: `parse_plan` (whole file) and `iter_records` (streaming).

The pipeline: bytes are read in chunks cut only after a line break (in MS932 the bytes of CR, LF,
comma and double quote never occur inside a double-byte character, so the cut is safe), decoded,
split into physical lines and fed to the C `csv` state machine (quoted fields, doubled quotes,
line breaks inside quotes, CRLF/LF/CR). Each row is then typed column by column. Conversions of
repeated values (dates, months, times, numbers) are cached per column, because a 第6表 repeats
the same few values on every line.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Union

from .._issue import Issue
from ..errors import FormatError
from . import _ms932
from ._convert import TYPED_KINDS, parse_value, type_error_message
from ._file import CareplanFile
from ._filename import FileName
from ._layout import Kind, Layout
from ._layouts import CSV_VERSION_CURRENT, CSV_VERSION_V3, LAYOUTS, get_layout, layout_family
from ._record import Record
from ._rowcode import canonical_line_pattern, row_builder, typed_text_not_canonical

__all__ = ["Source", "iter_records", "parse_plan"]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_CHUNK_SIZE = 1 << 20
_BOM = b"\xef\xbb\xbf"


def _count_lines(text: str) -> int:
    """Line breaks in `text` (CRLF, LF or CR each count once)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _first_difference(a: bytes | str, b: bytes | str) -> int:
    """Offset of the first difference between two sequences (blocks compared in C first)."""
    block = 4096
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start : start + block] == b[start : start + block]:
        start += block
    for offset in range(start, min(start + block, limit)):
        if a[offset] != b[offset]:
            return offset
    return limit


def parse_plan(source: Source, *, name: str | FileName | None = None) -> CareplanFile:
    """Read any standard file completely.

    `source` is a path, bytes or a binary stream; the interface comes from the file name (a
    path's own name, or `name=` for bytes and streams). Raises `FormatError` with every issue of
    the file when a name or a value cannot be read; reading notes that are not errors (a BOM, a
    header line, blank lines) are in `CareplanFile.notes`.
    """
    file, _ = parse_checking_form(source, name=name, check_form=False)
    return file


def parse_checking_form(
    source: Source, *, name: str | FileName | None = None, check_form: bool = True
) -> tuple[CareplanFile, int | None]:
    """`parse_plan`, and the line where the file first departs from canonical form.

    The second value is None for a canonical file (or when `check_form` is False). The check
    costs little: each row's raw items are joined the canonical way and compared with the
    physical lines they came from; only typed items whose text is not the canonical text of
    their value (`007` for 7) need the full writer to locate.
    """
    with _open(source, name) as (stream, file_name):
        reader = _Reader(stream, file_name, check_form=check_form)
        # Millions of fresh records would make the cyclic collector rescan them again and again;
        # they hold no cycles, so pause it while they are made.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            records = tuple(reader.records())
        finally:
            if was_enabled:
                gc.enable()
    if reader.errors:
        raise FormatError(reader.errors)
    file = CareplanFile(
        name=reader.name,
        layout=reader.layout,
        csv_version=reader.csv_version,
        records=records,
        notes=tuple(reader.notes),
        record_lines=tuple(reader.record_lines),
    )
    first = reader.first_noncanonical_line()
    if first is None and check_form and reader.typed_text_not_canonical():
        first = _first_different_line(file)
    return file, first


def _first_different_line(file: CareplanFile) -> int | None:
    """The line of the first record whose canonical text differs from what was read."""
    from ._writer import write_file

    for index, record in enumerate(file.records):
        single = CareplanFile(file.name, file.layout, file.csv_version, (record,))
        if single.to_bytes() != write_file([record], file.name):
            return file.line_of(index)
    return file.line_of(0)


def iter_records(source: Source, *, name: str | FileName | None = None) -> Iterator[Record]:
    """Stream the records of a standard file with bounded memory.

    Raises `FormatError` at the first record that cannot be read (with all of that record's
    issues): records before it have been yielded, so a consumer that must import all or nothing
    should collect them first, or use `parse_plan`.
    """
    with _open(source, name) as (stream, file_name):
        # Streaming keeps nothing per record (no line table), so memory stays bounded.
        reader = _Reader(stream, file_name, stop_at_first_error=True, keep_lines=False)
        yield from reader.records()
        if reader.errors:
            # Only the issues of the first bad record (which was not yielded).
            first = reader.errors[0].record
            raise FormatError([i for i in reader.errors if i.record == first])


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


class _TextLines:
    """Physical lines of a binary stream, decoded chunk by chunk."""

    def __init__(self, stream: IO[bytes], file: str, notes: list[Issue]) -> None:
        self._stream = stream
        self._file = file
        self._notes = notes
        self.encoding = "cp932"
        self.saw_bad_characters = False
        # For the canonical-form check: the decoded text chunk by chunk, and the bytes of the
        # chunks holding characters with several codes (whose bytes must be compared).
        self.track = False
        self.texts: list[str] = []
        self.ambiguous: list[tuple[int, str, bytes]] = []
        self._chunk_is_plain = False

    def __iter__(self) -> Iterator[str]:
        pending = self._stream.read(_CHUNK_SIZE)
        if pending.startswith(_BOM):
            pending = pending[len(_BOM) :]
            self.encoding = "utf-8"
            self._notes.append(
                Issue(
                    "read.bom",
                    "warning",
                    "UTF-8 のBOMがあります。UTF-8 として読みました（標準はBOMなしの MS932 です）",
                    "the file starts with a UTF-8 BOM and was read as UTF-8 "
                    "(the standard is MS932 without BOM)",
                    file=self._file,
                )
            )
        at_end = False
        while not at_end:
            chunk = self._stream.read(_CHUNK_SIZE)
            at_end = not chunk
            data = pending + chunk
            if at_end:
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1 or data.rfind(b"\r", 0, len(data) - 1) + 1
            if cut == 0:
                pending = data
                continue
            pending = data[cut:]
            text = self._decode(data[:cut])
            if self.track:
                if not self._chunk_is_plain:
                    self.ambiguous.append((len(self.texts), text, data[:cut]))
                self.texts.append(text)
            yield from io.StringIO(text, newline="")

    def _decode(self, data: bytes) -> str:
        if self.encoding == "utf-8":
            text = data.decode("utf-8", "surrogateescape")
        else:
            text = _ms932.decode(data)
        # While checking the form, one scan looks for bad characters and for characters with
        # several codes at once; the separate scan for bad ones runs only when it finds some.
        if self.track:
            self._chunk_is_plain = not _ms932.has_bad_or_ambiguous_characters(text)
            if self._chunk_is_plain:
                return text
        if not self.saw_bad_characters and _ms932.has_bad_characters(text):
            self.saw_bad_characters = True
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


def _first_noncanonical(pattern: re.Pattern[str], text: str) -> int:
    """Where `pattern` (a run of canonical records) stops matching `text`: the start of the
    first record that is not canonical."""
    match = pattern.match(text)
    return match.end() if match is not None else 0


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Reader:
    """Reads one file: yields good records, collects errors and notes."""

    def __init__(
        self,
        stream: IO[bytes],
        name: FileName,
        stop_at_first_error: bool = False,
        keep_lines: bool = True,
        check_form: bool = False,
    ) -> None:
        self.name = name
        self.keep_lines = keep_lines
        self.stop_at_first_error = stop_at_first_error
        self.file = str(name)
        self.errors: list[Issue] = []
        self.notes: list[Issue] = []
        self.record_lines: list[int] = []
        self.csv_version: str | None = None
        self.layout: Layout = get_layout(
            name.layout_id, CSV_VERSION_V3 if name.naming == "v3" else CSV_VERSION_CURRENT
        )
        self._lines = _TextLines(stream, self.file, self.notes)
        self._lines.track = check_form
        self.check_form = check_form
        self._plan: _RowPlan | None = None

    def first_noncanonical_line(self) -> int | None:
        """The first line where the file differs from its canonical form (or None).

        Called only for a file read without error, so every row has the layout's column count.
        The text must be a run of canonical records (free text quoted, CRLF) and the bytes must
        be Windows' MS932 encoding of the text.
        """
        if not self._lines.track:
            return None
        text = "".join(self._lines.texts)
        pattern = canonical_line_pattern(self.layout)
        candidates = []
        if pattern.fullmatch(text) is None:
            offset = _first_noncanonical(pattern, text)
            candidates.append(_count_lines(text[:offset]) + 1)
        if self._lines.encoding == "cp932":
            misencoded = self._first_misencoded_line()
            if misencoded is not None:
                candidates.append(misencoded)
        return min(candidates) if candidates else None

    def _first_misencoded_line(self) -> int | None:
        """The first line whose bytes differ from Windows' encoding of its text (or None).

        Only chunks holding a character with several codes can differ. Comparing their bytes
        (not only looking for the characters Python's codec gets wrong) also finds a duplicate
        code Windows never writes, such as NEC row 13's 0x8790 for ≒ where Windows writes
        0x81E0: strict Shift_JIS readers reject those.
        """
        for position, text, data in self._lines.ambiguous:
            try:
                windows = _ms932.encode(text)
            except ValueError:
                return None  # characters that are no MS932 characters: reported as errors
            if windows != data:
                head = _ms932.decode(data[: _first_difference(windows, data)])
                before = sum(map(_count_lines, self._lines.texts[:position]))
                return before + _count_lines(head) + 1
        return None

    def typed_text_not_canonical(self) -> bool:
        return self._plan is not None and self._plan.typed_text_not_canonical()

    def records(self) -> Iterator[Record]:
        reader = csv.reader(self._lines, strict=True)
        last_line = 0
        record_no = 0
        seen_data = False
        plan: _RowPlan | None = None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                record_no += 1
                end_of_data = self._csv_error(error, record_no, last_line + 1)
                last_line = reader.line_num
                if end_of_data or self.stop_at_first_error:
                    return
                continue
            line = last_line + 1
            last_line = reader.line_num
            if not row:
                self.notes.append(self._note_blank_line(line))
                self._stop_form_check()
                continue
            if not seen_data:
                seen_data = True
                if row[0] and not any(c.isascii() and c.isdigit() for c in row[0]):
                    self.notes.append(self._note_header(line))
                    self._stop_form_check()
                    continue
            if plan is None:
                self.csv_version = row[0]
                self.layout = get_layout(self.name.layout_id, row[0])
                plan = self._plan = _RowPlan(self.layout)
            record_no += 1
            record = plan.build(row, self, record_no, line)
            if record is not None:
                if self.keep_lines:
                    self.record_lines.append(line)
                yield record
            elif self.stop_at_first_error:
                return

    def _stop_form_check(self) -> None:
        """A BOM, header or blank line makes the file non-canonical, and is reported already."""
        self.check_form = False
        self._lines.track = False
        self._lines.texts.clear()
        self._lines.ambiguous.clear()

    # -- issues ----------------------------------------------------------------------------

    def error(self, code: str, ja: str, en: str, **where: Any) -> None:
        self.errors.append(Issue(code, "error", ja, en, file=self.file, **where))

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
            file=self.file,
            line=line,
        )

    def _note_header(self, line: int) -> Issue:
        return Issue(
            "read.header",
            "warning",
            "1行目は見出し行として読み飛ばしました（標準のCSVに見出し行はありません）",
            "the first line was skipped as a header line (standard files have none)",
            file=self.file,
            line=line,
        )


class _RowPlan:
    """How to type the rows of one layout: which columns convert, with per-column caches."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.width = len(layout.columns)
        self.record_type = layout.record_type
        self.fast_build = row_builder(layout)
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
        if reader._lines.saw_bad_characters or reader._lines.encoding == "utf-8":
            errors_before = len(reader.errors)
            self._check_characters(row, reader, record, line)
            if len(reader.errors) != errors_before:
                return None
        try:
            return self.fast_build(row)
        except ValueError:
            return self._explicit_build(row, reader, record, line)

    def typed_text_not_canonical(self) -> bool:
        return typed_text_not_canonical(self.fast_build)

    def _explicit_build(
        self, row: list[Any], reader: _Reader, record: int, line: int
    ) -> Record | None:
        """Type the row column by column, reporting every item that cannot be typed."""
        errors_before = len(reader.errors)
        for index, column in self.typed:
            raw = row[index]
            try:
                row[index] = parse_value(column.kind, raw) if raw else None
            except ValueError:
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
        if len(reader.errors) != errors_before:
            return None
        for index in self.plain:
            if not row[index]:
                row[index] = None
        return self.record_type(*row)

    def _column_count_error(self, row: list[Any], reader: _Reader, record: int, line: int) -> None:
        hint_ja = hint_en = ""
        family = self.layout.csv_version
        other = CSV_VERSION_V3 if family == CSV_VERSION_CURRENT else CSV_VERSION_CURRENT
        other_layout = LAYOUTS.get((self.layout.id, other))
        if other_layout is not None and len(row) == len(other_layout.columns):
            hint_ja = f"（CSVバージョン {other} の項目数です。CSVバージョンの値を確認してください）"
            hint_en = f" (that is the {other} layout's count: check the CSVバージョン value)"
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

    def _check_characters(self, row: list[Any], reader: _Reader, record: int, line: int) -> None:
        utf8 = reader._lines.encoding == "utf-8"
        for index, text in enumerate(row):
            column = self.layout.columns[index]
            for _, char in _ms932.bad_characters(text):
                shown = _ms932.describe_bad_character(char)
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
