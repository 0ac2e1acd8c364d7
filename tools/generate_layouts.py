"""Generate `src/careplan_link/format/_generated.py` from the project's data file of the standard.

Usage: python tools/generate_layouts.py [--data standard/careplan-standard.json] [--output PATH]

The package owns its layouts: this script writes them (layouts, code tables, record classes,
and the standard's other tables the package reads) as plain Python that is committed. It reads
ONLY the data file (`standard/careplan-standard.json`, made from the transcription by
`tools/extract_standard.py`), so it runs on a clean clone. It knows no family by name: every
layout family listed in the data gets its layouts, and record classes where its columns differ
from the first family's, named with the family's class suffix (`Table6PlanV3Record`).
`tests/format/test_standard_data.py` regenerates into a temporary file and compares.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "standard" / "careplan-standard.json"
OUTPUT = ROOT / "src" / "careplan_link" / "format" / "_generated.py"

PYTHON_TYPES = {
    "csv_version": "str",
    "digits": "str | None",
    "alphanumeric": "str | None",
    "code": "str | None",
    "service_code": "str | None",
    "integer": "int | None",
    "decimal": "Decimal | None",
    "yyyymm": "YearMonth | ZeroMonth | None",
    "yyyymmdd": "datetime.date | ZeroDate | None",
    "hhmm": "datetime.time | NoTime | None",
    "postal_code": "str | None",
    "phone": "str | None",
    "flag31": "str | None",
    "free_text": "str | None",
}

# What makes two record classes the same: the fields, their types and metadata (not lengths).
_CLASS_SHAPE = ("no", "name_ja", "attribute", "kind")


def _render_class(
    class_name: str, interface: dict[str, Any], columns: list[dict[str, Any]], csv_version: str
) -> str:
    lines = [
        "@tuple_record",
        "@attrs.frozen",
        f"class {class_name}(Record):",
        f'    """{interface["name_ja"]} ({interface["prefix"]}), CSVバージョン {csv_version}."""',
        "",
    ]
    for column in columns:
        python_type = PYTHON_TYPES[column["kind"]]
        default = f'"{csv_version}"' if column["kind"] == "csv_version" else "None"
        lines.append(
            f"    {column['attribute']}: {python_type} = attrs.field(\n"
            f'        default={default}, metadata={{"no": {column["no"]}, '
            f'"item": "{column["name_ja"]}"}}\n'
            "    )"
        )
    return "\n".join(lines) + "\n"


def _render_layout(interface: dict[str, Any], csv_version: str, class_name: str) -> str:
    column_lines = []
    for c in interface["columns"]:
        table = f"CODE_TABLES[{c['code_table']!r}]" if c["code_table"] else "None"
        column_lines.append(
            f"        Column({c['no']}, {c['name_ja']!r}, {c['attribute']!r}, "
            f"Kind.{c['kind'].upper()}, {c['max_length']!r}, {c['required']!r}, "
            f"{table}, {c['uncertain']!r}),"
        )
    return (
        "Layout(\n"
        f"    id={interface['id']!r},\n"
        f"    name_ja={interface['name_ja']!r},\n"
        f"    prefix={interface['prefix']!r},\n"
        f"    csv_version={csv_version!r},\n"
        "    columns=(\n" + "\n".join(column_lines) + "\n    ),\n"
        f"    key_columns={tuple(interface['key_columns'])!r},\n"
        f"    has_month={interface['has_month']!r},\n"
        f"    record_type={class_name},\n"
        ")"
    )


def _shape(interface: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(c[k] for k in _CLASS_SHAPE) for c in interface["columns"]]


def _class_names(families: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(family, interface id) → (record class name, whether this family defines it).

    The first family's classes carry no suffix; another family reuses them where its columns
    have the same shape and otherwise defines `<Base><suffix>Record`.
    """
    first = {i["id"]: i for i in families[0]["interfaces"]}
    names: dict[tuple[str, str], tuple[str, bool]] = {}
    for index, family in enumerate(families):
        for interface in family["interfaces"]:
            base = interface["class_name"]
            same = interface["id"] in first and _shape(first[interface["id"]]) == _shape(interface)
            if index == 0 or same:
                names[(family["family"], interface["id"])] = (base, index == 0)
            else:
                if not base.endswith("Record"):
                    raise SystemExit(f"{interface['id']}: class name {base!r} must end in Record")
                own = base.removesuffix("Record") + family["class_suffix"] + "Record"
                names[(family["family"], interface["id"])] = (own, True)
    return names


def _other_tables(data: dict[str, Any], interface_ids: set[str]) -> list[str]:
    """The standard's tables besides layouts: scope, service type names, parent relations."""
    out = [
        "",
        "# Service types of the standard's scope (S2 1.3/1.4), by list of the transcription.",
        "SERVICE_TYPE_SCOPE: dict[str, frozenset[str]] = {",
    ]
    for name, codes in sorted(data["service_types"]["scope"].items()):
        out.append(f"    {name!r}: frozenset({sorted(codes)!r}),")
    out += ["}", "", "SERVICE_TYPE_NAMES: dict[str, str] = {"]
    out += [f"    {k!r}: {v!r}," for k, v in sorted(data["service_types"]["names"].items())]
    out += [
        "}",
        "",
        "# Parent interface → its child interfaces (their keys are the layouts' key columns).",
        "PARENT_CHILDREN: dict[str, tuple[str, ...]] = {",
    ]
    for relation in data["relations"]["relations"]:
        if "parent" in relation and relation.get("children"):
            children = tuple(c for c in relation["children"] if c in interface_ids)
            out.append(f"    {relation['parent']!r}: {children!r},")
    out.append("}")
    return out


def generate(data: dict[str, Any]) -> str:
    """The text of `_generated.py` (before ruff format) from the data file's contents."""
    families = data["layout_families"]
    if not families or families[0]["class_suffix"] != "":
        raise SystemExit("the first layout family must have the empty class suffix")
    class_names = _class_names(families)
    out = [
        '"""Layouts, code tables and record classes of every interface.',
        "",
        "Generated by tools/generate_layouts.py from standard/careplan-standard.json;",
        "do not edit by hand. Regenerate with `python tools/generate_layouts.py`.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "",
        "from __future__ import annotations",
        "",
        "import datetime",
        "from decimal import Decimal",
        "",
        "import attrs",
        "",
        "from ._layout import CodeTable, Column, Kind, Layout",
        "from ._record import Record, tuple_record",
        "from ._values import NoTime, YearMonth, ZeroDate, ZeroMonth",
        "",
        "__all__ = [",
    ]
    out += [f"    {n!r}," for n in sorted({name for name, own in class_names.values() if own})]
    out += ["]", "", "CODE_TABLES: dict[str, CodeTable] = {"]
    for table in data["code_tables"]:
        name = table["name"]
        values = tuple((str(k), str(v)) for k, v in table["values"])
        out.append(f"    {name!r}: CodeTable({name!r}, {table['name_ja']!r}, {values!r}),")
    out += ["}", "", ""]

    # Classes interface by interface (each family's own class after the first family's), so
    # that a family's class sits next to the one it differs from.
    order: list[str] = []
    for family in families:
        order += [i["id"] for i in family["interfaces"] if i["id"] not in order]
    by_id = {(family["family"], i["id"]): i for family in families for i in family["interfaces"]}
    for interface_id in order:
        for family in families:
            key = (family["family"], interface_id)
            if key in by_id and class_names[key][1]:
                interface = by_id[key]
                out.append(
                    _render_class(
                        class_names[key][0], interface, interface["columns"], family["family"]
                    )
                )
                out.append("")

    def indent(block: str) -> str:
        return "\n".join("    " + line for line in block.splitlines())

    # Layout family (the CSVバージョン whose layouts it is) -> its layouts; the edition registry
    # (format/_editions.py) says which CSVバージョン values are read with which family.
    out.append("LAYOUT_FAMILIES: dict[str, tuple[Layout, ...]] = {")
    for family in families:
        out.append(f"    {family['family']!r}: (")
        for interface in family["interfaces"]:
            class_name = class_names[(family["family"], interface["id"])][0]
            layout = _render_layout(interface, family["family"], class_name)
            out.append(indent(indent(layout)) + ",")
        out.append("    ),")
    out.append("}")
    out += _other_tables(data, {i["id"] for family in families for i in family["interfaces"]})
    return "\n".join(out) + "\n"


def format_source(text: str) -> str:
    """`text` as ruff formats it with the project's settings (the committed form)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--config", str(ROOT / "pyproject.toml"), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    data = json.loads(args.data.read_text(encoding="utf-8"))
    args.output.write_text(format_source(generate(data)), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
