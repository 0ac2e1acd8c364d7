"""Validation of encoding and characters: MS932 only, no control characters, no exception.

Reading stays lenient (a UTF-8 file with a BOM is read, with a note); validation says the
file cannot be sent as it is, and still checks the rest of it.
"""

from __future__ import annotations

import pytest

from careplan_link import FormatError, Issue, ValidationReport, parse_plan, validate
from careplan_link.format._ms932 import encode

from .unitfiles import bytes_of, edit, rows_of, schedule_unit

PLAN_NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
BOM = b"\xef\xbb\xbf"


def found(report: ValidationReport, code: str) -> list[Issue]:
    return [i for i in report.issues if i.code == code]


def plan_text(record: int = 0, column: int = 0, text: str = "") -> str:
    """The example 第6表 as text, with one item replaced (1-based record and column)."""
    files = schedule_unit()
    if record:
        files = edit(files, "UPPLAN", record, column, text)
    return files[PLAN_NAME].decode("cp932")


@pytest.mark.parametrize("bom", [True, False])
def test_a_utf8_file_is_an_error_and_its_content_is_still_checked(bom: bool) -> None:
    text = plan_text(5, 10, "20250431")  # and a bad サービス利用日 on record 5
    data = (BOM if bom else b"") + text.encode("utf-8")
    report = validate({**schedule_unit(), PLAN_NAME: data})
    (issue,) = found(report, "encoding.utf8")
    assert (issue.severity, issue.file, issue.value) == ("error", PLAN_NAME, "BOM" if bom else None)
    assert ("with a BOM" in issue.message_en) is bom
    assert not report.ok and not found(report, "read.bom")  # one fact, said once
    (date,) = found(report, "value.yyyymmdd")
    assert (date.file, date.record, date.column) == (PLAN_NAME, 5, 10)


def test_reading_a_bom_file_stays_lenient_and_says_so() -> None:
    data = BOM + plan_text().encode("utf-8")
    file = parse_plan(data, name=PLAN_NAME)
    assert [note.code for note in file.notes] == ["read.bom"]
    assert file.notes[0].severity == "warning"


def test_a_utf8_file_with_characters_ms932_lacks_reports_them() -> None:
    text = plan_text().replace("佐藤", "佐〜藤", 1)  # WAVE DASH, not in MS932
    report = validate({PLAN_NAME: BOM + text.encode("utf-8")})
    assert found(report, "encoding.utf8")
    (issue,) = found(report, "encoding.not_ms932")
    assert (issue.record, issue.column, issue.item) == (1, 7, "プラン担当者名")


def test_ms932_that_is_valid_utf8_by_chance_is_not_taken_for_utf8() -> None:
    # Half-width katakana pairs such as ﾃｩ (0xC3 0xA9) are also valid UTF-8 (é).
    rows = rows_of(schedule_unit()[PLAN_NAME])
    for row in rows:
        row[6] = row[20] = "ﾃｩ"
    data = bytes_of(rows, "table6_plan")
    assert data.decode("utf-8")  # the trap is real
    report = validate({**schedule_unit(), PLAN_NAME: data})
    assert report.ok and report.issues == (), [str(i) for i in report.issues]


@pytest.mark.parametrize(
    ("char", "shown"),
    [("\x00", "U+0000 NUL"), ("\x1b", "U+001B ESC"), ("\t", "U+0009 TAB"), ("\x0c", "U+000C"),
     ("\x7f", "U+007F DEL")],
)  # fmt: skip
def test_control_characters_in_free_text_are_errors_at_their_place(char: str, shown: str) -> None:
    text = plan_text(3, 21, f"訪問介護{char}すみれ")  # 第6表 No.21 サービス事業所名
    report = validate({**schedule_unit(), PLAN_NAME: encode(text)})
    (issue,) = found(report, "text.control_character")
    assert issue.severity == "error" and not report.ok
    assert (issue.file, issue.record, issue.column, issue.item) == (
        PLAN_NAME,
        3,
        21,
        "サービス事業所名",
    )
    assert issue.value == f"訪問介護{char}すみれ"
    assert f"{shown} (5)" in issue.message_en


def test_line_breaks_in_quoted_free_text_are_not_control_characters() -> None:
    for brk in ("\r\n", "\n", "\r"):
        text = plan_text(2, 7, f"佐藤{brk}花子")
        report = validate({**schedule_unit(), PLAN_NAME: encode(text)})
        assert not found(report, "text.control_character"), brk


def test_control_characters_are_found_in_every_record_and_column() -> None:
    files = schedule_unit()
    files = edit(files, "UPPLAN", 2, 7, "a\x1bb")
    files = edit(files, "UPPLAN", 9, 21, "\x00")
    report = validate(files)
    places = [(i.record, i.column) for i in found(report, "text.control_character")]
    assert places == [(2, 7), (9, 21)]


@pytest.mark.parametrize("char", ["\ue758", "\uf8ff", "\ue000", "\uf000"])
def test_private_use_characters_in_a_utf8_file_are_issues_never_exceptions(char: str) -> None:
    text = plan_text().replace("佐藤", f"佐{char}藤", 1)
    data = BOM + text.encode("utf-8")
    report = validate({**schedule_unit(), PLAN_NAME: data})
    assert not report.ok and found(report, "encoding.utf8")
    located = [i for i in report.issues if i.code.startswith("encoding.") and i.record]
    assert located and (located[0].record, located[0].column) == (1, 7)
    assert f"U+{ord(char):04X}" in located[0].message_en
    with pytest.raises(FormatError):
        parse_plan(data, name=PLAN_NAME)
