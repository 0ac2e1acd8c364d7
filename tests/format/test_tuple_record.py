"""Generated records are typed tuples (`tuple_record`) that keep the attrs record API."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from careplan_link.format import LAYOUTS, Table6PlanRecord, Table7Record
from careplan_link.format._record import Record, is_tuple_record, tuple_record


def _record() -> Table6PlanRecord:
    return Table6PlanRecord(insurer_no="131011", units=244, planner_name="佐藤")


def test_every_generated_record_type_is_a_tuple_record_of_its_layout() -> None:
    for layout in LAYOUTS.values():
        record_type: Any = layout.record_type
        assert is_tuple_record(record_type), layout.id
        assert issubclass(record_type, Record) and issubclass(record_type, tuple)
        assert record_type.__match_args__ == tuple(c.attribute for c in layout.columns)
        assert [f.metadata["no"] for f in attrs.fields(record_type)] == [
            c.no for c in layout.columns
        ]


def test_the_attrs_api_still_works() -> None:
    record = _record()
    assert attrs.has(Table6PlanRecord)
    assert attrs.fields(Table6PlanRecord).units.metadata == {"no": 8, "item": "単位数"}
    changed = attrs.evolve(record, units=387)
    assert changed.units == 387 and record.units == 244
    assert type(changed) is Table6PlanRecord
    assert attrs.asdict(record, recurse=False)["planner_name"] == "佐藤"
    assert attrs.astuple(record, recurse=False) == record.values() == tuple(record)
    assert record.csv_version == "202407"  # the field's default
    assert Table6PlanRecord(*record.values()) == record  # positional, in column order


def test_fields_read_by_name_and_by_position() -> None:
    record = _record()
    assert record.units == record[7] == 244
    assert len(record) == len(attrs.fields(Table6PlanRecord))
    assert Table6PlanRecord.units.__doc__ == "単位数"


def test_equality_and_hash_are_those_of_one_class() -> None:
    record = _record()
    same = _record()
    assert (record == same) is True and (record != same) is False and hash(record) == hash(same)
    assert record != attrs.evolve(record, units=1)
    # A plain tuple of the same values, or another record type, is a different thing.
    assert record != tuple(record) and tuple(record) != record
    assert (record == tuple(record)) is False and (tuple(record) == record) is False
    assert Table7Record() != Table6PlanRecord() and Table6PlanRecord() != Table7Record()
    assert record != 1 and {record: 1}[same] == 1


def test_records_are_frozen_and_unordered() -> None:
    record = _record()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.units = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del record.units  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        assert record < attrs.evolve(record, units=245)  # type: ignore[operator]


def test_records_copy_pickle_and_print_like_attrs_records() -> None:
    record = _record()
    for copied in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
        assert copied == record and type(copied) is Table6PlanRecord
    assert record.__replace__(units=5) == attrs.evolve(record, units=5)  # copy.replace (3.13)
    assert repr(record).startswith("Table6PlanRecord(csv_version='202407', insurer_no='131011', ")
    assert "units=244" in repr(record)


def test_only_plain_attrs_records_can_be_made_tuples() -> None:
    @attrs.frozen
    class Validated(Record):
        a: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))

    @attrs.frozen
    class Converted(Record):
        a: int = attrs.field(default=0, converter=int)

    @attrs.frozen
    class Hidden(Record):
        a: int = attrs.field(default=0, init=False)

    @attrs.frozen
    class Factory(Record):
        a: list[int] = attrs.field(factory=list)

    for spec in (Validated, Converted, Hidden, Factory):
        with pytest.raises(TypeError, match=spec.__name__):
            tuple_record(spec)

    @tuple_record
    @attrs.frozen
    class Plain(Record):
        a: int
        b: str = "x"

    assert Plain(1) == Plain(a=1, b="x") and tuple(Plain(1)) == (1, "x")
    with pytest.raises(TypeError):
        Plain()  # type: ignore[call-arg]  # a field without default stays required
    assert not is_tuple_record(Validated)


def test_a_tuple_record_with_methods_in_its_body_is_refused() -> None:
    @attrs.frozen
    class WithMethod(Record):
        a: int = 0

        def double(self) -> int:
            return self.a * 2

    @attrs.frozen
    class WithProperty(Record):
        a: int = 0

        @property
        def half(self) -> float:
            return self.a / 2

    for spec, name in ((WithMethod, "double"), (WithProperty, "half")):
        with pytest.raises(TypeError, match=name):
            tuple_record(spec)

    class Methods(Record):
        __slots__ = ()

        def double(self) -> int:
            return self.a * 2  # type: ignore[attr-defined, no-any-return]

    @tuple_record
    @attrs.frozen
    class OnABase(Methods):
        a: int = 0

    assert OnABase(3).double() == 6  # a base class's methods are kept
