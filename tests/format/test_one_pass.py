"""Every problem in one pass, and canonical form located exactly (issue 11, items 2 and 4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from careplan_link import Issue, ValidationReport, validate
from careplan_link.format._ms932 import encode

from .unitfiles import bytes_of, edit, name_of, plan_unit, rows_of, schedule_unit

PLAN, TOTALS, SUPPLEMENT = "UPPLAN", "UPSIKYU", "UPHOSOKU"


def where(report: ValidationReport) -> list[tuple[str, str | None, int | None, int | None]]:
    return [(i.code, i.file, i.record, i.column) for i in report.issues]


def found(report: ValidationReport, code: str) -> list[Issue]:
    return [i for i in report.issues if i.code == code]


# -- item 2: an unreadable value hides nothing --------------------------------------------------


def test_an_unreadable_value_hides_nothing_of_its_record_file_or_unit() -> None:
    files = schedule_unit()
    plan, totals = name_of(files, PLAN), name_of(files, TOTALS)
    rows = rows_of(files[plan])
    rows[4][11] = "2400"  # サービス開始時刻: cannot be read as a time
    rows[4][1] = "13100"  # 保険者番号 of the same record: 5 digits
    rows[8][9] = "20250431"  # サービス利用日 of another record: cannot be read as a date
    rows[10][5] = "137010001"  # 作成区分 … 居宅介護支援事業所番号: 9 digits, a readable record
    files = edit({**files, plan: bytes_of(rows, "table6_plan")}, TOTALS, 2, 2, "1310")
    report = validate(files)
    got = where(report)
    assert ("value.hhmm", plan, 5, 12) in got
    assert ("format.digits", plan, 5, 2) in got  # the rest of the record is still checked
    assert ("value.yyyymmdd", plan, 9, 10) in got
    assert ("format.digits", plan, 11, 6) in got  # the rest of the file
    assert ("format.digits", totals, 2, 2) in got  # the rest of the unit
    # Nothing is reported about the items that could not be read but that they could not.
    assert [c for c, f, r, col in got if (f, r, col) == (plan, 5, 12)] == ["value.hhmm"]
    # Unit rules ran, over what could be read, and say which records could not be.
    (partly,) = found(report, "unit.partly_checked")
    assert (partly.file, partly.value, partly.severity) == (plan, "5, 9", "warning")


def test_records_that_cannot_be_split_leave_the_others_numbered_as_in_the_file() -> None:
    files = schedule_unit()
    plan = name_of(files, PLAN)
    rows = rows_of(files[plan])
    rows[2] = [*rows[2], "extra"]  # record 3: 26 items
    rows[6][1] = "1310"  # record 7
    report = validate({**files, plan: bytes_of(rows, "table6_plan")})
    got = where(report)
    assert ("csv.column_count", plan, 3, None) in got
    (digits,) = found(report, "format.digits")
    assert (digits.record, digits.line, digits.column) == (7, 7, 2)
    assert found(report, "unit.partly_checked")[0].value == "3"


def test_an_orphan_is_still_found_when_its_parent_file_has_an_unreadable_record() -> None:
    files = plan_unit()
    table2 = name_of(files, "UP2KYO")
    table1 = name_of(files, "UP1KYO")
    rows = rows_of(files[table2])
    rows[0][2] = "0000099999"  # 被保険者番号 no 第1表 record has
    files = {**files, table2: bytes_of(rows, "table2")}
    files = edit(files, "UP1KYO", 1, 4, "2025031")  # 第1表の作成日: not a date
    report = validate(files)
    got = where(report)
    assert ("value.yyyymmdd", table1, 1, 4) in got
    (orphan,) = [i for i in found(report, "unit.orphan") if i.record == 1]
    assert orphan.file == table2 and "could not be read" in orphan.message_en


def test_notes_are_kept_beside_errors() -> None:
    files = schedule_unit()
    plan = name_of(files, PLAN)
    header = encode("CSVバージョン,保険者番号\r\n")
    broken = header + files[plan].replace(b",1045,", b",1060,", 1)
    report = validate({**files, plan: broken})
    codes = [i.code for i in report.issues if i.file == plan]
    assert "read.header" in codes and "value.hhmm" in codes
    (time,) = found(report, "value.hhmm")
    assert (time.record, time.line) == (1, 2)  # records are counted without the header line


def test_rows_that_do_not_fit_are_said_once_for_the_file() -> None:
    files = schedule_unit()
    plan, totals = name_of(files, PLAN), name_of(files, TOTALS)
    # The 第7表's content under the 第6表's name.
    report = validate({**files, plan: files[totals]})
    plan_issues = [i for i in report.issues if i.file == plan]
    assert [i.code for i in plan_issues if i.severity == "error"] == ["csv.layout_mismatch"]
    assert "UPSIKYU" in plan_issues[0].message_en


# -- item 4: canonical form, located ------------------------------------------------------------


def _on_line(data: bytes, line: int, old: bytes, new: bytes) -> bytes:
    """`data` with `old` replaced by `new` on one line only (1-based)."""
    lines = data.split(b"\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"\r\n".join(lines)


_BARE_NAME, _QUOTED_NAME = encode("髙橋 ケアマネ"), encode('"髙橋 ケアマネ"')


@pytest.mark.parametrize(
    ("change", "line", "column", "cause"),
    [
        (lambda d: _on_line(d, 5, b",244,", b",0244,"), 5, 8, "'0244' is written '244'"),
        (lambda d: _on_line(d, 4, b",131011,", b',"131011",'), 4, 2, "not free text is in quotes"),
        (lambda d: _on_line(d, 6, _QUOTED_NAME, _BARE_NAME), 6, 7, "free text is not in quotes"),
        (lambda d: _on_line(d, 8, b",,0,", b',"",0,'), 8, 22, "not free text is in quotes"),
        (lambda d: _on_line(d, 7, b",,,,,", b',,,"",,'), 7, 18, 'empty item is written as ""'),
        (lambda d: _on_line(d, 10, b"\xfb\xfc", b"\xee\xe0"), 10, 7, "0xEEE0; Windows writes"),
        (lambda d: d[:-2], 12, None, "no line break (CRLF) after the last record"),
        (lambda d: d.replace(b"\r\n", b"\n", 3).replace(b"\n", b"\r\n", 2), 3, None, "LF"),
        (lambda d: d.replace(b"\r\n", b"\r"), 1, None, "CR (CRLF expected)"),
        # Errors of the file come first: the form is judged once it reads cleanly.
        (lambda d: _on_line(d, 9, b",1000,", b",1000 ,"), None, None, None),
    ],
)
def test_not_canonical_names_line_column_and_cause(
    change: Callable[[bytes], bytes], line: int | None, column: int | None, cause: str | None
) -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    # 髙 (an IBM extension, 0xFBFC as Windows writes it) in every planner name.
    data = files[name].replace(encode("佐藤"), encode("髙橋"))
    files = {**files, name: data}
    assert not found(validate(files), "read.not_canonical")
    changed = change(data)
    assert changed != data
    report = validate({**files, name: changed})
    issues = found(report, "read.not_canonical")
    if line is None:  # an error of the file: canonical form is judged once it reads cleanly
        assert not issues and not report.ok
        return
    (issue,) = issues
    assert (issue.file, issue.line, issue.column) == (name, line, column), str(issue)
    assert issue.record == line  # one line per record in this file
    assert cause is not None and cause in issue.message_en, issue.message_en
    assert issue.severity == "warning" and issue.message_ja


def test_the_encoding_cause_names_the_character_and_both_codes() -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    data = _on_line(files[name], 11, encode('"佐藤'), b'"\xee\xe0')  # 髙 as NEC-selected IBM
    (issue,) = found(validate({**files, name: data}), "read.not_canonical")
    assert (issue.line, issue.column, issue.item, issue.value) == (11, 7, "プラン担当者名", "髙")
    assert "0xEEE0" in issue.message_ja and "0xFBFC" in issue.message_ja


def test_the_first_of_several_departures_is_reported() -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    data = _on_line(files[name], 9, b",244,", b",0244,")  # typed, line 9
    data = _on_line(data, 6, b",131011,", b',"131011",')  # quoting, line 6
    (issue,) = found(validate({**files, name: data}), "read.not_canonical")
    assert (issue.line, issue.column) == (6, 2)
    data = _on_line(files[name], 9, b",131011,", b',"131011",')  # quoting, line 9
    data = _on_line(data, 5, b",1045,", b",01045,")  # not a time: an error, not a departure
    assert not found(validate({**files, name: data}), "read.not_canonical")
