"""`build_table7` as first written (issue 13): the counting (`count_lines` over `tally_lines`)
and the sheet (rows as mutable objects, one function per step), kept verbatim.

`_table7_calc` now counts with each line known by its first record's position and computes each
user's sheet in one pass over plain dicts, for speed; test_table7_calc.py checks that it gives
the same sheets as this code, figure for figure, for random schedules.
"""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, itemgetter, ne
from typing import Any, NamedTuple

import attrs

from careplan_link.format._table7_calc import (
    _FIGURES,
    _LINE_ITEMS,
    _LINE_ITEMS_V3,
    GRAND_TOTAL_OFFICE,
    GRAND_TOTAL_SERVICE_CODE,
    NOT_COMPUTABLE,
    TOTALLED,
    Discount,
    Figure,
    LineTally,
    NotComputable,
    Table7Line,
    Table7Sheet,
    _Lookup,
    _price,
    benefit_claim,
    discounted_units,
    expected_times,
    figure_sum,
    is_subtotal,
    total_cost,
)

from careplan_link import SupplementRecord


class _Counted(NamedTuple):
    """The 第6表 records of one line, as counted (a tuple: thousands are made per file)."""

    records: Sequence[Any]
    full_key: tuple[Any, ...]
    first_positions: Mapping[tuple[Any, ...], int]
    times: int  # sum of サービス回数 (an empty one counts once)
    days: frozenset[int]  # days flagged in 日割対象日
    units: frozenset[int | None]  # the distinct No.8 values

    @property
    def position(self) -> int:
        """Index of the line's first record among the records counted."""
        return self.first_positions[self.full_key]

    @property
    def first(self) -> Any:
        """The line's first record."""
        return self.records[self.position]

    @property
    def units_stated(self) -> int | None:
        """The line's 単位数 when every record states the same non-zero value, else None."""
        if len(self.units) != 1:
            return None
        (units,) = self.units
        return units if units else None


def tally_lines(records: Sequence[Any]) -> LineTally:
    """Count non-empty `records` (第6表) by line: what `count_lines` and validation share."""
    v3 = not hasattr(records[0], "tais_code")
    # A 第6表 has 100k records: everything per record below runs in C (map, zip, Counter, set,
    # dict construction); Python loops only over the few distinct keys and odd records. The
    # month (one per file, V08) joins the key only when there are several: hashing a YearMonth
    # is a Python call.
    months = _distinct(list(map(_MONTH, records)))
    (month,) = months if len(months) == 1 else (None,)
    items = _LINE_ITEMS_V3 if v3 else _LINE_ITEMS
    getter = attrgetter("insurer_no", "insured_no", *items, *(() if month else ("target_month",)))
    keys = list(map(getter, records))
    # Records per (line, 単位数): the distinct units of a line and its number of records.
    per_unit = Counter(zip(keys, map(_UNITS, records), strict=True))
    times: dict[tuple[Any, ...], int] = {}
    units: dict[tuple[Any, ...], set[int | None]] = {}
    for (key, unit), number in per_unit.items():
        times[key] = times.get(key, 0) + number
        units.setdefault(key, set()).add(unit)
    counts = list(map(_SERVICE_COUNT, records))
    for position in compress(range(len(counts)), map(ne, counts, repeat(1))):
        count = counts[position]  # correct where サービス回数 is not 1 (an empty one counts once)
        times[keys[position]] += (1 if count is None else count) - 1
    flagged: dict[tuple[Any, ...], set[int]] = {}
    if any(map(_PRORATED, records)):
        for full, flags in zip(keys, map(_PRORATED, records), strict=True):
            if flags:
                days = flagged.setdefault(full, set())
                days.update(day for day, flag in enumerate(flags, start=1) if flag == "1")
    return LineTally(keys, month, v3, times, units, flagged)


def count_lines(
    records: Sequence[Any], *, positions: bool = True
) -> dict[tuple[Any, ...], dict[tuple[Any, ...], _Counted]]:
    """第6表 records grouped by user (保険者番号, 被保険者番号, 対象年月), then by `line_key`.

    With `positions=False` each line's first record is found only when asked for.
    """
    if not records:
        return {}
    keys, month, v3, times, units, flagged = tally_lines(records)
    items = len(_LINE_ITEMS_V3 if v3 else _LINE_ITEMS)
    first: Mapping[tuple[Any, ...], int] = (
        dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        if positions
        else _Positions(keys)
    )
    users: dict[tuple[Any, ...], dict[tuple[Any, ...], _Counted]] = {}
    for full in times:  # in order of first appearance
        line = full[2 : 2 + items]
        key = (*line[:3], None, None, line[3]) if v3 else line
        user = (*full[:2], month if month else full[-1])
        users.setdefault(user, {})[key] = _Counted(
            records=records,
            full_key=full,
            first_positions=first,
            times=times[full],
            days=frozenset(flagged[full]) if full in flagged else _NO_DAYS,
            units=frozenset(units[full]),
        )
    return users


def _distinct(values: list[Any]) -> set[Any]:
    """The distinct values of a column, hashing each distinct object once.

    A read file's months are a few shared objects (the reader caches them per text), and a
    YearMonth hashes in Python: telling objects apart by identity first (in C) leaves a handful
    to hash instead of one per record.
    """
    return set(dict(zip(map(id, values), values, strict=True)).values())


class _Positions(dict[tuple[Any, ...], int]):
    """First positions of keys, looked up only when asked for."""

    def __init__(self, keys: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self._keys = keys

    def __missing__(self, key: tuple[Any, ...]) -> int:
        self[key] = position = self._keys.index(key)
        return position


_NO_DAYS: frozenset[int] = frozenset()
_MONTH = attrgetter("target_month")
_SERVICE_COUNT = attrgetter("service_count")
_UNITS = attrgetter("units")
_PRORATED = attrgetter("prorated_days")


def _limits(
    supplements: Iterable[SupplementRecord],
) -> dict[tuple[Any, ...], tuple[int | None, dict[str, int]]]:
    out: dict[tuple[Any, ...], tuple[int | None, dict[str, int]]] = {}
    for record in supplements:
        slots = {}
        for n in range(1, 10):
            service_type = getattr(record, f"slot{n}_service_type")
            amount = getattr(record, f"slot{n}_benefit_limit")
            if service_type is not None and amount is not None:
                slots[service_type] = amount
        out[(record.insurer_no, record.insured_no)] = (record.benefit_limit, slots)
    return out


# -- what a 種類別小計 and the 全合計 sum (shared with validation) ------------------------------

# Columns a 種類別小計 sums over its lines, and columns the 全合計 sums (the printed 合計 row).
SUBTOTALLED: Final = (17, 18, 19, 20, 21, 22, 24, 26, 28, 29)
TOTALLED: Final = (18, 19, 20, 21, 22, 24, 26, 28, 29)


def build_table7(
    records: Iterable[Record],
    *,
    unit_price: PriceTable = None,
    benefit_rate: RateTable = 90,
    supplements: Iterable[SupplementRecord] = (),
    limit: int | None = None,
    from_table7: Iterable[Any] = (),
    discounts: Mapping[str, Discount] | None = None,
    exempt_codes: Collection[str] = (),
    monthly_codes: Collection[str] = (),
) -> tuple[Table7Sheet, ...]:
    """Compute the 第7表 of each user in `records` (第6表 予定 or 実績 records of one month).

    `unit_price` (No.23 単位数単価) and `benefit_rate` (No.25 給付率, percent) are one value for
    all lines, or a mapping keyed by `(office number, service type)` or by office number. Prices
    and rates a 第7表 states can be taken from its records (`from_table7`): a mapping entry
    comes first, then the 第7表, then the single value. Without a price the money is
    `NOT_COMPUTABLE`.

    The 区分支給限度基準額 is read from `supplements` (利用者補足情報 No.19, and the service-type
    slots for 種類支給限度), or given as `limit` for every user; without one, the limit split
    (No.19–22) and the money are `NOT_COMPUTABLE`.

    `discounts` maps a service code to its undiscounted 単位数 and 割引後率 (the 第6表 carries
    units after discount only). `exempt_codes` are service codes outside the 区分支給限度 (their
    No.18 is empty, their money computed on their own line). `monthly_codes` adds codes counted
    once a month to `MONTHLY_SERVICE_TYPES`.

    Returns one `Table7Sheet` per user and month, in the order users first appear.
    """
    prices = _Lookup(unit_price, from_table7, "unit_price", _price)
    rates = _Lookup(benefit_rate, from_table7, "benefit_rate", int)
    limits = _limits(supplements)
    sheets = []
    for user, lines in count_lines(list(records)).items():
        user_limits = limits.get(user[:2])
        category_limit = limit if limit is not None else (user_limits[0] if user_limits else None)
        type_limits = user_limits[1] if user_limits else {}
        sheets.append(
            _sheet(
                user,
                lines,
                prices=prices,
                rates=rates,
                category_limit=category_limit,
                type_limits=type_limits,
                discounts=discounts or {},
                exempt=exempt_codes,
                monthly=monthly_codes,
            )
        )
    return tuple(sheets)


class _Row:
    """A line being computed: `Table7Line`'s attributes, mutable (evolving frozen values for
    every figure would cost more than the arithmetic)."""

    def __init__(self, **figures: Any) -> None:
        self.__dict__.update(_ROW_DEFAULTS)
        self.__dict__.update(figures)

    def __getattr__(self, name: str) -> Any:  # only reached for a name that is not a figure
        raise AttributeError(name)

    def update(self, **figures: Any) -> _Row:
        self.__dict__.update(figures)
        return self

    def line(self) -> Table7Line:
        return Table7Line(**self.__dict__)


_ROW_DEFAULTS = {
    a.name: a.default for a in attrs.fields(Table7Line) if a.default is not attrs.NOTHING
}


def _sheet(
    user: tuple[Any, ...],
    counted: Mapping[tuple[Any, ...], _Counted],
    *,
    prices: _Lookup,
    rates: _Lookup,
    category_limit: int | None,
    type_limits: Mapping[str, int],
    discounts: Mapping[str, Discount],
    exempt: Collection[str],
    monthly: Collection[str],
) -> Table7Sheet:
    # Details grouped by (office, service type): the 種類別 block of the printed 別表.
    blocks: dict[tuple[str, str], list[_Row]] = {}
    for key, group in counted.items():
        detail = _detail(key, group, discounts, exempt, monthly)
        blocks.setdefault((detail.provider_office_no, detail.service_code[:2]), []).append(detail)
    # Each block's 給付管理単位数 and money sit on one row: its AAAA subtotal (a block of several
    # lines must have one, V12), or its only line.
    subtotals: dict[tuple[str, str], _Row] = {}
    carriers: list[_Row] = []
    for block_key, details in blocks.items():
        managed = [d for d in details if d.managed_units is not None]
        if len(details) > 1:
            subtotals[block_key] = _block_total(block_key, details, managed)
            if managed:
                carriers.append(subtotals[block_key])
        elif managed:
            carriers.append(managed[0])
    split = _split_limits(carriers, category_limit, type_limits)
    lines: list[_Row] = []
    for block_key, details in blocks.items():
        price = prices.get(*block_key)
        rate = rates.get(*block_key)
        for detail in details:
            if detail.over_30_days == "1":
                detail = _money(detail, price, rate, mode="over_30")
            elif detail.managed_units is None:
                detail = _money(detail, price, rate, mode="exempt")
            elif id(detail) in split:
                detail = _money(split[id(detail)], price, rate, mode="carrier")
            lines.append(detail)
        subtotal = subtotals.get(block_key)
        if subtotal is not None:
            if id(subtotal) in split:
                subtotal = _money(split[id(subtotal)], price, rate, mode="carrier")
            lines.append(subtotal)
    lines.append(_grand_total(lines))
    return Table7Sheet(
        insurer_no=user[0],
        insured_no=user[1],
        target_month=user[2],
        lines=tuple(row.line() for row in lines),
    )


def _detail(
    key: tuple[Any, ...],
    group: _Counted,
    discounts: Mapping[str, Discount],
    exempt: Collection[str],
    monthly: Collection[str],
) -> _Row:
    office, satellite, code, tais, notification, over_30 = key
    reasons: list[str] = []
    times, _ = expected_times(code, group.times, group.days, monthly=monthly)
    stated = group.units - {None, 0}
    units: Figure
    if not stated:
        units = NOT_COMPUTABLE
        # Rate add-ons with units left empty are mostly 処遇改善加算, outside the 区分支給限度:
        # the line is taken as outside the limit so the rest of the sheet stays computable.
        reasons.append(
            "第6表 単位数 (No.8) is empty or 0: a rate add-on (率加減算), taken as outside the "
            "区分支給限度"
        )
    elif len(group.units) > 1:
        units = NOT_COMPUTABLE
        reasons.append("第6表 単位数 (No.8) differs between the records of this line")
    else:
        (units,) = stated
    rate: int | None = None
    discounted: Figure = None
    base: Figure = units
    discount = discounts.get(code)
    if discount is not None and isinstance(units, int):
        rate = discount.rate
        base = discount.units
        discounted = discounted_units(discount.units, discount.rate)
        if discounted != units:
            reasons.append("第6表 単位数 (No.8) is not the discounted units of `discounts`")
            discounted = NOT_COMPUTABLE
    effective = discounted if discounted is not None else units
    amount: Figure = effective * times if isinstance(effective, int) else NOT_COMPUTABLE
    in_limit = code not in exempt and over_30 != "1" and units is not NOT_COMPUTABLE
    return _Row(
        provider_office_no=office,
        service_code=code,
        satellite_no=satellite,
        tais_code=tais,
        equipment_notification_code=notification,
        over_30_days=over_30,
        provider_name=group.records[group.first_positions[group.full_key]].provider_name,
        units=base,
        discount_rate=rate,
        discounted_units=discounted,
        times=times,
        service_unit_amount=amount,
        managed_units=amount if in_limit else None,
        reasons=tuple(reasons),
    )


def _block_total(
    block_key: tuple[str, str], details: Sequence[_Row], managed: Sequence[_Row]
) -> _Row:
    office, service_type = block_key
    return _Row(
        provider_office_no=office,
        service_code=service_type + "AAAA",
        over_30_days="0",
        provider_name=details[0].provider_name,
        units=0,
        times=0,
        service_unit_amount=figure_sum(d.service_unit_amount for d in managed),
        managed_units=figure_sum(d.managed_units for d in managed),
        reasons=tuple(dict.fromkeys(r for d in managed for r in d.reasons)),
    )


def _allocate(rows: Sequence[_Row], excess: int, base: Callable[[_Row], int]) -> dict[int, int]:
    """Units over a limit, taken from the last rows first (the library's choice, decisions.md)."""
    over: dict[int, int] = {}
    for row in reversed(rows):
        if excess <= 0:
            break
        taken = min(excess, max(base(row), 0))
        over[id(row)] = taken
        excess -= taken
    return over


def _split_limits(
    carriers: Sequence[_Row], category_limit: int | None, type_limits: Mapping[str, int]
) -> dict[int, _Row]:
    """No.19–22 on each row carrying a block's 給付管理単位数, keyed by the row's id."""
    managed_units = [row.managed_units for row in carriers]
    if category_limit is None or not all(isinstance(m, int) for m in managed_units):
        reason = (
            "no 区分支給限度基準額 (利用者補足情報 No.19)"
            if category_limit is None
            else "給付管理単位数 not computable"
        )
        return {
            id(row): row.update(
                over_category_limit_units=NOT_COMPUTABLE,
                within_category_limit_units=NOT_COMPUTABLE,
                reasons=(*row.reasons, reason),
            )
            for row in carriers
        }
    managed = {id(row): int(m) for row, m in zip(carriers, managed_units, strict=True)}
    within_type = dict(managed)
    over_type: dict[int, int] = {}
    for service_type, type_limit in type_limits.items():
        of_type = [row for row in carriers if row.service_code[:2] == service_type]
        excess = sum(managed[id(row)] for row in of_type) - type_limit
        over_type.update(_allocate(of_type, excess, lambda row: managed[id(row)]))
    for key, taken in over_type.items():
        within_type[key] -= taken
    excess = sum(within_type.values()) - category_limit
    over_category = _allocate(carriers, excess, lambda row: within_type[id(row)])
    out = {}
    for row in carriers:
        typed = row.service_code[:2] in type_limits
        over = over_category.get(id(row), 0)
        out[id(row)] = row.update(
            over_type_limit_units=(over_type.get(id(row)) or None) if typed else None,
            within_type_limit_units=within_type[id(row)] if typed else None,
            over_category_limit_units=over or None,
            within_category_limit_units=within_type[id(row)] - over,
        )
    return out


def _money(row: _Row, price: Decimal | None, rate: int | None, *, mode: str) -> _Row:
    """No.23–29 of a row that carries money.

    `carrier`: a block's row (費用総額 from the units within the 区分支給限度, 全額負担分 from the
    units over it); `exempt`: a line outside the limit (its サービス単位／金額 is insured);
    `over_30`: a 30日超 line (not insured: all of it is 全額負担分).
    """
    reasons = list(row.reasons)
    if mode == "over_30":
        insured: Figure = None
        over: Figure = row.service_unit_amount
    elif mode == "exempt":
        insured, over = row.service_unit_amount, None
    else:
        insured, over = row.within_category_limit_units, row.over_category_limit_units
    price_figure: Decimal | NotComputable = NOT_COMPUTABLE if price is None else price
    if price is None:
        reasons.append("no 単位数単価 (No.23) given or stated")
    if rate is None and insured is not None:
        reasons.append("no 給付率 (No.25) given or stated")

    def cost_of(units: Figure) -> Figure:
        if units is None or units == 0:
            return None
        if price is None or not isinstance(units, int):
            return NOT_COMPUTABLE
        return total_cost(units, price)

    cost = cost_of(insured) if insured is not None else None
    if insured is not None and cost is None:
        cost = 0
    claim: Figure = None
    copay: Figure = None
    if insured is not None:
        if isinstance(cost, int) and rate is not None:
            claim = benefit_claim(cost, rate)
            copay = cost - claim
        else:
            claim = copay = NOT_COMPUTABLE
    return row.update(
        unit_price=price_figure,
        total_cost=cost,
        benefit_rate=(rate if rate is not None else NOT_COMPUTABLE)
        if insured is not None
        else None,
        insurance_claim=claim,
        user_copay=copay,
        user_full_payment=cost_of(over),
        reasons=tuple(dict.fromkeys(reasons)),
    )


def _grand_total(lines: Sequence[_Row]) -> _Row:
    # What `grand_total_terms` gives for a computed sheet, without its grouping: details carry
    # their own 給付管理単位数 (a subtotal's is their sum); the limit split and the money sit on
    # exactly one row each (a block's carrier, or a line outside the limit).
    details = [row for row in lines if not is_subtotal(row.service_code)]
    sums = {"managed_units": figure_sum([row.managed_units for row in details])}
    # Each row's figures are read from its __dict__ at once (a getattr per figure and row
    # would cost more than the sums).
    figures = [row.__dict__ for row in lines]
    for name in _TOTALLED_NAMES:
        sums[name] = figure_sum(map(itemgetter(name), figures))
    return _Row(
        provider_office_no=GRAND_TOTAL_OFFICE,
        service_code=GRAND_TOTAL_SERVICE_CODE,
        over_30_days="0",
        units=0,
        times=0,
        reasons=tuple(dict.fromkeys(r for line in lines for r in line.reasons)),
        **sums,
    )


_TOTALLED_NAMES = tuple(_FIGURES[no] for no in TOTALLED[1:])
