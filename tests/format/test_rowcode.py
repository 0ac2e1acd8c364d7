"""The compiled row builders and formatters of `_rowcode`: same records as the constructors."""

from __future__ import annotations

import inspect
import linecache
import traceback
from typing import Any

import attrs
import pytest

from careplan_link.format import LAYOUTS
from careplan_link.format._convert import TYPED_KINDS
from careplan_link.format._layout import Kind, Layout
from careplan_link.format._rowcode import builds_tuple, compile_generated, row_builder
from careplan_link.format._rowformat import row_formatter


def _sample_row(layout: Layout) -> list[str]:
    """A valid row: the CSVバージョン, a typed value in every typed column, text elsewhere."""
    samples = {
        Kind.INTEGER: "0120",  # not canonical, but an integer (leading zeros are read)
        Kind.DECIMAL: "11.40",
        Kind.YYYYMMDD: "20250401",
        Kind.YYYYMM: "202504",
        Kind.HHMM: "0930",
    }
    row = []
    for column in layout.columns:
        if column.kind is Kind.CSV_VERSION:
            row.append(layout.csv_version)
        else:
            row.append(samples.get(column.kind, f"t{column.no}"))
    return row


@pytest.mark.parametrize("key", sorted(LAYOUTS), ids=lambda key: f"{key[0]}-{key[1]}")
def test_builder_makes_the_record_the_constructor_makes(key: tuple[str, str]) -> None:
    layout = LAYOUTS[key]
    assert builds_tuple(layout)  # every generated record type qualifies
    row = _sample_row(layout)
    built = row_builder(layout)(list(row))
    empty = row_builder(layout)(["" if i else row[0] for i in range(len(row))])
    values = [getattr(built, column.attribute) for column in layout.columns]
    assert type(built) is layout.record_type
    assert built == layout.record_type(*values)
    assert hash(built) == hash(layout.record_type(*values))
    assert all(getattr(empty, c.attribute) is None for c in layout.columns[1:])
    # Written back, the row is the sample (integers canonical: 0120 → 120).
    line = row_formatter(layout, frozenset({Kind.FREE_TEXT}))(built)
    assert line.count(",") == len(layout.columns) - 1


def test_integer_cache_notes_a_leading_zero_and_reads_signs() -> None:
    layout = LAYOUTS[("table6_plan", "202407")]
    departures: list[tuple[int, str]] = []
    build: Any = row_builder(layout, departures)
    row = ["120" if text == "0120" else text for text in _sample_row(layout)]
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    row[units] = "-5"
    assert build(list(row)).units == -5
    assert departures == []
    row[units] = "007"
    assert build(list(row)).units == 7
    assert departures == [(units, "007")]
    row[units] = "７"  # a full-width digit is no integer of the standard
    with pytest.raises(ValueError):
        build(list(row))


def _layout_with(record_type: type) -> Layout:
    layout = LAYOUTS[("table6_actual_delete", "202407")]
    return attrs.evolve(layout, record_type=record_type)


def test_other_record_types_are_built_by_their_constructor() -> None:
    base: Any = LAYOUTS[("table6_actual_delete", "202407")].record_type
    fields = {f.name: attrs.field() for f in attrs.fields(base)}
    validated = dict(fields, csv_version=attrs.field(validator=attrs.validators.instance_of(str)))
    converted = dict(fields, csv_version=attrs.field(converter=str))
    kinds = {
        "validator": attrs.make_class("Validated", validated, frozen=True),
        "converter": attrs.make_class("Converted", converted, frozen=True),
        "cached hash": attrs.make_class("Cached", fields, frozen=True, cache_hash=True),
        "no slots": attrs.make_class("Plain", fields, frozen=True, slots=False),
    }
    for name, record_type in kinds.items():
        layout = _layout_with(record_type)
        assert not builds_tuple(layout), name
        row = _sample_row(layout)
        built = row_builder(layout)(row)
        assert built == record_type(*[getattr(built, f.name) for f in attrs.fields(record_type)])

    class Hooked(base):  # type: ignore[misc]
        __slots__ = ()

        def __attrs_post_init__(self) -> None:
            raise AssertionError("called")

    assert not builds_tuple(_layout_with(Hooked))


# -- generated source in linecache --------------------------------------------------------------


def test_generated_builder_has_its_source_and_traceback_lines() -> None:
    layout = LAYOUTS[("table6_plan", "202407")]
    build = row_builder(layout)
    source = inspect.getsource(build)
    assert source.lstrip().startswith("def build(r,")
    assert "c9[r[9]]" in source  # サービス利用日 (No.10) typed through its cache
    row = _sample_row(layout)
    row[9] = "20250431"  # no such day: the cache's conversion raises inside the generated line
    with pytest.raises(ValueError) as caught:
        build(row)
    shown = "".join(traceback.format_exception(caught.value))
    assert "row builder table6_plan 202407" in shown
    generated_line = next(line for line in source.splitlines() if "c9[r[9]]" in line).strip()
    assert generated_line in shown


def test_generated_formatter_has_its_source_and_traceback_lines() -> None:
    layout = LAYOUTS[("table7", "202407")]
    line = row_formatter(layout, frozenset({Kind.FREE_TEXT}))
    source = inspect.getsource(line)
    assert source.lstrip().startswith("def line(r,")
    assert "','.join((" in source
    with pytest.raises(TypeError) as caught:
        line(object())  # not a record: unpacking its values fails in the generated line
    shown = "".join(traceback.format_exception(caught.value))
    assert "row formatter table7 202407" in shown
    assert "a36, = r" in shown  # the generated line that failed


def test_formatter_reads_other_record_types_by_attribute() -> None:
    base: Any = LAYOUTS[("table6_actual_delete", "202407")].record_type
    fields = {f.name: attrs.field() for f in attrs.fields(base)}
    plain = attrs.make_class("Plain", fields, frozen=True)
    layout = _layout_with(plain)
    row = _sample_row(layout)
    record = row_builder(layout)(row)
    assert type(record) is plain and not isinstance(record, tuple)
    generated = row_formatter(layout, frozenset({Kind.FREE_TEXT}))(record)
    assert generated == row_formatter(_layout_with(base), frozenset({Kind.FREE_TEXT}))(
        base(*attrs.astuple(record, recurse=False))
    )


def test_each_compilation_has_its_own_file_name() -> None:
    first = compile_generated("def make():\n return 1\n", "test")
    second = compile_generated("def make():\n return 2\n", "test")
    assert first.co_filename != second.co_filename
    assert linecache.getline(second.co_filename, 2) == " return 2\n"
    linecache.checkcache()  # no file on disk to compare with: the entries stay
    assert linecache.getline(first.co_filename, 2) == " return 1\n"


def _distinct_rows(layout: Layout, count: int) -> list[list[str]]:
    """Rows of `layout` whose integer items all differ (every typed text a cache miss)."""
    rows = []
    for n in range(count):
        row = _sample_row(layout)
        rows.append([str(1000 + n) if text == "0120" else text for text in row])
    return rows


@pytest.mark.parametrize("count", [10, 200, 5000])  # plain, converting after 64 misses, full cache
def test_builder_types_rows_whose_values_all_differ(count: int) -> None:
    layout = LAYOUTS[("table7", "202407")]
    build = row_builder(layout)
    integers = [i for i, c in enumerate(layout.columns) if c.kind is Kind.INTEGER]
    for row in _distinct_rows(layout, count) + _distinct_rows(layout, 3):  # seen ones again
        built = build(list(row))
        assert [built[i] for i in integers] == [int(row[i]) for i in integers]
        assert built == layout.record_type(*built)
    bad = _distinct_rows(layout, 1)[0]
    bad[integers[0]] = "1O"  # a letter O: no integer, whichever builder is at work
    with pytest.raises(ValueError):
        build(bad)


def test_builder_notes_a_departure_also_when_converting() -> None:
    layout = LAYOUTS[("table7", "202407")]
    departures: list[tuple[int, str]] = []
    build: Any = row_builder(layout, departures)
    rows = _distinct_rows(layout, 100)  # past the point where every row is converted
    for row in rows:
        build(list(row))
    assert departures == []
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    row = list(rows[0])
    row[units] = "0999"
    assert build(row).units == 999
    assert departures == [(units, "0999")]


def test_builder_notes_a_departure_when_a_full_cache_converts_inline() -> None:
    layout = LAYOUTS[("table7", "202407")]
    departures: list[tuple[int, str]] = []
    build: Any = row_builder(layout, departures)
    rows = _distinct_rows(layout, 5000)  # fills every integer column's cache (4,096 texts)
    for row in rows:
        build(list(row))
    assert departures == []
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    row = list(rows[0])
    row[units] = "0777"  # not in the full cache: converted, and noted as not canonical
    assert build(row).units == 777
    assert departures == [(units, "0777")]


def _texts_rows(layout: Layout, count: int, distinct: bool) -> list[list[str]]:
    """Rows whose text items are equal on every row, or all different (`distinct`); each item a
    new str object, as the csv module makes them."""
    rows = []
    for n in range(count):
        row = _sample_row(layout)
        for i, column in enumerate(layout.columns):
            if column.kind is Kind.CSV_VERSION:
                row[i] = "".join(list(row[i]))  # a new object of the same text
            elif row[i].startswith("t"):
                row[i] = f"t{column.no}-{n}" if distinct else "".join(["t", str(column.no)])
        rows.append(row)
    return rows


def _text_columns(layout: Layout) -> list[int]:
    return [i for i, c in enumerate(layout.columns) if c.kind not in TYPED_KINDS]


@pytest.mark.parametrize("count", [10, 200, 5000])
def test_shared_texts_are_one_object_per_text_and_read_the_same(count: int) -> None:
    layout = LAYOUTS[("table7", "202407")]
    shared = row_builder(layout, share_texts=True)
    plain = row_builder(layout)
    rows = _texts_rows(layout, count, distinct=False)
    built = [shared(list(row)) for row in rows]
    assert built == [plain(list(row)) for row in rows]
    for i in _text_columns(layout):
        assert len({id(record[i]) for record in built}) == 1, layout.columns[i].attribute
    # Without sharing, each record keeps the csv module's own objects.
    unshared = [plain(list(row)) for row in rows[:10]]
    assert len({id(record[1]) for record in unshared}) == min(count, 10)


@pytest.mark.parametrize("count", [10, 200, 5000])  # past the typed caches' limit too
def test_shared_texts_that_all_differ_are_read_as_they_are(count: int) -> None:
    layout = LAYOUTS[("table7", "202407")]
    shared = row_builder(layout, share_texts=True)
    rows = _texts_rows(layout, count, distinct=True)
    # Rows seen again (the first ones) after the caches filled up.
    for row in rows + rows[:3]:
        record = shared(list(row))
        for i in _text_columns(layout):
            assert record[i] == row[i], layout.columns[i].attribute


def test_shared_empty_texts_are_none_and_the_csv_version_stays_text() -> None:
    layout = LAYOUTS[("table7", "202407")]
    build = row_builder(layout, share_texts=True)
    for _ in range(3):
        record = build([""] * len(layout.columns))
        assert record[0] == ""
        assert all(value is None for value in record[1:])


# -- the re-plan: columns whose values differ are typed without their cache -------------------


def _direct_columns(build: Any) -> str | None:
    """The `direct [...]` note of the builder a file's rows went to after the re-plan (None
    before or without one): the outer builder's spell state holds it."""
    state = next(d for d in build.__defaults__ if isinstance(d, list) and len(d) == 3)
    name = state[2].__code__.co_filename
    return name.split(" direct ")[1].split(" #")[0] if " direct " in name else None


def _rows_with_distinct_units(layout: Layout, count: int) -> list[list[str]]:
    """Rows whose 単位数 all differ while every other item repeats."""
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    rows = []
    for n in range(count):
        row = _sample_row(layout)
        row[units] = str(1000 + n)
        rows.append(row)
    return rows


def test_builder_replans_a_column_whose_integers_differ() -> None:
    layout = LAYOUTS[("table7", "202407")]
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    build: Any = row_builder(layout)
    rows = _rows_with_distinct_units(layout, 3000)
    for row in rows:
        built = build(list(row))
        assert built == layout.record_type(*built)
        assert built.units == int(row[units])
    # Only the column that kept missing is typed inline; the others keep their caches.
    assert _direct_columns(build) == f"[{units}]"
    # Past the re-plan, the inline column still reads every form the cache path reads …
    row = list(rows[0])
    for text, value in [("", None), ("0", 0), ("-5", -5), ("0999", 999)]:
        row[units] = text
        assert build(list(row)).units == value, text
    # … and refuses what is no integer of the standard.
    for text in ["1O", "１２", " 12", "+12", "1_2"]:
        row[units] = text
        with pytest.raises(ValueError):
            build(list(row))


def test_builder_inline_integers_note_a_leading_zero() -> None:
    layout = LAYOUTS[("table7", "202407")]
    units = next(i for i, c in enumerate(layout.columns) if c.attribute == "units")
    departures: list[tuple[int, str]] = []
    build: Any = row_builder(layout, departures)
    # Canonical everywhere, so that the first departure is the one planted below.
    rows = [
        [("120" if text == "0120" else text) for text in row]
        for row in _rows_with_distinct_units(layout, 3000)
    ]
    for row in rows:
        build(list(row))
    assert departures == []
    assert _direct_columns(build) == f"[{units}]"
    row = list(rows[0])
    row[units] = "0777"
    assert build(row).units == 777
    assert departures == [(units, "0777")]


def test_builder_keeps_caches_of_a_file_whose_values_repeat() -> None:
    layout = LAYOUTS[("table7", "202407")]
    build = row_builder(layout)
    rows = _distinct_rows(layout, 70)  # 64 misses start a spell …
    rows += [list(rows[n % 70]) for n in range(3000)]  # … over values seen before
    for row in rows:
        build(list(row))
    assert _direct_columns(build) is None


def test_shared_builder_stops_sharing_texts_that_all_differ_and_keeps_the_others_shared() -> None:
    layout = LAYOUTS[("table7", "202407")]
    columns = [c.attribute for c in layout.columns]
    # 被保険者番号 differs on every row, the provider's name repeats.
    varying, steady = columns.index("insured_no"), columns.index("provider_name")
    build = row_builder(layout, share_texts=True)
    rows = _texts_rows(layout, 3000, distinct=False)
    for n, row in enumerate(rows):
        row[varying] = f"v{n}"
    built = [build(list(row)) for row in rows]
    assert [record[varying] for record in built] == [row[varying] for row in rows]
    assert _direct_columns(build) == f"[{varying}]"
    # The steady column is still one object on every record, after the re-plan too.
    assert len({id(record[steady]) for record in built}) == 1
    assert built == [row_builder(layout)(list(row)) for row in rows]
