"""Writing standard files: canonical MS932 CSV from typed records.

Canonical form: CRLF after every record, non-empty free-text items in double quotes (inner quotes
doubled), every other item unquoted, empty items empty, characters encoded as Windows encodes
MS932. A file in canonical form read and written back gives identical bytes.
"""

from __future__ import annotations

import enum
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._issue import Issue
from ..errors import FormatError
from . import _ms932
from ._atomic import write_atomically
from ._bundle import Bundle
from ._convert import format_value
from ._editions import EDITIONS
from ._filename import FileName
from ._layout import Column, Kind, Layout
from ._layouts import get_layout, layout_family
from ._ms932 import Substitution
from ._record import Record
from ._rowcode import builds_tuple
from ._rowformat import FileWriter, row_formatter, saw_special_characters
from ._rowformat import needs_quotes as _needs_quotes
from ._rowformat import quote as _quote

__all__ = ["QuotePolicy", "Substituted", "write_bundle", "write_file", "write_unit"]


class QuotePolicy(enum.Enum):
    """Which items are written in double quotes."""

    CANONICAL = "canonical"
    """Non-empty free-text items (フリーテキスト), as the standard prescribes."""
    ALL = "all"
    """Every non-empty item, for a receiver that insists on it."""
    MINIMAL = "minimal"
    """Only items holding a comma, a quote or a line break."""


@attrs.frozen
class Substituted:
    """One character a `Substitution` replaced while writing, for the vendor's log.

    There is one per distinct character per item: `count` says how often it occurred there.
    """

    file: str
    record: int
    """1-based record number."""
    column: int
    """The column's No. in the standard."""
    item: str
    """項目名 of the column."""
    original: str
    """The character as given (e.g. 〜 U+301C)."""
    replacement: str
    """What was written instead (e.g. ～ U+FF5E)."""
    count: int = 1

    def to_issue(self) -> Issue:
        """The substitution as a `write.substituted` warning, to log beside other issues."""
        was = f"{self.original}（U+{ord(self.original[0]):04X}）"
        now = ", ".join(f"{c}（U+{ord(c):04X}）" for c in self.replacement) or "（削除）"
        now_en = ", ".join(f"{c} (U+{ord(c):04X})" for c in self.replacement) or "(removed)"
        return Issue(
            "write.substituted",
            "warning",
            f"MS932 で表せない文字 {was} を {now} に置き換えました（{self.count}回）",
            f"replaced {self.original} (U+{ord(self.original[0]):04X}), which MS932 cannot "
            f"encode, with {now_en} ({self.count}x)",
            file=self.file,
            record=self.record,
            column=self.column,
            item=self.item,
            value=self.original,
        )


SubstitutionLog = Callable[[Substituted], object]


def write_file(
    records: Iterable[Record],
    name: FileName | str,
    *,
    to: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    quoting: QuotePolicy = QuotePolicy.CANONICAL,
    substitution: Substitution | None = None,
    on_substitute: SubstitutionLog | None = None,
) -> bytes:
    """Write records as the standard file `name`; returns the bytes.

    With `to` (an existing folder) the file is also written there under `name`; with `path`, to
    that file path (its folder must exist). Either way the write is atomic: a temporary file
    in the same folder, fsync'ed and renamed into place. An existing file is replaced only with
    `overwrite=True`; a symlink at the target name is refused (`write.symlink`); a missing folder
    is `write.no_folder`. System failures (disk full) raise `OSError` and leave the earlier file
    untouched.

    Records must all be of the layout the name's prefix and their CSVバージョン call for.
    Characters MS932 cannot encode (and 外字) raise `FormatError` (`write.unencodable`, with
    file, record, column and 項目名) unless `substitution` replaces them; every replacement is
    then passed to `on_substitute` as a `Substituted` (after the file was written).
    """
    if to is not None and path is not None:
        raise ValueError("give to= (a folder) or path= (a file path), not both")
    file_name = _file_name(name)
    data, substituted = _encode(records, file_name, quoting, substitution)
    if to is not None:
        write_atomically(to, {str(file_name): data}, overwrite=overwrite)
    elif path is not None:
        target = Path(path)
        write_atomically(target.parent, {target.name: data}, overwrite=overwrite)
    _report(substituted, on_substitute)
    return data


def write_unit(
    files: Mapping[FileName | str, Iterable[Record]],
    *,
    to: str | os.PathLike[str],
    overwrite: bool = False,
    quoting: QuotePolicy = QuotePolicy.CANONICAL,
    substitution: Substitution | None = None,
    on_substitute: SubstitutionLog | None = None,
) -> Bundle:
    """Write the files of one transmission unit (file name → records) into the folder `to`.

    Every file is encoded first: a `FormatError` lists the problems of all files and writes
    nothing. Then the files are written all or nothing (see `write_file`; after a crash only
    temporary `.….part` names can remain, finished or removed by the next write to the folder).
    Returns the unit as written. Files that do not form exactly one unit raise `FormatError`.
    """
    encoded: dict[str, bytes] = {}
    substituted: list[Substituted] = []
    issues: list[Issue] = []
    for name, records in files.items():
        file_name = _file_name(name)
        if str(file_name) in encoded:
            raise ValueError(f"{file_name} is given twice")
        try:
            data, found = _encode(records, file_name, quoting, substitution)
        except FormatError as error:
            issues += error.issues
            continue
        encoded[str(file_name)] = data
        substituted += found
    if issues:
        raise FormatError(issues)
    bundle = Bundle.from_files(encoded)
    write_atomically(to, dict(bundle.files), overwrite=overwrite)
    _report(substituted, on_substitute)
    return bundle


def write_bundle(
    bundle: Bundle, *, to: str | os.PathLike[str], overwrite: bool = False
) -> tuple[Path, ...]:
    """Write a `Bundle`'s files (its bytes as they are) into the folder `to`, all or nothing.

    Same guarantees as `write_unit`; returns the paths written, in import order.
    """
    return write_atomically(to, dict(bundle.files), overwrite=overwrite)


def _file_name(name: FileName | str) -> FileName:
    file_name = name if isinstance(name, FileName) else FileName.parse(name)
    if file_name.is_image:
        raise ValueError("UPKIHON_IMAGE files are JPEG images; write their bytes directly")
    return file_name


def _encode(
    records: Iterable[Record],
    file_name: FileName,
    quoting: QuotePolicy,
    substitution: Substitution | None,
) -> tuple[bytes, list[Substituted]]:
    rows = list(records)
    layout = _layout_of(rows, file_name)
    formatter = _Formatter(layout, str(file_name), quoting, substitution)
    return formatter.encoded(rows), formatter.substituted


def _report(substituted: list[Substituted], on_substitute: SubstitutionLog | None) -> None:
    if on_substitute is not None:
        for entry in substituted:
            on_substitute(entry)


def _layout_of(rows: Sequence[Record], file_name: FileName) -> Layout:
    if rows:
        layout = get_layout(file_name.layout_id, rows[0].csv_version)
    else:
        layout = get_layout(file_name.layout_id, EDITIONS.for_name(file_name).family)
    # The common case in two C-level passes: one record type, one CSVバージョン family.
    if set(map(type, rows)) <= {layout.record_type}:
        versions = set(map(_version_getter(layout), rows))
        if {layout_family(v) for v in versions} <= {layout.csv_version}:
            return layout
    issues = []
    for number, record in enumerate(rows, start=1):
        if type(record) is layout.record_type and layout_family(record.csv_version) == (
            layout.csv_version
        ):
            continue
        issues.append(
            Issue(
                "write.layout_mismatch",
                "error",
                f"このレコード（{type(record).__name__}、CSVバージョン {record.csv_version}）は"
                f"ファイル {file_name.prefix} のレイアウト（{layout.record_type.__name__}、"
                f"CSVバージョン {layout.csv_version}）と合いません",
                f"record of type {type(record).__name__} (CSVバージョン "
                f"{record.csv_version}) does not match the layout of {file_name.prefix} "
                f"({layout.record_type.__name__}, CSVバージョン {layout.csv_version})",
                file=str(file_name),
                record=number,
            )
        )
        if len(issues) >= 100:
            break
    if issues:
        raise FormatError(issues)
    return layout


def _version_getter(layout: Layout) -> Callable[[Any], Any]:
    attributes = [column.attribute for column in layout.columns]
    if builds_tuple(layout) and "csv_version" in attributes:
        # A generated record is the tuple of its values: an item, without the property.
        return operator.itemgetter(attributes.index("csv_version"))
    return operator.attrgetter("csv_version")


class _Formatter:
    """Turns records into the text of a file, column by column."""

    def __init__(
        self,
        layout: Layout,
        file: str,
        quoting: QuotePolicy,
        substitution: Substitution | None,
    ) -> None:
        self.layout = layout
        self.file = file
        self.quoting = quoting
        self.substitution = substitution
        self.getter = operator.attrgetter(*(c.attribute for c in layout.columns))
        self.cells: list[Callable[[Any], str]] = [self._cell(c) for c in layout.columns]
        if quoting is QuotePolicy.ALL:
            quote_kinds = frozenset(Kind)
        elif quoting is QuotePolicy.CANONICAL:
            quote_kinds = frozenset({Kind.FREE_TEXT})
        else:
            quote_kinds = frozenset()
        self.quote_kinds = quote_kinds
        self.issues: list[Issue] = []
        self.substituted: list[Substituted] = []

    def _cell(self, column: Column) -> Callable[[Any], str]:
        """The function that writes one item of this column, quoting per the policy."""
        kind = column.kind
        quote_always = self.quoting is QuotePolicy.ALL or (
            self.quoting is QuotePolicy.CANONICAL and kind is Kind.FREE_TEXT
        )
        if kind in (Kind.INTEGER, Kind.DECIMAL, Kind.YYYYMM, Kind.YYYYMMDD, Kind.HHMM):
            cache: dict[Any, str] = {None: ""}

            def typed(value: Any) -> str:
                try:
                    return cache[value]
                except (KeyError, TypeError):
                    text = format_value(kind, value)
                    if len(cache) < 4096 and not isinstance(value, bool):
                        cache[value] = text
                    return text

            if quote_always:
                return lambda value: _quote(t) if (t := typed(value)) else ""
            return typed

        def plain(value: Any) -> str:
            if value is None:
                return ""
            if not isinstance(value, str):
                raise TypeError(f"expected str, got {type(value).__name__}")
            if not value:
                return ""
            if quote_always or _needs_quotes(value):
                return _quote(value)
            return value

        return plain

    def encoded(self, records: Sequence[Record]) -> bytes:
        try:
            text, special = FileWriter(self.layout, self.quote_kinds).text(records)
        except (TypeError, ValueError):
            # A value the column writer cannot write: row by row, saying where.
            text, special = self._text_by_rows(records)
        try:
            if not special:
                # Every text went through the writers' checks, which found nothing that plain
                # cp932 encoding would get wrong (numbers and dates are ASCII); a character
                # cp932 has no code for at all still raises here.
                return text.encode("cp932")
            return _ms932.encode(text)
        except (UnicodeEncodeError, ValueError):
            pass
        # Slow path, only for files with characters MS932 cannot encode: find them (or
        # substitute them) record by record, column by column.
        getter = self.getter
        lines = [self._encodable_row(number, getter(r)) for number, r in enumerate(records, 1)]
        if self.issues:
            raise FormatError(self.issues)
        return _ms932.encode("\r\n".join(lines) + "\r\n")

    def _text_by_rows(self, records: Sequence[Record]) -> tuple[str, bool]:
        """The text row by row (the row formatter, else the explicit path); raises
        `FormatError` with every value that cannot be written."""
        lines = []
        fast_line = row_formatter(self.layout, self.quote_kinds)
        slow_rows = False
        for number, record in enumerate(records, start=1):
            try:
                lines.append(fast_line(record))
            except (TypeError, ValueError):
                slow_rows = True
                lines.append(self._slow_row(number, self.getter(record)))
        if self.issues:
            raise FormatError(self.issues)
        text = "\r\n".join(lines) + "\r\n" if lines else ""
        return text, slow_rows or saw_special_characters(fast_line)

    def _slow_row(self, number: int, values: Sequence[Any]) -> str:
        cells = []
        for column, cell, value in zip(self.layout.columns, self.cells, values, strict=True):
            try:
                cells.append(cell(value))
            except (TypeError, ValueError) as error:
                self._issue(
                    "write.type",
                    f"{column.name_ja} に書けない値です（{error}）",
                    f"cannot write this value as {column.kind.value} ({error})",
                    number,
                    column,
                    repr(value),
                )
                cells.append("")
        return ",".join(cells)

    def _encodable_row(self, number: int, values: Sequence[Any]) -> str:
        cells = []
        for column, cell, value in zip(self.layout.columns, self.cells, values, strict=True):
            if isinstance(value, str) and not _ms932.is_encodable(value):
                value = self._substitute(number, column, value)
            cells.append(cell(value))
        return ",".join(cells)

    def _substitute(self, number: int, column: Column, value: str) -> str:
        bad = _ms932.unencodable_characters(value)
        out = value
        for char in dict.fromkeys(bad):
            replacement = self.substitution.replacement(char) if self.substitution else None
            if replacement is None:
                self._issue(
                    "write.unencodable",
                    f"MS932 で表せない文字（外字を含む）です: {char}（U+{ord(char):04X}）",
                    f"a character MS932 cannot encode (or 外字): {char} (U+{ord(char):04X})",
                    number,
                    column,
                    value,
                )
                continue
            self.substituted.append(
                Substituted(
                    file=self.file,
                    record=number,
                    column=column.no,
                    item=column.name_ja,
                    original=char,
                    replacement=replacement,
                    count=out.count(char),
                )
            )
            out = out.replace(char, replacement)
        return out

    def _issue(self, code: str, ja: str, en: str, record: int, column: Column, value: str) -> None:
        self.issues.append(
            Issue(
                code,
                "error",
                ja,
                en,
                file=self.file,
                record=record,
                column=column.no,
                item=column.name_ja,
                value=value,
            )
        )
