"""Reading: CSV state machine, MS932, leniencies, typed values and precise errors."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest

from careplan_link import (
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    FormatError,
    SupplementRecord,
    Table6PlanRecord,
    Table6PlanV3Record,
    YearMonth,
    iter_records,
    parse_plan,
)

from .helpers import PLAN_NAME, table6_csv, table6_row


def read(data: bytes, name: str = PLAN_NAME):  # type: ignore[no-untyped-def]
    return parse_plan(data, name=name)


def errors_of(data: bytes, name: str = PLAN_NAME) -> list:  # type: ignore[type-arg]
    with pytest.raises(FormatError) as caught:
        parse_plan(data, name=name)
    return list(caught.value.issues)


def test_typed_values() -> None:
    record = read(table6_csv(table6_row())).records[0]
    assert isinstance(record, Table6PlanRecord)
    assert record.csv_version == "202407"
    assert record.insurer_no == "131001"
    assert record.insured_no == "0000012345"  # leading zeros kept
    assert record.created_date == datetime.date(2025, 3, 25)
    assert record.target_month == YearMonth(2025, 4)
    assert record.units == 244
    assert record.start_time == datetime.time(10, 0)
    assert record.planner_name == "佐藤 花子"
    assert record.short_stay_days_before_month is None  # empty → None
    assert record.tais_code is None


def test_special_values_have_explicit_representation() -> None:
    record = read(table6_csv(table6_row(start_time="9999", end_time="9999"))).records[0]
    assert record.start_time is NO_TIME and record.end_time is NO_TIME
    supplement_name = "UPHOSOKU_202504_1370100012_43_1370200028_11_20250325093000.CSV"
    row = ["202407", "131001", "0000012345", "00000000"] + [""] * 58 + ["000000"]
    supplement = read((",".join(row) + "\r\n").encode(), supplement_name).records[0]
    assert isinstance(supplement, SupplementRecord)
    assert supplement.plan_date is ZERO_DATE
    assert supplement.target_month is ZERO_MONTH
    assert (
        read((",".join(row) + "\r\n").encode(), supplement_name).to_bytes()
        == (",".join(row) + "\r\n").encode()
    )


def test_decimal_unit_price() -> None:
    name = "UPSIKYU_202504_1370100012_43_1370200028_11_20250325093000.CSV"
    row = ["202407", "131001", "0000012345", "20250325", "202504", '"すみれ"', "1370200028"]
    row += ["", "111211", "", "", "", "244", "", "", "5", "", "1220", "", "", "", "1220"]
    row += ["11.40", "13908", "90", "12517", "", "1391", "", "", "", "", "0", "", ""]
    row += ["1370100012", ""]
    record = read((",".join(row) + "\r\n").encode("cp932"), name).records[0]
    assert record.unit_price == Decimal("11.40")  # type: ignore[attr-defined]
    assert read((",".join(row) + "\r\n").encode("cp932"), name).to_bytes() == (
        ",".join(row) + "\r\n"
    ).encode("cp932")


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings_crlf_lf_cr(newline: str) -> None:
    data = table6_csv(table6_row(), table6_row(units="100"), newline=newline)
    file = read(data)
    assert [r.units for r in file.records] == [244, 100]  # type: ignore[attr-defined]
    assert file.to_bytes() == table6_csv(table6_row(), table6_row(units="100"))


def test_quoted_commas_quotes_and_newlines_in_free_text() -> None:
    text = '"訪問介護, ""すみれ""\r\n2階\n3階\r4階"'
    file = read(table6_csv(table6_row(provider_name=text), table6_row()))
    assert file.records[0].provider_name == '訪問介護, "すみれ"\r\n2階\n3階\r4階'  # type: ignore[attr-defined]
    assert len(file.records) == 2
    assert file.to_bytes() == table6_csv(table6_row(provider_name=text), table6_row())


def test_nec_and_ibm_extension_characters() -> None:
    # ① (NEC row 13), ㈱ (NEC row 13), 髙 and 﨑 (IBM extensions) as Windows writes them.
    name = '"①㈱髙﨑"'
    data = table6_csv(table6_row(planner_name=name))
    assert b"\x87@\x87\x8a\xfb\xfc\xfa\xb1" in data
    assert read(data).records[0].planner_name == "①㈱髙﨑"  # type: ignore[attr-defined]
    assert read(data).to_bytes() == data


def test_nec_selected_ibm_codes_read_and_written_the_windows_way() -> None:
    canonical = table6_csv(table6_row(planner_name='"髙"'))
    nec_selected = canonical.replace(b"\xfb\xfc", b"\xee\xe0")
    assert nec_selected != canonical
    file = read(nec_selected)
    assert file.records[0].planner_name == "髙"  # type: ignore[attr-defined]
    assert file.to_bytes() == canonical


def test_lenient_quoting_is_accepted() -> None:
    # Free text unquoted, and codes quoted: what real exporters produce.
    data = table6_csv(table6_row(planner_name="佐藤 花子", units='"244"', service_code='"111211"'))
    record = read(data).records[0]
    assert record.planner_name == "佐藤 花子"  # type: ignore[attr-defined]
    assert record.units == 244  # type: ignore[attr-defined]
    assert record.service_code == "111211"  # type: ignore[attr-defined]
    assert read(data).to_bytes() == table6_csv(table6_row())


def test_bom_is_a_note_and_the_file_is_read_as_utf8() -> None:
    data = b"\xef\xbb\xbf" + (",".join(table6_row()) + "\r\n").encode("utf-8")
    file = read(data)
    assert [n.code for n in file.notes] == ["read.bom"]
    assert file.notes[0].severity == "warning"
    assert file.records[0].planner_name == "佐藤 花子"  # type: ignore[attr-defined]
    assert file.to_bytes() == table6_csv(table6_row())


def test_header_line_is_a_note() -> None:
    header = ["CSVバージョン", "保険者番号"] + ["x"] * 23
    file = read(table6_csv(header, table6_row()))
    assert [n.code for n in file.notes] == ["read.header"]
    assert file.notes[0].line == 1
    assert len(file.records) == 1


def test_blank_lines_are_notes_and_records_are_counted_not_lines() -> None:
    data = table6_csv(table6_row()) + b"\r\n" + table6_csv(table6_row(units="x"))
    issues = errors_of(data)
    assert [(i.code, i.record, i.line, i.column) for i in issues] == [("value.integer", 2, 3, 8)]
    file = read(table6_csv(table6_row()) + b"\r\n" + table6_csv(table6_row()))
    assert [(n.code, n.line) for n in file.notes] == [("read.blank_line", 2)]


def test_line_numbers_count_physical_lines_inside_quotes() -> None:
    data = table6_csv(table6_row(planner_name='"a\r\nb\r\nc"'), table6_row(service_date="20250431"))
    (issue,) = errors_of(data)
    assert (issue.record, issue.line, issue.column, issue.item) == (2, 4, 10, "サービス利用日")
    assert issue.value == "20250431"
    assert issue.file == PLAN_NAME
    assert issue.message_ja and issue.message_en


@pytest.mark.parametrize(
    ("attribute", "value", "code", "column"),
    [
        ("service_date", "20250230", "value.yyyymmdd", 10),
        ("service_date", "2025041", "value.yyyymmdd", 10),
        ("created_date", "２０２５０３２５", "value.yyyymmdd", 4),
        ("target_month", "202513", "value.yyyymm", 5),
        ("target_month", "202500", "value.yyyymm", 5),
        ("start_time", "2400", "value.hhmm", 12),
        ("start_time", "1060", "value.hhmm", 12),
        ("end_time", "10:45", "value.hhmm", 13),
        ("units", "12a", "value.integer", 8),
        ("units", "１２", "value.integer", 8),
        ("units", " 12", "value.integer", 8),
        ("service_count", "+1", "value.integer", 14),
    ],
)
def test_untypable_values(attribute: str, value: str, code: str, column: int) -> None:
    (issue,) = errors_of(table6_csv(table6_row(**{attribute: value})))
    assert (issue.code, issue.severity, issue.record, issue.column, issue.value) == (
        code,
        "error",
        1,
        column,
        value,
    )


def test_all_issues_of_the_file_are_reported() -> None:
    data = table6_csv(
        table6_row(units="x"), table6_row(), table6_row(service_date="2025", start_time="9")
    )
    issues = errors_of(data)
    assert [(i.record, i.column) for i in issues] == [(1, 8), (3, 10), (3, 12)]


def test_wrong_column_count() -> None:
    (issue,) = errors_of(table6_csv(table6_row()[:24]))
    assert (issue.code, issue.record, issue.value) == ("csv.column_count", 1, "24")


def test_v3_column_count_hint_when_version_says_v4() -> None:
    row = table6_row()
    v3_row = row[:15] + row[18:]
    (issue,) = errors_of(table6_csv(v3_row))
    assert issue.code == "csv.column_count"
    assert "202208" in issue.message_en


def test_v3_file_reads_with_v3_layout() -> None:
    row = table6_row(csv_version="202208")
    v3_row = row[:15] + row[18:]
    name = "UPPLAN_202504_1370100012_1370200028_20250325093000.CSV"
    file = read(table6_csv(v3_row), name)
    assert isinstance(file.records[0], Table6PlanV3Record)
    assert file.layout.csv_version == "202208" and file.csv_version == "202208"
    assert file.to_bytes() == table6_csv(v3_row)


def test_unterminated_quote() -> None:
    issues = errors_of(table6_csv(table6_row()) + b'202407,"abc\r\n')
    assert [(i.code, i.record) for i in issues] == [("csv.unterminated_quote", 2)]


def test_text_after_closing_quote() -> None:
    issues = errors_of(table6_csv(table6_row(planner_name='"ab"c')))
    assert [i.code for i in issues] == ["csv.bad_quote"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"\x80", "0x80"),
        (b"\xa0", "0xA0"),
        (b"\xfd", "0xFD"),
        (b"\xf0\x40", "外字 0xF040"),
        (b"\xf9\xfc", "外字 0xF9FC"),
        (b"\x81", "0x81"),  # a lead byte without its trail byte
    ],
)
def test_bytes_that_are_not_ms932_characters(raw: bytes, shown: str) -> None:
    data = table6_csv(table6_row()).replace("佐藤".encode("cp932"), raw)
    (issue,) = errors_of(data)
    assert issue.code == "encoding.bad_character"
    assert (issue.record, issue.column, issue.item) == (1, 7, "プラン担当者名")
    assert shown in issue.message_en


def test_utf8_file_gets_a_specific_error() -> None:
    data = (",".join(table6_row()) + "\r\n").encode("utf-8")
    (issue,) = errors_of(data)
    assert issue.code == "encoding.utf8"
    assert "UTF-8" in issue.message_ja


def test_utf8_with_bom_and_a_character_outside_ms932() -> None:
    data = b"\xef\xbb\xbf" + (",".join(table6_row(planner_name='"〜"')) + "\r\n").encode()
    (issue,) = errors_of(data)
    assert (issue.code, issue.column) == ("encoding.not_ms932", 7)


def test_name_errors_and_image_names() -> None:
    with pytest.raises(FormatError) as caught:
        parse_plan(b"", name="UPPLAN_202504_137010001_43_1370200028_11_20250325093000.CSV")
    assert caught.value.issues[0].code == "name.office_no"
    with pytest.raises(FormatError) as caught:
        parse_plan(b"", name="UPKIHON_IMAGE_1370100012_43_1370200028_11_20250325093000_0001.jpg")
    assert caught.value.issues[0].code == "name.not_csv"


def test_empty_file() -> None:
    file = read(b"")
    assert file.records == () and file.csv_version is None
    assert file.to_bytes() == b""


def test_sources_path_bytes_and_stream(tmp_path: Path) -> None:
    data = table6_csv(table6_row(), table6_row())
    path = tmp_path / PLAN_NAME
    path.write_bytes(data)
    assert len(parse_plan(path).records) == 2
    assert len(parse_plan(str(path)).records) == 2
    assert len(parse_plan(io.BytesIO(data), name=PLAN_NAME).records) == 2
    with path.open("rb") as stream:
        assert len(parse_plan(stream).records) == 2  # the name comes from the stream
    with pytest.raises(ValueError, match="name="):
        parse_plan(data)


def test_iter_records_streams_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from careplan_link.format import _reader

    monkeypatch.setattr(_reader, "_CHUNK_SIZE", 7)  # cut lines, quotes and characters often
    rows = [table6_row(planner_name=f'"髙{n}\r\n行"', units=str(n)) for n in range(50)]
    data = table6_csv(*rows, newline="\r\n")
    records = list(iter_records(data, name=PLAN_NAME))
    assert [r.units for r in records] == list(range(50))  # type: ignore[attr-defined]
    assert records[3].planner_name == "髙3\r\n行"  # type: ignore[attr-defined]
    cr_data = table6_csv(*rows, newline="\r")
    assert len(list(iter_records(cr_data, name=PLAN_NAME))) == 50


def test_iter_records_raises_at_first_bad_record() -> None:
    data = table6_csv(table6_row(), table6_row(units="x"), table6_row())
    seen = []
    with pytest.raises(FormatError) as caught:
        for record in iter_records(data, name=PLAN_NAME):
            seen.append(record)
    assert len(seen) == 1
    assert [(i.record, i.column) for i in caught.value.issues] == [(2, 8)]
