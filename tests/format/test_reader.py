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
    assert record.insurer_no == "131011"
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
    supplement_name = "UPHOSOKU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    row = ["202407", "131011", "0000012345", "00000000"] + [""] * 58 + ["000000"]
    supplement = read((",".join(row) + "\r\n").encode(), supplement_name).records[0]
    assert isinstance(supplement, SupplementRecord)
    assert supplement.plan_date is ZERO_DATE
    assert supplement.target_month is ZERO_MONTH
    assert (
        read((",".join(row) + "\r\n").encode(), supplement_name).to_bytes()
        == (",".join(row) + "\r\n").encode()
    )


def test_decimal_unit_price() -> None:
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    row = ["202407", "131011", "0000012345", "20250325", "202504", '"すみれ"', "1370200022"]
    row += ["", "111211", "", "", "", "244", "", "", "5", "", "1220", "", "", "", "1220"]
    row += ["11.40", "13908", "90", "12517", "", "1391", "", "", "", "", "0", "", ""]
    row += ["1370100016", ""]
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
    name = "UPPLAN_202504_1370100016_1370200022_20250325093000.CSV"
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
        parse_plan(b"", name="UPPLAN_202504_137010001_43_1370200022_11_20250325093000.CSV")
    assert caught.value.issues[0].code == "name.office_no"
    with pytest.raises(FormatError) as caught:
        parse_plan(b"", name="UPKIHON_IMAGE_1370100016_43_1370200022_11_20250325093000_0001.jpg")
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


# -- characters outside MS932 in a UTF-8 file ---------------------------------------------------


@pytest.mark.parametrize("char", ["\ue000", "\ue757", "\ue758", "\uf000", "\uf8ff"])
def test_private_use_character_in_a_utf8_file_is_an_issue(char: str) -> None:
    # cp932 maps U+E000-U+E757 to 外字 codes and has none for U+E758-U+F8FF: neither may raise
    # anything but FormatError, and the issue says where.
    row = table6_row(planner_name=f'"佐藤{char}"')
    data = b"\xef\xbb\xbf" + table6_csv(table6_row()).decode("cp932").encode()
    data += (",".join(row) + "\r\n").encode()
    for read_all in (
        lambda: parse_plan(data, name=PLAN_NAME),
        lambda: list(iter_records(data, name=PLAN_NAME)),
    ):
        with pytest.raises(FormatError) as caught:
            read_all()
        (issue,) = caught.value.issues
        assert issue.code == "encoding.bad_character"
        assert (issue.file, issue.record, issue.line, issue.column, issue.item) == (
            PLAN_NAME,
            2,
            2,
            7,
            "プラン担当者名",
        )
        assert f"U+{ord(char):04X}" in issue.message_en


# -- records longer than the cap ----------------------------------------------------------------


class _CountingStream(io.RawIOBase):
    """An endless line of `a`s (or `fill`), counting what was read."""

    def __init__(self, head: bytes, size: int, fill: bytes = b"a") -> None:
        self.head, self.size, self.fill, self.read_bytes = head, size, fill, 0
        self.name = PLAN_NAME

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.read_bytes >= self.size:
            return b""
        if n < 0:
            n = self.size - self.read_bytes
        n = min(n, self.size - self.read_bytes)
        start, self.read_bytes = self.read_bytes, self.read_bytes + n
        head = self.head[start : start + n]
        return head + self.fill * (n - len(head))


def test_iter_records_refuses_a_long_line_without_reading_the_rest() -> None:
    good = table6_csv(table6_row())
    stream = _CountingStream(good, 1 << 30)  # 1 GiB: reading it all would take minutes
    seen = []
    with pytest.raises(FormatError) as caught:
        for record in iter_records(stream, max_record_bytes=4096):
            seen.append(record)
    assert len(seen) == 1
    (issue,) = caught.value.issues
    assert (issue.code, issue.record, issue.line) == ("csv.record_too_long", 2, 2)
    assert "4,096" in issue.message_en
    assert stream.read_bytes < 3 * 4096


def test_a_long_line_is_skipped_in_bounded_memory_and_reading_goes_on() -> None:
    import tracemalloc

    from careplan_link.format import _reader

    good = table6_csv(table6_row())
    size = 48 << 20
    tail = table6_csv(table6_row(units="7"))

    class _Then(_CountingStream):
        def read(self, n: int = -1) -> bytes:
            if self.read_bytes >= self.size:
                out, self.extra = self.extra[:n], self.extra[n:]
                return out

            return super().read(n)

    stream = _Then(good, size)
    stream.extra = b"\r\n" + tail  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        reading = _reader.read_leniently(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # the line is 48 MiB
    assert [(i.code, i.record, i.line) for i in reading.issues] == [("csv.record_too_long", 2, 2)]
    assert [r.units for r in reading.file.records] == [244, 7]  # type: ignore[attr-defined]
    assert reading.file.record_lines == (1, 3)
    assert reading.file.gaps is not None and reading.file.gaps.numbers == (1, 3)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_the_cap_is_exact_for_records_on_one_line_and_across_lines(
    monkeypatch: pytest.MonkeyPatch, chunk: int, newline: str
) -> None:
    from careplan_link.format import _reader

    monkeypatch.setattr(_reader, "_CHUNK_SIZE", chunk)
    short = table6_row()
    one_line = table6_row(planner_name='"' + "x" * 300 + '"')
    many_lines = table6_row(planner_name='"' + ("y" * 9 + newline) * 30 + '"')
    data = table6_csv(short, one_line, short, many_lines, short, newline=newline)
    sizes = [len(table6_csv(row, newline=newline)) for row in (one_line, many_lines)]
    for cap in sorted({*sizes, *(s - 1 for s in sizes)}):
        try:
            file = parse_plan(data, name=PLAN_NAME, max_record_bytes=cap)
            refused = []
        except FormatError as error:
            refused = [(i.code, i.record, i.line) for i in error.issues]
            file = None
        expected = []
        if cap < sizes[0]:
            expected.append(("csv.record_too_long", 2, 2))
        if cap < sizes[1]:
            expected.append(("csv.record_too_long", 4, 4))
        assert refused == expected, (cap, sizes)
        if file is not None:
            assert file.record_lines == (1, 2, 3, 4, 35)
        reading = _reader.read_leniently(data, name=PLAN_NAME, max_record_bytes=cap)
        assert reading.file.record_lines == tuple(
            line
            for number, line in zip(range(1, 6), (1, 2, 3, 4, 35), strict=True)
            if ("csv.record_too_long", number, line) not in expected
        )


def test_a_quote_never_closed_makes_one_long_record_not_a_long_wait() -> None:
    # Free text left bare (lenient readers accept it): the quote opened in record 2 never closes.
    bare = table6_row(planner_name="佐藤", provider_name="すみれ")
    opened = table6_row(planner_name='"佐藤', provider_name="すみれ")
    data = table6_csv(table6_row(), opened, *[bare] * 2000)
    with pytest.raises(FormatError) as caught:
        parse_plan(data, name=PLAN_NAME, max_record_bytes=10_000)
    (issue,) = caught.value.issues
    assert (issue.code, issue.record, issue.line) == ("csv.record_too_long", 2, 2)
    assert "quote" in issue.message_en


def test_free_text_longer_than_the_csv_modules_own_limit_is_read() -> None:
    long_text = "介護" * 100_000  # 200,000 characters: csv's default limit is 131,072
    data = table6_csv(table6_row(planner_name=f'"{long_text}"'))
    assert parse_plan(data, name=PLAN_NAME).records[0].planner_name == long_text  # type: ignore[attr-defined]


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_record_bytes"):
        parse_plan(table6_csv(table6_row()), name=PLAN_NAME, max_record_bytes=0)


# -- rows that do not fit the layout ------------------------------------------------------------


def test_rows_of_another_interface_are_said_once_with_the_likely_cause() -> None:
    from careplan_link.format import _reader

    table7_row = ["202407", "131011", "0000012345", "20250325", "202504", '"すみれ"']
    table7_row += ["1370200022"] + [""] * 30  # the 37 items of a v4.1 第7表
    data = table6_csv(*[table7_row] * 40)
    issues = errors_of(data)
    assert [(i.code, i.record, i.line) for i in issues] == [("csv.layout_mismatch", None, 1)]
    assert "UPSIKYU" in issues[0].message_en and "UPSIKYU" in issues[0].message_ja
    reading = _reader.read_leniently(data, name=PLAN_NAME)
    assert [i.code for i in reading.issues] == ["csv.layout_mismatch"]
    assert reading.file.gaps is not None
    assert reading.file.gaps.unread_records == tuple(range(1, 41))
    # iter_records stops at the first row, and says the same cause there.
    with pytest.raises(FormatError) as caught:
        list(iter_records(data, name=PLAN_NAME))
    (issue,) = caught.value.issues
    assert issue.code == "csv.column_count" and "UPSIKYU" in issue.message_en


def test_a_column_per_day_is_said_once() -> None:
    days = ["1" if day % 3 else "" for day in range(31)]
    rows = [["202407", "131011", f"{n:010d}", "202504", "111211", *days] for n in range(30)]
    (issue,) = errors_of(table6_csv(*rows))
    assert issue.code == "csv.layout_mismatch"
    assert "one record per service date" in issue.message_en


def test_v3_rows_under_a_v4_version_are_said_once() -> None:
    row = table6_row()
    (issue,) = errors_of(table6_csv(*[row[:15] + row[18:]] * 3))
    assert issue.code == "csv.layout_mismatch" and "202208" in issue.message_en


def test_one_row_that_does_not_fit_stays_a_record_issue() -> None:
    issues = errors_of(table6_csv(table6_row(), table6_row()[:24], table6_row()))
    assert [(i.code, i.record) for i in issues] == [("csv.column_count", 2)]


def test_a_header_of_column_numbers_is_a_note() -> None:
    numbers = [str(n) for n in range(1, 26)]
    file = read(table6_csv(numbers, table6_row()))
    assert [(n.code, n.line) for n in file.notes] == [("read.header", 1)]
    assert len(file.records) == 1
