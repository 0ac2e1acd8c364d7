"""Validation of what is given: misnamed files, folders, lists, collisions, nothing to send.

Each misnamed file also carries a fault in its content, planted where only a content check
finds it: a misnamed file must still have its content checked, so one run shows everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from careplan_link import Issue, ValidationReport, validate

from .unitfiles import edit, name_of, plan_unit, schedule_unit

PLAN_NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"


def found(report: ValidationReport, code: str, file: str | None = None) -> list[Issue]:
    return [i for i in report.issues if i.code == code and (file is None or i.file == file)]


def plan_with_bad_date() -> bytes:
    """The example 第6表 with サービス利用日 20250431 on record 5 (column 10)."""
    return edit(schedule_unit(), "UPPLAN", 5, 10, "20250431")[PLAN_NAME]


def table1_with_bad_date() -> bytes:
    """The plan unit's 第1表 with 作成年月日 20250231 (column 4)."""
    files = plan_unit()
    return edit(files, "UP1KYO", 1, 4, "20250231")[name_of(files, "UP1KYO")]


# (misnamed file, its content, name issue code, words of its message, record of the fault)
MISNAMED = [
    # the cases of the issue: a lost leading zero, a v4.1 name without receiver, an empty
    # receiver, a browser's duplicate suffix
    ("UPPLAN_202504_1370100016_43_137020002_11_20250325093000.CSV", plan_with_bad_date,
     "name.office_no", "leading zero", 5),
    ("UP1KYO_1370100016_43_20250425173000.csv", table1_with_bad_date,
     "name.fields", "lacks the receiver office number and receiver service type", 1),
    ("UPJSK_202504_1370200022_11__43_20250325093000.CSV", plan_with_bad_date,
     "name.empty_field", "receiver office number field of the file name is empty", 5),
    ("UPJSK_202504_1370200022_11_1370100016_43_20250325093000 (1).CSV", plan_with_bad_date,
     "name.copy_suffix", "' (1)'", 5),
    # a prefix one edit away, followed by the standard's fields; a lower-case prefix
    ("UPPLNA_202504_1370100016_43_1370200022_11_20250325093000.CSV", plan_with_bad_date,
     "name.prefix", "did you mean UPPLAN?", 5),
    ("upplan_202504_1370100016_43_1370200022_11_20250325093000.csv", plan_with_bad_date,
     "name.prefix", "upper case", 5),
]  # fmt: skip


def assert_misnamed_and_checked(
    report: ValidationReport, name: str, code: str, words: str, record: int
) -> None:
    issues = found(report, code, name)
    assert issues, [str(i) for i in report.issues]
    assert issues[0].severity == "error" and words in issues[0].message_en
    assert not report.ok and name in report.files
    # its content was checked against the layout its prefix names
    (date,) = found(report, "value.yyyymmdd", name)
    assert date.record == record and date.value in ("20250431", "20250231")
    # the valid unit beside it is untouched: the misnamed file takes no part in unit checks
    assert len(report.units) == 1 and len(report.units[0].files) == 3
    assert not [i for i in report.issues if i.code.startswith("unit.")]


@pytest.mark.parametrize(("name", "content", "code", "words", "record"), MISNAMED)
def test_misnamed_file_in_a_folder_is_an_error_and_still_checked(
    tmp_path: Path, name: str, content: object, code: str, words: str, record: int
) -> None:
    for good, data in schedule_unit().items():
        (tmp_path / good).write_bytes(data)
    assert callable(content)
    (tmp_path / name).write_bytes(content())
    report = validate(tmp_path)
    assert_misnamed_and_checked(report, name, code, words, record)
    assert not found(report, "file.not_standard")


@pytest.mark.parametrize(("name", "content", "code", "words", "record"), MISNAMED)
def test_misnamed_file_in_a_list_or_mapping_is_the_same(
    tmp_path: Path, name: str, content: object, code: str, words: str, record: int
) -> None:
    assert callable(content)
    files = {**schedule_unit(), name: content()}
    assert_misnamed_and_checked(validate(files), name, code, words, record)
    for each, data in files.items():
        (tmp_path / each).write_bytes(data)
    listed = validate(sorted(tmp_path.iterdir()))
    assert_misnamed_and_checked(listed, name, code, words, record)


def test_lower_case_extension_is_a_warning_and_an_error_when_strict(tmp_path: Path) -> None:
    files = schedule_unit()
    lower = PLAN_NAME.replace(".CSV", ".csv")
    files[lower] = files.pop(PLAN_NAME)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    report = validate(tmp_path)
    (issue,) = report.issues
    assert (issue.code, issue.severity, issue.file, issue.value) == (
        "name.extension_case",
        "warning",
        lower,
        ".csv",
    )
    assert report.ok and len(report.units) == 1 and lower in report.units[0].files
    strict = validate(tmp_path, strict=True)
    assert [(i.code, i.severity) for i in strict.issues] == [("name.extension_case", "error")]
    assert not strict.ok


def test_unrelated_names_warn_debris_is_silent_subfolders_are_not_descended(
    tmp_path: Path,
) -> None:
    for name, data in schedule_unit().items():
        (tmp_path / name).write_bytes(data)
    for debris in ("Thumbs.db", "desktop.ini", "~$UPPLAN.xlsx", ".DS_Store", "._" + PLAN_NAME,
                   "." + PLAN_NAME + ".part"):  # fmt: skip
        (tmp_path / debris).write_bytes(b"\x00\x01")
    (tmp_path / "readme.txt").write_text("notes")
    (tmp_path / "UPPLAN_notes.zip").write_bytes(b"PK")
    sub = tmp_path / "sent"
    sub.mkdir()
    (sub / PLAN_NAME).write_bytes(plan_with_bad_date())
    report = validate(tmp_path)
    assert report.ok
    assert sorted((i.code, i.severity, i.file) for i in report.issues) == [
        ("file.not_standard", "warning", "UPPLAN_notes.zip"),
        ("file.not_standard", "warning", "readme.txt"),
    ]
    assert len(report.files) == 3


def test_debris_given_by_name_is_ignored_too(tmp_path: Path) -> None:
    (tmp_path / "Thumbs.db").write_bytes(b"\x00")
    (tmp_path / PLAN_NAME).write_bytes(schedule_unit()[PLAN_NAME])
    report = validate([tmp_path / "Thumbs.db", tmp_path / PLAN_NAME])
    assert report.files == (PLAN_NAME,)
    assert {i.code for i in report.issues} == {"unit.missing_file"}


def test_nothing_to_send_is_an_error(tmp_path: Path) -> None:
    empty = validate(tmp_path)
    (issue,) = empty.issues
    assert (issue.code, issue.severity, issue.file) == ("file.none", "error", None)
    assert not empty.ok and empty.files == ()
    (tmp_path / "readme.txt").write_text("notes")
    (tmp_path / "Thumbs.db").write_bytes(b"\x00")
    unrelated = validate(tmp_path)
    assert sorted(i.code for i in unrelated.issues) == ["file.none", "file.not_standard"]
    assert not unrelated.ok
    assert found(validate({}), "file.none") and not validate({}).ok
    assert found(validate([tmp_path / "Thumbs.db"]), "file.none")
    # a folder of misnamed files has something to send: their own errors say what is wrong
    (tmp_path / PLAN_NAME.replace(".CSV", " (1).CSV")).write_bytes(b"")
    assert not found(validate(tmp_path), "file.none")


def test_names_differing_only_in_case_are_an_error(tmp_path: Path) -> None:
    files = schedule_unit()
    lower = PLAN_NAME.replace(".CSV", ".csv")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / lower).write_bytes(plan_with_bad_date())
    report = validate(tmp_path)
    (collision,) = found(report, "file.case_collision")
    assert (collision.severity, collision.file, collision.value) == ("error", lower, PLAN_NAME)
    assert PLAN_NAME in collision.message_en  # says which one the unit checks used
    # both are checked alone; the unit holds the first only
    assert found(report, "value.yyyymmdd", lower)
    assert not found(report, "value.yyyymmdd", PLAN_NAME)
    (unit,) = report.units
    assert PLAN_NAME in unit.files and lower not in unit.files
    # the same through a mapping
    mapping = validate({**files, lower: plan_with_bad_date()})
    assert found(mapping, "file.case_collision", lower) and not mapping.ok


def test_mapping_keys_that_reduce_to_one_name_are_an_error() -> None:
    files = schedule_unit()
    others = {n: d for n, d in files.items() if n != PLAN_NAME}
    good, bad = files[PLAN_NAME], plan_with_bad_date()
    report = validate({**others, f"a/{PLAN_NAME}": good, f"b/{PLAN_NAME}": bad})
    (duplicate,) = found(report, "file.duplicate")
    assert (duplicate.severity, duplicate.file, duplicate.value) == (
        "error",
        f"b/{PLAN_NAME}",
        f"b/{PLAN_NAME}",
    )
    assert f"a/{PLAN_NAME}" in duplicate.message_en  # which one the unit checks used
    # the second copy's content is checked too, under where it came from
    (date,) = found(report, "value.yyyymmdd")
    assert (date.file, date.record) == (f"b/{PLAN_NAME}", 5)
    (unit,) = report.units
    assert unit.files[PLAN_NAME] == good
    assert report.files == (*others, PLAN_NAME, f"b/{PLAN_NAME}")
    # the other order: the faulty copy is the one the unit uses, and it is still reported
    swapped = validate({**others, f"b/{PLAN_NAME}": bad, f"a/{PLAN_NAME}": good})
    assert found(swapped, "value.yyyymmdd", PLAN_NAME)
    assert found(swapped, "file.duplicate", f"a/{PLAN_NAME}")


def test_the_same_file_given_twice(tmp_path: Path) -> None:
    for name, data in schedule_unit().items():
        (tmp_path / name).write_bytes(data)
    report = validate([tmp_path / PLAN_NAME, tmp_path])
    (duplicate,) = found(report, "file.duplicate")
    assert duplicate.file == PLAN_NAME and "same content" in duplicate.message_en
    assert report.files.count(PLAN_NAME) == 1 and len(report.units) == 1


def test_a_unit_given_as_names_with_one_misnamed_file_reports_the_missing_companion() -> None:
    # The misnamed file cannot take part in its unit: the unit says what it lacks.
    files = schedule_unit()
    misnamed = PLAN_NAME.replace(".CSV", " (1).CSV")
    files[misnamed] = files.pop(PLAN_NAME)
    report = validate(files)
    assert found(report, "name.copy_suffix", misnamed)
    (missing,) = found(report, "unit.missing_file")
    assert missing.value == "UPPLAN"
