"""`validate`: check files, units and their order completely, before they leave the office.

Validation never raises on bad content: everything it finds is an `Issue` in the report. It
raises only for what is not content: a path that does not exist or cannot be read.
"""

from __future__ import annotations

import gc
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from .._issue import Issue
from ._bundle import Bundle, group_units
from ._codec import CSV_CODEC, Codec, CsvCodec, decode_csv
from ._columns import ColumnsOf
from ._file import CareplanFile
from ._filename import FileName, diagnose
from ._model_rules import check_records
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
    source: ValidationSource,
    *,
    progress: Progress | None = None,
    strict: bool = False,
    codec: Codec = CSV_CODEC,
    identifier_checks: bool = True,
) -> ValidationReport:
    """Check files completely: names, encoding, layout, items, cross-item and unit rules.

    `source` is a file or folder path (a folder's files are all checked, its subfolders are
    not), several paths, a mapping of file name → bytes, or a `Bundle`. A file whose name is
    meant as a standard name but is not one is an error, and its content is still checked
    against the layout its prefix names; other names in a folder are warnings, OS debris
    (Thumbs.db, desktop.ini, `~$` lock files, hidden files) is ignored, and no standard file
    at all is an error. `strict=True` makes warnings a receiver may accept errors (a
    lower-case `.csv`, the 第7表 arithmetic). `progress(done, total)` is called after each
    file. `codec` is the encoding of the files' content (the standard's CSV by default;
    `JSON_CODEC` for the JSON documents of `careplan_link.to_json`): the names are the
    standard's either way, and the same rules run on the records it decodes.
    `identifier_checks=False` leaves out the warnings `identifier.check_digit` and
    `identifier.prefecture` about 事業所番号 and 保険者番号 items (for test data made of invented
    numbers; they stay warnings with `strict=True`, docs/decisions.md "Identifiers"). Raises
    `OSError` only for a path that cannot be read.
    """
    inputs, issues = _collect(source)
    # Validation makes millions of short-lived tuples and lists next to the records; none form
    # cycles, so the cyclic collector would only rescan them again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(inputs, issues, progress, strict, codec, identifier_checks)
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
    inputs: list[_Input],
    issues: list[Issue],
    progress: Progress | None,
    strict: bool,
    codec: Codec,
    identifier_checks: bool,
) -> ValidationReport:
    parsed: dict[str, CareplanFile] = {}
    named: dict[str, bytes] = {}
    columns_of = ColumnsOf()
    total = len(inputs)
    for done, entry in enumerate(inputs, start=1):
        file_issues, file, name_ok = _check_file(
            entry, strict, codec, identifier_checks, columns_of
        )
        issues += file_issues
        if name_ok and entry.in_units:
            named[entry.name] = entry.data
            if file is not None:
                parsed[entry.name] = file
        if progress is not None:
            progress(done, total)
    units = group_units(named) if named else []
    issues += check_units(units, parsed, columns_of)
    issues += check_table7_arithmetic(units, parsed, strict=strict, columns_of=columns_of)
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


def _check_file(
    entry: _Input, strict: bool, codec: Codec, identifier_checks: bool, columns_of: ColumnsOf
) -> tuple[list[Issue], CareplanFile | None, bool]:
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
    # The codec's findings (encoding, quoting, items it could not read …), then the model's.
    if type(codec) is CsvCodec:
        # The records kept as the columns the rules read (no record is made): the CSV codec's
        # own `decode` gives the records as a tuple, as its callers expect.
        decoded = decode_csv(entry.data, name, entry.label, by_column=True)
    else:
        decoded = codec.decode(entry.data, name, entry.label)
    issues += decoded.issues
    if decoded.file is None:
        return issues, None, name_ok
    records = check_records(
        decoded.file,
        entry.label,
        identifier_checks=identifier_checks,
        columns=(
            columns_of(decoded.file)
            if decoded.columns is None
            else columns_of.adopt(decoded.file, decoded.columns)
        ),
    )
    issues += _without_unreadable_comparisons(records, name)
    return issues, decoded.file, name_ok


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
