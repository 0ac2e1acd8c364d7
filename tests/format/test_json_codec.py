"""The codec seam and the JSON codec: round trips, hostile documents, the same rules."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import (
    CSV_CODEC,
    JSON_CODEC,
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    CareplanFile,
    Codec,
    FileName,
    FormatError,
    Issue,
    Layout,
    YearMonth,
    from_json,
    get_layout,
    parse_plan,
    to_json,
    validate,
)
from careplan_link.format import LAYOUTS
from careplan_link.testing import strategies

from .test_validation import ITEM_RULE_CASES
from .unitfiles import EXAMPLES, edit, schedule_unit

PLAN = EXAMPLES / "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
SUPPLEMENT = EXAMPLES / "UPHOSOKU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
TOTALS = EXAMPLES / "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"

ALL_LAYOUTS = [layout for _, layout in sorted(LAYOUTS.items())]


@st.composite
def _files(draw: st.DrawFn, layout: Layout) -> CareplanFile:
    """Any records of the layout (item-valid, not coherent: the codec does not care)."""
    records = tuple(draw(st.lists(strategies.records(layout), max_size=2)))
    name = draw(strategies.file_names(layout))
    version = records[0].csv_version if records else layout.csv_version
    return CareplanFile(name=name, layout=layout, csv_version=version, records=records)


@pytest.mark.parametrize(
    "layout", ALL_LAYOUTS, ids=lambda layout: f"{layout.id}-{layout.csv_version}"
)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_round_trip_of_every_layout(layout: Layout, data: st.DataObject) -> None:
    file = data.draw(_files(layout))
    document = to_json(file)
    # records → JSON → records
    back = from_json(document)
    assert back == file
    assert back.layout is layout
    assert [type(r) for r in back.records] == [type(r) for r in file.records]
    # JSON → records → JSON
    assert to_json(back) == document
    # and through the `Codec` face, as validation uses it
    codec: Codec = JSON_CODEC
    decoded = codec.decode(document, file.name, "label")
    assert decoded.issues == () and decoded.file == file
    assert codec.encode(file) == document


def test_special_values_and_decimals_are_kept() -> None:
    plan = parse_plan(PLAN)
    untimed = [r for r in plan.records if r.start_time is NO_TIME]  # type: ignore[attr-defined]
    assert untimed  # the example has services without a time
    document = json.loads(to_json(plan))
    assert document["records"][-1]["start_time"] == "9999"
    assert from_json(json.dumps(document).encode()).records[-1].start_time is NO_TIME  # type: ignore[attr-defined]

    supplement = parse_plan(SUPPLEMENT)
    record = attrs.evolve(supplement.records[0], plan_date=ZERO_DATE)  # type: ignore[misc]
    zero = attrs.evolve(supplement, records=(record,))
    text = to_json(zero)
    assert json.loads(text)["records"][0]["plan_date"] == "00000000"
    assert from_json(text).records[0].plan_date is ZERO_DATE  # type: ignore[attr-defined]

    totals = parse_plan(TOTALS)
    decimals = [r.unit_price for r in totals.records if r.unit_price is not None]  # type: ignore[attr-defined]
    assert decimals and all(isinstance(d, Decimal) for d in decimals)
    back = from_json(to_json(totals))
    assert [r.unit_price for r in back.records] == [r.unit_price for r in totals.records]  # type: ignore[attr-defined]
    assert all(type(r.unit_price) is Decimal for r in back.records if r.unit_price is not None)  # type: ignore[attr-defined]


def test_zero_month_in_a_plan_supplement() -> None:
    layout = get_layout("supplement")
    supplement = parse_plan(SUPPLEMENT)
    record = attrs.evolve(supplement.records[0], target_month=ZERO_MONTH)  # type: ignore[misc]
    file = attrs.evolve(supplement, records=(record,))
    assert json.loads(to_json(file))["records"][0]["target_month"] == "000000"
    assert from_json(to_json(file)).records[0].target_month is ZERO_MONTH  # type: ignore[attr-defined]
    assert layout is file.layout


# -- malformed and hostile documents -----------------------------------------------------------


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(to_json(parse_plan(PLAN)))
    return document


def _error(document: object, **kwargs: Any) -> FormatError:
    data = document if isinstance(document, bytes | str) else json.dumps(document)
    with pytest.raises(FormatError) as caught:
        from_json(data, **kwargs)
    return caught.value


def _only(error: FormatError) -> Issue:
    assert len(error.issues) == 1, [str(i) for i in error.issues]
    return error.issues[0]


def test_wrong_item_type_names_record_and_item() -> None:
    document = _document()
    document["records"][2]["service_date"] = 20250401  # a number, not the date's text
    document["records"][4]["units"] = "244"  # a string, not a number
    document["records"][5]["units"] = True  # a bool is no number
    document["records"][6]["start_time"] = "2500"
    error = _error(document)
    places = [(i.code, i.record, i.column, i.item, i.value) for i in error.issues]
    assert places == [
        ("json.item", 3, 10, "サービス利用日", "20250401"),
        ("json.item", 5, 8, "単位数", '"244"'),
        ("json.item", 6, 8, "単位数", "true"),
        ("json.item", 7, 12, "サービス開始時刻", '"2500"'),
    ]
    assert all(i.file == PLAN.name and i.message_ja and i.message_en for i in error.issues)


def test_unknown_and_missing_attributes() -> None:
    document = _document()
    document["records"][0]["serivce_date"] = document["records"][0].pop("service_date")
    issues = _error(document).issues
    assert [(i.code, i.record, i.column, i.item, i.value) for i in issues] == [
        ("json.unknown_item", 1, None, None, "serivce_date"),
        ("json.missing_item", 1, 10, "サービス利用日", None),
    ]


def test_a_decimal_as_a_json_number_is_refused() -> None:
    document: dict[str, Any] = json.loads(to_json(parse_plan(TOTALS)))
    text = json.dumps(document).replace('"unit_price": "11.40"', '"unit_price": 11.40', 1)
    assert '"unit_price": 11.40' in text
    assert _only(_error(text)).code == "json.syntax"


def test_a_decimal_in_another_notation_is_refused() -> None:
    document: dict[str, Any] = json.loads(to_json(parse_plan(TOTALS)))
    index = next(i for i, r in enumerate(document["records"]) if r["unit_price"])
    document["records"][index]["unit_price"] = "1e3"
    issue = _only(_error(document))
    assert (issue.code, issue.record, issue.item) == ("json.item", index + 1, "単位数単価")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: d.pop("format"), "json.document"),
        (lambda d: d.update(format_version=2), "json.document"),
        (lambda d: d.update(format_version=True), "json.document"),
        (lambda d: d.update(interface=["table6_plan"]), "json.document"),
        (lambda d: d.update(layout_family="209912"), "json.document"),
        (lambda d: d.update(interface="table7"), "json.document"),  # not what the name says
        (lambda d: d.update(records={"0": {}}), "json.document"),
        (lambda d: d.pop("records"), "json.document"),
        (lambda d: d.update(csv_version="202208"), "json.document"),  # not the records' value
        (lambda d: d["records"].__setitem__(0, [1, 2]), "json.record"),
        (lambda d: d["records"].__setitem__(0, "202407,131011"), "json.record"),
    ],
)
def test_malformed_documents(change: Any, code: str) -> None:
    document = _document()
    change(document)
    issue = _error(document).issues[0]
    assert issue.code == code
    assert issue.file == PLAN.name and issue.message_ja and issue.message_en


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe not utf-8",
        b"[1, 2",
        b'"just a string"',
        b"[]",
        b"null",
        b"NaN",
        b'{"a": 1, "a": 2}',
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than any stack
        b'{"x": ' + b"1" * 50_000 + b"}",  # more digits than Python converts
    ],
    ids=[
        "empty",
        "not-utf8",
        "truncated",
        "string",
        "array",
        "null",
        "nan",
        "duplicate-key",
        "deep",
        "huge-int",
    ],
)
def test_hostile_input_is_a_format_error(data: bytes) -> None:
    issue = _error(data, name=PLAN.name).issues[0]
    assert issue.code in ("json.syntax", "json.document")
    assert len(issue.message_en) < 300  # a message, not the document


def test_deep_nesting_inside_a_record() -> None:
    text = json.dumps(_document()).replace(
        '"tais_code": null', '"tais_code": ' + "[" * 50_000 + "]" * 50_000, 1
    )
    assert _only(_error(text)).code == "json.syntax"


def test_many_bad_items_are_cut_short() -> None:
    document = _document()
    document["records"] = [{"nonsense": i} for i in range(5_000)]
    issues = _error(document).issues
    assert len(issues) == 100
    assert issues[0].record == 1


def test_name_comes_from_the_caller_or_the_document() -> None:
    document = _document()
    assert from_json(json.dumps(document)).name == FileName.parse(PLAN.name)
    del document["name"]
    assert _only(_error(document)).code == "json.document"
    assert from_json(json.dumps(document), name=PLAN.name).name == FileName.parse(PLAN.name)
    assert _error(document, name="UPPLAN_bad.CSV").issues[0].code.startswith("name.")


def test_encoding_a_record_of_the_wrong_type_is_a_format_error() -> None:
    plan = parse_plan(PLAN)
    wrong = attrs.evolve(plan.records[1], units="244", service_date="20250401")  # type: ignore[misc]
    with pytest.raises(FormatError) as caught:
        to_json(attrs.evolve(plan, records=(plan.records[0], wrong)))
    assert [(i.code, i.record, i.item) for i in caught.value.issues] == [
        ("json.item", 2, "単位数"),
        ("json.item", 2, "サービス利用日"),
    ]


# -- the same rules over either codec ----------------------------------------------------------


def _as_json(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files' records as JSON documents under the same names (read by the CSV codec)."""
    converted = {}
    for name, data in files.items():
        decoded = CSV_CODEC.decode(data, FileName.parse(name), name)
        assert decoded.file is not None
        assert not [i for i in decoded.issues if i.is_error], decoded.issues
        converted[name] = to_json(decoded.file)
    return converted


def _model_issues(issues: tuple[Issue, ...]) -> list[tuple[object, ...]]:
    """What the model's rules said (the codec's own notes left out), without the line: a JSON
    document has records, not lines."""
    return [
        (i.code, i.severity, i.file, i.record, i.column, i.item, i.value)
        for i in issues
        if not i.code.startswith(("read.", "encoding."))
    ]


@pytest.mark.parametrize(
    ("prefix", "record", "column", "text", "code", "severity"), ITEM_RULE_CASES
)
def test_rules_find_the_same_issues_in_json_and_csv(
    prefix: str, record: int, column: int, text: str, code: str, severity: str
) -> None:
    files = edit(schedule_unit(), prefix, record, column, text)
    from_csv = validate(files)
    from_json_files = validate(_as_json(files), codec=JSON_CODEC)
    assert code in {i.code for i in from_json_files.issues}
    assert _model_issues(from_json_files.issues) == _model_issues(from_csv.issues)
    assert [u.kind for u in from_json_files.units] == [u.kind for u in from_csv.units]


def test_valid_json_unit_validates_clean_and_broken_json_is_an_issue() -> None:
    files = _as_json(schedule_unit())
    assert validate(files, codec=JSON_CODEC).issues == ()
    name = next(iter(files))
    broken = validate({**files, name: b"{"}, codec=JSON_CODEC)
    (issue,) = [i for i in broken.issues if i.file == name]
    assert (issue.code, issue.severity) == ("json.syntax", "error")


def test_csv_codec_round_trip() -> None:
    data = PLAN.read_bytes()
    decoded = CSV_CODEC.decode(data, FileName.parse(PLAN.name), PLAN.name)
    assert decoded.file is not None and decoded.issues == ()
    assert CSV_CODEC.encode(decoded.file) == data


def test_month_values_are_typed() -> None:
    file = from_json(to_json(parse_plan(PLAN)))
    assert file.records[0].target_month == YearMonth(2025, 4)  # type: ignore[attr-defined]
    assert file.records[0].service_date == datetime.date(2025, 4, 1)  # type: ignore[attr-defined]
