"""`validate`: check files, units and their order completely, before they leave the office.

Validation never raises on bad content: everything it finds is an `Issue` in the report. It
raises only for what is not content: a path that does not exist or cannot be read.
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._bundle import Bundle, group_units
from ._columns import Columns
from ._file import CareplanFile
from ._filename import FileName
from ._findings import Findings
from ._item_rules import check_items
from ._reader import parse_checking_form
from ._record_rules import check_file_rules
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


def validate(source: ValidationSource, *, progress: Progress | None = None) -> ValidationReport:
    """Check files completely: names, encoding, layout, items, cross-item and unit rules.

    `source` is a file or folder path (a folder's files are all checked; files whose names are
    not standard are reported and skipped), several paths, a mapping of file name → bytes, or a
    `Bundle`. `progress(done, total)` is called after each file. Raises `OSError` only for a path
    that cannot be read.
    """
    inputs, issues = _collect(source)
    # Validation makes millions of short-lived tuples and lists next to the records; none form
    # cycles, so the cyclic collector would only rescan them again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(inputs, issues, progress)
    finally:
        if was_enabled:
            gc.enable()


def _validate(
    inputs: list[tuple[str, bytes]], issues: list[Issue], progress: Progress | None
) -> ValidationReport:
    parsed: dict[str, CareplanFile] = {}
    named: dict[str, bytes] = {}
    total = len(inputs)
    for done, (name, data) in enumerate(inputs, start=1):
        file_issues, file = _check_file(name, data)
        issues += file_issues
        if file is not None:
            parsed[name] = file
        if not any(i.code.startswith("name.") for i in file_issues):
            named[name] = data
        if progress is not None:
            progress(done, total)
    units = group_units(named) if named else []
    issues += check_units(units, parsed)
    order = {name: position for position, (name, _) in enumerate(inputs)}
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
        issues=tuple(issues), units=tuple(units), files=tuple(name for name, _ in inputs)
    )


def _collect(source: ValidationSource) -> tuple[list[tuple[str, bytes]], list[Issue]]:
    """The (name, bytes) pairs to check, and issues about the input itself."""
    if isinstance(source, Bundle):
        return list(source.files.items()), []
    if isinstance(source, Mapping):
        return [(Path(name).name, bytes(data)) for name, data in source.items()], []
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    inputs: list[tuple[str, bytes]] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(p for p in path.iterdir() if p.is_file()):
                if not _is_standard_name(child.name):
                    issues.append(_not_standard(child.name))
                    continue
                _add(inputs, issues, seen, child)
        else:
            _add(inputs, issues, seen, path)
    return inputs, issues


def _add(inputs: list[tuple[str, bytes]], issues: list[Issue], seen: set[str], path: Path) -> None:
    data = path.read_bytes()  # OSError for a path that cannot be read
    if path.name in seen:
        issues.append(
            Issue(
                "file.duplicate",
                "error",
                "同じ名前のファイルが2回指定されています",
                "two files with the same name were given",
                file=path.name,
            )
        )
        return
    seen.add(path.name)
    inputs.append((path.name, data))


def _is_standard_name(name: str) -> bool:
    try:
        FileName.parse(name)
    except FormatError:
        return False
    return True


def _not_standard(name: str) -> Issue:
    return Issue(
        "file.not_standard",
        "warning",
        "標準仕様のファイル名ではないため、検査しませんでした",
        "not a standard file name: skipped",
        file=name,
    )


def _check_file(name: str, data: bytes) -> tuple[list[Issue], CareplanFile | None]:
    try:
        file_name = FileName.parse(name)
    except FormatError as error:
        return list(error.issues), None
    if file_name.is_image:
        if data.startswith(_JPEG_SIGNATURE):
            return [], None
        return [
            Issue(
                "image.not_jpeg",
                "error",
                "UPKIHON_IMAGE のファイルが JPEG ではありません",
                "an UPKIHON_IMAGE file is not a JPEG image",
                file=name,
            )
        ], None
    try:
        file, noncanonical_line = parse_checking_form(data, name=file_name)
    except FormatError as error:
        return list(error.issues), None
    findings = Findings(file)
    columns = Columns(file)
    check_items(file, findings, columns)
    check_file_rules(file, findings, columns)
    issues = list(file.notes) + findings.finish()
    if noncanonical_line is not None and not file.notes:
        issues.append(_not_canonical(str(file.name), noncanonical_line))
    return issues, file


def _not_canonical(file: str, line: int) -> Issue:
    """Receivers differ in what they tolerate (quoting, line ends, NEC-selected codes); a file
    in canonical form is read the same way by everyone."""
    return Issue(
        "read.not_canonical",
        "warning",
        '標準の書式（フリーテキストのみ " で囲む、CRLF 改行、Windows の MS932 符号）と'
        f"異なります（{line} 行目から）",
        "not in canonical form (only free text quoted, CRLF line ends, MS932 as Windows "
        f"encodes it); first difference on line {line}",
        file=file,
        line=line,
    )
