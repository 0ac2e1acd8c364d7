"""Writing: canonical form, quoting policies, layout checks, MS932 errors and substitution."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from careplan_link import (
    NO_TIME,
    ZERO_DATE,
    FileName,
    FormatError,
    QuotePolicy,
    Substitution,
    SupplementRecord,
    Table6ActualRecord,
    Table6PlanV3Record,
    Table7Record,
    parse_plan,
    write_file,
)

from .helpers import PLAN_NAME, table6_csv, table6_record, table6_row


def test_canonical_form() -> None:
    record = table6_record(planner_name='佐藤 "花子", 2', start_time=NO_TIME, end_time=NO_TIME)
    data = write_file([record, table6_record()], PLAN_NAME)
    first = data.split(b"\r\n")[0].decode("cp932")
    assert first.startswith("202407,131011,0000012345,20250325,202504,1370100016,")
    assert ',"佐藤 ""花子"", 2",244,,20250401,,9999,9999,1,111211,' in first
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 2
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_write_to_path_and_folder(tmp_path: Path) -> None:
    data = write_file([table6_record()], PLAN_NAME, to=tmp_path)
    assert (tmp_path / PLAN_NAME).read_bytes() == data
    target = tmp_path / "other.csv"
    write_file([table6_record()], FileName.parse(PLAN_NAME), path=target)
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([PLAN_NAME, "other.csv"])


def test_quote_policies() -> None:
    record = table6_record(planner_name="佐藤")
    every = write_file([record], PLAN_NAME, quoting=QuotePolicy.ALL).decode("cp932")
    assert every.startswith('"202407","131011","0000012345"') and ',"佐藤",' in every
    minimal = write_file([record], PLAN_NAME, quoting=QuotePolicy.MINIMAL).decode("cp932")
    assert ",佐藤," in minimal
    with_comma = table6_record(planner_name="a,b")
    assert ',"a,b",' in write_file([with_comma], PLAN_NAME, quoting=QuotePolicy.MINIMAL).decode(
        "cp932"
    )
    for policy in QuotePolicy:
        data = write_file([record, with_comma], PLAN_NAME, quoting=policy)
        assert parse_plan(data, name=PLAN_NAME).records == (record, with_comma)


def test_non_free_text_with_separator_is_quoted_never_corrupted() -> None:
    record = table6_record(service_code="11,1")
    data = write_file([record], PLAN_NAME)
    assert parse_plan(data, name=PLAN_NAME).records == (record,)


def test_refuses_records_of_another_layout() -> None:
    actual = Table6ActualRecord(insurer_no="131011")
    with pytest.raises(FormatError) as caught:
        write_file([table6_record(), actual], PLAN_NAME)
    (issue,) = caught.value.issues
    assert (issue.code, issue.record) == ("write.layout_mismatch", 2)


def test_refuses_v4_record_claiming_v3_version() -> None:
    with pytest.raises(FormatError) as caught:
        write_file([table6_record(csv_version="202208")], PLAN_NAME)
    assert caught.value.issues[0].code == "write.layout_mismatch"
    v3 = Table6PlanV3Record(csv_version="202208", insurer_no="131011")
    v3_name = "UPPLAN_202504_1370100016_1370200022_20250325093000.CSV"
    assert write_file([v3], v3_name).startswith(b"202208,131011,")


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("units", "244"),
        ("units", True),
        ("service_date", "20250401"),
        ("service_date", datetime.datetime(2025, 4, 1, 10, 0)),
        ("target_month", datetime.date(2025, 4, 1)),
        ("start_time", datetime.time(10, 0, 30)),
        ("start_time", ZERO_DATE),
        ("planner_name", 5),
    ],
)
def test_wrong_value_types_are_reported_with_location(attribute: str, value: object) -> None:
    with pytest.raises(FormatError) as caught:
        write_file([table6_record(), table6_record(**{attribute: value})], PLAN_NAME)
    (issue,) = caught.value.issues
    assert issue.code == "write.type"
    assert issue.record == 2
    assert issue.item == next(
        c.name_ja
        for c in parse_plan(b"", name=PLAN_NAME).layout.columns
        if c.attribute == attribute
    )


@pytest.mark.parametrize("char", ["〜", "−", "¢", "‖", "\ue000", "𠮷", "😀", "\x80"])
def test_characters_outside_ms932_are_errors(char: str) -> None:
    with pytest.raises(FormatError) as caught:
        write_file([table6_record(planner_name=f"山{char}田")], PLAN_NAME)
    (issue,) = caught.value.issues
    assert (issue.code, issue.record, issue.column) == ("write.unencodable", 1, 7)
    assert f"U+{ord(char):04X}" in issue.message_en


def test_substitution_is_opt_in() -> None:
    record = table6_record(planner_name="〜𠮷田😀")
    with pytest.raises(FormatError):
        write_file([record], PLAN_NAME, substitution=Substitution())
    data = write_file([record], PLAN_NAME, substitution=Substitution(fallback="〓"))
    assert parse_plan(data, name=PLAN_NAME).records[0].planner_name == "～吉田〓"  # type: ignore[attr-defined]


def test_roundtrip_of_every_special_and_typed_value() -> None:
    supplement_name = "UPHOSOKU_000000_1370100016_43_1370200022_11_20250325093000.CSV"
    supplement = SupplementRecord(
        insurer_no="131011", insured_no="H123456789", plan_date=datetime.date(2025, 3, 1)
    )
    data = write_file([supplement], supplement_name)
    assert parse_plan(data, name=supplement_name).records == (supplement,)
    total = Table7Record(unit_price=Decimal("10.72"), units=-50, service_code="999999")
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    data = write_file([total], name)
    assert b",10.72," in data and b",-50," in data
    assert parse_plan(data, name=name).records == (total,)


def test_canonical_bytes_roundtrip_exactly() -> None:
    data = table6_csv(table6_row(), table6_row(planner_name='"a""b\r\nc"'))
    assert parse_plan(data, name=PLAN_NAME).to_bytes() == data


def test_equal_decimals_keep_their_own_text() -> None:
    # Decimal('11.4') == Decimal('11.40'): a cache keyed by value would write one as the other.
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    records = [Table7Record(unit_price=Decimal("11.4")), Table7Record(unit_price=Decimal("11.40"))]
    lines = write_file(records, name).split(b"\r\n")
    assert b",11.4," in lines[0] and b",11.40," in lines[1]


def test_int_and_bool_and_decimal_in_integer_column_after_cached_values() -> None:
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    for wrong in (True, Decimal(1), 1.0):
        with pytest.raises(FormatError) as caught:
            write_file([Table7Record(units=1), Table7Record(units=wrong)], name)  # type: ignore[arg-type]
        assert [(i.code, i.record, i.column) for i in caught.value.issues] == [
            ("write.type", 2, 13)
        ]


def test_int_in_decimal_column_is_written() -> None:
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    data = write_file([Table7Record(unit_price=11)], name)  # type: ignore[arg-type]
    assert parse_plan(data, name=name).records[0].unit_price == Decimal(11)  # type: ignore[attr-defined]
