"""The month's arithmetic: the 第7表 (サービス利用票別表) figures computed from the 第6表.

`build_table7` groups a month's 第6表 records by user, then by line (provider, サテライト枝番,
サービスコード, TAIS / 届出 code, ３０日超区分), and computes each figure of the 第7表 by its
column number: 単位数 and 回数 per line, サービス単位／金額, 給付管理単位数, the 支給限度 split
where the 利用者補足情報 gives the limit, and the money (費用総額, 請求額, 利用者負担) where the
unit price and the benefit rate are known. What the files do not carry is `NOT_COMPUTABLE`, never
a guess. The rules and their sources are in docs/arithmetic.md and docs/decisions.md.

The same counting (`line_key`, `expected_times`) is what validation compares a 第7表 against.
"""

from __future__ import annotations

import datetime
import enum
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import compress, count, repeat
from operator import attrgetter, itemgetter, ne
from typing import Any, Final, NamedTuple, cast

import attrs

from ._columns import uniform
from ._generated import SupplementRecord, Table7Record, Table7V3Record
from ._layouts import CSV_VERSION_CURRENT, get_layout
from ._record import Record, is_tuple_record
from ._values import YearMonth, ZeroMonth

__all__ = [
    "GRAND_TOTAL_OFFICE",
    "GRAND_TOTAL_SERVICE_CODE",
    "MONTHLY_SERVICE_TYPES",
    "NOT_COMPUTABLE",
    "SUBTOTAL_SUFFIXES",
    "Discount",
    "NotComputable",
    "Table7Line",
    "Table7Sheet",
    "Tally",
    "benefit_claim",
    "build_table7",
    "discounted_units",
    "expected_times",
    "line_key",
    "tally_by_position",
    "total_cost",
]

GRAND_TOTAL_SERVICE_CODE: Final = "999999"
GRAND_TOTAL_OFFICE: Final = "9999999999"
# 区分支給対象 (AAAA), 区分支給対象外 (EEEE) and 30日超過分 (ZZZZ) 種類別小計 (第7表 No.9 notes).
SUBTOTAL_SUFFIXES: Final = ("AAAA", "EEEE", "ZZZZ")

# Service types whose basic service is billed per month (「1月につき」 in the 介護給付費単位数表):
# 福祉用具貸与 and its 介護予防 form, 小規模多機能型居宅介護 (and 介護予防),
# 定期巡回・随時対応型訪問介護看護, 看護小規模多機能型居宅介護. Their 第6表 has a record per
# day of use, their 第7表 one occurrence (docs/decisions.md).
MONTHLY_SERVICE_TYPES: Final = frozenset({"17", "67", "73", "75", "76", "77"})


class NotComputable(enum.Enum):
    """A figure the files do not allow to compute (a rate add-on without units, no unit price …)."""

    NOT_COMPUTABLE = "not computable"

    def __repr__(self) -> str:
        return "NOT_COMPUTABLE"

    __str__ = __repr__


NOT_COMPUTABLE: Final = NotComputable.NOT_COMPUTABLE

Figure = int | NotComputable | None
"""An integer figure; None where the standard leaves the item empty."""

_CENT = Decimal("0.01")


# -- the rules, one function each (docs/arithmetic.md cites their sources) ----------------------


def discounted_units(units: int, rate: int) -> int:
    """割引後単位数: 単位数 × 割引後率 %, rounded half up (四捨五入; away from zero for 減算)."""
    # In integers (exact, and no Decimal per line): half up on the magnitude, sign restored.
    hundredths = units * rate
    rounded = (abs(hundredths) + 50) // 100
    return rounded if hundredths >= 0 else -rounded


def total_cost(units: int, unit_price: Decimal) -> int:
    """費用総額: units × 単位数単価, 1円未満切り捨て."""
    # The price as an exact fraction, floored in integers: no Decimal context (its precision
    # or traps) can round the product first.
    numerator, denominator = unit_price.as_integer_ratio()
    return units * numerator // denominator


def benefit_claim(cost: int, benefit_rate: int) -> int:
    """保険／事業費請求額: 費用総額 × 給付率 %, 1円未満切り捨て."""
    return cost * benefit_rate // 100


def line_key(record: Any) -> tuple[Any, ...]:
    """What makes one 第7表 detail line, read from a 第6表 or a 第7表 record.

    Provider office, サテライト枝番, サービスコード, TAIS and 届出 codes (one line per rented
    product), ３０日超区分 (days beyond 30 of short stay are their own lines).
    """
    return (
        record.provider_office_no,
        record.satellite_no,
        record.service_code,
        getattr(record, "tais_code", None),
        getattr(record, "equipment_notification_code", None),
        record.over_30_days,
    )


_USER = attrgetter("insurer_no", "insured_no", "target_month")


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


def expected_times(
    service_code: str, times: int, days: Collection[int], *, monthly: Collection[str] = ()
) -> tuple[int, str]:
    """回数／日数 of a line and the rule that gave it: `daily` (日割対象日 set: the days flagged),
    `monthly` (a monthly service: once), or `count` (the sum of サービス回数)."""
    if days:
        return len(days), "daily"
    if service_code[:2] in MONTHLY_SERVICE_TYPES or service_code in monthly:
        return 1, "monthly"
    return times, "count"


_LINE_ITEMS = (
    "provider_office_no",
    "satellite_no",
    "service_code",
    "tais_code",
    "equipment_notification_code",
    "over_30_days",
)
_LINE_ITEMS_V3 = ("provider_office_no", "satellite_no", "service_code", "over_30_days")


class LineTally(NamedTuple):
    """The 第6表 records of a file counted by line, in a few passes run in C.

    `keys[i]` is record i's full key: 保険者番号, 被保険者番号, the line items (`_LINE_ITEMS`,
    or `_LINE_ITEMS_V3` for a 202208 file) and, only when the file holds several months, the
    対象年月. `times`, `units` and `days` are per full key, in order of first appearance.
    """

    keys: list[tuple[Any, ...]]
    month: Any  # the file's one 対象年月, or None when there are several
    v3: bool
    times: dict[tuple[Any, ...], int]  # sum of サービス回数 (an empty one counts once)
    units: dict[tuple[Any, ...], set[int | None]]  # the distinct No.8 values
    days: dict[tuple[Any, ...], set[int]]  # days flagged in 日割対象日 (lines with any)


def tally_lines(records: Sequence[Any]) -> LineTally:
    """Count non-empty `records` (第6表) by line: what `count_lines` and validation share."""
    tally = tally_by_position(records)
    flagged = {tally.keys[line]: days for line, days in tally.days.items()}
    return LineTally(
        tally.keys,
        tally.month,
        tally.v3,
        {key: tally.times[line] for key, line in tally.first.items()},
        {key: set(tally.units[line]) for key, line in tally.first.items()},
        flagged,
    )


_FIRST = itemgetter(0)
_SECOND = itemgetter(1)


class Tally(NamedTuple):
    """`LineTally` with each line known by the position of its first record."""

    keys: list[tuple[Any, ...]]
    month: Any
    v3: bool
    first: dict[tuple[Any, ...], int]  # full key → position of its first record, in order
    times: dict[int, int]
    units: dict[int, Collection[int | None]]  # a 1-tuple, or the set of several
    days: dict[int, set[int]]


def tally_by_position(
    records: Sequence[Any],
    columns: Callable[[str], Sequence[Any]] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> Tally:
    """`tally_lines`, each line keyed by the position of its first record (what validation
    and the computation read: no per-line dict keyed by the full key is made).

    `columns` gives the records' values column by column when they are at hand already
    (validation has transposed every file): the same counting then reads no record. `names`
    keys the lines on those items only, for a caller that has seen every other key item is
    one value throughout the file (the lines are then the same, their keys shorter).
    """
    v3 = not hasattr(records[0], "tais_code")
    column: Callable[[str], Sequence[Any]]
    rows: Callable[..., list[tuple[Any, ...]]]
    if columns is None:
        read = _reader(records)

        def column(name: str) -> Sequence[Any]:
            return list(map(read(name), records))

        def rows(*names: str) -> list[tuple[Any, ...]]:
            if len(names) == 1:  # a 1-tuple each, as from columns (a getter of one is not)
                return list(zip(map(read(*names), records)))
            return list(map(read(*names), records))
    else:
        column = columns

        def rows(*names: str) -> list[tuple[Any, ...]]:
            return list(zip(*map(columns, names), strict=True))

    # A 第6表 has 100k records: everything per record below runs in C (map, zip, Counter, set,
    # dict construction); Python loops only over the few distinct keys and odd records. The
    # month (one per file, V08) joins the key only when there are several: hashing a YearMonth
    # is a Python call.
    months = _distinct(column("target_month"))
    (month,) = months if len(months) == 1 else (None,)
    items = _LINE_ITEMS_V3 if v3 else _LINE_ITEMS
    if names is None:
        names = ("insurer_no", "insured_no", *items, *(() if month else ("target_month",)))
    keys = rows(*names)
    # Each record's line as the position of the line's first record: a key (a tuple of ~8
    # items, whose hash is not cached) is hashed once per record here, and the counting below
    # hashes small integers.
    first: dict[tuple[Any, ...], int] = {}
    lines = list(map(first.setdefault, keys, count()))
    # Records per line (both dicts in order of the lines' first records), and the distinct
    # (line, 単位数) pairs: the usual line has one 単位数, and then each line's units are the
    # 1-tuple of it, made in C (a set each would cost more than the rest of the counting: a
    # file of distinct lines has as many as records).
    times_at: dict[int, int] = dict(Counter(lines))
    pairs = dict.fromkeys(zip(lines, column("units"), strict=True))
    units_at: dict[int, Collection[int | None]]
    if len(pairs) == len(times_at):
        units_at = dict(zip(map(_FIRST, pairs), zip(map(_SECOND, pairs)), strict=True))
    else:
        several: dict[int, set[int | None]] = {}
        for line, unit in pairs:
            several.setdefault(line, set()).add(unit)
        units_at = dict(several)
    counts = column("service_count")
    for position in compress(range(len(counts)), map(ne, counts, repeat(1))):
        stated = counts[position]  # correct where サービス回数 is not 1 (an empty one counts once)
        times_at[lines[position]] += (1 if stated is None else stated) - 1
    flagged: dict[int, set[int]] = {}
    prorated = column("prorated_days")
    if any(prorated):
        for line, flags in zip(lines, prorated, strict=True):
            if flags:
                days = flagged.setdefault(line, set())
                days.update(day for day, flag in enumerate(flags, start=1) if flag == "1")
    return Tally(keys, month, v3, first, times_at, units_at, flagged)


def _reader(records: Sequence[Any]) -> Callable[..., Callable[[Any], Any]]:
    """A getter of the named items of `records`: by index when all are one tuple record class
    (reading a tuple item costs less than the field's descriptor), else by attribute."""
    classes = set(map(type, records))
    if len(classes) == 1:
        (record_type,) = classes
        if is_tuple_record(record_type):
            index = {field.name: i for i, field in enumerate(attrs.fields(record_type))}

            def by_index(*names: str) -> Callable[[Any], Any]:
                return itemgetter(*(index[name] for name in names))

            return by_index
    return attrgetter


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


def _distinct(values: Sequence[Any]) -> set[Any]:
    """The distinct values of a column, hashing each distinct object once.

    A read file's months are a few shared objects (the reader caches them per text), and a
    YearMonth hashes in Python: telling objects apart by identity first (in C) leaves a handful
    to hash instead of one per record.
    """
    if uniform(values):
        return {values[0]}  # one month throughout (the usual file), told in C
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


@attrs.frozen
class Discount:
    """A discount (割引) on a service code: the undiscounted 単位数 and the 割引後率 (%)."""

    units: int
    rate: int


_FIGURES: dict[int, str] = {
    13: "units",
    14: "discount_rate",
    15: "discounted_units",
    16: "times",
    17: "service_unit_amount",
    18: "managed_units",
    19: "over_type_limit_units",
    20: "within_type_limit_units",
    21: "over_category_limit_units",
    22: "within_category_limit_units",
    23: "unit_price",
    24: "total_cost",
    25: "benefit_rate",
    26: "insurance_claim",
    27: "fixed_copay_unit_price",
    28: "user_copay",
    29: "user_full_payment",
}


@attrs.frozen(slots=False)  # a dict instance: `_line` gives a computed line its attributes at once
class Table7Line:
    """One line of a user's 第7表: a detail (サービスコード), a 種類別小計 or the 全合計.

    Attribute names are those of `Table7Record`; `figure(no)` reads one by column number.
    A figure is an int, None (the item is empty) or `NOT_COMPUTABLE`; `reasons` says why.
    """

    provider_office_no: str
    service_code: str
    satellite_no: str | None = None
    tais_code: str | None = None
    equipment_notification_code: str | None = None
    over_30_days: str | None = "0"
    provider_name: str | None = None
    units: Figure = 0
    discount_rate: int | None = None
    discounted_units: Figure = None
    times: Figure = 0
    service_unit_amount: Figure = None
    managed_units: Figure = None
    over_type_limit_units: Figure = None
    within_type_limit_units: Figure = None
    over_category_limit_units: Figure = None
    within_category_limit_units: Figure = None
    unit_price: Decimal | NotComputable | None = None
    total_cost: Figure = None
    benefit_rate: int | NotComputable | None = None
    insurance_claim: Figure = None
    fixed_copay_unit_price: Figure = None
    user_copay: Figure = None
    user_full_payment: Figure = None
    reasons: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """`detail`, `subtotal` or `total`."""
        if self.service_code == GRAND_TOTAL_SERVICE_CODE:
            return "total"
        if self.service_code[2:] in SUBTOTAL_SUFFIXES:
            return "subtotal"
        return "detail"

    def figure(self, no: int) -> Decimal | int | NotComputable | None:
        """The figure of 第7表 column `no` (13–29)."""
        if no not in _FIGURES:
            raise KeyError(f"第7表 No.{no} is not a computed figure (13–29 are)")
        value: Decimal | int | NotComputable | None = getattr(self, _FIGURES[no])
        return value


@attrs.frozen
class Table7Sheet:
    """The 第7表 of one user and month: detail lines, 種類別小計 and the 全合計, in print order."""

    insurer_no: str | None
    insured_no: str | None
    target_month: YearMonth | ZeroMonth | None
    lines: tuple[Table7Line, ...]

    @property
    def grand_total(self) -> Table7Line:
        """The 全合計 line (service code 999999)."""
        return self.lines[-1]

    @property
    def computable(self) -> bool:
        """True when no figure is `NOT_COMPUTABLE`."""
        return not any(line.reasons for line in self.lines)

    def records(
        self,
        *,
        created_date: datetime.date | None = None,
        updater_office_no: str | None = None,
        csv_version: str = CSV_VERSION_CURRENT,
    ) -> tuple[Table7Record | Table7V3Record, ...]:
        """The lines as 第7表 records of the layout `csv_version` is read with (`Table7Record`,
        or `Table7V3Record` for 202208).

        A figure that is `NOT_COMPUTABLE` is written empty, except the required 単位数 and
        回数／日数, written 0 (the standard's rule for units that cannot be computed, 第6表 No.8).
        Items the layout does not have (TAISコード before v4) are left out.
        """
        layout = get_layout("table7", csv_version)
        has = {column.attribute for column in layout.columns}
        # Another edition's class is a sibling of these two, with the same figures.
        record_type = cast("type[Table7Record | Table7V3Record]", layout.record_type)
        common: dict[str, Any] = {
            "csv_version": csv_version,
            "insurer_no": self.insurer_no,
            "insured_no": self.insured_no,
            "created_date": created_date,
            "target_month": self.target_month,
            "updater_office_no": updater_office_no,
        }
        out = []
        for line in self.lines:
            values: dict[str, Any] = {
                name: _written(getattr(line, name), required=name in ("units", "times"))
                for name in _FIGURES.values()
            }
            values.update(
                provider_office_no=line.provider_office_no,
                provider_name=line.provider_name,
                satellite_no=line.satellite_no,
                service_code=line.service_code,
                over_30_days=line.over_30_days,
            )
            for name in ("tais_code", "equipment_notification_code"):
                if name in has:
                    values[name] = getattr(line, name)
            out.append(record_type(**common, **values))
        return tuple(out)


def _written(value: Any, *, required: bool) -> Any:
    if value is NOT_COMPUTABLE:
        return 0 if required else None
    return value


# -- the computation ------------------------------------------------------------------------------

PriceTable = Decimal | str | Mapping[Any, Decimal | str] | None
RateTable = int | Mapping[Any, int] | None


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
    records = list(records)
    if not records:
        return ()
    sheets = []
    for user, lines in _user_lines(records):
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


def _price(value: Decimal | str) -> Decimal:
    return Decimal(value).quantize(_CENT)


class _Lookup:
    """A per-(office, service type) value: given, or read from a 第7表, or unknown."""

    def __init__(
        self,
        given: Any,
        table7: Iterable[Any],
        attribute: str,
        convert: Callable[[Any], Any],
    ) -> None:
        self._single = (
            convert(given) if given is not None and not isinstance(given, Mapping) else None
        )
        self._mapping = (
            {k: convert(v) for k, v in given.items()} if isinstance(given, Mapping) else {}
        )
        self._stated: dict[tuple[str, str], Any] = {}
        self._known: dict[tuple[str, str], Any] = {}
        for record in table7:
            value = getattr(record, attribute, None)
            code = record.service_code or ""
            if value is not None and code != GRAND_TOTAL_SERVICE_CODE:
                self._stated.setdefault((record.provider_office_no, code[:2]), convert(value))

    def block(self, block_key: tuple[str, str]) -> Any:
        """`get` of an (office, service type) block, remembered (a month asks for few)."""
        if block_key in self._known:
            return self._known[block_key]
        value = self._known[block_key] = self.get(*block_key)
        return value

    def get(self, office: str, service_type: str) -> Any:
        for key in ((office, service_type), office):
            if key in self._mapping:
                return self._mapping[key]
        stated = self._stated.get((office, service_type))
        return stated if stated is not None else self._single


def _limits(
    supplements: Iterable[SupplementRecord],
) -> dict[tuple[Any, ...], tuple[int | None, dict[str, int]]]:
    out: dict[tuple[Any, ...], tuple[int | None, dict[str, int]]] = {}
    for insurer, insured, limit, *slots in map(_LIMITS, supplements):
        types, amounts = slots[::2], slots[1::2]
        out[(insurer, insured)] = (
            limit,
            {
                service_type: amount
                for service_type, amount in zip(types, amounts, strict=True)
                if service_type is not None and amount is not None
            }
            if slots.count(None) < len(slots) - 1  # a pair needs two items stated
            else {},
        )
    return out


# 区分支給限度基準額 and the 種類支給限度 slots (service type, amount) of a 利用者補足情報.
_LIMITS = attrgetter(
    "insurer_no",
    "insured_no",
    "benefit_limit",
    *(f"slot{n}_{item}" for n in range(1, 10) for item in ("service_type", "benefit_limit")),
)


# -- what a 種類別小計 and the 全合計 sum (shared with validation) ------------------------------

# Columns a 種類別小計 sums over its lines, and columns the 全合計 sums (the printed 合計 row).
SUBTOTALLED: Final = (17, 18, 19, 20, 21, 22, 24, 26, 28, 29)
TOTALLED: Final = (18, 19, 20, 21, 22, 24, 26, 28, 29)


def is_subtotal(code: str | None) -> bool:
    """A 種類別小計 service code (type + AAAA / EEEE / ZZZZ)."""
    return code is not None and len(code) == 6 and code[2:] in SUBTOTAL_SUFFIXES


def covered(subtotal: Any, details: Sequence[Any]) -> list[Any]:
    """The detail lines of a 種類別小計's block (same office and service type) that it sums.

    AAAA sums the lines within the 区分支給限度 (No.18 stated; all lines when none states it),
    EEEE those outside it (No.18 empty), ZZZZ the 30日超 lines (３０日超区分 1); AAAA and EEEE
    leave the 30日超 lines to ZZZZ.
    """
    over_30 = [d.over_30_days for d in details]
    managed = [d.managed_units for d in details]
    chosen = covered_rows(subtotal.service_code[2:], range(len(details)), over_30, managed)
    return [details[i] for i in chosen]


def covered_rows(
    suffix: str, block: Sequence[int], over_30: Sequence[Any], managed: Sequence[Any]
) -> list[int]:
    """`covered` over columns: the rows of `block` (indexes into the ３０日超区分 and
    給付管理単位数 columns) that a 種類別小計 with this suffix sums."""
    if suffix == "ZZZZ":
        return [g for g in block if over_30[g] == "1"]
    regular = [g for g in block if over_30[g] != "1"]
    if suffix == "EEEE":
        return [g for g in regular if managed[g] is None]
    stated = [g for g in regular if managed[g] is not None]
    return stated if stated else regular


def figure_sum(values: Iterable[Any]) -> Any:
    """The sum of stated figures: None when none is stated, `NOT_COMPUTABLE` if one is."""
    total = None
    for value in values:
        if value is NOT_COMPUTABLE:
            return NOT_COMPUTABLE
        if value is not None:
            total = value if total is None else total + value
    return total


def grand_total_terms(lines: Sequence[Any], attributes: Iterable[str]) -> dict[str, list[Any]]:
    """The figures the 全合計 of one user adds up, per attribute: each figure once.

    A 種類別小計 that states the figure stands for the lines it covers; every other detail
    line counts for itself.
    """
    details: dict[tuple[Any, Any], list[Any]] = {}
    subtotals: list[Any] = []
    for line in lines:
        code = line.service_code
        if code == GRAND_TOTAL_SERVICE_CODE or code is None:
            continue
        if is_subtotal(code):
            subtotals.append(line)
        else:
            details.setdefault((line.provider_office_no, code[:2]), []).append(line)
    coverage = [
        (s, covered(s, details.get((s.provider_office_no, s.service_code[:2]), [])))
        for s in subtotals
    ]
    terms: dict[str, list[Any]] = {}
    for attribute in attributes:
        replaced: set[int] = set()
        values = []
        for subtotal, members in coverage:
            value = getattr(subtotal, attribute)
            if value is not None:
                values.append(value)
                replaced.update(map(id, members))
        for block in details.values():
            values.extend(getattr(d, attribute) for d in block if id(d) not in replaced)
        terms[attribute] = values
    return terms


# -- the computation of one user's sheet -----------------------------------------------------
#
# A month has thousands of users and a sheet is ~6 lines, so the cost is per line: each line is
# a plain dict of `Table7Line`'s attributes while it is computed (one dict display, then item
# writes), and becomes the line's `__dict__` at the end (`_line`). The steps are those of the
# printed 別表: detail lines per (office, service type) block, the block's AAAA subtotal, the
# 支給限度 split over the rows that carry a block's 給付管理単位数, the money, the 全合計.
# tests/format/table7_calc_reference.py is the same computation written step by step (rows as
# objects); test_table7_calc.py checks the two agree figure for figure.

Row = dict[str, Any]

_ROW_DEFAULTS: dict[str, Any] = {
    a.name: a.default for a in attrs.fields(Table7Line) if a.default is not attrs.NOTHING
}
_UNSTATED: frozenset[int | None] = frozenset({None, 0})
_RATE_ADD_ON = (
    "第6表 単位数 (No.8) is empty or 0: a rate add-on (率加減算), taken as outside the 区分支給限度"
)
_UNITS_DIFFER = "第6表 単位数 (No.8) differs between the records of this line"
_NOT_DISCOUNTED = "第6表 単位数 (No.8) is not the discounted units of `discounts`"
_NO_PRICE = "no 単位数単価 (No.23) given or stated"
_NO_RATE = "no 給付率 (No.25) given or stated"
_NO_LIMIT = "no 区分支給限度基準額 (利用者補足情報 No.19)"
_LIMIT_NOT_COMPUTABLE = "給付管理単位数 not computable"
_TOTALLED_NAMES = tuple(_FIGURES[no] for no in TOTALLED[1:])
_TOTALLED_GET = itemgetter(*_TOTALLED_NAMES)
_new_object = object.__new__
_set_attribute = object.__setattr__


# One line of a user as `tally_lines` counted it: `line_key`, the sum of サービス回数, the
# distinct No.8 values, the days flagged in 日割対象日 (None when none is) and the provider name
# of the line's first record. A plain tuple: one is made per line of the month.
_UserLine = tuple[tuple[Any, ...], int, Collection[int | None], "set[int] | None", "str | None"]


def _user_lines(records: Sequence[Any]) -> list[tuple[tuple[Any, ...], list[_UserLine]]]:
    """`count_lines` for the computation: each user's lines in order of first appearance."""
    _, month, v3, first, times, units, flagged = tally_by_position(records)
    items = len(_LINE_ITEMS_V3 if v3 else _LINE_ITEMS)
    # Users are told apart by 保険者番号 and 被保険者番号 when the records are of one month
    # (hashing the month, a YearMonth, is a Python call).
    users: dict[tuple[Any, ...], list[_UserLine]] = {}
    for full, position in first.items():  # in order of first appearance
        line = full[2 : 2 + items]
        key = (*line[:3], None, None, line[3]) if v3 else line
        user = full[:2] if month else (*full[:2], full[-1])
        found = (
            key,
            times[position],
            units[position],
            flagged.get(position),
            records[position].provider_name,
        )
        if user in users:
            users[user].append(found)
        else:
            users[user] = [found]
    return [(user if not month else (*user, month), lines) for user, lines in users.items()]


def _sheet(
    user: tuple[Any, ...],
    lines: Iterable[_UserLine],
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
    blocks: dict[tuple[str, str], list[Row]] = {}
    for line in lines:
        detail = _detail(line, discounts, exempt, monthly)
        block_key = (detail["provider_office_no"], detail["service_code"][:2])
        if block_key in blocks:
            blocks[block_key].append(detail)
        else:
            blocks[block_key] = [detail]
    # Each block's 給付管理単位数 and money sit on one row: its AAAA subtotal (a block of several
    # lines must have one, V12), or its only line.
    subtotals: dict[tuple[str, str], Row] = {}
    carriers: list[Row] = []
    for block_key, details in blocks.items():
        if len(details) > 1:
            subtotal = subtotals[block_key] = _block_total(block_key, details)
            if subtotal["managed_units"] is not None:  # some line is within the limit
                carriers.append(subtotal)
        elif details[0]["managed_units"] is not None:
            carriers.append(details[0])
    if carriers:
        _split_limits(carriers, category_limit, type_limits)
    rows: list[Row] = []
    for block_key, details in blocks.items():
        price = prices.block(block_key)
        rate = rates.block(block_key)
        total = subtotals.get(block_key)
        for detail in details:
            if detail["over_30_days"] == "1":
                _money(detail, price, rate, None, detail["service_unit_amount"])
            elif detail["managed_units"] is None:
                _money(detail, price, rate, detail["service_unit_amount"], None)
            elif total is None:  # the block's only line carries its money
                _carrier_money(detail, price, rate)
            rows.append(detail)
        if total is not None:
            if total["managed_units"] is not None:
                _carrier_money(total, price, rate)
            rows.append(total)
    rows.append(_grand_total(rows))
    return Table7Sheet(
        insurer_no=user[0], insured_no=user[1], target_month=user[2], lines=tuple(map(_line, rows))
    )


def _line(row: Row) -> Table7Line:
    # The row's dict becomes the line's attributes, as pickle restores an instance: the row
    # holds every attribute, and building a 25-attribute frozen object through __init__ costs
    # more than computing it.
    line: Table7Line = _new_object(Table7Line)
    _set_attribute(line, "__dict__", row)
    return line


def _detail(
    line: _UserLine,
    discounts: Mapping[str, Discount],
    exempt: Collection[str],
    monthly: Collection[str],
) -> Row:
    (office, satellite, code, tais, notification, over_30), times, distinct, days, name = line
    if days:
        times = len(days)  # expected_times's rules, inline
    elif code[:2] in MONTHLY_SERVICE_TYPES or code in monthly:
        times = 1
    reasons: tuple[str, ...] = ()
    units: int | NotComputable = NOT_COMPUTABLE
    if len(distinct) == 1:
        (value,) = distinct
        if value:
            units = value
        else:
            # Rate add-ons with units left empty are mostly 処遇改善加算, outside the 区分支給
            # 限度: the line is taken as outside the limit so the rest of the sheet stays
            # computable.
            reasons = (_RATE_ADD_ON,)
    else:
        reasons = (_RATE_ADD_ON,) if _UNSTATED.issuperset(distinct) else (_UNITS_DIFFER,)
    rate: int | None = None
    discounted: Figure = None
    base: Figure = units
    effective: int | NotComputable = units
    discount = discounts.get(code) if discounts else None
    if discount is not None and units is not NOT_COMPUTABLE:
        rate = discount.rate
        base = discount.units
        effective = discounted = discounted_units(discount.units, discount.rate)
        if discounted != units:
            reasons = (*reasons, _NOT_DISCOUNTED)
            effective = discounted = NOT_COMPUTABLE
    amount: Figure = NOT_COMPUTABLE if effective is NOT_COMPUTABLE else effective * times
    in_limit = units is not NOT_COMPUTABLE and over_30 != "1" and code not in exempt
    return {
        **_ROW_DEFAULTS,
        "provider_office_no": office,
        "service_code": code,
        "satellite_no": satellite,
        "tais_code": tais,
        "equipment_notification_code": notification,
        "over_30_days": over_30,
        "provider_name": name,
        "units": base,
        "discount_rate": rate,
        "discounted_units": discounted,
        "times": times,
        "service_unit_amount": amount,
        "managed_units": amount if in_limit else None,
        "reasons": reasons,
    }


def _block_total(block_key: tuple[str, str], details: Sequence[Row]) -> Row:
    """The block's AAAA subtotal of the lines within the limit (給付管理単位数 None if none is)."""
    office, service_type = block_key
    managed = [d for d in details if d["managed_units"] is not None]
    reasons: tuple[str, ...] = ()
    if any(d["reasons"] for d in managed):
        reasons = tuple(dict.fromkeys(r for d in managed for r in d["reasons"]))
    return {
        **_ROW_DEFAULTS,
        "provider_office_no": office,
        "service_code": service_type + "AAAA",
        "over_30_days": "0",
        "provider_name": details[0]["provider_name"],
        "units": 0,
        "times": 0,
        "service_unit_amount": figure_sum([d["service_unit_amount"] for d in managed]),
        "managed_units": figure_sum([d["managed_units"] for d in managed]),
        "reasons": reasons,
    }


def _allocate(bases: Sequence[int], rows: Iterable[int], excess: int, over: list[int]) -> None:
    """Units over a limit, taken from the last rows first (the library's choice, decisions.md):
    `over[i]` for each row index `i` of `rows` (in order) reached while some excess is left."""
    for i in reversed(list(rows)):
        if excess <= 0:
            break
        taken = min(excess, max(bases[i], 0))
        over[i] = taken
        excess -= taken


def _split_limits(
    carriers: Sequence[Row], category_limit: int | None, type_limits: Mapping[str, int]
) -> None:
    """No.19–22 on each row carrying a block's 給付管理単位数."""
    managed: list[int] = [row["managed_units"] for row in carriers]
    if category_limit is None or not all(isinstance(m, int) for m in managed):
        reason = _NO_LIMIT if category_limit is None else _LIMIT_NOT_COMPUTABLE
        for row in carriers:
            row["over_category_limit_units"] = row["within_category_limit_units"] = NOT_COMPUTABLE
            row["reasons"] = (*row["reasons"], reason)
        return
    count = len(carriers)
    within = managed
    over_type = [0] * count
    if type_limits:
        types = [row["service_code"][:2] for row in carriers]
        for service_type, type_limit in type_limits.items():
            of_type = [i for i in range(count) if types[i] == service_type]
            excess = sum(managed[i] for i in of_type) - type_limit
            _allocate(managed, of_type, excess, over_type)
        within = [m - o for m, o in zip(managed, over_type, strict=True)]
    over_category = [0] * count
    excess = sum(within) - category_limit
    if excess > 0:
        _allocate(within, range(count), excess, over_category)
    for row, inside, over_t, over_c in zip(carriers, within, over_type, over_category, strict=True):
        if type_limits and row["service_code"][:2] in type_limits:
            row["over_type_limit_units"] = over_t or None
            row["within_type_limit_units"] = inside
        row["over_category_limit_units"] = over_c or None
        row["within_category_limit_units"] = inside - over_c


def _carrier_money(row: Row, price: Decimal | None, rate: int | None) -> None:
    """The money of a block's row: 費用総額 from the units within the 区分支給限度, 全額負担分
    from the units over it."""
    _money(row, price, rate, row["within_category_limit_units"], row["over_category_limit_units"])


def _money(
    row: Row, price: Decimal | None, rate: int | None, insured: Figure, over: Figure
) -> None:
    """No.23–29 of a row that carries money: `insured` units (None for a 30日超 line, whose
    units are all 全額負担分) and the `over` units (over the limit or 30日超: 全額負担分)."""
    if price is None:
        reasons = (*row["reasons"], _NO_PRICE)
        row["unit_price"] = NOT_COMPUTABLE
    else:
        reasons = row["reasons"]
        row["unit_price"] = price
    if insured is not None:
        if rate is None:
            reasons = (*reasons, _NO_RATE)
        if insured == 0:
            cost: int | NotComputable = 0
        elif price is None or insured is NOT_COMPUTABLE:
            cost = NOT_COMPUTABLE
        else:
            cost = total_cost(insured, price)
        row["total_cost"] = cost
        row["benefit_rate"] = NOT_COMPUTABLE if rate is None else rate
        if cost is NOT_COMPUTABLE or rate is None:
            row["insurance_claim"] = row["user_copay"] = NOT_COMPUTABLE
        else:
            claim = row["insurance_claim"] = benefit_claim(cost, rate)
            row["user_copay"] = cost - claim
    if over is not None and over != 0:
        row["user_full_payment"] = (
            NOT_COMPUTABLE if price is None or over is NOT_COMPUTABLE else total_cost(over, price)
        )
    row["reasons"] = tuple(dict.fromkeys(reasons)) if len(reasons) > 1 else reasons


def _grand_total(rows: Sequence[Row]) -> Row:
    # What `grand_total_terms` gives for a computed sheet, without its grouping: details carry
    # their own 給付管理単位数 (a subtotal's is their sum); the limit split and the money sit on
    # exactly one row each (a block's carrier, or a line outside the limit).
    managed = [
        row["managed_units"]
        for row in rows
        if not (len(code := row["service_code"]) == 6 and code[2:] in SUBTOTAL_SUFFIXES)
    ]  # is_subtotal, inline
    total: Row = dict(_ROW_DEFAULTS)
    total.update(
        zip(
            _TOTALLED_NAMES,
            map(_figure_sum, zip(*map(_TOTALLED_GET, rows), strict=True)),
            strict=True,
        )
    )
    reasons: tuple[str, ...] = ()
    if any(map(_REASONS, rows)):
        reasons = tuple(dict.fromkeys(r for row in rows for r in row["reasons"]))
    total.update(
        provider_office_no=GRAND_TOTAL_OFFICE,
        service_code=GRAND_TOTAL_SERVICE_CODE,
        over_30_days="0",
        units=0,
        times=0,
        managed_units=_figure_sum(managed),
        reasons=reasons,
    )
    return total


def _figure_sum(values: Sequence[Any]) -> Any:
    """`figure_sum` of a column's few values, in C calls."""
    if NOT_COMPUTABLE in values:
        return NOT_COMPUTABLE
    if values.count(None) == len(values):
        return None
    return sum(filter(None, values))  # the stated figures (a 0 adds nothing)


_REASONS = itemgetter("reasons")
