"""The `careplan-link` command. Thin: it parses arguments and calls the public API.

Exit status: 0 success, 1 the input has errors (or an envelope is refused), 2 usage error or
unreadable path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ._cli_convert import add_convert_command
from ._cli_envelope import add_envelope_commands
from ._cli_office import add_office_commands
from ._cli_reconcile import add_reconcile_command
from ._cli_sync import add_sync_commands
from ._issue import Issue
from ._version import __version__
from .errors import FormatError
from .format import CareplanFile, ValidationReport, parse_plan, validate
from .format._convert import format_value
from .format._json_codec import to_document
from .hub._cli import add_hub_commands

__all__ = ["main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`careplan-link inspect … | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careplan-link",
        description="Read, check and exchange ケアプランデータ連携 (care-plan data) files.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands")

    inspect = commands.add_parser(
        "inspect", help="show a file's name fields and records (項目名 and values)"
    )
    inspect.add_argument("file", type=Path, help="a standard CSV file")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--limit", type=int, default=None, metavar="N", help="show at most N records"
    )
    inspect.set_defaults(run=_inspect)

    check = commands.add_parser(
        "validate",
        help="check files and folders completely (exit 0: no error, 1: errors, 2: usage)",
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files and folders")
    check.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    check.add_argument(
        "--lang", choices=("ja", "en"), default="ja", help="language of the messages (ja)"
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="make warnings a receiver may accept errors (a lower-case .csv, the 第7表 arithmetic)",
    )
    check.add_argument(
        "--no-check-digits",
        dest="identifier_checks",
        action="store_false",
        help="leave out the check-digit and 都道府県番号 warnings of 事業所番号/保険者番号 items "
        "(for test data made of invented numbers)",
    )
    check.set_defaults(run=_validate)
    add_envelope_commands(commands)
    add_office_commands(commands)
    add_convert_command(commands)
    add_reconcile_command(commands)
    add_hub_commands(commands)
    add_sync_commands(commands)
    return parser


def _inspect(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"careplan-link: cannot read {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        file = parse_plan(path)
        document = _as_json(file, args.limit) if args.json else None
    except FormatError as error:
        for issue in error.issues:
            print(_escaped(issue.message("en")), file=sys.stderr)
            print(f"  {_escaped(issue.message_ja)}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(f"careplan-link: cannot read {path}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if document is not None:
        print(_json_text(document))
    else:
        _print_table(file, args.limit)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    for path in args.paths:
        if not path.exists():
            print(f"careplan-link: no such file or folder: {path}", file=sys.stderr)
            return EXIT_USAGE
    progress = _ProgressBar() if sys.stderr.isatty() else None
    try:
        report = validate(
            args.paths,
            progress=progress,
            strict=args.strict,
            identifier_checks=args.identifier_checks,
        )
    except OSError as error:
        print(f"careplan-link: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(_json_text(report.to_dict()))
    else:
        _print_report(report, args.lang)
    return EXIT_OK if report.ok else EXIT_INVALID


class _ProgressBar:
    """A one-line progress bar on stderr, shown only when checking many files."""

    def __init__(self, minimum: int = 10) -> None:
        self.minimum = minimum
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum:
            return
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _print_report(report: ValidationReport, lang: str) -> None:
    out = sys.stdout
    labels = {
        "error": "エラー" if lang == "ja" else "error",
        "warning": "警告" if lang == "ja" else "warning",
    }
    by_file: dict[str | None, list[Issue]] = {}
    for issue in report.issues:
        by_file.setdefault(issue.file, []).append(issue)

    def show(issue: Issue, indent: str) -> None:
        text = issue.message_ja if lang == "ja" else issue.message_en
        where = []
        if issue.record is not None:
            where.append(f"record {issue.record}")
        if issue.line is not None:
            where.append(f"line {issue.line}")
        if issue.column is not None:
            where.append(f"No.{issue.column} {issue.item or ''}".rstrip())
        place = f"{', '.join(where)}: " if where else ""
        value = f" [{issue.value}]" if issue.value is not None else ""
        line = f"{indent}{labels[issue.severity]} {issue.code} {place}{text}{value}"
        out.write(_escaped(line) + "\n")

    listed: set[str | None] = set()
    for unit in report.units:
        out.write(
            f"unit {unit.kind.value}: {unit.sender} → {unit.receiver}, "
            f"ファイル連番 {unit.serial}, {len(unit.files)} files\n"
        )
        for name in unit.files:
            listed.add(name)
            issues = by_file.get(name, [])
            mark = "OK" if not issues else f"{len(issues)} issues"
            out.write(f"  {_escaped(name)}  {mark}\n")
            for issue in issues:
                show(issue, "    ")
    for other in [name for name in by_file if name not in listed]:
        out.write(f"{_escaped(other or '(input)')}\n")
        for issue in by_file[other]:
            show(issue, "    ")
    summary = report.summary()
    verdict = "OK" if report.ok else "NG"
    out.write(
        f"\n{verdict}: {summary['files']} files, {summary['units']} units, "
        f"{summary['errors']} errors, {summary['warnings']} warnings\n"
    )


def _name_fields(file: CareplanFile) -> dict[str, Any]:
    name = file.name
    return {
        "name": str(name),
        "prefix": name.prefix,
        "interface": name.layout_id,
        "naming": name.naming,
        "month": name.month,
        "sender_office_no": name.sender.number,
        "sender_service_type": name.sender.service_type,
        "receiver_office_no": name.receiver.number,
        "receiver_service_type": name.receiver.service_type,
        "serial": name.serial,
    }


def _record_texts(file: CareplanFile, limit: int | None) -> list[list[str]]:
    records = file.records if limit is None else file.records[:limit]
    columns = file.layout.columns
    return [
        [format_value(c.kind, v) for c, v in zip(columns, r.values(), strict=True)] for r in records
    ]


def _as_json(file: CareplanFile, limit: int | None) -> dict[str, Any]:
    """The JSON codec's document of the file (what `from_json` reads back), then what a
    person looking at it wants too: the name's fields, the layout's name, the notes.

    With a limit, the document holds only the first records (`record_count` says how many
    the file has)."""
    shown = file if limit is None else attrs.evolve(file, records=file.records[:limit])
    return {
        **to_document(shown),
        "file": _name_fields(file),
        "layout": {"id": file.layout.id, "name_ja": file.layout.name_ja},
        "record_count": len(file.records),
        "notes": [note.to_dict() for note in file.notes],
    }


def _print_table(file: CareplanFile, limit: int | None) -> None:
    out = sys.stdout
    out.write(f"{file.name}\n")
    labels = {
        "prefix": "接頭辞 prefix",
        "interface": "インタフェース interface",
        "naming": "命名規則 naming",
        "month": "対象年月 month",
        "sender_office_no": "送信元事業所番号 sender",
        "sender_service_type": "送信元サービス種類 sender type",
        "receiver_office_no": "送信先事業所番号 receiver",
        "receiver_service_type": "送信先サービス種類 receiver type",
        "serial": "ファイル連番 serial",
    }
    fields = _name_fields(file)
    for key, label in labels.items():
        out.write(f"  {label}: {fields[key] if fields[key] is not None else '-'}\n")
    out.write(
        f"  レイアウト layout: {file.layout.name_ja} ({file.layout.id}), "
        f"CSVバージョン {file.csv_version or '-'}, {len(file.records)} records\n"
    )
    for note in file.notes:
        out.write(f"  note: {_escaped(note.message('en'))}\n")
    width = max(_display_width(c.name_ja) for c in file.layout.columns)
    for number, texts in enumerate(_record_texts(file, limit), start=1):
        out.write(f"\nrecord {number}\n")
        for column, text in zip(file.layout.columns, texts, strict=True):
            pad = " " * (width - _display_width(column.name_ja))
            shown = _escaped(text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎"))
            out.write(f"  {column.no:>3} {column.name_ja}{pad}  {shown}\n")
    if limit is not None and len(file.records) > limit:
        out.write(f"\n… {len(file.records) - limit} more records\n")


# Characters a terminal acts on instead of showing: C0 and C1 controls and DEL (ESC starts
# escape sequences), and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# In JSON text the line breaks of the layout stay; json.dumps escapes C0 inside strings.
_UNPRINTABLE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape (`\\x1b`)."""
    return _UNPRINTABLE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_text(data: object) -> str:
    """JSON for the terminal: `json` escapes C0 controls itself; DEL, C1 controls and the
    bidirectional overrides are escaped here too (valid JSON either way)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _UNPRINTABLE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _display_width(text: str) -> int:
    """Terminal columns: full-width characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "FW" else 1 for c in text)


if __name__ == "__main__":
    sys.exit(main())
