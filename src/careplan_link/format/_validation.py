"""`validate`: check files, units and their order completely, before they leave the office.

Validation never raises on bad content: everything it finds is an `Issue` in the report. It
raises only for what is not content: a path that does not exist or cannot be read.
"""

from __future__ import annotations

import codecs
import gc
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._bundle import Bundle, group_units
from ._columns import Columns
from ._file import CareplanFile
from ._filename import FileName, diagnose
from ._findings import Findings
from ._item_rules import check_items
from ._layout import Kind
from ._reader import read_leniently
from ._record_rules import check_file_rules
from ._table7_rules import check_table7_arithmetic
from ._unit_rules import check_units

__all__ = ["ValidationReport", "ValidationSource", "validate"]

ValidationSource = (
    str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | Mapping[str, bytes] | Bundle
)
Progress = Callable[[int, int], None]

_JPEG_SIGNATURE = b"\xff\xd8\xff"


@attrs.frozen
class ValidationReport:
    """What `validate` found: issues (errors and warnings), the units, the files checked."""

    issues: tuple[Issue, ...]
    units: tuple[Bundle, ...]
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(issue.severity == "error" for issue in self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    def summary(self) -> dict[str, Any]:
        """Counts: files, units, errors, warnings, and issues per code."""
        return {
            "ok": self.ok,
            "files": len(self.files),
            "units": len(self.units),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "codes": dict(sorted(Counter(i.code for i in self.issues).items())),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the CLI's `--json` form)."""
        return {
            "issues": [issue.to_dict() for issue in self.issues],
            "units": [
                {
                    "kind": unit.kind.value,
                    "sender": unit.sender.number,
                    "sender_service_type": unit.sender.service_type,
                    "receiver": unit.receiver.number,
                    "receiver_service_type": unit.receiver.service_type,
                    "serial": unit.serial,
                    "files": list(unit.files),
                    "missing": list(unit.missing),
                }
                for unit in self.units
            ],
            "summary": self.summary(),
        }


def validate(
    source: ValidationSource, *, progress: Progress | None = None, strict: bool = False
) -> ValidationReport:
    """Check files completely: names, encoding, layout, items, cross-item and unit rules.

    `source` is a file or folder path (a folder's files are all checked, its subfolders are
    not), several paths, a mapping of file name → bytes, or a `Bundle`. A file whose name is
    meant as a standard name but is not one is an error, and its content is still checked
    against the layout its prefix names; other names in a folder are warnings, OS debris
    (Thumbs.db, desktop.ini, `~$` lock files, hidden files) is ignored, and no standard file
    at all is an error. `strict=True` makes warnings a receiver may accept errors (a
    lower-case `.csv`, the 第7表 arithmetic). `progress(done, total)` is called after each
    file. Raises `OSError` only for a path that cannot be read.
    """
    inputs, issues = _collect(source)
    # Validation makes millions of short-lived tuples and lists next to the records; none form
    # cycles, so the cyclic collector would only rescan them again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(inputs, issues, progress, strict)
    finally:
        if was_enabled:
            gc.enable()


@attrs.frozen
class _Input:
    """One file to check."""

    label: str
    """How issues name the file: its name, or where it came from when two share a name."""
    name: str
    data: bytes
    in_units: bool = True
    """False for the later of two files that would be one file on disk (only one can be sent)."""


def _validate(
    inputs: list[_Input], issues: list[Issue], progress: Progress | None, strict: bool
) -> ValidationReport:
    parsed: dict[str, CareplanFile] = {}
    named: dict[str, bytes] = {}
    total = len(inputs)
    for done, entry in enumerate(inputs, start=1):
        file_issues, file, name_ok = _check_file(entry, strict)
        issues += file_issues
        if name_ok and entry.in_units:
            named[entry.name] = entry.data
            if file is not None:
                parsed[entry.name] = file
        if progress is not None:
            progress(done, total)
    units = group_units(named) if named else []
    issues += check_units(units, parsed)
    issues += check_table7_arithmetic(units, parsed, strict=strict)
    order = {entry.label: position for position, entry in enumerate(inputs)}
    # By file (in input order), then record and column; issues without a record (about the
    # whole file, the unit, or summaries of repeated problems) after the file's records.
    issues.sort(
        key=lambda i: (
            order.get(i.file or "", len(order)),
            i.record if i.record is not None else float("inf"),
            i.column or 0,
        )
    )
    return ValidationReport(
        issues=tuple(issues), units=tuple(units), files=tuple(entry.label for entry in inputs)
    )


# -- what to check ---------------------------------------------------------------------------

# Files operating systems leave in folders; never meant to be sent, so not worth a warning.
_DEBRIS_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini"})


def _is_debris(name: str) -> bool:
    """Thumbs.db, desktop.ini, Office lock files (`~$…`), and hidden files (`.DS_Store`,
    macOS `._…` resource forks, the temporary files of an interrupted write)."""
    return name.casefold() in _DEBRIS_NAMES or name.startswith(("~$", "."))


class _Collector:
    """Gathers the files to check, reporting names that collide."""

    def __init__(self) -> None:
        self.inputs: list[_Input] = []
        self.issues: list[Issue] = []
        self._by_folded: dict[str, tuple[_Input, str]] = {}

    def add(self, name: str, data: bytes, origin: str) -> None:
        """Add a file named `name` that came from `origin` (its path, or its mapping key)."""
        folded = name.casefold()
        first = self._by_folded.get(folded)
        if first is None:
            entry = _Input(name, name, data)
            self._by_folded[folded] = (entry, origin)
            self.inputs.append(entry)
            return
        first_entry, first_origin = first
        if first_entry.name != name:
            self.issues.append(_case_collision(name, first_entry.name))
            self.inputs.append(_Input(name, name, data, in_units=False))
            return
        same = first_entry.data == data
        # A second copy with other content is checked too (one run shows everything), under
        # where it came from, since its name is taken.
        label = name if same else origin
        self.issues.append(_duplicate(name, label, origin, first_origin, same))
        if not same:
            self.inputs.append(_Input(label, name, data, in_units=False))


def _collect(source: ValidationSource) -> tuple[list[_Input], list[Issue]]:
    """The files to check, and issues about the input itself."""
    collector = _Collector()
    if isinstance(source, Bundle):
        for name, data in source.files.items():
            collector.add(name, data, name)
        return _finish(collector, [])
    if isinstance(source, Mapping):
        for key, data in source.items():
            name = PurePosixPath(key.replace("\\", "/")).name
            if not _is_debris(name):
                collector.add(name, bytes(data), key)
        return _finish(collector, [])
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(p for p in path.iterdir() if p.is_file()):
                if _is_debris(child.name):
                    continue
                if diagnose(child.name).guess is None:
                    collector.issues.append(_not_standard(child.name))
                    continue
                collector.add(child.name, child.read_bytes(), str(child))
        elif not _is_debris(path.name):
            # OSError for a path that cannot be read
            collector.add(path.name, path.read_bytes(), str(path))
    return _finish(collector, [str(p) for p in paths])


def _finish(collector: _Collector, paths: list[str]) -> tuple[list[_Input], list[Issue]]:
    if not collector.inputs:
        collector.issues.append(_nothing_to_send(paths))
    return collector.inputs, collector.issues


# -- one file --------------------------------------------------------------------------------


def _check_file(entry: _Input, strict: bool) -> tuple[list[Issue], CareplanFile | None, bool]:
    """The issues of one file, the file as read (None if it could not be), and whether its
    name is a valid standard name (only those take part in the unit checks)."""
    diagnosis = diagnose(entry.name)
    issues = _labelled(diagnosis.issues, entry.label)
    name = diagnosis.guess
    if name is None:  # given by name, but not meant as a standard file: nothing else to check
        return issues, None, False
    name_ok = not diagnosis.issues
    issues += _extension_case(entry.label, name, strict)
    if name.is_image:
        if not entry.data.startswith(_JPEG_SIGNATURE):
            issues.append(
                Issue(
                    "image.not_jpeg",
                    "error",
                    "UPKIHON_IMAGE のファイルが JPEG ではありません",
                    "an UPKIHON_IMAGE file is not a JPEG image",
                    file=entry.label,
                )
            )
        return issues, None, name_ok
    data, encoding_issue = _encoding(entry.label, entry.data)
    if encoding_issue is not None:
        issues.append(encoding_issue)
    try:
        reading = read_leniently(data, name=name)
    except FormatError as error:
        issues += _labelled(_without_bom_note(error.issues, encoding_issue), entry.label)
        return issues, None, name_ok
    file = reading.file
    findings = Findings(file, entry.label)
    columns = Columns(file)
    check_items(file, findings, columns)
    check_file_rules(file, findings, columns)
    _check_control_characters(file, findings, columns)
    # Errors of reading, notes and `read.not_canonical` (the reader says where and why).
    issues += _labelled(_without_bom_note(reading.issues, encoding_issue), entry.label)
    issues += _without_unreadable_comparisons(findings.finish(), name)
    return issues, file, name_ok


# Rules that compare records with an office number of the file name.
_OFFICE_COMPARISONS = frozenset({"office.updater_mismatch", "office.plan_office_mismatch"})
_OFFICE_NO = re.compile(r"[0-9]{10}")


def _without_unreadable_comparisons(issues: list[Issue], name: FileName) -> list[Issue]:
    """A misnamed file's office fields may be empty or cut short; comparing records with them
    would flag every record for the name's fault, which is reported already."""
    offices = (name.sender.number, name.receiver.number)
    if all(_OFFICE_NO.fullmatch(number) for number in offices):
        return issues
    return [issue for issue in issues if issue.code not in _OFFICE_COMPARISONS]


def _labelled(issues: Iterable[Issue], label: str) -> list[Issue]:
    """The issues of one file under the name the report uses for it (a misnamed file is read
    under the standard name it means; a second copy of a name under where it came from)."""
    return [issue if issue.file == label else attrs.evolve(issue, file=label) for issue in issues]


def _extension_case(label: str, name: FileName, strict: bool) -> list[Issue]:
    """The standard writes `.CSV` (and `.jpg` for images); readers accept any case, but a
    receiver's importer may look only for the standard's spelling."""
    wanted = ".jpg" if name.is_image else ".CSV"
    if name.extension == wanted or name.extension.lower() not in (wanted.lower(), ".jpeg"):
        return []
    return [
        Issue(
            "name.extension_case",
            "error" if strict else "warning",
            f"拡張子は {wanted} です（{name.extension} は読めますが、標準の書き方ではありません）",
            f"the extension is {wanted} in the standard ({name.extension} is readable, but "
            "a receiver's importer may look for the standard's spelling only)",
            file=label,
            value=name.extension,
        )
    ]


# -- encoding and characters -----------------------------------------------------------------

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
    """`read.bom` says how the file was read; validation's `encoding.utf8` says it for it."""
    if encoding_issue is None:
        return list(issues)
    return [issue for issue in issues if issue.code != "read.bom"]


# C0 controls except CR and LF (which free text may hold, quoted), and DEL: a receiver's
# database or printer may cut the text at NUL or act on ESC; none is text a person wrote.
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def _check_control_characters(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    for column in file.layout.columns:
        if column.kind is not Kind.FREE_TEXT:
            continue  # other kinds allow no control character by their own format rules
        for index in columns.where(column.attribute, _has_control):
            text = columns[column.attribute][index]
            found = [
                f"{_describe_control(match.group())} ({match.start() + 1})"
                for match in _CONTROL.finditer(text)
            ]
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            findings.add(
                "text.control_character",
                "error",
                f"制御文字があります: {shown}（括弧内は何文字目か）。"
                "改行（CR・LF）以外の制御文字は使えません",
                f"control characters: {shown} (character positions in brackets); no control "
                "character other than a line break (CR, LF) is allowed",
                index=index,
                column=column,
                value=text,
            )


def _has_control(value: object) -> bool:
    return isinstance(value, str) and _CONTROL.search(value) is not None


_CONTROL_NAMES = {0x00: "NUL", 0x09: "TAB", 0x1B: "ESC", 0x7F: "DEL"}


def _describe_control(char: str) -> str:
    code = ord(char)
    name = _CONTROL_NAMES.get(code)
    return f"U+{code:04X}" + (f" {name}" if name else "")


# -- issues about the input ------------------------------------------------------------------


def _not_standard(name: str) -> Issue:
    return Issue(
        "file.not_standard",
        "warning",
        "標準仕様のファイル名ではないため、検査しませんでした",
        "not a standard file name: skipped",
        file=name,
    )


def _nothing_to_send(paths: list[str]) -> Issue:
    return Issue(
        "file.none",
        "error",
        "標準仕様のファイルが1つもありません（送るものがありません）",
        "no standard file was found: there is nothing to send",
        value=", ".join(paths) if paths else None,
    )


def _duplicate(name: str, label: str, origin: str, first_origin: str, same: bool) -> Issue:
    same_ja = "（内容も同じです）" if same else "（内容が違います）"
    same_en = " (same content)" if same else " (different content)"
    return Issue(
        "file.duplicate",
        "error",
        f"同じ名前のファイルが2回指定されています{same_ja}。"
        f"送信単位の検査には最初のもの（{first_origin}）だけを使いました",
        f"two files with the same name were given{same_en}; only the first ({first_origin}) "
        "takes part in the unit checks",
        file=label,
        value=origin,
    )


def _case_collision(name: str, first: str) -> Issue:
    return Issue(
        "file.case_collision",
        "error",
        f"{first} と大文字・小文字だけが違う名前です。Windows や macOS では同じファイルになり、"
        f"一方が他方を上書きします。送信単位の検査には {first} だけを使いました",
        f"the name differs from {first} only in letter case: on Windows and macOS they are "
        f"one file, and one overwrites the other; only {first} takes part in the unit checks",
        file=name,
        value=first,
    )
