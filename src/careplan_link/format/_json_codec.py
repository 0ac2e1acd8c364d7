"""A JSON encoding of today's records: the second codec over the same model.

Not the 5.0 edition's JSON (its schema is not published): a document of the records of one
standard file, to show the seam (`_codec`) and to give `careplan-link inspect --json` a form
that reads back. One document per file:

    {"format": "careplan_link.records", "format_version": 1,
     "name": "UPPLAN_202504_….CSV", "interface": "table6_plan", "layout_family": "202407",
     "csv_version": "202504", "records": [{"csv_version": "202504", "insurer_no": "131003", …}]}

Records are objects keyed by attribute name (the English names of the record classes; each
column's 項目名 is in the layout). Values are typed losslessly: an empty item is `null`,
integers are JSON numbers, every other item is a JSON string: text as it is, and dates, months,
times and decimals in the standard's own notation (`20250401`, `202504`, `0930`, `10.21`), so
the special values keep theirs (`00000000`, `000000`, `9999`). Decimals are strings because a
JSON number may be read as a binary float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, NoReturn

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._codec import Decoded
from ._convert import format_value, parse_value
from ._file import CareplanFile
from ._filename import FileName
from ._layout import Column, Kind, Layout
from ._layouts import LAYOUTS
from ._record import Record

__all__ = ["JSON_CODEC", "JsonCodec", "from_json", "to_document", "to_json"]

DOCUMENT_FORMAT: Final = "careplan_link.records"
DOCUMENT_VERSION: Final = 1

# The issues listed before a FormatError gives up on a document (a hostile one may hold
# millions of bad items; the first ones say what is wrong).
_ISSUE_LIMIT = 100


@attrs.frozen
class JsonCodec:
    """Records as a JSON document (UTF-8), one document per standard file."""

    name: str = "json"

    def decode(self, data: bytes, name: FileName, label: str) -> Decoded:
        try:
            file = from_json(data, name=name)
        except FormatError as error:
            return Decoded(None, tuple(_relabelled(error.issues, label)))
        return Decoded(file, ())

    def encode(self, file: CareplanFile) -> bytes:
        return to_json(file)


JSON_CODEC: Final = JsonCodec()
"""The JSON codec (`to_json` / `from_json` as a `Codec`)."""


# -- encode -----------------------------------------------------------------------------------


def to_document(file: CareplanFile) -> dict[str, Any]:
    """The JSON document of a file as Python data (dicts, lists, str, int, None).

    Raises `FormatError` (`json.item`) for a value that is not of its item's type.
    """
    layout = file.layout
    label = str(file.name)
    encoders = [(column, _ENCODERS.get(column.kind, _encode_text)) for column in layout.columns]
    issues: list[Issue] = []
    records = []
    for number, record in enumerate(file.records, start=1):
        values: dict[str, Any] = {}
        for column, encode in encoders:
            value = getattr(record, column.attribute)
            try:
                values[column.attribute] = None if value is None else encode(column.kind, value)
            except (TypeError, ValueError) as error:
                issues.append(_item_issue(label, number, column, repr(value), str(error)))
        records.append(values)
    if issues:
        raise FormatError(issues[:_ISSUE_LIMIT])
    return {
        "format": DOCUMENT_FORMAT,
        "format_version": DOCUMENT_VERSION,
        "name": label,
        "interface": layout.id,
        "layout_family": layout.csv_version,
        "csv_version": file.csv_version,
        "records": records,
    }


def to_json(file: CareplanFile) -> bytes:
    """The JSON document of a file, as UTF-8 bytes (see the module docs for its shape)."""
    return json.dumps(to_document(file), ensure_ascii=False, indent=1).encode("utf-8")


def _encode_text(kind: Kind, value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected str, got {type(value).__name__}")
    return value


def _encode_integer(kind: Kind, value: Any) -> int:
    if type(value) is not int:  # bool is no number of the standard
        raise TypeError(f"expected int, got {type(value).__name__}")
    return value


_ENCODERS = {
    Kind.INTEGER: _encode_integer,
    Kind.DECIMAL: format_value,
    Kind.YYYYMM: format_value,
    Kind.YYYYMMDD: format_value,
    Kind.HHMM: format_value,
}


# -- decode -----------------------------------------------------------------------------------


def from_json(data: bytes | str, *, name: FileName | str | None = None) -> CareplanFile:
    """The file a JSON document holds (as `to_json` writes it).

    `name` is the file's standard name; without it the document's `name` is used. Raises
    `FormatError` for a document that is not one: not JSON (`json.syntax`), a wrong header
    (`json.document`), a record that is not an object (`json.record`), an attribute the
    layout lacks (`json.unknown_item`) or leaves out (`json.missing_item`), or a value not of
    its item's type (`json.item`), each naming the record and 項目名.
    """
    label = str(name) if name is not None else "(JSON)"
    document = _load(data, label)
    if not isinstance(document, dict):
        _fail(label, "文書が JSON オブジェクトではありません", "the document is not a JSON object")
    if name is None and isinstance(document.get("name"), str):
        label = _short(document["name"])  # issues of the header name the file, if it can
    header = _Header.read(document, label)
    file_name = _file_name(name, header)
    label = str(file_name)
    layout = header.layout(file_name)
    raw_records = document.get("records")
    if not isinstance(raw_records, list):
        _fail(
            label, "records（レコードの配列）がありません", "records (a list of records) is missing"
        )
    decoder = _RecordDecoder(layout, label)
    records = []
    for number, raw in enumerate(raw_records, start=1):
        record = decoder.record(number, raw)
        if record is not None:
            records.append(record)
        elif len(decoder.issues) >= _ISSUE_LIMIT:
            break  # enough to say what is wrong
    if decoder.issues:
        raise FormatError(decoder.issues[:_ISSUE_LIMIT])
    csv_version = records[0].csv_version if records else header.csv_version
    if csv_version != header.csv_version:
        _fail(
            label,
            f"csv_version（{header.csv_version}）が1件目のレコードの CSVバージョン"
            f"（{csv_version}）と違います",
            f"csv_version ({header.csv_version}) differs from the CSVバージョン of the first "
            f"record ({csv_version})",
        )
    return CareplanFile(
        name=file_name, layout=layout, csv_version=csv_version, records=tuple(records)
    )


def _load(data: bytes | str, label: str) -> Any:
    try:
        return json.loads(
            data,
            # Lossless or nothing: a float may already have lost digits; NaN is no value.
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Rejected as error:
        _fail(label, error.ja, error.en, code="json.syntax")
    # RecursionError: nesting deeper than the interpreter's stack (a hostile document);
    # ValueError: not JSON, not UTF-8, or an integer of more digits than Python converts.
    except (ValueError, RecursionError) as error:
        _fail(
            label,
            f"JSON として読めません: {_short(str(error))}",
            f"not readable as JSON: {_short(str(error))}",
            code="json.syntax",
        )


class _Rejected(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


def _reject_float(text: str) -> NoReturn:
    raise _Rejected(
        f"小数の数値 {_short(text)} は使えません（小数は文字列で書きます）",
        f"the number {_short(text)} has a fraction or exponent: decimals are written as strings",
    )


def _reject_constant(text: str) -> NoReturn:
    raise _Rejected(f"{text} は値ではありません", f"{text} is not a value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Which value JSON readers keep differs; a document that says two things says none.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Rejected(
                    f"オブジェクトに同じキー {_short(key)} が2回あります",
                    f"an object holds the key {_short(key)} twice",
                )
            seen.add(key)
    return result


@attrs.frozen
class _Header:
    """The document's fields other than its records, checked."""

    interface: str
    layout_family: str
    csv_version: str | None
    name: str | None

    @classmethod
    def read(cls, document: Mapping[str, Any], label: str) -> _Header:
        if document.get("format") != DOCUMENT_FORMAT:
            _fail(
                label,
                f'format が "{DOCUMENT_FORMAT}" ではありません',
                f'format is not "{DOCUMENT_FORMAT}"',
                value=_short(repr(document.get("format"))),
            )
        version = document.get("format_version")
        if type(version) is not int or version != DOCUMENT_VERSION:
            _fail(
                label,
                f"format_version {_short(repr(version))} は読めません（{DOCUMENT_VERSION} のみ）",
                f"format_version {_short(repr(version))} is not readable (only {DOCUMENT_VERSION})",
            )
        for key, optional in (
            ("interface", False),
            ("layout_family", False),
            ("csv_version", True),
            ("name", True),
        ):
            value = document.get(key)
            if not isinstance(value, str) and not (optional and value is None):
                _fail(
                    label,
                    f"{key} が文字列ではありません",
                    f"{key} is not a string",
                    value=_short(repr(value)),
                )
        return cls(
            document["interface"],
            document["layout_family"],
            document.get("csv_version"),
            document.get("name"),
        )

    def layout(self, name: FileName) -> Layout:
        label = str(name)
        layout = LAYOUTS.get((self.interface, self.layout_family))
        if layout is None:
            _fail(
                label,
                f"interface {self.interface} の layout_family {self.layout_family} のレイアウトは"
                "ありません",
                f"there is no layout of interface {self.interface} in layout family "
                f"{self.layout_family}",
                value=_short(f"{self.interface} {self.layout_family}"),
            )
        if name.layout_id != layout.id:
            _fail(
                label,
                f"ファイル名のインタフェース（{name.layout_id}）と文書の interface"
                f"（{layout.id}）が違います",
                f"the file name's interface ({name.layout_id}) differs from the document's "
                f"({layout.id})",
            )
        return layout


def _file_name(name: FileName | str | None, header: _Header) -> FileName:
    given = name if name is not None else header.name
    if given is None:
        _fail("(JSON)", "ファイル名がありません（name）", "the document has no file name (name)")
    # A bad name is the file name's own FormatError (name.*).
    return given if isinstance(given, FileName) else FileName.parse(given)


class _RecordDecoder:
    """Records of one layout from JSON objects, collecting every problem."""

    def __init__(self, layout: Layout, label: str) -> None:
        self.layout = layout
        self.label = label
        self.columns = {column.attribute: column for column in layout.columns}
        self.issues: list[Issue] = []

    def record(self, number: int, raw: Any) -> Record | None:
        """The record, or None when it has an issue (the decode then fails)."""
        if not isinstance(raw, dict):
            self._add(
                "json.record",
                f"レコードが JSON オブジェクトではありません（{type(raw).__name__}）",
                f"the record is not a JSON object ({type(raw).__name__})",
                number,
            )
            return None
        before = len(self.issues)
        for key in sorted(raw.keys() - self.columns.keys()):
            self._add(
                "json.unknown_item",
                f"レイアウトにない項目 {_short(key)} があります",
                f"the layout has no item {_short(key)}",
                number,
                value=_short(key),
            )
        values: dict[str, Any] = {}
        for attribute, column in self.columns.items():
            if attribute not in raw:
                self._add(
                    "json.missing_item",
                    "項目がありません（空の項目は null と書きます）",
                    "the item is missing (an empty item is written null)",
                    number,
                    column,
                )
                continue
            values[attribute] = self._value(number, column, raw[attribute])
        if len(self.issues) > before:
            return None
        return self.layout.record_type(**values)

    def _value(self, number: int, column: Column, raw: Any) -> Any:
        if raw is None:
            return None
        kind = column.kind
        if kind is Kind.INTEGER:
            if type(raw) is int:
                return raw
            wanted = ("整数（JSON の数値）", "an integer (a JSON number)")
        elif type(raw) is str:
            try:
                return parse_value(kind, raw)
            except ValueError:
                wanted = _NOTATIONS[kind]
        else:
            wanted = _NOTATIONS.get(kind, ("文字列", "a string"))
        self._add(
            "json.item",
            f"値が{wanted[0]}ではありません",
            f"the value is not {wanted[1]}",
            number,
            column,
            value=_short(json.dumps(raw, ensure_ascii=False)),
        )
        return None

    def _add(
        self,
        code: str,
        ja: str,
        en: str,
        number: int,
        column: Column | None = None,
        *,
        value: str | None = None,
    ) -> None:
        if len(self.issues) >= _ISSUE_LIMIT:
            return  # a hostile document may hold millions; the first ones say what is wrong
        self.issues.append(
            Issue(
                code,
                "error",
                ja,
                en,
                file=self.label,
                record=number,
                column=column.no if column else None,
                item=column.name_ja if column else None,
                value=value,
            )
        )


_NOTATIONS: dict[Kind, tuple[str, str]] = {
    Kind.DECIMAL: ('数値の文字列（"99.99" 形式）', 'a decimal in a string ("99.99")'),
    Kind.YYYYMM: ("年月の文字列（YYYYMM、000000）", "a month in a string (YYYYMM, 000000)"),
    Kind.YYYYMMDD: (
        "日付の文字列（YYYYMMDD、00000000）",
        "a date in a string (YYYYMMDD, 00000000)",
    ),
    Kind.HHMM: ("時刻の文字列（HHMM、9999）", "a time in a string (HHMM, 9999)"),
}


def _item_issue(label: str, number: int, column: Column, value: str, reason: str) -> Issue:
    return Issue(
        "json.item",
        "error",
        f"値を書けません: {_short(reason)}",
        f"the value cannot be written: {_short(reason)}",
        file=label,
        record=number,
        column=column.no,
        item=column.name_ja,
        value=_short(value),
    )


def _fail(
    label: str, ja: str, en: str, *, code: str = "json.document", value: str | None = None
) -> NoReturn:
    raise FormatError([Issue(code, "error", ja, en, file=label, value=value)])


def _relabelled(issues: tuple[Issue, ...], label: str) -> list[Issue]:
    return [issue if issue.file == label else attrs.evolve(issue, file=label) for issue in issues]


def _short(text: str, limit: int = 80) -> str:
    """Text of a hostile document, cut to a length a message can show."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
