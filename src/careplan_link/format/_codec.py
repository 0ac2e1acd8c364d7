"""The seam between the standard's model and its encodings: `Codec`, and the CSV codec.

The records (`Record`, `CareplanFile`) and their rules are the standard's model; the MS932 CSV
files of today are one encoding of it. A codec turns bytes into a `CareplanFile` of typed records
plus the codec's own issues (encoding, quoting, column counts, canonical bytes …), and records
back into bytes. Validation runs the model's rules (`_model_rules.check_records`) on whatever a
codec decoded, so another encoding (the JSON of a future edition) is one more codec and no rule
changes. File names stay the standard's whatever the codec: they say which layout a file holds.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import Final, Protocol

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._columns import Columns
from ._file import CareplanFile
from ._filename import FileName
from ._reader import read_for_rules

__all__ = ["CSV_CODEC", "Codec", "CsvCodec", "Decoded", "decode_csv"]


@attrs.frozen
class Decoded:
    """What a codec read from one file's bytes."""

    file: CareplanFile | None
    """The typed records (those that could be read), or None when nothing could be read."""
    issues: tuple[Issue, ...]
    """The codec's own findings: errors of reading, and notes on how the bytes were written."""
    columns: Columns | None = attrs.field(default=None, eq=False, repr=False)
    """The file's values column by column, when the codec made them while decoding (the
    rules then use them rather than transposing the records again); None otherwise."""


class Codec(Protocol):
    """One encoding of the standard's files (CSV today; JSON is the second one).

    `decode` never raises for bad content: it returns what it could read and issues saying what
    it could not (validation then checks the records). `encode` writes a file's records and
    raises `FormatError` for records it cannot encode.
    """

    @property
    def name(self) -> str:
        """A short name of the encoding (`csv`, `json`)."""
        ...

    def decode(self, data: bytes, name: FileName, label: str) -> Decoded:
        """The records of `data`, a file named `name`; issues name the file `label`."""
        ...

    def encode(self, file: CareplanFile) -> bytes:
        """The bytes of `file`'s records in this encoding."""
        ...


@attrs.frozen
class CsvCodec:
    """The standard's CSV files: MS932, quoting, CRLF, column counts, canonical bytes.

    A thin face over the reader (`read_leniently`) and the writer (`write_file`): decoding also
    reports a file written in UTF-8 (`encoding.utf8`) and still reads it, so the rest of its
    problems show in the same run.
    """

    name: str = "csv"

    def decode(self, data: bytes, name: FileName, label: str) -> Decoded:
        return decode_csv(data, name, label, by_column=False)

    def encode(self, file: CareplanFile) -> bytes:
        return file.to_bytes()


CSV_CODEC: Final = CsvCodec()
"""The CSV codec (the standard's files as they are exchanged today)."""


def decode_csv(data: bytes, name: FileName, label: str, *, by_column: bool) -> Decoded:
    """`CsvCodec.decode`; with `by_column` (validation's own read, `read_for_rules`), the
    records are kept as the columns the rules read, and made only if asked for."""
    readable, encoding_issue = _encoding(label, data)
    issues = [encoding_issue] if encoding_issue is not None else []
    try:
        reading = read_for_rules(readable, name=name, by_column=by_column)
    except FormatError as error:
        issues += _labelled(_without_bom_note(error.issues, encoding_issue), label)
        return Decoded(None, tuple(issues))
    # Errors of reading, notes and `read.not_canonical` (the reader says where and why).
    issues += _labelled(_without_bom_note(reading.issues, encoding_issue), label)
    return Decoded(reading.file, tuple(issues), reading.columns)


def _labelled(issues: Iterable[Issue], label: str) -> list[Issue]:
    """The issues of one file under the name the report uses for it."""
    return [issue if issue.file == label else attrs.evolve(issue, file=label) for issue in issues]


# -- encoding --------------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


def _encoding(label: str, data: bytes) -> tuple[bytes, Issue | None]:
    """The bytes to read, and an error when the file is not MS932.

    A UTF-8 file is still read (as UTF-8, which the reader does for a file with a BOM), so
    that the rest of its problems show in the same run.
    """
    if data.startswith(_BOM):
        return data, _utf8(label, bom=True)
    if not data.isascii() and _is_utf8_text(data):
        return _BOM + data, _utf8(label, bom=False)
    return data, None


def _is_utf8_text(data: bytes) -> bool:
    """True for valid UTF-8 holding a character of 3 bytes or more (Japanese text in UTF-8).

    MS932 text is seldom valid UTF-8, and when it is by chance (pairs of half-width katakana
    decode as Latin letters) it gives only 2-byte characters. Decoded in blocks, so an MS932
    file (which fails within its first Japanese character) costs next to nothing.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    wide = False
    try:
        for start in range(0, len(view), _UTF8_BLOCK):
            text = decoder.decode(view[start : start + _UTF8_BLOCK])
            wide = wide or (bool(text) and max(text) >= "\u0800")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return wide


_UTF8_BLOCK = 1 << 16


def _utf8(label: str, *, bom: bool) -> Issue:
    with_ja = "（BOM付き）" if bom else " "
    with_en = " with a BOM" if bom else ""
    return Issue(
        "encoding.utf8",
        "error",
        f"ファイルが UTF-8{with_ja}で書かれています。標準は BOM なしの MS932（Shift_JIS）です"
        "（検査のため UTF-8 として読みました）",
        f"the file is encoded in UTF-8{with_en}; the standard requires MS932 (Shift_JIS) "
        "without BOM (read as UTF-8 to check the rest)",
        file=label,
        value="BOM" if bom else None,
    )


def _without_bom_note(issues: Iterable[Issue], encoding_issue: Issue | None) -> list[Issue]:
    """`read.bom` says how the file was read; `encoding.utf8` says it for it."""
    if encoding_issue is None:
        return list(issues)
    return [issue for issue in issues if issue.code != "read.bom"]
