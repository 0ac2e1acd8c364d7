"""Properties of validation over generated units: valid units are clean, and a single planted
fault is reported at its exact file, record and column."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import Bundle, FileName, Kind, get_layout, validate
from careplan_link.testing import strategies as cst

from .unitfiles import bytes_of, rows_of


@settings(max_examples=60)
@given(cst.units())
def test_valid_generated_units_report_nothing(unit: Bundle) -> None:
    report = validate(unit)
    assert report.issues == (), [str(i) for i in report.issues]


# A value that breaks each kind of item, whatever the rest of the record holds.
_FAULTS = {
    Kind.DIGITS: "12345",
    Kind.CODE: "Q",
    Kind.SERVICE_CODE: "11-211",
    Kind.YYYYMMDD: "20251341",
    Kind.YYYYMM: "202513",
    Kind.HHMM: "2460",
    Kind.INTEGER: "1x",
    Kind.POSTAL_CODE: "1600023",
    Kind.FLAG31: "0101",
    Kind.ALPHANUMERIC: "ＡＢ",
}


@settings(max_examples=50)
@given(cst.units(), st.data())
def test_a_planted_fault_is_reported_where_it_is(unit: Bundle, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(unit.files)))
    layout = get_layout(FileName.parse(name).layout_id)
    rows = rows_of(unit.files[name])
    record = data.draw(st.integers(1, len(rows)))
    # 識別子 ("not used") only draws a warning when filled: no fault to plant there.
    candidates = [
        c for c in layout.columns if c.kind in _FAULTS and c.no > 1 and c.attribute != "identifier"
    ]
    column = data.draw(st.sampled_from(candidates))
    rows[record - 1][column.no - 1] = _FAULTS[column.kind]
    files = {**unit.files, name: bytes_of(rows, layout.id)}
    report = validate(files)
    assert not report.ok
    at_place = [
        i
        for i in report.errors
        if (i.file, i.record, i.column) == (name, record, column.no) and i.item == column.name_ja
    ]
    assert at_place, (column.name_ja, [str(i) for i in report.issues])


# 外字 (a user-defined code) in free text: not an MS932 character, reported at its item.
_GAIJI = b"\xf0\x40"


@settings(max_examples=40)
@given(cst.units(), st.data())
def test_two_or_three_planted_faults_are_all_found_in_one_pass(
    unit: Bundle, data: st.DataObject
) -> None:
    """An unreadable value hides nothing: every fault is found at its file, record and column,
    whichever records, files and items the others are planted in."""
    cells = []
    for name in sorted(unit.files):
        layout = get_layout(FileName.parse(name).layout_id)
        records = len(rows_of(unit.files[name]))
        for column in layout.columns:
            plantable = column.kind in _FAULTS or column.kind is Kind.FREE_TEXT
            if plantable and column.no > 1 and column.attribute != "identifier":
                cells += [(name, record, column) for record in range(1, records + 1)]
    first = data.draw(st.sampled_from(cells))
    if data.draw(st.booleans()):  # the others in the same record, half of the time
        cells = [cell for cell in cells if cell[:2] == first[:2] and cell != first]
    else:
        cells = [cell for cell in cells if cell != first]
    others = st.lists(st.sampled_from(cells), min_size=1, max_size=2, unique=True)
    planted = [first, *data.draw(others)]
    files = dict(unit.files)
    for name in {name for name, _, _ in planted}:
        layout = get_layout(FileName.parse(name).layout_id)
        rows = rows_of(files[name])
        gaiji = []
        for planted_name, record, column in planted:
            if planted_name != name:
                continue
            if column.kind is Kind.FREE_TEXT:
                rows[record - 1][column.no - 1] = "\x00GAIJI\x00"  # replaced after encoding
                gaiji.append(record)
            else:
                rows[record - 1][column.no - 1] = _FAULTS[column.kind]
        files[name] = bytes_of(rows, layout.id).replace(b"\x00GAIJI\x00", _GAIJI)
    report = validate(files)
    places = {(i.file, i.record, i.column) for i in report.errors}
    for name, record, column in planted:
        assert (name, record, column.no) in places, (
            name,
            record,
            column.name_ja,
            [str(i) for i in report.issues],
        )
