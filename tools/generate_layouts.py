"""Generate `src/careplan_link/format/_generated.py` from the transcription of the standard.

Usage: python tools/generate_layouts.py [path/to/careplan-csv-spec.json]

The package owns its layouts: this script writes them (layouts, code tables, record classes) as
plain Python that is committed. `tests/format/test_layouts_against_spec.py` checks the committed
file against the transcription whenever `../shared/spec` is present, so the two cannot drift.

Decisions taken where the transcription is uncertain are written here, next to the data, and in
docs/decisions.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attribute_names import ATTRIBUTE_NAMES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "spec" / "careplan-csv-spec.json"
OUTPUT = ROOT / "src" / "careplan_link" / "format" / "_generated.py"

CLASS_NAMES = {
    "supplement": "SupplementRecord",
    "table1": "Table1Record",
    "table1_delete": "Table1DeleteRecord",
    "table2": "Table2Record",
    "table3": "Table3Record",
    "table6_plan": "Table6PlanRecord",
    "table6_actual": "Table6ActualRecord",
    "table6_plan_delete": "Table6PlanDeleteRecord",
    "table6_actual_delete": "Table6ActualDeleteRecord",
    "table7": "Table7Record",
    "yobo_basic": "YoboBasicRecord",
    "yobo_basic_delete": "YoboBasicDeleteRecord",
    "yobo_basic_sub1": "YoboBasicSub1Record",
    "yobo_basic_sub2": "YoboBasicSub2Record",
    "yobo_plan": "YoboPlanRecord",
    "yobo_plan_delete": "YoboPlanDeleteRecord",
    "yobo_plan_sub": "YoboPlanSubRecord",
}

# Interfaces that existed in v3.2 (CSVバージョン 202208); the others are v4 only.
V3_INTERFACES = (
    "supplement",
    "table1",
    "table1_delete",
    "table2",
    "table6_plan",
    "table6_actual",
    "table6_plan_delete",
    "table6_actual_delete",
    "table7",
)

# Decision: where the transcription is uncertain about a length, accept the longest the standard
# might allow. 第7表 No.30 前月までの利用日数: v4.1 OCR says 2, the v3.2 change note says it
# grew to 5; a conforming sender may write 5 digits.
LENGTH_OVERRIDES = {("table7", 30): 5}

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


def _kind(interface_id: str, column: dict[str, Any]) -> str:
    if column["no"] == 1:
        return "csv_version"
    return str(column["type"])


def _columns(interface: dict[str, Any]) -> list[dict[str, Any]]:
    names = ATTRIBUTE_NAMES[interface["id"]]
    columns = interface["columns"]
    if len(names) != len(columns) or len(columns) != interface["column_count"]:
        raise SystemExit(f"{interface['id']}: {len(names)} names for {len(columns)} columns")
    if len(set(names)) != len(names):
        raise SystemExit(f"{interface['id']}: duplicate attribute names")
    result = []
    for no, (name, column) in enumerate(zip(names, columns, strict=True), start=1):
        if column["no"] != no:
            raise SystemExit(f"{interface['id']}: column {column['no']} out of order")
        codes = column.get("codes") or {}
        result.append(
            {
                "no": no,
                "name_ja": column["name_ja"],
                "attribute": name,
                "kind": _kind(interface["id"], column),
                "max_length": LENGTH_OVERRIDES.get((interface["id"], no), column.get("max_length")),
                "required": bool(column.get("required")),
                "code_table": codes.get("table") if codes else None,
                "uncertain": bool(column.get("uncertain")),
            }
        )
    return result


def _v3_columns(interface: dict[str, Any], columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    differences = interface.get("v3_differences")
    if not differences:
        return columns
    removed = set(differences["removed_in_v3"])
    kept = [dict(c) for c in columns if c["no"] not in removed]
    for no, column in enumerate(kept, start=1):
        column["no"] = no
        # v3.x 第7表 回数／日数 had length 2 (v4 grew it to 3).
        if interface["id"] == "table7" and column["name_ja"] == "回数／日数":
            column["max_length"] = 2
    if len(kept) != differences["v3_column_count"]:
        raise SystemExit(f"{interface['id']}: v3 has {len(kept)} columns")
    return kept


def _render_class(
    class_name: str, interface: dict[str, Any], columns: list[dict[str, Any]], csv_version: str
) -> str:
    prefix = interface["file_name"]["prefix"]
    lines = [
        "@attrs.frozen",
        f"class {class_name}(Record):",
        f'    """{interface["name_ja"]} ({prefix}), CSVバージョン {csv_version}."""',
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


def _render_layout(
    interface: dict[str, Any], columns: list[dict[str, Any]], csv_version: str, class_name: str
) -> str:
    keys = interface["key_columns"]
    if isinstance(keys, dict):  # 利用者補足情報: the key depends on the parent
        key_columns: list[int] = sorted({n for k in keys.values() for n in k})
    else:
        key_columns = list(keys)
    has_month = "{service_month:6}" in interface["file_name"]["v4_1"]["pattern"] or (
        "{target_month:6}" in interface["file_name"]["v4_1"]["pattern"]
    )
    column_lines = []
    for c in columns:
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
        f"    prefix={interface['file_name']['prefix']!r},\n"
        f"    csv_version={csv_version!r},\n"
        "    columns=(\n" + "\n".join(column_lines) + "\n    ),\n"
        f"    key_columns={tuple(key_columns)!r},\n"
        f"    has_month={has_month!r},\n"
        f"    record_type={class_name},\n"
        ")"
    )


def generate(spec: dict[str, Any]) -> str:
    out = [
        '"""Layouts, code tables and record classes of every interface.',
        "",
        "Generated by tools/generate_layouts.py from the transcription of the standard;",
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
        "from ._record import Record",
        "from ._values import NoTime, YearMonth, ZeroDate, ZeroMonth",
        "",
        "__all__ = [",
    ]
    class_names = sorted(
        [*CLASS_NAMES.values(), "Table6PlanV3Record", "Table6ActualV3Record", "Table7V3Record"]
    )
    out += [f"    {n!r}," for n in class_names]
    out += ["]", "", "CODE_TABLES: dict[str, CodeTable] = {"]
    for name, table in spec["code_tables"].items():
        values = tuple((str(k), str(v)) for k, v in table["values"].items())
        out.append(f"    {name!r}: CodeTable({name!r}, {table['name_ja']!r}, {values!r}),")
    out += ["}", "", ""]

    layouts_v4: list[str] = []
    layouts_v3: list[str] = []
    for interface in spec["interfaces"]:
        interface_id = interface["id"]
        columns = _columns(interface)
        class_name = CLASS_NAMES[interface_id]
        out.append(_render_class(class_name, interface, columns, "202407"))
        out.append("")
        layouts_v4.append(_render_layout(interface, columns, "202407", class_name))
        if interface_id in V3_INTERFACES:
            v3_columns = _v3_columns(interface, columns)
            v3_class = class_name
            if v3_columns is not columns:
                v3_class = class_name.replace("Record", "V3Record")
                out.append(_render_class(v3_class, interface, v3_columns, "202208"))
                out.append("")
            layouts_v3.append(_render_layout(interface, v3_columns, "202208", v3_class))

    def indent(block: str) -> str:
        return "\n".join("    " + line for line in block.splitlines())

    # Layout family (the CSVバージョン whose layouts it is) -> its layouts; the edition registry
    # (format/_editions.py) says which CSVバージョン values are read with which family.
    out.append("LAYOUT_FAMILIES: dict[str, tuple[Layout, ...]] = {")
    for family, layouts in (("202407", layouts_v4), ("202208", layouts_v3)):
        out.append(f"    {family!r}: (")
        out += [indent(indent(layout)) + "," for layout in layouts]
        out.append("    ),")
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> None:
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    OUTPUT.write_text(generate(spec), encoding="utf-8")
    # The committed file is ruff-formatted; the freshness test compares against that form.
    subprocess.run([sys.executable, "-m", "ruff", "format", str(OUTPUT)], check=True)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
