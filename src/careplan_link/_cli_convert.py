"""`careplan-link convert`: files or whole units to another CSVバージョン, written atomically.

Every unit is converted before anything is written; each unit is then written all or nothing
(`write_bundle`), so the output folder never holds half a unit. Messages are printed in
Japanese and English; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ._issue import Issue
from .errors import FormatError
from .format import EDITIONS, FileName, UnitConversion, convert, group_units, write_bundle

__all__ = ["add_convert_command"]

_EXIT_OK = 0
_EXIT_INVALID = 1
_EXIT_USAGE = 2
_SERVICE_TYPE = re.compile(r"[0-9A-Z]{2}")
# The values `convert` can go to: what each edition writes, newest first.
_TARGETS = tuple(edition.csv_version for edition in reversed(list(EDITIONS)))


def add_convert_command(commands: Any) -> None:
    """Register `convert` on the command's subparsers."""
    parser = commands.add_parser(
        "convert",
        help=f"convert files or whole units to CSVバージョン {' or '.join(_TARGETS)} "
        "(exit 0: written, 1: refused, 2: usage)",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="standard files, or folders of them"
    )
    parser.add_argument("--to", required=True, choices=_TARGETS, dest="version")
    parser.add_argument(
        "-o", "--output", required=True, type=Path, metavar="FOLDER",
        help="an existing folder to write the converted files into",
    )  # fmt: skip
    parser.add_argument(
        "--service-types", metavar="SENDER,RECEIVER",
        help="service types for v4.1 names when going up from v3 names, e.g. 43,11",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace files of the same name in FOLDER"
    )
    parser.add_argument(
        "--allow-month-mismatch", action="store_true",
        help="convert even when the CSVバージョン does not apply to the service month "
        "(the receiver's validation will report it)",
    )  # fmt: skip
    parser.set_defaults(run=_convert)


def _say(ja: str, en: str) -> None:
    print(f"careplan-link: {ja}", file=sys.stderr)
    print(f"careplan-link: {en}", file=sys.stderr)


def _show(issue: Issue, stream: Any) -> None:
    stream.write(f"{issue.message('ja')}\n  {issue.message('en')}\n")


def _convert(args: argparse.Namespace) -> int:
    service_types = None
    if args.service_types is not None:
        parts = tuple(args.service_types.split(","))
        if len(parts) != 2 or not all(_SERVICE_TYPE.fullmatch(p) for p in parts):
            _say(
                "--service-types は「送信元,送信先」の2桁コードです（例 43,11）: "
                f"{args.service_types}",
                f"--service-types takes SENDER,RECEIVER 2-character codes (e.g. 43,11): "
                f"{args.service_types}",
            )
            return _EXIT_USAGE
        service_types = (parts[0], parts[1])
    if not args.output.is_dir():
        _say(
            f"出力先フォルダがありません: {args.output}",
            f"the output folder does not exist: {args.output}",
        )
        return _EXIT_USAGE
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and _is_standard(p.name))
        elif path.is_file():
            files.append(path)
        else:
            _say(f"ファイルもフォルダもありません: {path}", f"no such file or folder: {path}")
            return _EXIT_USAGE
    if not files:
        _say("変換する標準ファイルがありません", "there is no standard file to convert")
        return _EXIT_INVALID
    try:
        units = group_units(files)
        conversions: list[UnitConversion] = []
        issues: list[Issue] = []
        for unit in units:
            try:
                conversions.append(
                    convert(
                        unit,
                        args.version,
                        service_types=service_types,
                        allow_month_mismatch=args.allow_month_mismatch,
                    )
                )
            except FormatError as error:
                issues += error.issues
        if issues:
            raise FormatError(issues)
    except FormatError as error:
        for issue in error.issues:
            _show(issue, sys.stderr)
        _say("変換しませんでした（何も書き込んでいません）", "nothing was converted or written")
        return _EXIT_INVALID
    except OSError as error:
        _say(
            f"読み込めません: {error.filename}: {error.strerror}",
            f"cannot read {error.filename}: {error.strerror}",
        )
        return _EXIT_USAGE
    for written, conversion in enumerate(conversions):
        try:
            paths = write_bundle(conversion.bundle, to=args.output, overwrite=args.overwrite)
        except FormatError as error:
            for issue in error.issues:
                _show(issue, sys.stderr)
            _say(
                f"{written} 単位を書き込んだ後、この単位は書き込みませんでした",
                f"stopped after writing {written} unit(s); this unit was not written",
            )
            return _EXIT_INVALID
        except OSError as error:
            _say(
                f"書き込めません: {error.filename or args.output}: {error.strerror}"
                f"（{written} 単位は書き込み済み、この単位は何も残していません）",
                f"cannot write {error.filename or args.output}: {error.strerror} ({written} "
                "unit(s) written before; nothing of this unit was left behind)",
            )
            return _EXIT_USAGE
        for issue in conversion.lost:
            _show(issue, sys.stdout)
        for path in paths:
            print(path)
    return _EXIT_OK


def _is_standard(name: str) -> bool:
    try:
        FileName.parse(name)
    except FormatError:
        return False
    return True
