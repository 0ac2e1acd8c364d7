"""The seams hold: a made-up edition that changes a layout is one registry entry plus its
family in the data, regenerated.

A copy of the package gets edition "v4.2" (CSVバージョン 202604, layout family 202604 with one
extra column appended to 第6表 予定, file names of the v4 rule, from service month 2026-04); the
generator writes the copy's `_generated.py` from a copy of the data; a script run against the
copy reads, writes, validates and converts with it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import careplan_link as cl

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(cl.__file__).resolve().parent
DATA = ROOT / "standard" / "careplan-standard.json"
GENERATOR = ROOT / "tools" / "generate_layouts.py"
EXAMPLES = ROOT / "examples"

NEW_EDITION = """\
    Edition(
        name="v4.2",
        title_ja="第4.2版（架空）",
        csv_version="202604",
        family="202604",
        naming="v4",
        first_month=YearMonth(2026, 4),
    ),
"""

NEW_COLUMN = {
    "attribute": "new_item",
    "code_table": None,
    "kind": "free_text",
    "max_length": 20,
    "name_ja": "新項目",
    "required": False,
    "uncertain": False,
}

SCRIPT = textwrap.dedent(
    """
    import datetime
    import sys
    import warnings
    from pathlib import Path

    import attrs

    import careplan_link as cl
    from careplan_link.testing import strategies as cst

    assert cl.__file__.startswith(sys.argv[1]), cl.__file__
    unit = cl.group_units(sorted(Path(sys.argv[2]).glob("*.CSV")))[0]
    june = cl.YearMonth(2026, 6)


    def moved(month):
        # The example unit (v4.1, April 2025) moved to another service month.
        out = {}
        for name, data in unit.files.items():
            records = []
            for record in cl.parse_plan(data, name=name).records:
                changes = {}
                if getattr(record, "target_month", None) == cl.YearMonth(2025, 4):
                    changes["target_month"] = month
                day = getattr(record, "service_date", None)
                if isinstance(day, datetime.date):
                    changes["service_date"] = day.replace(year=month.year, month=month.month)
                records.append(attrs.evolve(record, **changes))
            new_name = name.replace("_202504_", f"_{month}_")
            out[new_name] = cl.write_file(records, new_name)
        return cl.Bundle.from_files(out)


    def codes(bundle):
        return sorted({i.code for i in cl.validate(bundle).issues})


    # The registry and the layouts know the edition.
    layout = cl.LAYOUTS[("table6_plan", "202604")]
    assert layout.column_count == cl.LAYOUTS[("table6_plan", "202407")].column_count + 1
    assert layout.record_type.__name__ == "Table6PlanV202604Record"
    assert cl.LAYOUTS[("table7", "202604")].record_type is cl.Table7Record  # same columns
    assert cl.EDITIONS.for_month(june).csv_version == "202604"
    assert cl.KNOWN_CSV_VERSIONS["202604"] == "202604"
    assert cl.CSV_VERSION_CURRENT == "202407"  # the current edition is named, not the newest

    # A v4.1 unit of June 2026 carries the wrong value for its month; converting it up fixes it.
    old = moved(june)
    assert codes(old) == ["version.month"], codes(old)
    up = cl.convert(old, to="202604")
    assert up.lost == () and {f.csv_version for f in up.files} == {"202604"}
    assert codes(up.bundle) == [], codes(up.bundle)
    plan = next(f for f in up.files if f.layout.id == "table6_plan")
    assert plan.layout is layout and {type(r) for r in plan.records} == {layout.record_type}

    # Write the new item, read it back: 26 items on every line, the same records.
    records = [attrs.evolve(r, new_item="新しい値") for r in plan.records]
    name = str(plan.name)
    data = cl.write_file(records, name)
    assert all(line.count(b",") == 25 for line in data.splitlines())
    read = cl.parse_plan(data, name=name)
    assert read.layout is layout and list(read.records) == records
    files = {**up.bundle.files, name: data}
    assert codes(cl.Bundle.from_files(files)) == [], codes(cl.Bundle.from_files(files))

    # Going back to 202407 drops the new item (reported) and is refused for the month.
    try:
        cl.convert(read, to="202407")
    except cl.FormatError as error:
        assert {i.code for i in error.issues} == {"convert.month"}
    else:
        raise AssertionError("converting June 2026 to 202407 was not refused")
    down = cl.convert(read, to="202407", allow_month_mismatch=True)
    lost = sorted({(i.code, i.column) for i in down.lost})
    assert lost == [("convert.lost", 26), ("convert.month", None)], lost
    assert type(down.file.records[0]) is cl.Table6PlanRecord

    # 202604 written in March 2026 (before the edition) is reported.
    march = cl.convert(moved(cl.YearMonth(2026, 3)), to="202604", allow_month_mismatch=True)
    assert codes(march.bundle) == ["version.month"], codes(march.bundle)

    # The strategies draw files of the new family in its months, with v4 names.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drawn = cst.csv_files("table6_plan", "202604").example()
    assert drawn.layout is layout and drawn.name.naming == "v4"
    assert drawn.name.service_month >= cl.YearMonth(2026, 4)
    issues = cl.validate({str(drawn.name): drawn.to_bytes()}).issues
    assert all(i.code.startswith("unit.") for i in issues), issues
    print("ok")
    """
)


def _with_new_family(data: dict[str, object]) -> dict[str, object]:
    """The data with family 202604: the current family's layouts, one column added to 第6表."""
    families = data["layout_families"]
    assert isinstance(families, list)
    (current,) = [f for f in families if f["family"] == cl.CSV_VERSION_CURRENT]
    family = copy.deepcopy(current)
    family.update(family="202604", class_suffix="V202604", edition="v4.2")
    (table6,) = [i for i in family["interfaces"] if i["id"] == "table6_plan"]
    table6["columns"].append({**NEW_COLUMN, "no": len(table6["columns"]) + 1})
    return {**data, "layout_families": [*families, family]}


def test_a_new_edition_with_a_new_layout_reads_writes_validates_and_converts(
    tmp_path: Path,
) -> None:
    package = tmp_path / "careplan_link"
    shutil.copytree(SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    # The one registry entry.
    editions = package / "format" / "_editions.py"
    text = editions.read_text(encoding="utf-8")
    end = "\n)\n\nEDITIONS = Editions("
    assert text.count(end) == 1
    editions.write_text(text.replace(end, "\n" + NEW_EDITION + end[1:]), encoding="utf-8")
    # The family in a copy of the data, generated into the copy of the package.
    data = tmp_path / "standard.json"
    original = json.loads(DATA.read_text(encoding="utf-8"))
    data.write_text(json.dumps(_with_new_family(original), ensure_ascii=False), encoding="utf-8")
    generated = package / "format" / "_generated.py"
    argv = [sys.executable, str(GENERATOR), "--data", str(data), "--output", str(generated)]
    made = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr
    assert "Table6PlanV202604Record" in generated.read_text(encoding="utf-8")

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(EXAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
