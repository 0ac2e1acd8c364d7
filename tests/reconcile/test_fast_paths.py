"""The fast ways reconcile reads records (issue 19's speed target) against the plain ways.

`visits_of` builds visits column by column, `_rows` shares one UserKey per run of records, and
the collecting loops look a user's list up once per run: each must give what the plain
record-by-record way gives.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import pytest

from careplan_link import NO_TIME, ZERO_DATE, Table6ActualRecord, parse_plan, reconcile
from careplan_link.reconcile import _match, _reconcile, _sources
from careplan_link.reconcile._match import match_visits, visit_of, visits_of
from careplan_link.reconcile._model import DifferenceKind, Location, UserKey, Visit
from tests.reconcile.helpers import V, month


def _record(v: V, **changes: Any) -> Table6ActualRecord:
    return attrs.evolve(Table6ActualRecord(**v.fields()), **changes)


def _odd_records() -> list[Table6ActualRecord]:
    """Every value `visit_of` converts: no provider, no code, no time, no date, monthly codes."""
    return [
        _record(V("0000000001", "2710000001", 3)),
        _record(V("0000000001", "2710000001", 4, hour=None)),  # NO_TIME both ends
        _record(V("0000000001", "2710000001", 5), provider_office_no=None),
        _record(V("0000000001", "2710000001", 6), service_code=None),
        _record(V("0000000001", "2710000001", 7), service_date=ZERO_DATE),
        _record(V("0000000001", "2710000001", 8), service_date=None, start_time=None),
        _record(V("0000000001", "2710000001", 9), end_time=NO_TIME),
        _record(V("0000000001", "2710000001", 1, code="171001")),  # monthly (福祉用具貸与)
        _record(V("0000000002", "2710000002", 10, count=2, units=None)),
    ]


def _rows_of(records: list[Table6ActualRecord]) -> list[tuple[Any, Location]]:
    return [(r, Location("UPJSK.CSV", n)) for n, r in enumerate(records, start=1)]


@pytest.mark.parametrize("size", [1, 2, 9])
def test_visits_of_equals_visit_of_record_by_record(size: int) -> None:
    rows = _rows_of(_odd_records()[-size:])
    fast = visits_of(rows)
    assert fast == [visit_of(row) for row in rows]
    assert all(type(v) is Visit for v in fast)


def test_visits_of_converts_what_visit_of_converts() -> None:
    # Negative: the fast path must not keep NO_TIME, ZERO_DATE or None codes as they are.
    visits = visits_of(_rows_of(_odd_records()))
    assert visits[1].start is None and visits[1].end is None
    assert visits[2].provider_office_no == ""
    assert visits[3].service_code == "" and not visits[3].monthly
    assert visits[4].date is None
    assert visits[6].start == datetime.time(10, 0) and visits[6].end is None
    assert visits[7].monthly and not visits[0].monthly
    assert visits_of([]) == []


def test_visit_and_location_keep_the_attrs_api() -> None:
    visit = visit_of(_rows_of(_odd_records())[:1][0])
    assert [f.name for f in attrs.fields(Visit)][:3] == [
        "location",
        "provider_office_no",
        "service_code",
    ]
    assert attrs.evolve(visit, count=5).count == 5
    assert visit.service_type == "11" and visit.time_text() == "10:00-11:00"
    assert str(visit.location) == "UPJSK.CSV #1"
    assert Location("a", 1) != ("a", 1)  # type: ignore[comparison-overlap]  # equal only to its own class, as an attrs class
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        visit.count = 3  # type: ignore[misc]


def test_rows_share_one_user_key_per_user_and_month() -> None:
    a, b = V("0000000001", "2710000001", 3), V("0000000002", "2710000001", 3)
    records = [_record(a), _record(a), _record(b), _record(a), _record(b, insurer_no=None)]
    _, results = month([a], [a])
    name, data = next(iter(results[0].files.items()))
    file = attrs.evolve(parse_plan(data, name=name), records=tuple(records))
    users, rows = _sources._rows(file, {})
    assert users == [_sources._user(r) for r in records]
    assert users[0] is users[1] is users[3]
    assert users[2] != users[4] and users[4].insurer_no == ""
    assert [row[1] for row in rows] == [Location(str(file.name), n) for n in range(1, 6)]
    assert [row[0] for row in rows] == records


def _plain_rows(file: Any, keys: Any) -> tuple[list[UserKey], list[tuple[Any, Location]]]:
    # The plain way: a new UserKey per record, so every record starts a new run.
    name = str(file.name)
    rows = [(r, Location(name, n)) for n, r in enumerate(file.records, start=1)]
    return [_sources._user(r) for r in file.records], rows


def _one_by_one(items: Iterable[Any]) -> Iterator[tuple[Any, Iterator[Any]]]:
    for item in items:
        yield item, iter([item])


def _month_with_changes(seed: int) -> tuple[list[V], list[V]]:
    rng = random.Random(seed)
    planned: list[V] = []
    delivered: list[V] = []
    providers = ["2710000001", "2710000002", "2710000003"]
    for n in range(1, 7):
        user = f"{n:010d}"
        for provider in rng.sample(providers, 2):
            code = rng.choice(["111111", "112211", "151111"])
            for day in sorted(rng.sample(range(1, 29), 6)):
                visit = V(user, provider, day, code, hour=rng.choice([9, 14, None]))
                planned.append(visit)
                roll = rng.random()
                if roll < 0.1:
                    continue
                if roll < 0.2:
                    delivered.append(V(user, provider, day + 1, code, visit.hour))
                elif roll < 0.3:
                    delivered.append(V(user, provider, day, "112211", visit.hour))
                elif roll < 0.4:
                    delivered.append(V(user, provider, day, code, visit.hour, count=2))
                else:
                    delivered.append(visit)
        if n == 6:
            delivered.append(V(user, "2710000009", 2))  # a provider not in the plan
    return planned, delivered


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reconcile_equals_the_plain_way(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, results = month(*_month_with_changes(seed))
    fast = reconcile(plan, results)
    monkeypatch.setattr(_reconcile, "visits_of", lambda rows: [visit_of(r) for r in rows])
    monkeypatch.setattr(_sources, "_rows", _plain_rows)
    # Every record its own run: the collecting loops then take the records one by one.
    monkeypatch.setattr(_sources, "groupby", _one_by_one)
    plain = reconcile(plan, results)
    assert plain.summary()["kinds"], "the month must have differences to compare"
    assert fast.to_dict() == plain.to_dict()
    assert fast.users == plain.users
    assert fast.unmatched == plain.unmatched


def _plain_match_daily(planned: list[Visit], delivered: list[Visit], out: Any) -> None:
    """`_match_daily` as it was before its shortcuts: every key paired by `_pair`."""
    plan_left: list[Visit] = []
    done_by_key = _match._grouped(delivered, lambda v: (v.date, v.service_code))
    for key, plans in _match._grouped(planned, lambda v: (v.date, v.service_code)).items():
        dones = done_by_key.pop(key, [])
        pairs, rest_plan, rest_done = _match._pair(plans, dones, _match._time_distance)
        for plan, done in pairs:
            _match._compare_pair(plan, done, out)
        plan_left += rest_plan
        done_by_key[key] = rest_done
    done_left = [v for vs in done_by_key.values() for v in vs]
    if plan_left and done_left:
        plan_left, done_left = _match._moves(plan_left, done_left, out)
    if plan_left and done_left:
        plan_left, done_left = _match._recodes(plan_left, done_left, out)
    for plan in plan_left:
        out.add(DifferenceKind.CANCELLED, "", "", plan, None)
    for done in done_left:
        out.add(DifferenceKind.ADDED, "", "", None, done)


def _random_visits(rng: random.Random, n: int, side: str, days: int) -> list[Visit]:
    return [
        Visit(
            location=Location(side, i),
            provider_office_no="2710000001",
            service_code=rng.choice(["111111", "112211"]),
            date=datetime.date(2025, 6, rng.randint(1, days)),
            start=rng.choice([None, datetime.time(9), datetime.time(10)]),
            end=None,
            count=rng.choice([1, 1, 1, 2]),
            units=250,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", range(40))
def test_match_daily_equals_the_plain_pairing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Few days (seeds < 20): days with two visits of a code, paired by time; many days: the
    # shortcut for months where each day and code has one visit a side.
    rng = random.Random(seed)
    days = 4 if seed < 20 else 30
    planned = _random_visits(rng, rng.randint(0, 8), "plan", days)
    delivered = [*planned[: rng.randint(0, len(planned))], *_random_visits(rng, 3, "done", days)]
    rng.shuffle(delivered)
    user = UserKey("131011", "0000000001", "202506")
    fast = match_visits(user, "2710000001", planned, delivered)
    # Cancelled and added keep their messages: compare the plain way's kinds and places only.
    monkeypatch.setattr(_match, "_match_daily", _plain_match_daily)
    plain = match_visits(user, "2710000001", planned, delivered)
    assert fast.matched == plain.matched
    assert [(d.kind, d.planned, d.delivered) for d in fast.differences] == [
        (d.kind, d.planned, d.delivered) for d in plain.differences
    ]


@pytest.mark.parametrize("chunk", [1, 2, 4, 8, 9])
def test_visits_of_in_chunks_equals_visit_of(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_match, "_CHUNK", chunk)
    rows = _rows_of(_odd_records())
    assert visits_of(rows) == [visit_of(row) for row in rows]


def test_a_record_given_as_a_source_is_refused_not_taken_for_paths() -> None:
    from careplan_link import Table6PlanRecord, reconcile

    record = Table6PlanRecord(insurer_no="131011", insured_no="0000000001")
    with pytest.raises(TypeError, match="Table6PlanRecord"):
        reconcile([record], [])
