"""MkDocs hook: the reference pages generated from the code at build time, so they cannot drift.

- `reference/records.md`: every record class of every layout (v4.1 / 202407 and v3.2 / 202208),
  each attribute with its 項目名, column number (No.), kind, 項目長, 必須 and code table, read
  from `careplan_link.LAYOUTS`.
- `reference/cli.md`: every `careplan-link` command and sub-command with its options, read from
  the command's own argument parser.

The pages exist only in the built site (no file on disk to forget to regenerate); tests/test_site.py
builds the site and checks them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mkdocs.structure.files import File, Files

import careplan_link as cl
from careplan_link import cli

RECORDS_URI = "reference/records.md"
CLI_URI = "reference/cli.md"

_KIND_NOTES = {
    cl.Kind.CSV_VERSION: "str (6 digits)",
    cl.Kind.DIGITS: "str of digits",
    cl.Kind.ALPHANUMERIC: "str",
    cl.Kind.CODE: "str (code)",
    cl.Kind.SERVICE_CODE: "str (6)",
    cl.Kind.INTEGER: "int",
    cl.Kind.DECIMAL: "Decimal",
    cl.Kind.YYYYMM: "YearMonth | ZeroMonth",
    cl.Kind.YYYYMMDD: "date | ZeroDate",
    cl.Kind.HHMM: "time | NoTime",
    cl.Kind.POSTAL_CODE: "str (XXX-XXXX)",
    cl.Kind.PHONE: "str",
    cl.Kind.FLAG31: "str (31 × 0/1)",
    cl.Kind.FREE_TEXT: "str (quoted)",
}


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def layout_anchor(layout: cl.Layout) -> str:
    """The heading id of a layout's section, e.g. `table6_plan-202407`."""
    return f"{layout.id}-{layout.csv_version}"


def records_page() -> str:
    """The record reference: one section per layout, one table row per column."""
    versions = {cl.CSV_VERSION_CURRENT: "v4.1", cl.CSV_VERSION_V3: "v3.2"}
    lines = [
        "# Records and their 項目名 / レコードと項目名",
        "",
        "Generated from `careplan_link.LAYOUTS` when the site is built. Each record class has one "
        "attribute per column of the standard; `record.<attribute>` holds the item, typed as "
        "the *Python type* column says. `cl.get_layout(prefix_or_id).column(attribute)` gives "
        "the same facts in code.",
        "",
        "サイト構築時に `careplan_link.LAYOUTS` から生成しています。レコードの属性名と標準仕様の"
        "項目名・項目番号・型・項目長・必須の対応表です。",
        "",
        "Legend: **必須** ○ = required; **項目長** ― = the standard gives no length; "
        "**†** = part of the column's definition was reconstructed (see "
        "[decisions](../decisions.md)).",
        "",
    ]
    for version, edition in versions.items():
        layouts = [layout for (_, v), layout in cl.LAYOUTS.items() if v == version]
        lines += [f"## CSVバージョン {version} ({edition}) {{#csv-{version}}}", ""]
        lines += ["| Interface | File prefix | Record class | Columns |", "|---|---|---|---|"]
        lines += [
            f"| [{_cell(layout.name_ja)}](#{layout_anchor(layout)}) | `{layout.prefix}` "
            f"| `{layout.record_type.__name__}` | {layout.column_count} |"
            for layout in layouts
        ]
        lines.append("")
        for layout in layouts:
            lines += [
                f"### {layout.name_ja} — `{layout.record_type.__name__}` ({version}) "
                f"{{#{layout_anchor(layout)}}}",
                "",
                f"File prefix `{layout.prefix}`, interface id `{layout.id}`, "
                f"{layout.column_count} columns; key columns No. "
                + ", ".join(str(no) for no in layout.key_columns)
                + ".",
                "",
                "| No. | 項目名 | Attribute | Kind | Python type | 項目長 | 必須 | Code table |",
                "|---:|---|---|---|---|---:|:---:|---|",
            ]
            for column in layout.columns:
                table = column.code_table
                lines.append(
                    f"| {column.no} | {_cell(column.name_ja)}{' †' if column.uncertain else ''} "
                    f"| `{column.attribute}` | `{column.kind.value}` "
                    f"| {_cell(_KIND_NOTES[column.kind])} "
                    f"| {'―' if column.max_length is None else column.max_length} "
                    f"| {'○' if column.required else ''} "
                    f"| {_cell(table.name_ja) if table is not None else ''} |"
                )
            lines.append("")
    return "\n".join(lines)


def _commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...]
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and every sub-command's parser, depth first, with their command words."""
    found = [(words, parser)]
    for action in parser._actions:  # argparse exposes sub-parsers only this way
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*words, name))
    return found


def cli_page() -> str:
    """The command reference: each command's --help, as the command prints it."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it for a stable page
    try:
        commands = _commands(cli._parser(), ("careplan-link",))
        lines = [
            "# Command line / コマンド",
            "",
            "Generated from the `careplan-link` command's own argument parser when the site is "
            "built: what `careplan-link … --help` prints. Exit status: 0 success, 1 the input "
            "has errors (or an envelope is refused), 2 usage error or unreadable path.",
            "",
            "サイト構築時にコマンドの引数定義から生成しています。",
            "",
        ]
        for words, parser in commands:
            depth = min(len(words) + 1, 4)
            anchor = "-".join(words[1:]) or "careplan-link"
            lines += [
                f"{'#' * depth} `{' '.join(words)}` {{#{anchor}}}",
                "",
                "```text",
                parser.format_help().rstrip(),
                "```",
                "",
            ]
        return "\n".join(lines)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site."""
    files.append(File.generated(config, RECORDS_URI, content=records_page()))
    files.append(File.generated(config, CLI_URI, content=cli_page()))
    return files
