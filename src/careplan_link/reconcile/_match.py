"""Matching the visits of one user and provider: 予定 against 実績.

A visit is matched by (service date, サービスコード) — the user and provider are already fixed —
and visits of the same day and code are paired by nearest start time. What is left is paired in
this order, each step by nearest distance:

1. the same サービスコード on another day: one move (planned day → delivered day);
2. another サービスコード on the same day: a change of service code;
3. the rest: planned but not delivered (cancelled), delivered but not planned (added).

Monthly and 包括 services (福祉用具貸与 and the others of `is_monthly`) are compared per month:
a code planned in the month and delivered in the month matches, whatever the days.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Any, TypeVar

import attrs

from ..format import NoTime
from ._model import Difference, DifferenceKind, UserKey, Visit
from ._sources import Row
from ._units import MONTHLY_SERVICE_TYPES

__all__ = ["MatchResult", "match_visits", "visit_of", "visits_of"]

T = TypeVar("T")
_NO_TIME_DISTANCE = 24 * 60  # a visit with no time is as far as a day from one with a time


def visit_of(row: Row) -> Visit:
    """The visit of one record (the plain way; `visits_of` is the same for many)."""
    record, location = row
    code = record.service_code or ""
    date = record.service_date
    start = record.start_time
    end = record.end_time
    return Visit(
        location=location,
        provider_office_no=record.provider_office_no or "",
        service_code=code,
        date=date if isinstance(date, datetime.date) else None,
        start=None if start is None or start.__class__ is NoTime else start,
        end=None if end is None or end.__class__ is NoTime else end,
        count=record.service_count,
        units=record.units,
        monthly=code[:2] in MONTHLY_SERVICE_TYPES,
    )


_VISIT_ITEMS = attrgetter(
    "provider_office_no",
    "service_code",
    "service_date",
    "start_time",
    "end_time",
    "service_count",
    "units",
)
_new_tuple: Callable[..., Any] = tuple.__new__
_date = datetime.date
# Rows taken at a time: the columns of a month (tens of thousands of visits) would not stay in
# the processor's caches, and transposing them then costs twice as much per visit.
_CHUNK = 1024


def visits_of(rows: Sequence[Row]) -> list[Visit]:
    """`[visit_of(row) for row in rows]`, at a fraction of the cost: a month has a visit per
    record of both sides. The work is done column by column in C: the records' items are read
    in one call each (reading a field of a tuple record one by one costs ~40 ns in bytecode),
    a column is converted only where it holds a value to convert, and each `Visit` (a
    `tuple_record`) is made as the tuple of its values in field order."""
    if len(rows) > _CHUNK:
        out: list[Visit] = []
        for start in range(0, len(rows), _CHUNK):
            out += visits_of(rows[start : start + _CHUNK])
        return out
    if not rows:
        return []
    records, locations = zip(*rows, strict=True)
    providers, codes, dates, starts, ends, counts, units = zip(
        *map(_VISIT_ITEMS, records), strict=True
    )
    if None in providers:
        providers = tuple(p or "" for p in providers)
    if None in codes:
        codes = tuple(c or "" for c in codes)
    if set(map(type, dates)) - {_date}:
        dates = tuple(d if isinstance(d, _date) else None for d in dates)
    if NoTime in set(map(type, starts)):
        starts = tuple(None if t.__class__ is NoTime else t for t in starts)
    if NoTime in set(map(type, ends)):
        ends = tuple(None if t.__class__ is NoTime else t for t in ends)
    monthly_types = MONTHLY_SERVICE_TYPES
    monthly = [code[:2] in monthly_types for code in codes]
    columns = zip(
        locations, providers, codes, dates, starts, ends, counts, units, monthly, strict=True
    )
    return list(map(_new_tuple, repeat(Visit), columns))


@attrs.frozen
class MatchResult:
    matched: int
    differences: tuple[Difference, ...]


def match_visits(
    user: UserKey, provider: str, planned: Sequence[Visit], delivered: Sequence[Visit]
) -> MatchResult:
    """The differences between the planned and delivered visits of one user and provider."""
    out = _Out(user, provider)
    daily_plan = [v for v in planned if not v.monthly]
    daily_done = [v for v in delivered if not v.monthly]
    _match_daily(daily_plan, daily_done, out)
    _match_monthly([v for v in planned if v.monthly], [v for v in delivered if v.monthly], out)
    return MatchResult(out.matched, tuple(out.differences))


class _Out:
    def __init__(self, user: UserKey, provider: str) -> None:
        self.user = user
        self.provider = provider
        self.matched = 0
        self.differences: list[Difference] = []

    def add(
        self,
        kind: DifferenceKind,
        ja: str,
        en: str,
        plan: Visit | None,
        done: Visit | None,
    ) -> None:
        self.differences.append(
            Difference(
                kind=kind,
                user=self.user,
                provider_office_no=self.provider,
                message_ja=ja,
                message_en=en,
                planned=plan.location if plan else None,
                delivered=done.location if done else None,
                service_code=plan.service_code if plan else done.service_code if done else None,
                planned_date=plan.date if plan else None,
                delivered_date=done.date if done else None,
            )
        )


def _minutes(visit: Visit) -> int | None:
    return None if visit.start is None else visit.start.hour * 60 + visit.start.minute


def _time_distance(a: Visit, b: Visit) -> int:
    ma, mb = _minutes(a), _minutes(b)
    if ma is None or mb is None:
        return 0 if ma is mb else _NO_TIME_DISTANCE
    return abs(ma - mb)


def _day_distance(a: Visit, b: Visit) -> int:
    if a.date is None or b.date is None:
        return 0 if a.date is b.date else 1 << 20
    return abs((a.date - b.date).days)


def _pair(
    left: list[Visit], right: list[Visit], distance: Callable[[Visit, Visit], Any]
) -> tuple[list[tuple[Visit, Visit]], list[Visit], list[Visit]]:
    """Pairs by nearest distance (ties by file order); returns pairs and the unpaired."""
    if len(left) == 1 and len(right) == 1:
        return [(left[0], right[0])], [], []
    candidates = sorted(
        ((distance(a, b), i, j) for i, a in enumerate(left) for j, b in enumerate(right)),
        key=lambda c: (c[0], c[1], c[2]),
    )
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i in used_left or j in used_right:
            continue
        used_left.add(i)
        used_right.add(j)
        pairs.append((left[i], right[j]))
    return (
        pairs,
        [v for i, v in enumerate(left) if i not in used_left],
        [v for j, v in enumerate(right) if j not in used_right],
    )


def _grouped(visits: Sequence[Visit], key: Callable[[Visit], T]) -> dict[T, list[Visit]]:
    groups: dict[T, list[Visit]] = {}
    for visit in visits:
        groups.setdefault(key(visit), []).append(visit)
    return groups


def _day(visit: Visit) -> str:
    return visit.date.isoformat() if visit.date else "(日付なし)"


# What makes two visits the same, and the keys they are grouped by (one C call per visit).
_signature = attrgetter("date", "service_code", "start", "end", "count")
_DAY_AND_CODE = attrgetter("date", "service_code")


def _match_daily(planned: list[Visit], delivered: list[Visit], out: _Out) -> None:
    # Most months are delivered as planned: equal visits in the same order need no pairing.
    if len(planned) == len(delivered) and list(map(_signature, planned)) == list(
        map(_signature, delivered)
    ):
        out.matched += len(planned)
        return
    plan_keys = list(map(_DAY_AND_CODE, planned))
    done_keys = list(map(_DAY_AND_CODE, delivered))
    plan_by_key = dict(zip(plan_keys, planned, strict=True))
    done_by_key_once = dict(zip(done_keys, delivered, strict=True))
    if len(plan_by_key) == len(planned) and len(done_by_key_once) == len(delivered):
        _match_daily_unique(plan_by_key, done_by_key_once, out)
        return
    plan_left: list[Visit] = []
    done_by_key = _grouped(delivered, _DAY_AND_CODE)
    for key, plans in _grouped(planned, _DAY_AND_CODE).items():
        dones = done_by_key.pop(key, [])
        if len(plans) == 1 and len(dones) == 1 and _signature(plans[0]) == _signature(dones[0]):
            # The usual day: one visit each side, delivered as planned (what `_pair` and
            # `_compare_pair` would conclude). Nothing is left of the key on either side.
            out.matched += 1
            continue
        pairs, rest_plan, rest_done = _pair(plans, dones, _time_distance)
        for plan, done in pairs:
            _compare_pair(plan, done, out)
        plan_left += rest_plan
        done_by_key[key] = rest_done
    _rest(plan_left, [v for vs in done_by_key.values() for v in vs], out)


def _match_daily_unique(
    plan_by_key: dict[Any, Visit], done_by_key: dict[Any, Visit], out: _Out
) -> None:
    """`_match_daily` where no side has two visits of a day and code (the usual month): each
    key pairs at most one visit with one, so no pairing by time is needed. The outcome and its
    order are the general way's: pairs in planned order, then what is left of each side in
    its own order."""
    plan_left: list[Visit] = []
    for key, plan in plan_by_key.items():
        done = done_by_key.pop(key, None)
        if done is None:
            plan_left.append(plan)
        elif _signature(plan) == _signature(done):
            out.matched += 1
        else:
            _compare_pair(plan, done, out)
    _rest(plan_left, list(done_by_key.values()), out)


def _rest(plan_left: list[Visit], done_left: list[Visit], out: _Out) -> None:
    """What no visit of the same day and code took: moves, changes of code, the rest."""
    if plan_left and done_left:
        plan_left, done_left = _moves(plan_left, done_left, out)
    if plan_left and done_left:
        plan_left, done_left = _recodes(plan_left, done_left, out)
    for plan in plan_left:
        text = f"{_day(plan)} {plan.service_code} {plan.time_text()}"
        out.add(
            DifferenceKind.CANCELLED,
            f"予定のみ（実績なし）: {text}",
            f"planned, not delivered: {text}",
            plan,
            None,
        )
    for done in done_left:
        text = f"{_day(done)} {done.service_code} {done.time_text()}"
        out.add(
            DifferenceKind.ADDED,
            f"実績のみ（予定なし）: {text}",
            f"delivered, not planned: {text}",
            None,
            done,
        )


def _compare_pair(plan: Visit, done: Visit, out: _Out) -> None:
    same = True
    if (plan.start, plan.end) != (done.start, done.end):
        same = False
        out.add(
            DifferenceKind.TIME,
            f"時刻の変更: {_day(plan)} {plan.service_code} 予定 {plan.time_text()} → "
            f"実績 {done.time_text()}",
            f"another time: {_day(plan)} {plan.service_code} planned {plan.time_text()}, "
            f"delivered {done.time_text()}",
            plan,
            done,
        )
    if plan.count != done.count:
        same = False
        out.add(
            DifferenceKind.COUNT,
            f"回数の変更: {_day(plan)} {plan.service_code} 予定 {plan.count} → 実績 {done.count}",
            f"another サービス回数: {_day(plan)} {plan.service_code} planned {plan.count}, "
            f"delivered {done.count}",
            plan,
            done,
        )
    if same:
        out.matched += 1


def _moves(
    planned: list[Visit], delivered: list[Visit], out: _Out
) -> tuple[list[Visit], list[Visit]]:
    plan_left: list[Visit] = []
    done_by_code = _grouped(delivered, lambda v: v.service_code)
    for code, plans in _grouped(planned, lambda v: v.service_code).items():
        dones = done_by_code.pop(code, [])
        pairs, rest_plan, rest_done = _pair(
            plans, dones, lambda a, b: (_day_distance(a, b), _time_distance(a, b))
        )
        for plan, done in pairs:
            out.add(
                DifferenceKind.MOVED,
                f"日付の変更: {code} 予定 {_day(plan)} {plan.time_text()} → "
                f"実績 {_day(done)} {done.time_text()}",
                f"moved: {code} planned {_day(plan)} {plan.time_text()}, "
                f"delivered {_day(done)} {done.time_text()}",
                plan,
                done,
            )
        plan_left += rest_plan
        done_by_code[code] = rest_done
    return plan_left, [v for vs in done_by_code.values() for v in vs]


def _recodes(
    planned: list[Visit], delivered: list[Visit], out: _Out
) -> tuple[list[Visit], list[Visit]]:
    plan_left: list[Visit] = []
    done_by_day = _grouped(delivered, lambda v: v.date)
    for day, plans in _grouped(planned, lambda v: v.date).items():
        dones = done_by_day.pop(day, [])
        pairs, rest_plan, rest_done = _pair(plans, dones, _time_distance)
        for plan, done in pairs:
            out.add(
                DifferenceKind.CODE,
                f"サービスコードの変更: {_day(plan)} 予定 {plan.service_code} → "
                f"実績 {done.service_code}",
                f"another service code: {_day(plan)} planned {plan.service_code}, "
                f"delivered {done.service_code}",
                plan,
                done,
            )
        plan_left += rest_plan
        done_by_day[day] = rest_done
    return plan_left, [v for vs in done_by_day.values() for v in vs]


def _match_monthly(planned: list[Visit], delivered: list[Visit], out: _Out) -> None:
    plan_codes = _grouped(planned, lambda v: v.service_code)
    done_codes = _grouped(delivered, lambda v: v.service_code)
    plan_left = [vs[0] for code, vs in plan_codes.items() if code not in done_codes]
    done_left = [vs[0] for code, vs in done_codes.items() if code not in plan_codes]
    out.matched += sum(1 for code in plan_codes if code in done_codes)
    pairs, plan_left, done_left = _pair(
        plan_left, done_left, lambda a, b: a.service_type != b.service_type
    )
    for plan, done in pairs:
        if plan.service_type != done.service_type:
            plan_left.append(plan)
            done_left.append(done)
            continue
        out.add(
            DifferenceKind.CODE,
            f"サービスコードの変更（月単位）: 予定 {plan.service_code} → 実績 {done.service_code}",
            f"another service code (monthly service): planned {plan.service_code}, "
            f"delivered {done.service_code}",
            plan,
            done,
        )
    for plan in plan_left:
        out.add(
            DifferenceKind.CANCELLED,
            f"予定のみ（当月の実績なし、月単位）: {plan.service_code}",
            f"planned, not delivered in the month (monthly service): {plan.service_code}",
            plan,
            None,
        )
    for done in done_left:
        out.add(
            DifferenceKind.ADDED,
            f"実績のみ（当月の予定なし、月単位）: {done.service_code}",
            f"delivered, not planned in the month (monthly service): {done.service_code}",
            None,
            done,
        )
