"""The edition registry: its lookups, its refusals, that it is the one place that knows
CSVバージョン values, and that a new edition is one entry."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import careplan_link as cl
from careplan_link import (
    CSV_VERSION_CURRENT,
    CSV_VERSION_V3,
    EDITIONS,
    KNOWN_CSV_VERSIONS,
    LAYOUTS,
    AcceptedValue,
    Edition,
    Editions,
    ValueMeaning,
    YearMonth,
    convert,
    parse_plan,
    validate,
)
from careplan_link.format._generated import LAYOUT_FAMILIES

from .unitfiles import name_of, plan_unit

SRC = Path(cl.__file__).resolve().parent
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DATA = Path(__file__).resolve().parents[2] / "standard" / "careplan-standard.json"


def test_public_names_are_derived_from_the_registry() -> None:
    assert CSV_VERSION_CURRENT == EDITIONS.current.csv_version == "202407"
    assert CSV_VERSION_V3 == EDITIONS["v3"].csv_version == "202208"
    # The values and start months the package had before the registry, unchanged.
    assert dict(KNOWN_CSV_VERSIONS) == {
        "201910": "202003",
        "202003": "202010",
        "202208": "202301",
        "202504": "202504",
        "202407": "202504",
    }


def test_every_edition_has_generated_layouts_and_every_family_an_edition() -> None:
    assert {e.family for e in EDITIONS} == set(LAYOUT_FAMILIES)
    for family in LAYOUT_FAMILIES:
        edition = EDITIONS.for_family(family)
        assert edition.family == family
        assert edition.csv_version == family  # a family is named after its edition's value
    assert EDITIONS.families[0] == EDITIONS.current.family
    with pytest.raises(KeyError):
        EDITIONS.for_family("209901")


def test_the_registry_agrees_with_the_standards_data() -> None:
    """The registry states the editions; the project's data of the standard lists the values
    and families the transcription gives: the two must not drift."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    versions = data["csv_versions"]
    assert versions["current"] == EDITIONS.current.csv_version
    assert versions["current_applies_from"] == str(EDITIONS.current.first_month)
    first: dict[str, str] = {}
    for row in versions["history"]:
        value = row["csv_version"]
        first[value] = min(first.get(value, row["applies_from"]), row["applies_from"])
        assert EDITIONS.family_of(value) == row["layout_family"], value
    assert first == dict(KNOWN_CSV_VERSIONS)
    for row in versions["body_history"]:  # incl. 201905, the first edition's name in the text
        assert EDITIONS.by_value(row["csv_version"]) is not None, row
        assert EDITIONS.family_of(row["csv_version"]) == row["layout_family"], row
    # The data's naming keys are its file-name sections (v4_1, v3_x): the rule is the prefix.
    naming = {f["family"]: f["naming"].split("_")[0] for f in data["layout_families"]}
    assert naming == {e.family: e.naming for e in EDITIONS}


def test_values_read_as_each_edition() -> None:
    expected = {
        "201905": ("v1", ValueMeaning.EDITION_NAME, "202208"),
        "201910": ("v1", ValueMeaning.WRITTEN, "202208"),
        "202003": ("v2", ValueMeaning.WRITTEN, "202208"),
        "202206": ("v3", ValueMeaning.EDITION_NAME, "202208"),
        "202208": ("v3", ValueMeaning.WRITTEN, "202208"),
        "202407": ("v4.1", ValueMeaning.WRITTEN, "202407"),
        "202504": ("v4.1", ValueMeaning.SUPERSEDED, "202407"),
        "202410": ("v4.1", ValueMeaning.SLIP, "202407"),
        "202404": ("v4.1", ValueMeaning.SLIP, "202407"),
    }
    for value, (name, meaning, family) in expected.items():
        edition = EDITIONS.by_value(value)
        accepted = EDITIONS.accepted(value)
        assert edition is not None and accepted is not None, value
        assert (edition.name, accepted.meaning, EDITIONS.family_of(value)) == (
            name,
            meaning,
            family,
        )
    assert EDITIONS["v4.1"].supersedes == ("202504",)
    assert EDITIONS.is_written("202407") and not EDITIONS.is_written("202504")
    # Unknown values: no edition, read with the current layouts.
    for unknown in ("209912", "2024/07", "", None):
        assert EDITIONS.by_value(unknown) is None
        assert EDITIONS.family_of(unknown) == "202407"
    assert EDITIONS.accepted("209912") is None


def test_service_months_of_each_edition() -> None:
    cases = {
        YearMonth(2019, 1): "201910",  # before every edition: the oldest
        YearMonth(2020, 3): "201910",
        YearMonth(2020, 9): "201910",
        YearMonth(2020, 10): "202003",
        YearMonth(2022, 12): "202003",
        YearMonth(2023, 1): "202208",
        YearMonth(2025, 3): "202208",
        YearMonth(2025, 4): "202407",
        YearMonth(2099, 12): "202407",
    }
    for month, value in cases.items():
        assert EDITIONS.for_month(month).csv_version == value, month
    assert EDITIONS.months(EDITIONS["v1"]) == (YearMonth(2020, 3), YearMonth(2020, 9))
    assert EDITIONS.months(EDITIONS["v2"]) == (YearMonth(2020, 10), YearMonth(2022, 12))
    assert EDITIONS.months(EDITIONS["v4.1"]) == (YearMonth(2025, 4), None)


def test_naming_rules_go_with_families() -> None:
    assert EDITIONS.for_naming("v4") is EDITIONS.current
    assert EDITIONS.for_naming("v3") is EDITIONS["v3"]
    assert {(e.family, e.naming) for e in EDITIONS} == {("202407", "v4"), ("202208", "v3")}
    with pytest.raises(KeyError):
        EDITIONS.for_naming("v5")
    v3_name = cl.FileName.parse("UPPLAN_202005_1370100016_1370200022_20200425093000.CSV")
    assert EDITIONS.for_name(v3_name) is EDITIONS["v1"]  # its month's edition, v3 names
    v4_name = cl.FileName.parse("UPPLAN_202005_1370100016_43_1370200022_11_20200425093000.CSV")
    assert EDITIONS.for_name(v4_name) is EDITIONS.current  # no v4 edition then: the latest


def _edition(name: str, value: str, family: str = "202407", **more: object) -> Edition:
    fields: dict[str, object] = {
        "name": name,
        "title_ja": name,
        "csv_version": value,
        "family": family,
        "naming": "v4",
        "first_month": YearMonth(2030, 1),
        **more,
    }
    return Edition(**fields)  # type: ignore[arg-type]


def test_the_registry_refuses_contradictions() -> None:
    base = tuple(EDITIONS)
    with pytest.raises(ValueError, match="202407 is in two editions"):
        Editions((*base, _edition("v9", "202407")), current="v4.1")
    slip = AcceptedValue("202208", ValueMeaning.SLIP, "x", "x")
    with pytest.raises(ValueError, match="202208 is in two editions"):
        Editions((*base, _edition("v9", "203001", also_accepts=(slip,))), current="v4.1")
    with pytest.raises(ValueError, match="share a name"):
        Editions((*base, _edition("v4.1", "203001")), current="v4.1")
    with pytest.raises(ValueError, match="two naming rules"):
        Editions((*base, _edition("v9", "203001", family="202208")), current="v4.1")
    with pytest.raises(KeyError):
        Editions(base, current="v9")
    # The same editions in another order make the same registry (ordered by first month).
    assert list(Editions(tuple(reversed(base)), current="v4.1")) == list(base)


def test_convert_goes_to_an_older_edition_of_the_same_layouts() -> None:
    files = plan_unit()
    table1 = name_of(files, "UP1KYO")
    down = convert(parse_plan(files[table1], name=table1), to="201910").file
    assert down.csv_version == "201910" and down.name.naming == "v3"
    assert {r.csv_version for r in down.records} == {"201910"}
    assert down.layout is LAYOUTS[("table1", "202208")]
    issues = validate({str(down.name): down.to_bytes()}).issues
    assert not [i for i in issues if i.code.startswith("version.")], issues


# -- no other module knows CSVバージョン values --------------------------------------------------

_OWNERS = {"_editions.py", "_generated.py"}


def _version_literals(source: str) -> list[tuple[int, str]]:
    """String constants that are a bare CSVバージョン value (six digits), and comparisons with a
    naming rule, outside docstrings and messages (messages are longer strings)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Constant | ast.Compare):
            continue
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, str) and len(value) == 6 and value.isdigit() and value[:2] == "20":
            found.append((node.lineno, value))
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.Constant) and operand.value in ("v3", "v4"):
                    found.append((node.lineno, str(operand.value)))
    return found


def test_the_scanner_finds_planted_literals() -> None:
    planted = 'x = "202407"\nif name.naming == "v3":\n    pass\nmessage = "202407 と 202208"\n'
    assert _version_literals(planted) == [(1, "202407"), (2, "v3")]


def test_no_module_but_the_registry_knows_version_values() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name in _OWNERS:
            continue
        found = _version_literals(path.read_text(encoding="utf-8"))
        if found:
            offenders[str(path.relative_to(SRC))] = found
    assert offenders == {}


# -- a new edition is one entry ---------------------------------------------------------------

_NEW_EDITION = """\
    Edition(
        name="v4.2",
        title_ja="第4.2版（仮）",
        csv_version="202604",
        family="202407",
        naming="v4",
        first_month=YearMonth(2026, 4),
    ),
"""

_SCRIPT = textwrap.dedent(
    """
    import datetime
    import sys
    from pathlib import Path

    import attrs

    import careplan_link as cl

    assert cl.__file__.startswith(sys.argv[1]), cl.__file__
    unit = cl.group_units(sorted(Path(sys.argv[2]).glob("*.CSV")))[0]


    def moved(version, month):
        out = {}
        for name, data in unit.files.items():
            records = []
            for record in cl.parse_plan(data, name=name).records:
                changes = {"csv_version": version}
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


    june = cl.YearMonth(2026, 6)
    assert cl.KNOWN_CSV_VERSIONS["202604"] == "202604"
    assert cl.EDITIONS.for_month(june).csv_version == "202604"
    new = moved("202604", june)
    file = cl.parse_plan(next(iter(new.files.values())), name=next(iter(new.files)))
    assert file.csv_version == "202604" and file.layout.csv_version == "202407"
    assert codes(new) == [], codes(new)
    old = moved("202407", june)
    assert codes(old) == ["version.month"], codes(old)
    assert codes(moved("202604", cl.YearMonth(2026, 3))) == ["version.month"]
    up = cl.convert(old, to="202604")
    assert {f.csv_version for f in up.files} == {"202604"} and codes(up.bundle) == []
    try:
        cl.convert(new, to="202407")
    except cl.FormatError as error:
        assert {i.code for i in error.issues} == {"convert.month"}
    else:
        raise AssertionError("converting June 2026 to 202407 was not refused")
    print("ok")
    """
)


def test_an_edition_that_changes_only_the_value_is_one_entry(tmp_path: Path) -> None:
    package = tmp_path / "careplan_link"
    shutil.copytree(SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    editions = package / "format" / "_editions.py"
    text = editions.read_text(encoding="utf-8")
    end = "\n)\n\nEDITIONS = Editions("
    assert text.count(end) == 1
    editions.write_text(text.replace(end, "\n" + _NEW_EDITION + ")\n\nEDITIONS = Editions("))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), str(EXAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
