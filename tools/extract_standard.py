"""Extract the standard's facts from the transcription into the project's own data file.

Usage: python tools/extract_standard.py [path/to/careplan-csv-spec.json] [--output PATH]

The transcription (`../shared/spec/careplan-csv-spec.json`) lives outside the repository; the
facts the package needs are copied from it, with their sources, into
`standard/careplan-standard.json` (schema in `standard/README.md`), which is committed.
`tools/generate_layouts.py` reads only that file. `tests/format/test_standard_data.py` runs this
extractor whenever the transcription is present and compares its output with the committed file,
so the two cannot drift.

The project's own decisions (attribute names, record class names, where the transcription is
uncertain) are applied here, each marked with a `decision` note pointing to docs/decisions.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attribute_names import ATTRIBUTE_NAMES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "spec" / "careplan-csv-spec.json"
DEFAULT_OUTPUT = ROOT / "standard" / "careplan-standard.json"
SPEC_NAME = "shared/spec/careplan-csv-spec.json"

FORMAT_VERSION = 1

# Record class names (public API) of the current family; another family's class for an interface
# whose columns differ carries that family's class suffix before "Record".
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

# The layout families the package reads and writes: the transcription's full v4.1 layouts and
# the v3.2 layouts it describes as differences from them.
FAMILIES = (
    {
        "family": "202407",
        "class_suffix": "",
        "edition": "v4.1",
        "available_in": "v4.x",
        "naming": "v4_1",
    },
    {
        "family": "202208",
        "class_suffix": "V3",
        "edition": "v3.2",
        "available_in": "v3.x",
        "naming": "v3_x",
    },
)

# No.1 of every record is read as the CSVバージョン (a 6-digit string kept as written).
DECISION_CSV_VERSION_KIND = "docs/decisions.md#layouts: No.1 is kind csv_version"
# Where the transcription is uncertain about a length, accept the longest the standard might allow.
LENGTH_DECISIONS = {
    ("table7", 30): (
        5,
        "docs/decisions.md#layouts: 第7表 No.30 前月までの利用日数: the v4.1 OCR says 2, the v3.2 "
        "change note says it grew to 5; a conforming sender may write 5 digits.",
    ),
}
DECISION_OLD_EDITIONS = (
    "docs/decisions.md#layouts: editions before v4 are read with the v3.2 layouts (the "
    "transcription has no older layouts; they differ only in lengths the v3.2 layouts accept)."
)
DECISION_SPECIAL_VALUE_COLUMNS = (
    "docs/decisions.md#csv: special values are read in any column of their kind; validation "
    "accepts them only in the columns listed here."
)
DECISION_V3_LENGTH_TEXT = (
    "docs/decisions.md#layouts: a v3 length the transcription gives as text ('5 in v3.2 (2 in "
    "v3.0/3.1)') is read as its v3.2 value, the edition of the 202208 family."
)


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"extract_standard: {message}")


def _month(text: str) -> str:
    """`2025-04` → `202504`."""
    if not re.fullmatch(r"\d{4}-\d{2}", text):
        _fail(f"unexpected month {text!r}")
    return text.replace("-", "")


def _columns(interface: dict[str, Any]) -> list[dict[str, Any]]:
    interface_id = interface["id"]
    names = ATTRIBUTE_NAMES[interface_id]
    columns = interface["columns"]
    if len(names) != len(columns) or len(columns) != interface["column_count"]:
        _fail(f"{interface_id}: {len(names)} names for {len(columns)} columns")
    if len(set(names)) != len(names):
        _fail(f"{interface_id}: duplicate attribute names")
    result = []
    for no, (name, column) in enumerate(zip(names, columns, strict=True), start=1):
        if column["no"] != no:
            _fail(f"{interface_id}: column {column['no']} out of order")
        codes = column.get("codes") or {}
        entry: dict[str, Any] = {
            "no": no,
            "name_ja": column["name_ja"],
            "attribute": name,
            "kind": str(column["type"]),
            "max_length": column.get("max_length"),
            "required": bool(column.get("required")),
            "code_table": codes.get("table") if codes else None,
            "uncertain": bool(column.get("uncertain")),
        }
        if no == 1:
            entry["kind"] = "csv_version"
            entry["decision"] = DECISION_CSV_VERSION_KIND
        if (interface_id, no) in LENGTH_DECISIONS:
            entry["max_length"], entry["decision"] = LENGTH_DECISIONS[(interface_id, no)]
        result.append(entry)
    return result


def _v3_columns(interface: dict[str, Any], columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The v3 columns: the v4.1 ones minus the documented differences, renumbered."""
    differences = interface.get("v3_differences")
    if not differences:
        return columns
    removed = set(differences["removed_in_v3"])
    lengths = differences.get("v3_length_overrides") or {}
    kept = [dict(c) for c in columns if c["no"] not in removed]
    for no, column in enumerate(kept, start=1):
        column["no"] = no
        length = lengths.get(column["name_ja"])
        if isinstance(length, int):
            column["max_length"] = length
        elif isinstance(length, str):
            match = re.match(r"(\d+) in v3\.2\b", length)
            if not match:
                _fail(f"{interface['id']}: v3 length {length!r} not understood")
            column["max_length"] = int(match.group(1))
            column["decision"] = DECISION_V3_LENGTH_TEXT
    if len(kept) != differences["v3_column_count"]:
        _fail(f"{interface['id']}: v3 has {len(kept)} columns")
    return kept


def _renumber(numbers: list[int], interface: dict[str, Any], v3: bool) -> list[int]:
    """Key column numbers of the v4.1 layout, as numbered in the v3 layout."""
    if not v3 or not interface.get("v3_differences"):
        return numbers
    removed = set(interface["v3_differences"]["removed_in_v3"])
    if removed & set(numbers):
        _fail(f"{interface['id']}: a key column is removed in v3")
    return [n - sum(1 for r in removed if r < n) for n in numbers]


def _interface(interface: dict[str, Any], family: dict[str, str]) -> dict[str, Any]:
    v3 = family["naming"] == "v3_x"
    columns = _columns(interface)
    if v3:
        columns = _v3_columns(interface, columns)
    keys = interface["key_columns"]
    if isinstance(keys, dict):  # 利用者補足情報: the key depends on the parent
        key_columns = sorted({n for k in keys.values() for n in k})
    else:
        key_columns = list(keys)
    pattern = interface["file_name"]["v4_1"]["pattern"]
    source: dict[str, Any] = {
        "documents": interface["source"],
        "transcription": f"interfaces[id={interface['id']}]",
    }
    if v3 and interface.get("v3_differences"):
        source["derived_by"] = f"interfaces[id={interface['id']}].v3_differences"
        source["uncertain"] = bool(interface["v3_differences"].get("uncertain"))
    return {
        "id": interface["id"],
        "name_ja": interface["name_ja"],
        "prefix": interface["file_name"]["prefix"],
        "class_name": CLASS_NAMES[interface["id"]],
        "key_columns": _renumber(key_columns, interface, v3),
        "has_month": "{service_month:6}" in pattern or "{target_month:6}" in pattern,
        "source": source,
        "columns": columns,
    }


def _families(spec: dict[str, Any]) -> list[dict[str, Any]]:
    families = []
    for family in FAMILIES:
        interfaces = [
            _interface(i, family)
            for i in spec["interfaces"]
            if family["available_in"] in i["available_in"]
        ]
        families.append(
            {
                "family": family["family"],
                "class_suffix": family["class_suffix"],
                "edition": family["edition"],
                "naming": family["naming"],
                "source": {
                    "transcription": "spec_versions_covered, interfaces[].available_in",
                    "documents": ["S1", "S2"] if family["naming"] == "v4_1" else ["S1", "S2", "S3"],
                },
                "interfaces": interfaces,
            }
        )
    return families


def _code_tables(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "name_ja": table["name_ja"],
            "source": {"documents": table["source"], "transcription": f"code_tables.{name}"},
            "values": [[str(k), str(v)] for k, v in table["values"].items()],
        }
        for name, table in spec["code_tables"].items()
    ]


def _file_names(spec: dict[str, Any]) -> dict[str, Any]:
    naming = spec["file_naming_common"]
    per_interface: dict[str, dict[str, Any]] = {}
    for interface in [*spec["interfaces"], *spec["attachments"]]:
        entry: dict[str, Any] = {"prefix": interface["file_name"]["prefix"]}
        for rule in ("v4_1", "v3_x"):
            if rule in interface["file_name"]:
                given = interface["file_name"][rule]
                entry[rule] = {
                    "pattern": given["pattern"],
                    "regex": given["regex"],
                    "source": given.get("source"),
                }
        per_interface[interface["id"]] = entry
    return {
        "source": {"transcription": "file_naming_common, interfaces[].file_name"},
        "rules": {"v4_1": naming["v4_1"], "v3_x": naming["v3_x"]},
        "prefixes": {p: i.split(" ")[0] for p, i in naming["prefixes"].items()},
        "prefix_matching": naming["prefix_matching_note"],
        "interfaces": per_interface,
    }


def _units(spec: dict[str, Any]) -> dict[str, Any]:
    units = spec["transmission_units"]
    return {
        "source": {"transcription": "transmission_units", "documents": ["S2"]},
        "rule": units["rule"],
        "v4_1_kyotaku_from_care_office": units["v4_1_kyotaku"]["from_care_office"],
        "v4_1_kyotaku_from_provider": units["v4_1_kyotaku"]["from_provider"],
        "v4_1_yobo": units["v4_1_yobo"],
        "v4_1_yobo_note": units["v4_1_yobo_note"],
        "v3_x": units["v3_x"],
    }


def _relations(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": {"transcription": "relations", "documents": ["S1", "S2"]},
        "relations": spec["relations"],
    }


def _scope(spec: dict[str, Any]) -> dict[str, Any]:
    scope = spec["service_type_scope"]
    lists = {k: sorted(v) for k, v in scope.items() if k.endswith("_scope") and isinstance(v, list)}
    return {
        "source": {"transcription": "service_type_scope", "documents": [scope["source"]]},
        "uncertain": bool(scope.get("uncertain")),
        "rule": scope["rule"],
        "scope": lists,
        "names": dict(scope["names"]),
    }


def _column_no(spec: dict[str, Any], interface_id: str, name_ja: str) -> list[int]:
    interface = next(i for i in spec["interfaces"] if i["id"] == interface_id)
    found = [c["no"] for c in interface["columns"] if c["name_ja"] == name_ja]
    if not found:
        _fail(f"{interface_id}: no column {name_ja!r}")
    return found


def _special_values(spec: dict[str, Any]) -> dict[str, Any]:
    given = spec["special_values"]
    table7_codes = [re.match(r"\{type2\}(\w{4}) ", c) for c in given["table7_subtotal_codes"]]
    if not all(table7_codes):
        _fail("table7_subtotal_codes not understood")
    start = _column_no(spec, "table6_plan", "サービス開始時刻")
    end = _column_no(spec, "table6_plan", "サービス終了時刻")
    return {
        "source": {"transcription": "special_values", "documents": ["S1"]},
        "zero_date": {
            "value": given["supplement_no4_for_table6"],
            "columns": [["supplement", 4]],
            "note": "利用者補足情報 No.4 of a supplement that belongs to a 第6表",
            "decision": DECISION_SPECIAL_VALUE_COLUMNS,
        },
        "zero_month": {
            "value": given["supplement_no63_for_table1"],
            "columns": [["supplement", 63]],
            "file_name_month": given["supplement_filename_month_for_plan"],
            "note": "利用者補足情報 No.63 (and the file-name month) of a supplement of a plan",
            "decision": DECISION_SPECIAL_VALUE_COLUMNS,
        },
        "no_time": {
            "value": given["table6_time_without_display"],
            "columns": [[i, n] for i in ("table6_plan", "table6_actual") for n in start + end],
            "note": "第6表 start/end time of a service without time display",
            "decision": DECISION_SPECIAL_VALUE_COLUMNS,
        },
        "table7_subtotal_suffixes": [m.group(1) for m in table7_codes if m],
        "table7_grand_total_service_code": given["table7_grand_total_service_code"],
        "table7_grand_total_office_code": given["table7_grand_total_office_code"],
        "seiho_tandoku_insured_no": given["seiho_tandoku_insured_no"],
    }


def _edition_family(edition: str) -> str:
    """The layout family an edition's files are read with: v4 and later with the v4.1 layouts,
    older editions with the v3.2 ones (`DECISION_OLD_EDITIONS`)."""
    match = re.match(r"第(\d+(?:\.\d+)?)版", edition)
    number = float(match.group(1)) if match else 1.0 if edition.startswith("初版") else None
    if number is None:
        _fail(f"edition {edition!r} not understood")
    return FAMILIES[0]["family"] if number >= 4 else FAMILIES[1]["family"]


def _csv_versions(spec: dict[str, Any]) -> dict[str, Any]:
    versions = spec["csv_version"]
    history = [
        {
            "csv_version": entry["csv_version"],
            "applies_from": _month(entry["applies_from"]),
            "edition": entry["edition"],
            "layout_family": _edition_family(entry["edition"]),
        }
        for entry in versions["history_from_layout_S1"]
    ]
    return {
        "source": {"transcription": "csv_version", "documents": ["S1", "S2"]},
        "current": versions["current_value"],
        "current_applies_from": _month(versions["applies_from_service_month"]),
        "previous": versions["previous_value"],
        "rule": versions["rule"],
        "history": history,
        "history_decision": DECISION_OLD_EDITIONS,
        "body_history": [
            {
                "csv_version": e["version"],
                "edition": e["no"],
                "date": e["date"],
                "layout_family": _edition_family(f"第{e['no']}版"),
            }
            for e in versions["history_from_body_S2"]
        ],
        "uncertain": bool(versions.get("uncertain")),
        "uncertain_reason": versions.get("uncertain_reason"),
    }


def extract(spec: dict[str, Any], spec_bytes: bytes) -> dict[str, Any]:
    """The project's data file (as a JSON-ready dict) from the transcription."""
    return {
        "format": FORMAT_VERSION,
        "generated_by": "tools/extract_standard.py",
        "transcription": {
            "file": SPEC_NAME,
            "sha256": hashlib.sha256(spec_bytes).hexdigest(),
            "title": spec["title"],
            "sources": {k: v["what"] for k, v in spec["sources"].items()},
        },
        "csv_versions": _csv_versions(spec),
        "code_tables": _code_tables(spec),
        "layout_families": _families(spec),
        "file_names": _file_names(spec),
        "transmission_units": _units(spec),
        "relations": _relations(spec),
        "service_types": _scope(spec),
        "special_values": _special_values(spec),
    }


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def dumps(value: Any, indent: str = "") -> str:
    """Stable, diff-friendly JSON: sorted keys, one line per container of scalars."""
    if _is_scalar(value) or (
        isinstance(value, dict | list)
        and all(_is_scalar(v) for v in (value.values() if isinstance(value, dict) else value))
    ):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    inner = indent + "  "
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(value[k], inner)}"
            for k in sorted(value)
        ]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    items = [f"{inner}{dumps(v, inner)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        _fail(f"no transcription at {args.spec}")
    spec_bytes = args.spec.read_bytes()
    data = extract(json.loads(spec_bytes.decode("utf-8")), spec_bytes)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dumps(data) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
