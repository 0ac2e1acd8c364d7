"""`careplan-link reconcile PLAN RESULTS`: the month's 予定 against its 実績.

Exit status: 0 everything matches (and every 実績 arrived), 1 differences, 2 the input cannot
be read or is not valid (the validation report is shown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import CareplanLinkError
from .format import ValidationReport, validate
from .reconcile import corrected_plan, reconcile

__all__ = ["add_reconcile_command"]

EXIT_MATCH, EXIT_DIFFERENCES, EXIT_INPUT = 0, 1, 2


def add_reconcile_command(commands: Any) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="compare the month's 予定 with the 実績 (exit 0: match, 1: differences, 2: bad input)",
    )
    parser.add_argument("plan", type=Path, metavar="PLAN", help="schedule files or a folder")
    parser.add_argument("results", type=Path, metavar="RESULTS", help="実績 files or a folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write a CSV for Excel (MS932)")
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write a self-contained HTML calendar"
    )
    parser.add_argument(
        "--corrected", type=Path, metavar="DIR",
        help="write the corrected plan (one unit per provider, new ファイル連番) into DIR",
    )  # fmt: skip
    parser.add_argument("--lang", choices=("ja", "en"), default="ja", help="message language")
    parser.set_defaults(run=_run)


def _say(ja: str, en: str) -> None:
    print(f"careplan-link: {ja} / {en}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    for path in (args.plan, args.results):
        if not path.exists():
            _say(f"ファイルまたはフォルダがありません: {path}", f"no such file or folder: {path}")
            return EXIT_INPUT
    try:
        reports = [validate(args.plan), validate(args.results)]
        if not all(report.ok for report in reports):
            _show_invalid(reports, args)
            return EXIT_INPUT
        result = reconcile(args.plan, args.results)
        if args.csv is not None:
            args.csv.write_bytes(result.to_csv())
        if args.html is not None:
            args.html.write_text(result.to_html(), encoding="utf-8")
        if args.corrected is not None:
            args.corrected.mkdir(parents=True, exist_ok=True)
            written = corrected_plan(result).write(args.corrected)
            _say(
                f"修正予定を {len(written)} 単位書き出しました: {args.corrected}",
                f"wrote {len(written)} corrected schedule units to {args.corrected}",
            )
    except CareplanLinkError as error:
        _say("入力を読めません", f"cannot read the input: {error}")
        return EXIT_INPUT
    except OSError as error:
        _say(f"読み書きできません: {error}", f"cannot read or write: {error}")
        return EXIT_INPUT
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.to_text(args.lang))
    return EXIT_MATCH if result.ok else EXIT_DIFFERENCES


def _show_invalid(reports: list[ValidationReport], args: argparse.Namespace) -> None:
    if args.json:
        print(
            json.dumps(
                {"valid": False, "validation": [r.to_dict() for r in reports]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    _say("入力が標準仕様に合っていません（検証結果）", "the input is not valid (validation report)")
    from .cli import (
        _escaped,
    )  # one rule for what a terminal may be shown (imported late: cli imports us)

    for report in reports:
        for issue in report.errors:
            print(_escaped(issue.message(args.lang)), file=sys.stderr)
