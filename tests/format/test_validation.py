"""Validation: every rule with a failing and a passing case, through the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from careplan_link import Issue, UnitKind, ValidationReport, validate
from careplan_link.format._ms932 import encode

from .unitfiles import bytes_of, edit, name_of, plan_unit, rows_of, schedule_unit

PLAN, TOTALS, SUPPLEMENT = "UPPLAN", "UPSIKYU", "UPHOSOKU"


def found(report: ValidationReport, code: str) -> list[Issue]:
    return [i for i in report.issues if i.code == code]


def only(report: ValidationReport, code: str) -> Issue:
    issues = found(report, code)
    assert len(issues) == 1, [str(i) for i in report.issues]
    return issues[0]


def test_valid_units_have_no_issue() -> None:
    for files in (schedule_unit(), plan_unit()):
        report = validate(files)
        assert report.ok and report.issues == (), [str(i) for i in report.issues]
        assert len(report.units) == 1


def test_report_shape() -> None:
    report = validate(schedule_unit())
    (unit,) = report.units
    assert unit.kind is UnitKind.SCHEDULE
    data = report.to_dict()
    assert data["summary"] == {"ok": True, "files": 3, "units": 1, "errors": 0, "warnings": 0,
                               "codes": {}}  # fmt: skip
    assert data["units"][0]["serial"] == "20250325093000"


ITEM_RULE_CASES = [
        (PLAN, 3, 15, "", "required.missing", "error"),  # サービスコード
        (PLAN, 1, 6, "", "required.missing", "warning"),  # プラン担当業者コード: uncertain mark
        (PLAN, 1, 7, "", "required.missing", "warning"),  # プラン担当者名: uncertain mark
        (TOTALS, 1, 16, "1234", "length.too_long", "error"),  # 回数／日数 (3)
        (PLAN, 2, 2, "13100", "format.digits", "error"),
        (PLAN, 2, 20, "137020002", "format.digits", "error"),
        (PLAN, 2, 3, "12345", "format.insured_no", "error"),
        (PLAN, 2, 3, "h123456789", "format.insured_no", "error"),
        (PLAN, 2, 15, "１１１２１１", "format.full_width", "error"),
        (PLAN, 2, 23, "5", "code.unknown", "error"),  # ３０日超区分
        (PLAN, 2, 25, "1", "code.not_used", "warning"),  # 識別子
        (PLAN, 2, 15, "11-211", "format.service_code", "error"),
        (SUPPLEMENT, 1, 9, "1600023", "format.postal_code", "error"),
        (SUPPLEMENT, 1, 12, "03-0000-000X", "format.phone", "error"),
        (PLAN, 2, 11, "1110", "format.prorated_days", "error"),
        (PLAN, 2, 4, "00000000", "special.not_allowed", "error"),  # 作成年月日
        (TOTALS, 1, 23, "11.405", "format.decimal", "error"),
        (PLAN, 2, 5, "202505", "month.mismatch", "error"),
        (PLAN, 2, 10, "20250501", "month.service_date", "error"),
        (PLAN, 2, 15, "331111", "scope.out_of_scope", "error"),
        (PLAN, 2, 15, "171111", "equipment.code_missing", "error"),
        (PLAN, 2, 19, "1", "equipment.detail_no", "error"),
        (PLAN, 2, 6, "1370100099", "office.plan_office_mismatch", "warning"),
        (PLAN, 2, 24, "1370100099", "office.updater_mismatch", "warning"),
        (PLAN, 2, 13, "9999", "time.no_time_pair", "warning"),
        (TOTALS, 2, 7, "1370200022", "table7.grand_total_office", "error"),
        (TOTALS, 2, 13, "100", "table7.total_units", "error"),
        (TOTALS, 2, 14, "90", "table7.total_discount", "error"),
        (SUPPLEMENT, 1, 4, "20250301", "supplement.link", "error"),
        (SUPPLEMENT, 1, 63, "202505", "month.mismatch", "error"),
        (SUPPLEMENT, 1, 24, "11", "supplement.slot_order", "warning"),
        (PLAN, 2, 2, "999999", "unit.no_supplement", "error"),  # a key no supplement has
        (TOTALS, 1, 3, "0000099999", "unit.orphan", "error"),
]  # fmt: skip

# Rules about a key or a companion item point at the item to fill or fix.
EXPECTED_COLUMN = {
    "equipment.code_missing": 16,  # TAISコード (or 福祉用具届出コード)
    "unit.no_supplement": 5,  # 対象年月, the last key item
    "unit.orphan": 5,
}


@pytest.mark.parametrize(
    ("prefix", "record", "column", "text", "code", "severity"), ITEM_RULE_CASES
)
def test_item_rule_is_reported_at_its_place(
    prefix: str, record: int, column: int, text: str, code: str, severity: str
) -> None:
    files = schedule_unit()
    assert validate(files).ok
    report = validate(edit(files, prefix, record, column, text))
    issues = found(report, code)
    assert issues, [str(i) for i in report.issues]
    issue = issues[0]
    assert issue.severity == severity
    assert issue.file == name_of(files, prefix)
    expected_column = EXPECTED_COLUMN.get(code, column)
    assert (issue.record, issue.column) == (record, expected_column)
    assert issue.line == record  # one line per record in these files
    assert issue.item and issue.message_ja and issue.message_en
    assert report.ok == (severity == "warning" and not report.errors)


def test_tais_code_satisfies_the_equipment_rule() -> None:
    files = edit(schedule_unit(), PLAN, 2, 15, "171111")
    files = edit(files, PLAN, 2, 16, "00001-000010")
    assert not found(validate(files), "equipment.code_missing")
    files = edit(edit(schedule_unit(), PLAN, 2, 15, "171111"), PLAN, 2, 17, "00001-000010")
    assert not found(validate(files), "equipment.code_missing")


def test_detail_no_is_fine_on_welfare_equipment() -> None:
    files = edit(schedule_unit(), PLAN, 2, 15, "171111")
    files = edit(edit(files, PLAN, 2, 16, "00001-000010"), PLAN, 2, 19, "1")
    assert not found(validate(files), "equipment.detail_no")


def test_grand_total_missing_and_duplicate() -> None:
    files = schedule_unit()
    name = name_of(files, TOTALS)
    rows = rows_of(files[name])
    without = {**files, name: bytes_of([rows[0], rows[2], rows[3]], "table7")}
    issue = only(validate(without), "table7.grand_total")
    assert (issue.record, issue.column) == (1, 9)
    twice = {**files, name: bytes_of([*rows[:2], rows[1], *rows[2:]], "table7")}
    issue = only(validate(twice), "table7.grand_total")
    assert issue.record == 3


def test_subtotal_needed_for_several_lines_of_a_type() -> None:
    files = schedule_unit()
    name = name_of(files, TOTALS)
    rows = rows_of(files[name])
    second = list(rows[0])
    second[8] = "112211"
    several = {**files, name: bytes_of([rows[0], second, *rows[1:]], "table7")}
    issue = only(validate(several), "table7.subtotal")
    assert (issue.record, issue.column) == (1, 9)
    subtotal = list(rows[1])
    subtotal[8], subtotal[6] = "11AAAA", "1370200022"
    fixed = {**files, name: bytes_of([rows[0], second, subtotal, *rows[1:]], "table7")}
    assert not found(validate(fixed), "table7.subtotal")


def test_versions() -> None:
    files = schedule_unit()
    mixed = validate(edit(files, PLAN, 3, 1, "202208"))
    assert (only(mixed, "version.mixed").record, only(mixed, "version.mixed").column) == (3, 1)
    slip = only(validate(edit(files, SUPPLEMENT, 1, 1, "202410")), "version.unknown")
    assert "202407" in slip.message_en and slip.record == 1
    unknown = only(validate(edit(files, SUPPLEMENT, 2, 1, "209901")), "version.unknown")
    assert unknown.value == "209901"
    superseded = validate(edit(edit(files, SUPPLEMENT, 1, 1, "202504"), SUPPLEMENT, 2, 1, "202504"))
    assert found(superseded, "version.superseded") and superseded.ok


def test_version_must_fit_service_month_and_naming() -> None:
    files = schedule_unit()
    name = name_of(files, SUPPLEMENT)
    rows = rows_of(files[name])
    for row in rows:
        row[0] = "202208"
    report = validate({name: bytes_of(rows, "supplement")})
    assert only(report, "version.month").value == "202208"
    assert only(report, "version.naming").record == 1
    v3_name = "UPHOSOKU_202412_1370100016_1370200022_20241125093000.CSV"
    for row in rows:
        row[-1] = "202412"
    report = validate({v3_name: bytes_of(rows, "supplement")})
    assert not found(report, "version.month") and not found(report, "version.naming")


def test_v4_only_interface_with_v3_version() -> None:
    files = plan_unit()
    issue = found(validate(edit(files, "UP3KYO", 1, 1, "202208")), "version.interface")
    assert issue and issue[0].record == 1


def test_plan_unit_rules() -> None:
    files = plan_unit()
    assert only(validate(edit(files, "UP2KYO", 1, 6, "0")), "format.range").column == 6
    duplicate = only(validate(edit(files, "UP2KYO", 2, 13, "1")), "table2.duplicate_no")
    assert (duplicate.record, duplicate.column) == (2, 13)
    name = name_of(files, "UP2KYO")
    rows = rows_of(files[name])
    assert not found(validate(files), "table2.order")
    swapped = {**files, name: bytes_of([rows[2], rows[0], rows[1]], "table2")}
    order = found(validate(swapped), "table2.order")
    assert [(i.record, i.column, i.severity) for i in order] == [
        (2, 6, "warning"),
        (3, 6, "warning"),
    ]
    link = only(validate(edit(files, SUPPLEMENT, 1, 63, "202504")), "supplement.link")
    assert (link.record, link.column) == (1, 63)
    zero = validate(edit(files, SUPPLEMENT, 1, 4, "00000000"))
    assert found(zero, "supplement.link")
    orphan = found(validate(edit(files, "UP3KYO", 1, 5, "20250302")), "unit.orphan")
    assert orphan[0].file and orphan[0].file.startswith("UP3KYO") and orphan[0].column == 5


# 第1表 No.13 介護支援事業者コード (care_office_no): compared with nothing else, so a wrong
# number there is that item's finding alone.
TABLE1, CARE_OFFICE_COLUMN = "UP1KYO", 13


def test_a_wrong_office_number_check_digit_is_exactly_one_warning() -> None:
    files = plan_unit()
    assert validate(files).issues == ()
    mistyped = edit(files, TABLE1, 1, CARE_OFFICE_COLUMN, "1370100012")  # 1370100016 matches
    for strict in (False, True):  # never an error, not even with strict=True
        report = validate(mistyped, strict=strict)
        assert report.ok
        (issue,) = report.issues
        assert (issue.code, issue.severity) == ("identifier.check_digit", "warning")
        assert issue.file == name_of(files, TABLE1)
        assert (issue.record, issue.line, issue.column) == (1, 1, CARE_OFFICE_COLUMN)
        assert (issue.item, issue.value) == ("介護支援事業者コード", "1370100012")
        assert "検証番号" in issue.message_ja and "check digit" in issue.message_en
    assert validate(mistyped, identifier_checks=False).issues == ()


def test_a_prefecture_outside_01_to_47_is_a_warning_the_opt_out_removes() -> None:
    files = edit(plan_unit(), TABLE1, 1, CARE_OFFICE_COLUMN, "4870100015")
    report = validate(files, strict=True)
    assert report.ok
    assert [(i.code, i.severity, i.column) for i in report.issues] == [
        ("identifier.prefecture", "warning", CARE_OFFICE_COLUMN)
    ]
    assert validate(files, identifier_checks=False).issues == ()


def test_the_standards_own_sample_office_number_gets_the_check_digit_warning() -> None:
    # 0300000100 is the 事業所番号 of the standard's sample file names; its check digit is 6.
    sample = validate(edit(plan_unit(), TABLE1, 1, CARE_OFFICE_COLUMN, "0300000100"))
    assert [(i.code, i.value) for i in sample.issues] == [("identifier.check_digit", "0300000100")]
    assert validate(edit(plan_unit(), TABLE1, 1, CARE_OFFICE_COLUMN, "0300000106")).issues == ()


def test_unit_completeness_and_mixing() -> None:
    files = schedule_unit()
    without_totals = {n: d for n, d in files.items() if not n.startswith(TOTALS)}
    issue = only(validate(without_totals), "unit.missing_file")
    assert issue.value == "UPSIKYU"
    # A plan's 第1表 under the schedule's office pair and serial: the unit mixes two kinds.
    table1 = next(n for n in plan_unit() if n.startswith("UP1KYO_"))
    mixed = {**files, table1: plan_unit()[table1]}
    assert table1.endswith("20250325093000.CSV")
    assert only(validate(mixed), "unit.mixed").severity == "error"
    assert validate(files).ok


def test_every_user_needs_a_supplement() -> None:
    files = schedule_unit()
    name = name_of(files, SUPPLEMENT)
    rows = rows_of(files[name])
    report = validate({**files, name: bytes_of(rows[:1], "supplement")})
    issue = only(report, "unit.no_supplement")
    assert issue.file == name_of(files, PLAN) and issue.record == 7


def test_serial_shared_by_units_to_different_receivers() -> None:
    files = schedule_unit()
    other = {n.replace("1370200022_11", "1370300026_11"): d for n, d in files.items()}
    report = validate({**files, **other})
    assert len(report.units) == 2
    assert found(report, "unit.serial_shared")


def test_folders_duplicates_images_and_non_standard_files(tmp_path: Path) -> None:
    for name, data in schedule_unit().items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "readme.txt").write_text("notes")
    image = "UPKIHON_IMAGE_1370100016_46_1370200022_A2_20250325093000_0001.jpg"
    (tmp_path / image).write_bytes(b"not a jpeg")
    report = validate(tmp_path)
    assert only(report, "file.not_standard").severity == "warning"
    assert only(report, "image.not_jpeg").file == image
    report = validate([tmp_path / name_of(schedule_unit(), PLAN), tmp_path])
    assert only(report, "file.duplicate").file == name_of(schedule_unit(), PLAN)
    with pytest.raises(FileNotFoundError):
        validate(tmp_path / "missing.CSV")


def test_explicit_non_standard_name_is_an_error() -> None:
    report = validate({"UPPLAN_2025.CSV": b""})
    assert not report.ok and report.issues[0].code == "name.fields"


def test_reading_problems_become_issues() -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    lf = {**files, name: files[name].replace(b"\r\n", b"\n")}
    issue = only(validate(lf), "read.not_canonical")
    assert (issue.severity, issue.line) == ("warning", 1)
    quoted_code = edit(files, PLAN, 4, 2, '"131011"')
    assert only(validate(quoted_code), "read.not_canonical").line == 4
    bad_date = validate(edit(files, PLAN, 5, 10, "20250431"))
    issue = only(bad_date, "value.yyyymmdd")
    assert (issue.file, issue.record, issue.column) == (name, 5, 10)
    utf8 = validate({name: files[name].decode("cp932").encode("utf-8")})
    assert only(utf8, "encoding.utf8").severity == "error"
    bom = validate({**files, name: b"\xef\xbb\xbf" + files[name].decode("cp932").encode()})
    issue = only(bom, "encoding.utf8")  # an error in validation; reading only notes it
    assert (issue.severity, issue.file, issue.value) == ("error", name, "BOM")
    assert not bom.ok and not found(bom, "read.bom") and len(bom.issues) == 1


def test_many_identical_problems_are_summarised() -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    rows = rows_of(files[name]) * 20  # 240 records
    for row in rows:
        row[1] = "13100"
    report = validate({**files, name: bytes_of(rows, "table6_plan")})
    digits = found(report, "format.digits")
    assert len(digits) == 101
    assert digits[-1].record is None and "140" in digits[-1].message_en


def test_bundle_as_source() -> None:
    from careplan_link import Bundle

    assert validate(Bundle.from_files(schedule_unit())).ok


def test_progress_is_reported() -> None:
    calls: list[tuple[int, int]] = []
    validate(schedule_unit(), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def _on_line(data: bytes, line: int, old: bytes, new: bytes) -> bytes:
    """`data` with `old` replaced by `new` on one line only (1-based): a fault planted on line
    1 would be found even by a check that always says line 1."""
    lines = data.split(b"\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"\r\n".join(lines)


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (lambda d: d[:-2], 12),  # no CRLF after the last record
        (lambda d: _on_line(d, 6, b"\xfb\xfc", b"\xee\xe0"), 6),  # NEC-selected code for 髙
        (lambda d: _on_line(d, 5, b",244,", b",0244,"), 5),  # an integer with a leading zero
        (lambda d: _on_line(d, 7, encode('"髙橋 ケアマネ"'), encode("髙橋 ケアマネ")), 7),
        (lambda d: d.replace(b"\r\n", b"\n", 3).replace(b"\n", b"\r\n", 2), 3),
    ],
)
def test_canonical_form_is_checked_exactly(change: object, line: int) -> None:
    files = schedule_unit()
    name = name_of(files, PLAN)
    data = files[name]
    # A 髙 (an IBM extension, 0xFBFC as Windows writes it) in every planner name.
    data = data.replace("佐藤".encode("cp932"), encode("髙橋"))
    assert b"\xfb\xfc" in data
    files = {**files, name: data}
    changed = change(data)  # type: ignore[operator]
    assert changed != data
    report = validate({**files, name: changed})
    issue = only(report, "read.not_canonical")
    assert (issue.file, issue.line) == (name, line)
    assert not found(validate({**files, name: data}), "read.not_canonical")


def test_a_duplicate_code_windows_never_writes_is_not_canonical() -> None:
    # ≒ has two codes: JIS 0x81E0 (what Windows writes) and NEC row 13 0x8790. Python's codec
    # encodes it as Windows does, so only comparing bytes finds the other one.
    files = edit(schedule_unit(), PLAN, 5, 7, "佐藤≒ケアマネ")
    name = name_of(files, PLAN)
    assert b"\x81\xe0" in files[name]
    assert not found(validate(files), "read.not_canonical")
    nec = {**files, name: files[name].replace(b"\x81\xe0", b"\x87\x90")}
    issue = only(validate(nec), "read.not_canonical")
    assert (issue.file, issue.line) == (name, 5)


def test_free_text_with_a_line_break_inside_quotes_is_canonical() -> None:
    files = edit(schedule_unit(), PLAN, 3, 7, "佐藤\r\nケアマネ")  # record 3 is on lines 3-4
    name = name_of(files, PLAN)
    assert not found(validate(files), "read.not_canonical")
    # Record 4 (line 5) with its free text left bare: not canonical from that line on.
    quoted, bare = encode('"佐藤 ケアマネ"'), encode("佐藤 ケアマネ")
    head, *rest = files[name].split(quoted)
    assert len(rest) >= 4
    changed = head + quoted + rest[0] + quoted + rest[1] + bare + quoted.join(rest[2:])
    issue = only(validate({**files, name: changed}), "read.not_canonical")
    assert (issue.file, issue.line) == (name, 5)
