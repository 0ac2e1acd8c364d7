"""The 第7表's arithmetic, and its agreement with the 第6表 of its unit.

Sums inside a 第7表 (a 種類別小計 is the sum of its lines, the 全合計 the sum of its user's lines,
サービス単位／金額 is 単位数 × 回数) and figures copied from the 第6表 (a line per service code,
its 単位数 and 回数) are errors. Relations that hold by the calculation rules of the 介護給付費
(rounding of 費用総額 and 請求額, 利用者負担, the split at the 支給限度) are warnings, errors with
`strict`: a 公費 share or a municipal rule can make a correct file differ. The rules and their
sources: docs/arithmetic.md.

A unit's 第7表 holds as many lines as its 第6表 has users × codes (100k+), so the checks read
the columns `validate` has already made of every file (`ColumnsOf`; one file's columns as they
are, several files' joined), number the users once, and test every rule over the columns with
plain integers, in bulk where the usual file is right: every user's 全合計 against prefix sums
of the rows in user order (the rows reordered, stably, only when users' lines are not
contiguous), each 第6表 line against its 第7表 line by C comparisons of picked columns. Only
what such a bulk test flags gets the rule-by-rule look; an `Issue`, its message and the rule's
Decimal only appear for a line found wrong. The issues come out in the order of the
rule-by-rule walk they replaced (by user, then line), which decides which of more than
`PER_RULE_LIMIT` alike are listed; tests/format/test_table7_differential.py and
test_table7_fast_paths.py hold them to it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import accumulate, chain, compress, count, islice, repeat
from operator import (
    add,
    and_,
    contains,
    eq,
    floordiv,
    gt,
    is_,
    is_not,
    itemgetter,
    le,
    lt,
    mul,
    ne,
    not_,
    or_,
    sub,
    truth,
)
from typing import Any

import attrs

from .._issue import Issue, Severity
from ._bundle import Bundle
from ._columns import ColumnsOf, uniform
from ._file import CareplanFile
from ._findings import Findings
from ._record_rules import grand_total_rows
from ._table7_calc import (
    GRAND_TOTAL_SERVICE_CODE,
    MONTHLY_SERVICE_TYPES,
    SUBTOTAL_SUFFIXES,
    SUBTOTALLED,
    TOTALLED,
    covered_rows,
    discounted_units,
    expected_times,
    tally_by_position,
    total_cost,
)

__all__ = ["check_table7_arithmetic"]

_NAMES = {
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
    28: "user_copay",
    29: "user_full_payment",
}
# The columns read from every 第7表 record, in this order (`_Lines` names them).
_READ = (
    "insurer_no",
    "insured_no",
    "target_month",
    "provider_office_no",
    "satellite_no",
    "service_code",
    "over_30_days",
    "tais_code",
    "equipment_notification_code",
    *_NAMES.values(),
)
# A detail line's key against the 第6表, before the month's number: the user's 保険者番号 and
# 被保険者番号, then the line items (office, サテライト, code, TAIS, 届出, ３０日超).
_KEY_ITEMS = (
    "insurer_no",
    "insured_no",
    "provider_office_no",
    "satellite_no",
    "service_code",
    "tais_code",
    "equipment_notification_code",
    "over_30_days",
)
# Key items a 202208 第6表 has not (its lines compare as None there).
_V3_ABSENT = frozenset({"tais_code", "equipment_notification_code"})
_TOTAL, _SUBTOTAL, _DETAIL, _NO_CODE = range(4)
_TERMS = frozenset({_SUBTOTAL, _DETAIL})
_NONE_AS_ZERO = {None: 0}
_NONE_AS_ONE = {None: 1}
_NO_CODES = frozenset({None})
_NONE_AS_NAN: dict[Any, Any] = {None: float("nan")}
_SERVICE_TYPE = itemgetter(slice(0, 2))
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
# The figures `_check_details` reads, in the order `_details_in_bulk` unpacks them.
_DETAIL_FIGURES = (
    "discount_rate",
    "discounted_units",
    "units",
    "times",
    "service_unit_amount",
    "managed_units",
)


def _kinds(codes: set[str | None]) -> dict[str | None, int]:
    """Each distinct code's kind: nearly all are details (digits only), found in C."""
    stated = [code for code in codes if code is not None]
    kinds: dict[str | None, int] = dict.fromkeys(stated, _DETAIL)
    # Codes of digits only are details (or the 全合計): one test of all of them joined, in C,
    # tells the usual file, which has no 種類別小計 (nor an odd code) to look at one by one.
    if not "".join(stated).isdigit():
        for code in compress(stated, map(not_, map(str.isdigit, stated))):
            kinds[code] = _kind(code)
    if GRAND_TOTAL_SERVICE_CODE in kinds:
        kinds[GRAND_TOTAL_SERVICE_CODE] = _TOTAL
    if None in codes:
        kinds[None] = _NO_CODE
    return kinds


def _all_digits(codes: Sequence[str | None]) -> bool:
    """Whether every code is stated and of digits only (details and 全合計: the usual file),
    told in C over the codes joined (a None stops the join)."""
    try:
        return "".join(codes).isdigit()  # type: ignore[arg-type]
    except TypeError:
        return False


def _kind(code: str | None) -> int:
    if code is None:
        return _NO_CODE
    if code == GRAND_TOTAL_SERVICE_CODE:
        return _TOTAL
    return _SUBTOTAL if len(code) == 6 and code[2:] in _SUFFIXES else _DETAIL


_USER_OF_KEY = itemgetter(0, 1, 8)  # of a full line key: 保険者番号, 被保険者番号, month
_SUFFIXES = frozenset(SUBTOTAL_SUFFIXES)


def check_table7_arithmetic(
    units: Iterable[Bundle],
    parsed: Mapping[str, CareplanFile],
    *,
    strict: bool = False,
    columns_of: ColumnsOf | None = None,
) -> list[Issue]:
    """Issues of every 第7表 of the units: its sums, its money, its agreement with the 第6表;
    `columns_of` gives the files' columns when the caller shares them with other rules."""
    # Without shared columns the 第6表 is read record by record: transposing all its columns
    # for the few the checks read would cost more.
    shared = columns_of is not None
    columns_of = columns_of or ColumnsOf()
    issues: list[Issue] = []
    for unit in units:
        files = [parsed[name] for name in unit.files if name in parsed]
        table7 = [f for f in files if f.layout.id == "table7" and f.records]
        if not table7:
            continue
        table6 = [f for f in files if f.layout.id == "table6_plan"]
        limits = _limits([f for f in files if f.layout.id == "supplement"], columns_of, shared)
        issues += _Check(table7, table6, limits, strict, columns_of, shared).run()
    return issues


def _limits(supplements: Iterable[CareplanFile], columns_of: ColumnsOf, shared: bool) -> _Limits:
    """区分支給限度基準額 by (保険者番号, 被保険者番号), from the 利用者補足情報 (a later record
    wins); from the shared columns in C when the caller made them."""
    files = list(supplements)
    if len(files) == 1 and shared and _has(files[0], "benefit_limit") and files[0].records:
        columns = columns_of(files[0])
        insurers = columns["insurer_no"]
        if uniform(insurers):
            # One 保険者番号 (the usual file): keyed by 被保険者番号 alone, no pair made; the
            # dict made only when a user is looked up (`_Limits.of`).
            return _Limits(None, insurers[0], columns["insured_no"], columns["benefit_limit"])
    limits: dict[Any, int] = {}
    for file in files:
        if shared and _has(file, "benefit_limit"):
            columns = columns_of(file)
            stated = columns["benefit_limit"]
            users = zip(columns["insurer_no"], columns["insured_no"], strict=True)
            limits.update(
                compress(zip(users, stated, strict=True), map(is_not, stated, repeat(None)))
            )
        else:
            limits.update(
                ((r.insurer_no, r.insured_no), r.benefit_limit)
                for r in _records(file)
                if getattr(r, "benefit_limit", None) is not None
            )
    return _Limits(limits)


_NO_INSURER = object()  # `_Limits` keyed by (保険者番号, 被保険者番号)


@attrs.define
class _Limits:
    """区分支給限度基準額 by user: keyed by 被保険者番号 when all are of one `insurer`, else by
    (保険者番号, 被保険者番号); made of `insureds` and `stated` when first needed (None)."""

    _by_key: Mapping[Any, int] | None
    insurer: Any = _NO_INSURER
    # The one 利用者補足情報 file's 被保険者番号 and 区分支給限度基準額, record by record
    # (`by_key` made of them), when it is of one `insurer`.
    insureds: Sequence[Any] | None = None
    stated: Sequence[Any] | None = None

    @property
    def by_key(self) -> Mapping[Any, int]:
        """The limits by key (a later record wins; an empty limit is none)."""
        if self._by_key is None:
            stated = self.stated or ()
            self._by_key = dict(
                compress(
                    zip(self.insureds or (), stated, strict=True),
                    map(is_not, stated, repeat(None)),
                )
            )
        return self._by_key

    def of(
        self, insurers: Sequence[Any], insureds: Sequence[Any], *, distinct: bool = False
    ) -> list[int | None]:
        """The limits of the users (保険者番号 and 被保険者番号 in parallel), None where none
        is given; `distinct`: the 被保険者番号 are known to differ."""
        if self.insurer is _NO_INSURER:
            return list(map(self.by_key.get, zip(insurers, insureds, strict=True)))
        if uniform(insurers):
            if insurers[0] == self.insurer:
                if distinct and self.insureds is not None and _equal(insureds, self.insureds):
                    # The users are the 補足's records, in order, each once (the usual pair
                    # of files): each user's limit is its record's, read without a lookup.
                    return list(self.stated)  # type: ignore[arg-type]
                return list(map(self.by_key.get, insureds))
            return [None] * len(insurers)
        return [
            self.by_key.get(insured) if insurer == self.insurer else None
            for insurer, insured in zip(insurers, insureds, strict=True)
        ]


def _has(file: CareplanFile, name: str) -> bool:
    return name in _attributes(file)


class _Months:
    """Equal months as equal small ints.

    A `YearMonth` hashes in Python, and a read file's months are a few shared objects (the
    reader caches them per text): hashing each distinct object once, and keying by identity
    (in C) otherwise, keeps grouping by user from making one Python call a line.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, int] = {}
        self._by_value: dict[Any, int] = {}

    def of(self, months: Sequence[Any]) -> list[int]:
        if uniform(months):
            # One month throughout (the usual file), told in C without an id per row.
            return [self.one(months[0])] * len(months)
        ids = list(map(id, months))
        for key, month in dict(zip(ids, months, strict=True)).items():
            if key not in self._by_id:
                self._by_id[key] = self._by_value.setdefault(month, len(self._by_value))
        return list(map(self._by_id.__getitem__, ids))

    def one(self, month: Any) -> int:
        key = id(month)
        number = self._by_id.get(key)
        if number is None:
            number = self._by_id[key] = self._by_value.setdefault(month, len(self._by_value))
        return number


class _Check:
    """The checks of one unit's 第7表 file(s) against its 第6表 file(s).

    The 第7表 files' records are one sequence of rows (`g` indexes it); each figure is a
    column of it (`self.col[name][g]`).
    """

    def __init__(
        self,
        table7: Sequence[CareplanFile],
        table6: Sequence[CareplanFile],
        limits: _Limits,
        strict: bool,
        columns_of: ColumnsOf,
        shared: bool = True,
    ) -> None:
        self.columns_of = columns_of
        self.shared = shared
        self.table7 = table7
        self.table6 = table6
        self.limits = limits
        self.rule: Severity = "error" if strict else "warning"
        self.findings = {id(f): Findings(f) for f in (*table7, *table6)}
        self.months = _Months()
        self.starts: list[int] = []
        size = 0
        for file in table7:
            self.starts.append(size)
            size += len(file.records)
        # The columns the item rules already made (`columns_of`): one file's are used as they
        # are, several files' joined in order.
        self.col: dict[str, Sequence[Any]] = {
            name: _joined([_column(columns_of, file, name) for file in table7]) for name in _READ
        }
        codes = self.col["service_code"]
        self.month_no = self.months.of(self.col["target_month"])
        # Rows by kind, in order: 全合計 (999999), 種類別小計 (type + AAAA/EEEE/ZZZZ), details;
        # unless every code is digits (details and 全合計 only, told in C), each distinct code
        # (known to the item rules already) classified once, the rows picked in C.
        rows = range(len(codes))
        # The 全合計 rows and whether every user has one, as the file rules found them.
        known = grand_total_rows(columns_of(table7[0])) if len(table7) == 1 else None
        kind_of = None if self._plain_codes() else _kinds(self._distinct("service_code"))
        # Lines a 全合計 adds up (種類別小計 and details): `is_term`.
        self.is_term: list[bool]
        if kind_of is not None and not {_SUBTOTAL, _NO_CODE}.isdisjoint(kind_of.values()):
            kinds = list(map(kind_of.__getitem__, codes))
            self.totals = list(compress(rows, map(eq, kinds, repeat(_TOTAL))))
            self.subtotals = list(compress(rows, map(eq, kinds, repeat(_SUBTOTAL))))
            self.details = list(compress(rows, map(eq, kinds, repeat(_DETAIL))))
            self.is_term = list(map(contains, repeat(_TERMS), kinds))
        else:
            # The usual file, of details and 全合計 only: the rows told apart by their code,
            # the 全合計's, compared in C (no kind looked up for each row), or as the file
            # rules found them already.
            if known is not None:
                self.totals, self.is_term = known.rows, known.not_grand
            else:
                is_total = list(map(eq, codes, repeat(GRAND_TOTAL_SERVICE_CODE)))
                self.totals = list(compress(rows, is_total))
                self.is_term = list(map(not_, is_total))
            self.subtotals = []
            self.details = list(compress(rows, self.is_term))
        # Each row's user as its rank, users numbered in order of first appearance (the order
        # the checks report in): each row's key hashed once, to the position of the user's
        # first row, then those positions numbered (small ints hash in C). A user is its
        # 被保険者番号 alone when the file has one 保険者番号 and one month (the usual file: no
        # key tuple made), else (保険者番号, 被保険者番号, month).
        users: Iterable[Any] = self.col["insured_no"]
        self.user_by_insured = True  # a user is known by its 被保険者番号 alone
        if len(self._distinct("insurer_no")) > 1 or len(self._distinct("target_month")) > 1:
            users = zip(self.col["insurer_no"], users, self.month_no, strict=True)
            self.user_by_insured = False
        self.at_details = _picker(self.details)  # a detail row's values of a column
        # Per user (by rank), how many rows adding to the 全合計 there are up to its last row,
        # and whether that is one each (`_user_sums`, made when first needed).
        self._terms_made: tuple[list[int], bool] | None = None
        self._blocks: dict[tuple[Any, ...], list[int]] | None = None
        self._runs_made: tuple[list[int] | None, Any] | None = None
        self._at_totals: Any = None  # a picker of the 全合計 rows, when made already
        if not isinstance(users, Sequence):
            users = list(users)
        # Where the user changes from one row to the next: when every user's rows are one
        # run (the usual file, sorted by user), a row's rank is the number of changes before
        # it, summed in C, and the runs' ends are each user's last row (`_runs`).
        changes = list(map(ne, users, islice(users, 1, None)))
        runs = changes.count(True) + 1
        lasts = list(compress(range(len(users)), chain(changes, (True,))))
        # The runs' users differ: told by a set of them, or, when every user has one 全合計
        # and the runs end at the 全合計 rows, known (a user of two runs would have two).
        ends_at_totals = known is not None and known.one_each and lasts == self.totals
        if ends_at_totals or len(set(compress(users, chain((True,), changes)))) == runs:
            self.user_count = runs
            self.user_no = list(accumulate(chain((0,), changes)))
            at_lasts = _picker(lasts)
            self._runs_made = (None, at_lasts)
            if ends_at_totals:
                self._at_totals = at_lasts  # the 全合計 rows are the runs' ends
        else:
            first: dict[Any, int] = {}
            positions = list(map(first.setdefault, users, count()))
            rank_of = dict(zip(first.values(), count()))
            self.user_count = len(rank_of)
            self.user_no = list(map(rank_of.__getitem__, positions))
        # Found problems: (order, row, attribute, code, severity, ja, en, value).
        self.pending: list[tuple[tuple[Any, ...], int, str, str, Severity, str, str, object]] = []

    def _plain_codes(self) -> bool:
        """Whether every code is stated and none is a 種類別小計's (details and 全合計 only:
        the usual file), told in C: by a search of the file's codes joined, which the item
        rules made already, for the subtotals' letters; else by one test of all the codes
        joined for digits only."""
        if len(self.table7) == 1:
            joined = self.columns_of(self.table7[0]).joined("service_code")
            if joined is not None:
                # A code holding a subtotal's letters is no code of digits only either.
                return not any(map(joined.__contains__, SUBTOTAL_SUFFIXES))
        return _all_digits(self.col["service_code"])

    def _distinct(self, name: str) -> set[Any]:
        """The distinct values of a column of the 第7表 file(s) (each file's made once a run)."""
        if len(self.table7) == 1:
            return self.columns_of(self.table7[0]).distinct(name)
        return set().union(*(self.columns_of(f).distinct(name) for f in self.table7))

    def blocks(self) -> dict[tuple[Any, ...], list[int]]:
        """Detail rows by 種類別 block (user, office, service type); made when first needed
        (a 種類別小計 to check, or a line to report)."""
        if self._blocks is None:
            offices, codes = self.col["provider_office_no"], self.col["service_code"]
            user_no = self.user_no
            self._blocks = {}
            for g in self.details:
                self._blocks.setdefault((user_no[g], offices[g], codes[g][:2]), []).append(g)
        return self._blocks

    def run(self) -> list[Issue]:
        self._check_details()
        self._check_money()
        self._check_subtotals()
        self._check_totals()
        # In the order the per-user walk reported (stable: a row's issues keep their order).
        self.pending.sort(key=lambda found: found[0])
        for _, g, attribute, code, severity, ja, en, value in self.pending:
            self._add(*self._locate(g), attribute, code, severity, ja, en, value)
        self._check_against_table6()
        issues: list[Issue] = []
        for findings in self.findings.values():
            issues += findings.finish()
        return issues

    def _locate(self, g: int) -> tuple[CareplanFile, int]:
        at = bisect_right(self.starts, g) - 1
        return self.table7[at], g - self.starts[at]

    def _add(
        self,
        file: CareplanFile,
        index: int,
        attribute: str,
        code: str,
        severity: Severity,
        ja: str,
        en: str,
        value: object,
    ) -> None:
        self.findings[id(file)].add(
            code, severity, ja, en, index=index, column=file.layout.column(attribute), value=value
        )

    def _found(
        self,
        order: tuple[Any, ...],
        g: int,
        attribute: str,
        code: str,
        severity: Severity,
        ja: str,
        en: str,
        value: object,
    ) -> None:
        self.pending.append((order, g, attribute, code, severity, ja, en, value))

    def _money_order(self, g: int, subtotal: bool) -> tuple[Any, ...]:
        # A user's money was checked subtotals first, then details block by block.
        rank = self.user_no[g]
        if subtotal:
            return (rank, 1, 0, g)
        block = self.blocks()[
            (rank, self.col["provider_office_no"][g], self.col["service_code"][g][:2])
        ]
        return (rank, 1, 1, block[0], g)

    # -- inside one user's 第7表 -----------------------------------------------------------

    def _check_details(self) -> None:
        # A detail without a discount whose figures are all stated and agree (nearly every
        # line) is passed over in bulk; the rest get the rule-by-rule look.
        suspects = self._details_in_bulk()
        if suspects is None:
            suspects = self._details_one_by_one()
        for g in suspects:
            self._check_detail(g)

    def _details_in_bulk(self) -> list[int] | None:
        """`_details_one_by_one` in C passes over the columns, for details none of which has a
        discount and all of which state 単位数 and 回数, and each of サービス単位／金額 and
        給付管理単位数 stated on all or none of them (the usual file); None when they do not."""
        details, col = self.details, self.col
        if not details:
            return []
        at = self.at_details
        picked = [
            _EMPTY if column[0] is None and uniform(column) else at(column)
            for column in map(col.__getitem__, _DETAIL_FIGURES)
        ]
        rates, discounted, units, times, amounts, managed = picked
        if _empty_count(rates) != len(rates) or _empty_count(discounted) != len(discounted):
            return None  # a discount
        if _empty_count(units) or _empty_count(times):
            return None
        product = tuple(map(mul, units, times))
        failing: set[int] = set()
        for stated in (amounts, managed):
            empty = _empty_count(stated)
            if empty == len(stated):
                continue
            if empty:
                return None
            if tuple(stated) != product:
                failing.update(compress(details, map(ne, stated, product)))
        return sorted(failing)

    def _details_one_by_one(self) -> list[int]:
        col = self.col
        units, rates, discounted = col["units"], col["discount_rate"], col["discounted_units"]
        times, amounts, managed = col["times"], col["service_unit_amount"], col["managed_units"]
        return [
            g
            for g in self.details
            if rates[g] is not None
            or discounted[g] is not None
            or (u := units[g]) is None
            or (t := times[g]) is None
            or ((a := amounts[g]) is not None and a != u * t)
            or ((m := managed[g]) is not None and m != u * t)
        ]

    def _check_detail(self, g: int) -> None:
        col = self.col
        order = (self.user_no[g], 0, g)
        units, rate = col["units"][g], col["discount_rate"][g]
        discounted = col["discounted_units"][g]
        if units is not None and rate is not None and discounted is not None:
            expected = discounted_units(units, rate)
            if discounted != expected:
                self._found(
                    order, g, "discounted_units", "table7.discounted_units", self.rule,
                    f"割引後単位数は 単位数 × 割引後率 を四捨五入した {expected} です",
                    f"割引後単位数 is 単位数 × 割引後率 rounded half up: {expected}",
                    discounted,
                )  # fmt: skip
        effective = discounted if discounted is not None else units
        times, amount = col["times"][g], col["service_unit_amount"][g]
        product = effective * times if effective is not None and times is not None else None
        if amount is not None and product is not None and amount != product:
            self._found(
                order, g, "service_unit_amount", "table7.unit_amount", "error",
                f"サービス単位／金額は（割引後）単位数 × 回数 の {product} です",
                f"サービス単位／金額 is (割引後)単位数 × 回数 = {product}",
                amount,
            )  # fmt: skip
        managed = col["managed_units"][g]
        basis = amount if amount is not None else product
        if managed is not None and basis is not None and managed != basis:
            self._found(
                order, g, "managed_units", "table7.managed_units", self.rule,
                f"給付管理単位数がサービス単位／金額（{basis}）と違います（大規模型の通所系など"
                "の例外を除く）",
                f"給付管理単位数 differs from サービス単位／金額 ({basis}); only a few services "
                "(大規模型 通所 …) manage other units",
                managed,
            )  # fmt: skip

    def _check_money(self) -> None:
        col = self.col
        for subtotal, rows in ((True, self.subtotals), (False, self.details)):
            for g in _money_suspects(
                rows,
                col["managed_units"], col["over_type_limit_units"],
                col["within_type_limit_units"], col["over_category_limit_units"],
                col["within_category_limit_units"], col["service_unit_amount"],
                col["over_30_days"], col["unit_price"], col["total_cost"],
                col["benefit_rate"], col["insurance_claim"], col["user_copay"],
                col["user_full_payment"],
                at=None if subtotal else self.at_details,
            ):  # fmt: skip
                self._check_money_of(g, self._money_order(g, subtotal))

    def _check_money_of(self, g: int, order: tuple[Any, ...]) -> None:
        col = self.col
        managed = col["managed_units"][g]
        over_type, within_type = col["over_type_limit_units"][g], col["within_type_limit_units"][g]
        if (
            managed is not None
            and (over_type is not None or within_type is not None)
            and (over_type or 0) + (within_type or 0) != managed
        ):
            self._found(
                order, g, "within_type_limit_units", "table7.limit_split", self.rule,
                "種類支給限度基準を超える単位数と基準内単位数の和が給付管理単位数と違います",
                "種類支給限度 over + within units do not add up to 給付管理単位数",
                within_type,
            )  # fmt: skip
        over = col["over_category_limit_units"][g]
        within = col["within_category_limit_units"][g]
        basis = within_type if within_type is not None else managed
        if (
            basis is not None
            and (over is not None or within is not None)
            and (over or 0) + (within or 0) != basis
        ):
            # Either part may be the wrong one: both are named.
            for attribute, value in (
                ("over_category_limit_units", over),
                ("within_category_limit_units", within),
            ):
                if value is not None:
                    self._found(
                        order, g, attribute, "table7.limit_split", self.rule,
                        f"区分支給限度基準を超える単位数と基準内単位数の和が {basis} になりません",
                        f"区分支給限度 over + within units do not add up to {basis}",
                        value,
                    )  # fmt: skip
        price: Decimal | None = col["unit_price"][g]
        cost = col["total_cost"][g]
        amount, over_30 = col["service_unit_amount"][g], col["over_30_days"][g]
        insured = within if within is not None else (
            amount if managed is None and over_30 != "1" else None
        )  # fmt: skip
        if price is not None and cost is not None and insured is not None:
            expected = total_cost(insured, price)
            if cost != expected:
                self._found(
                    order, g, "total_cost", "table7.total_cost", self.rule,
                    f"費用総額は {insured} 単位 × 単位数単価 {price} の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"費用総額 is {insured} units × 単位数単価 {price}, rounded down to the yen: "
                    f"{expected}",
                    cost,
                )  # fmt: skip
        rate, claim = col["benefit_rate"][g], col["insurance_claim"][g]
        if cost is not None and rate is not None and claim is not None:
            expected = cost * rate // 100
            if claim != expected:
                self._found(
                    order, g, "insurance_claim", "table7.claim", self.rule,
                    f"保険／事業費請求額は 費用総額 × 給付率 {rate}% の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"保険／事業費請求額 is 費用総額 × 給付率 {rate}%, rounded down to the yen: "
                    f"{expected}",
                    claim,
                )  # fmt: skip
        copay = col["user_copay"][g]
        if cost is not None and claim is not None and copay is not None and copay != cost - claim:
            self._found(
                order, g, "user_copay", "table7.copay", self.rule,
                f"利用者負担（保険／事業対象分）は 費用総額 − 請求額 = {cost - claim} 円です"
                "（公費負担がない場合）",
                f"利用者負担（保険／事業対象分） is 費用総額 − 請求額 = {cost - claim} "
                "(without 公費)",
                copay,
            )  # fmt: skip
        full = col["user_full_payment"][g]
        beyond = over if over is not None else (amount if over_30 == "1" else None)
        if price is not None and full is not None and beyond is not None:
            expected = total_cost(beyond, price)
            if full != expected:
                self._found(
                    order, g, "user_full_payment", "table7.full_payment", self.rule,
                    f"利用者負担（全額負担分）は {beyond} 単位 × 単位数単価 の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"利用者負担（全額負担分） is {beyond} units × 単位数単価, rounded down: "
                    f"{expected}",
                    full,
                )  # fmt: skip

    def _members(self, g: int) -> list[int]:
        """The detail rows the 種類別小計 at row `g` sums."""
        col = self.col
        code = col["service_code"][g]
        block = self.blocks().get((self.user_no[g], col["provider_office_no"][g], code[:2]), [])
        return covered_rows(code[2:], block, col["over_30_days"], col["managed_units"])

    def _check_subtotals(self) -> None:
        col, subtotals = self.col, self.subtotals
        if not subtotals:
            return
        # Only a subtotal stating some figure has lines to add up (found in C: finding its lines
        # groups every detail line by block).
        at = _picker(subtotals)
        stating: set[int] = set()
        for no in SUBTOTALLED:
            stating.update(compress(subtotals, map(is_not, at(col[_NAMES[no]]), repeat(None))))
        for g in sorted(stating):
            members = self._members(g)
            for no in SUBTOTALLED:
                name = _NAMES[no]
                value = col[name][g]
                if value is None:
                    continue
                figures = col[name]
                stated = [v for v in map(figures.__getitem__, members) if v is not None]
                if not stated or value == sum(stated):
                    continue
                self._found(
                    (self.user_no[g], 2, g), g, name, "table7.subtotal_sum", "error",
                    f"種類別小計（{col['service_code'][g]}）が明細の合計 {sum(stated)} と違います",
                    f"the subtotal ({col['service_code'][g]}) is not the sum of its lines "
                    f"({sum(stated)})",
                    value,
                )  # fmt: skip

    def _check_totals(self) -> None:
        col, totals = self.col, self.totals
        if not totals:
            return
        user_no = self.user_no
        # Each user's first 全合計 row (a later one is not checked), in C: the 全合計 rows
        # themselves when their users' ranks increase (one a user, the usual file).
        firsts, at_firsts = totals, self._at_totals or _picker(totals)
        users = at_firsts(user_no)
        increasing = all(map(lt, users, islice(users, 1, None)))
        if not increasing:
            firsts = list(
                dict(
                    zip(map(user_no.__getitem__, reversed(totals)), reversed(totals), strict=True)
                ).values()
            )
            firsts.reverse()
            at_firsts = _picker(firsts)
            users = at_firsts(user_no)
        # A user's item of a per-user list: the list itself (a slice of it) when the users
        # are 0, 1, 2 … (increasing from 0 to one less than their number: every user's).
        by_user = (
            itemgetter(slice(0, len(users)))
            if increasing and users[0] == 0 and users[-1] == len(users) - 1
            else _picker(users)
        )
        # The first 全合計 rows are of distinct users: of distinct 被保険者番号 when a user is
        # known by it alone.
        limit_of = self.limits.of(
            at_firsts(col["insurer_no"]),
            at_firsts(col["insured_no"]),
            distinct=self.user_by_insured,
        )
        # Every user at once: each stated 全合計 figure against its user's sum (per-user sums
        # from prefix sums, `_user_sums`); only the users whose figure differs get an issue.
        # The issues of one user keep the rule-by-rule order (figures in TOTALLED order, then
        # the limit): the pending list is sorted stably by user.
        sums: dict[str, tuple[Sequence[int], Sequence[int]]] = {}
        for no in TOTALLED:
            name = _NAMES[no]
            stated = at_firsts(col[name])
            if stated.count(None) == len(stated):
                continue
            sums[name] = self._user_sums(name, count_stated=False)
            expected = by_user(sums[name][0])
            for i in compress(range(len(firsts)), map(ne, stated, expected)):
                if stated[i] is not None:
                    self._found(
                        (users[i], 3), firsts[i], name, "table7.total_sum", "error",
                        f"全合計がこの利用者の各行の合計 {expected[i]} と違います",
                        f"the 全合計 is not the sum of this user's lines ({expected[i]})",
                        stated[i],
                    )  # fmt: skip
        if _empty_count(limit_of) == len(limit_of):
            return
        over_name, within_name = _NAMES[21], _NAMES[22]
        over_sums = (sums.get(over_name) or self._user_sums(over_name, count_stated=False))[0]
        within_sums = (sums.get(within_name) or self._user_sums(within_name, count_stated=False))[0]
        # The users over their limit, or with units over it while it is not used up.
        within_of, over_of = by_user(within_sums), by_user(over_sums)
        # Compared in C; a user without a limit compares as NaN (neither over nor under).
        limits: list[Any] = list(map(_NONE_AS_NAN.get, limit_of, limit_of))
        wrong_of = list(map(gt, within_of, limits))
        if any(over_of):  # else no user has units over the limit: the first test is all
            wrong_of = list(
                map(
                    or_,
                    wrong_of,
                    map(and_, map(lt, within_of, limits), map(gt, over_of, repeat(0))),
                )
            )
        if not any(wrong_of):
            return  # the usual file: every user within the limit, none over it needlessly
        # Only a user stating some term of either figure is judged: the terms stated are
        # counted now, when some user's sums are flagged.
        stated_of = map(
            truth,
            map(
                or_,
                by_user(self._user_sums(within_name)[1]),
                by_user(self._user_sums(over_name)[1]),
            ),
        )
        wrong = [
            (i, limit_of[i]) for i in compress(range(len(limits)), map(and_, stated_of, wrong_of))
        ]
        for i, limit in wrong:
            user = users[i]
            within, over = within_sums[user], over_sums[user]
            if within > limit:
                self._found(
                    (user, 3), firsts[i], "within_category_limit_units", "table7.limit",
                    self.rule,
                    f"区分支給限度基準内単位数の合計 {within} が区分支給限度基準額 {limit} "
                    "（利用者補足情報）を超えています",
                    f"the 区分支給限度基準内単位数 add up to {within}, over the "
                    f"区分支給限度基準額 {limit} (利用者補足情報)",
                    within,
                )  # fmt: skip
            elif within < limit and over > 0:
                self._found(
                    (user, 3), firsts[i], "over_category_limit_units", "table7.limit",
                    self.rule,
                    f"区分支給限度基準額 {limit} に達していないのに限度を超える単位数があります",
                    f"units are put over the limit while the 区分支給限度基準額 {limit} is not "
                    "used up",
                    over,
                )  # fmt: skip

    def _runs(self) -> tuple[list[int] | None, Any]:
        """The rows in user order (None when each user's rows are already contiguous, the usual
        file), and a function picking, from a sequence in that order, the item at each user's
        last row (users by rank)."""
        if self._runs_made is None:
            user_no = self.user_no
            order: list[int] | None = None
            if not all(map(le, user_no, islice(user_no, 1, None))):
                order = sorted(range(len(user_no)), key=user_no.__getitem__)  # stable
                user_no = list(map(user_no.__getitem__, order))
            lasts = list(
                compress(
                    range(len(user_no)), map(ne, user_no, chain(islice(user_no, 1, None), (-1,)))
                )
            )
            self._runs_made = (order, _picker(lasts))
        return self._runs_made

    def _user_sums(
        self, name: str, *, count_stated: bool = True
    ) -> tuple[Sequence[int], Sequence[int]]:
        """Per user (by rank): the sum of the figure's 全合計 terms (what `grand_total_terms`
        adds for one user: a 種類別小計 stating the figure stands for the lines it covers), and
        how many terms are stated (an empty list with `count_stated=False`). Summed for all
        users at once, by prefix sums over the rows in user order."""
        figures = self.col[name]
        if figures[0] is None and uniform(figures):
            # A figure no row states (the usual 区分支給限度を超える単位数): every sum is 0.
            zeros = [0] * self.user_count
            return zeros, list(zeros) if count_stated else []
        counted = self.is_term
        for g in self.subtotals:
            if figures[g] is not None:
                if counted is self.is_term:
                    counted = list(counted)
                for member in self._members(g):
                    counted[member] = False
        order, at_last = self._runs()
        if order is None and counted is self.is_term and not count_stated:
            # Each user's rows one run, and every term counted (the usual file): running sums
            # of the terms alone (picked in C), read where each user's terms end.
            # Without 種類別小計 the terms are the detail rows (picked as a slice when
            # evenly spaced, as in the file of one line a user).
            values: Sequence[Any] = (
                self.at_details(figures) if not self.subtotals else list(compress(figures, counted))
            )
            if _empty_count(values):
                values = list(map(_NONE_AS_ZERO.get, values, values))
            if self._terms_made is None:
                ends = list(at_last(list(accumulate(self.is_term))))
                # One term a user (a file of one line a user): the terms are the sums.
                alone = ends == list(range(1, len(ends) + 1))
                self._terms_made = (ends, alone)
            ends, alone = self._terms_made
            if alone:
                return values, []
            running = list(accumulate(chain((0,), values)))
            sums = list(map(running.__getitem__, ends))
            return list(map(sub, sums, chain((0,), sums))), []
        # In C: None as 0 (`dict.get` with the value as default), then the rows not counted
        # as 0 (times False); the running sums read at each user's last row.
        terms: Iterable[int] = map(mul, map(_NONE_AS_ZERO.get, figures, figures), counted)
        stated: Iterable[bool] = map(and_, map(is_not, figures, repeat(None)), counted)
        if order is not None:
            terms = map(list(terms).__getitem__, order)
            stated = map(list(stated).__getitem__, order)
        sums = at_last(list(accumulate(terms)))
        if not count_stated:
            return list(map(sub, sums, chain((0,), sums))), []
        numbers = at_last(list(accumulate(stated)))
        return (
            list(map(sub, sums, chain((0,), sums))),
            list(map(sub, numbers, chain((0,), numbers))),
        )

    # -- against the 第6表 -----------------------------------------------------------------

    def _check_against_table6(self) -> None:
        if not self.table6:
            return
        keys: tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], list[int]]] | None = None
        for number, table6 in enumerate(self.table6):
            if self.shared and self._agrees_in_bulk(table6):
                continue  # the usual file: nothing to report
            if keys is None:
                keys = self._detail_keys()
            self._check_table6_file(number, table6, *keys)

    def _detail_keys(
        self,
    ) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], list[int]]]:
        """Each detail line's full key (user's 保険者番号 and 被保険者番号, the line items:
        office, サテライト, code, TAIS, 届出, ３０日超, and the month's number) → its first row,
        and the rows of the keys several rows have."""
        col = self.col
        at_details = self.at_details
        keys = list(
            zip(
                *(at_details(col[name]) for name in _KEY_ITEMS),
                at_details(self.month_no),
                strict=True,
            )
        )
        details = self.details
        first = dict(zip(reversed(keys), reversed(details), strict=True))  # key → first row
        rows_of: dict[tuple[Any, ...], list[int]] = {}  # only keys of several rows
        if len(first) != len(keys):
            for key, g in zip(keys, details, strict=True):
                rows_of.setdefault(key, []).append(g)
        return first, rows_of

    def _agrees_in_bulk(self, table6: CareplanFile) -> bool:
        """Whether the 第6表 file and the 第7表 agree with nothing to report, told in C over
        keys of the items that vary: True when every 第6表 line has exactly one 第7表 detail
        line and every detail line one 第6表 line, each stating the 第6表's 単位数 and 回数,
        with no 日割 and no monthly service; False sends the file to `_check_table6_file`,
        which finds what is wrong (or that nothing is).

        A key item that is one value throughout the 第6表 and throughout the 第7表's details,
        the same in both (the 保険者番号, the office, TAIS, 届出, ３０日超, the month of the
        usual unit), tells no line from another: lines are keyed on the rest (in the file of
        one line a user, 被保険者番号 and サービスコード), so the keys are short tuples. When the
        第7表's details are in the order of the 第6表's lines (the usual pair of files), the two
        key lists are compared in one C comparison and no dict of the 第7表's keys is made.
        """
        records = _records(table6)
        if not records:
            return True  # `_check_table6_file` finds nothing in an empty file
        details = self.details
        if not details:
            return False
        col = self.col
        columns = self.columns_of(table6)
        at_details = self.at_details
        month_no = self.month_no
        months6 = columns["target_month"]
        if not (
            uniform(months6)
            and month_no[details[0]] == self.months.one(months6[0])
            and uniform(at_details(month_no))
        ):
            return False  # several months: the full keys tell them apart
        v3 = not hasattr(records[0], "tais_code")
        varying: dict[str, Sequence[Any]] = {}  # name → its values at the detail rows
        for name in _KEY_ITEMS:
            # An item one value in every row is so in the details (told without picking
            # them: the 全合計's office differs, the 保険者番号 and empty items do not).
            stated7 = col[name]
            if not uniform(stated7):
                stated7 = at_details(stated7)
            if v3 and name in _V3_ABSENT:
                if stated7[0] is not None or not uniform(stated7):
                    return False  # a TAIS/届出 against a file without them: not one line
                continue
            stated6 = columns[name]
            if uniform(stated6) and uniform(stated7):
                if stated6[0] != stated7[0]:
                    return False  # no line can match
            else:
                varying[name] = stated7 if len(stated7) == len(details) else at_details(stated7)
        if not varying:
            return False  # one line a file at most: not worth a shortcut
        if any(columns["prorated_days"]):
            return False  # 日割: 回数 counted by another rule (`tally.days`)
        if _monthly_column(columns):
            return False  # monthly services: 回数 counted by another rule
        if len(records) == len(details) and all(
            map(_equal, map(columns.__getitem__, varying), varying.values())
        ):
            # Record i has detail i's key (the file of one record a line): when the keys are
            # distinct (one varying item's values are, the 被保険者番号 of a user a line, or
            # the keys), each record is its line, counted once, with its own 単位数.
            if (
                not self._distinct_insured(varying)
                and not any(len(set(stated)) == len(details) for stated in varying.values())
                and len(set(zip(*varying.values(), strict=True))) != len(details)
            ):
                return False  # a line of several records, or of several detail lines
            counts = columns["service_count"]  # an empty サービス回数 counts once
            times7 = at_details(col["times"])
            if counts.count(1) == len(counts):  # each record once (the usual file), in C
                if times7.count(1) != len(times7):
                    return False
            elif not _equal(list(map(_NONE_AS_ONE.get, counts, counts)), times7):
                return False
            return _equal(columns["units"], self._copied_units(at_details))
        counts = columns["service_count"]
        if counts.count(1) == len(counts):
            # Every サービス回数 is 1 (the usual file): a line's 回数 is its number of records,
            # and no tally of lines is needed (`_agrees_by_lookup`).
            return self._agrees_by_lookup(columns, varying)
        tally = tally_by_position(records, columns.__getitem__, names=list(varying))
        keys6 = list(tally.first)  # one per line, in order of first appearance
        keys7 = list(zip(*varying.values(), strict=True))
        rows: Sequence[int]
        if keys6 == keys7:
            rows = details  # line i is detail i (the 第6表's keys are distinct, so these are)
        else:
            first = dict(zip(keys7, details, strict=True))
            if len(first) != len(keys7) or len(first) != len(keys6):
                return False  # a line without its match, or with several
            found = list(map(first.get, keys6))
            if None in found:
                return False
            rows = found  # type: ignore[assignment]  # no None in it
        positions = list(tally.first.values())
        at_rows = _picker(rows)
        if list(map(tally.times.__getitem__, positions)) != list(at_rows(col["times"])):
            return False
        # Each line's one 単位数 (a 1-tuple: lines whose records differ get the closer look).
        units_of = list(map(tally.units.__getitem__, positions))
        return all(
            map(
                and_,
                map(eq, map(len, units_of), repeat(1)),
                map(contains, units_of, self._copied_units(at_rows)),
            )
        )

    def _agrees_by_lookup(self, columns: Any, varying: Mapping[str, Sequence[Any]]) -> bool:
        """`_agrees_in_bulk` for a 第6表 whose サービス回数 are all 1, without a tally of its
        lines: the records counted, in C, by their key (of the `varying` items) and 単位数, and
        each detail line (its key, picked at the detail rows, and the 単位数 it copies) looked
        up among those counts. True when the details' keys are distinct, each detail's (key,
        単位数) is counted as many times as its 回数, and there are no other (key, 単位数)
        pairs: every record has its line's detail and states its 単位数, every detail line
        has records, as many as its 回数."""
        details = self.details
        keys7: Sequence[Any] = (
            next(iter(varying.values()))  # one item: its values are the keys
            if len(varying) == 1
            else list(zip(*varying.values(), strict=True))
        )
        if len(set(keys7)) != len(details):
            return False  # two detail lines of one key
        counted = Counter(zip(*map(columns.__getitem__, varying), columns["units"], strict=True))
        if len(counted) != len(details):
            return False  # a record of no detail line, or a line of several 単位数
        copied = self._copied_units(self.at_details)
        found = list(map(counted.get, zip(*varying.values(), copied, strict=True)))
        return None not in found and found == list(self.at_details(self.col["times"]))

    def _distinct_insured(self, varying: Mapping[str, Sequence[Any]]) -> bool:
        """Whether the details' 被保険者番号 (`varying`'s) are told distinct without a set of
        them: users are their 被保険者番号 alone (`user_by_insured`) and the details' users
        increase (the file of one detail a user, in C)."""
        if "insured_no" not in varying or not self.user_by_insured:
            return False
        users = self.at_details(self.user_no)
        return all(map(lt, users, islice(users, 1, None)))

    def _copied_units(self, at_rows: Any) -> Sequence[Any]:
        """What the rows (picked by `at_rows`) state of the 第6表's 単位数: the 割引後単位数
        where stated, else the 単位数."""
        col = self.col
        copied = at_rows(col["discounted_units"])
        if copied.count(None) == len(copied):
            return at_rows(col["units"])  # type: ignore[no-any-return]
        return [
            d if d is not None else u for d, u in zip(copied, at_rows(col["units"]), strict=True)
        ]

    def _check_table6_file(
        self,
        number: int,
        table6: CareplanFile,
        first: Mapping[tuple[Any, ...], int],
        rows_of: Mapping[tuple[Any, ...], list[int]],
    ) -> None:
        records = _records(table6)
        if not records:
            return
        # The 第6表 counted by line, each line known by its first record's position.
        tally = tally_by_position(
            records, self.columns_of(table6).__getitem__ if self.shared else None
        )
        positions = list(tally.first.values())  # one per line, in order of first appearance
        # The 第6表's full keys in the 第7表's form: items of a 202208 file padded, the month
        # as its number (built in C for the usual file of one month).
        fulls: Sequence[tuple[Any, ...]] = list(tally.first)
        if tally.v3:
            fulls = [(*full[:5], None, None, *full[5:]) for full in fulls]
        if tally.month is not None:
            canon = list(map(tuple.__add__, fulls, repeat((self.months.one(tally.month),))))
        else:
            canon = [(*full[:-1], self.months.one(full[-1])) for full in fulls]
        col = self.col
        # Each line's first 第7表 row (None: the 第7表 has no line for it), and what the 第6表
        # says of it (its 単位数 values, its 回数) against what that row states, compared in C:
        # the lines that agree drop out. The rest, and lines counted by another rule (日割,
        # monthly) or with several 第7表 lines, get the rule-by-rule look.
        rows: list[int | None] = list(map(first.get, canon))
        times6 = list(map(tally.times.__getitem__, positions))
        units6 = list(map(tally.units.__getitem__, positions))
        at: list[int] = rows  # type: ignore[assignment]  # no None in it, or padded below
        padded = None in rows
        if padded:  # an index past the last row reads None from the padded columns
            at = [len(col["times"]) if g is None else g for g in rows]

        at_rows = _picker(at)

        def stated(name: str) -> list[Any]:
            return list(at_rows([*col[name], None] if padded else col[name]))

        times7, copied = stated("times"), stated("discounted_units")
        if copied.count(None) == len(copied):
            copied = stated("units")
        else:
            copied = [
                d if d is not None else u for d, u in zip(copied, stated("units"), strict=True)
            ]
        agree = map(
            and_,
            map(eq, times6, times7),
            map(and_, map(eq, map(len, units6), repeat(1)), map(contains, units6, copied)),
        )
        suspects = set(compress(range(len(canon)), map(not_, agree)))
        if tally.days:
            suspects.update(i for i, p in enumerate(positions) if p in tally.days)
        if rows_of:
            suspects.update(i for i, key in enumerate(canon) if key in rows_of)
        codes = set(map(itemgetter(4), canon))
        codes.discard(None)
        if not MONTHLY_SERVICE_TYPES.isdisjoint(map(_SERVICE_TYPE, codes)):
            suspects.update(
                i
                for i, key in enumerate(canon)
                if key[4] is not None and key[4][:2] in MONTHLY_SERVICE_TYPES
            )
        matched = set(rows)
        matched.discard(None)
        extras = (
            [key for key, g in first.items() if g not in matched]
            if len(matched) < len(first)
            else []
        )
        if not suspects and not extras:
            return
        users = dict(zip(dict.fromkeys(map(_USER_OF_KEY, canon)), count()))
        found: list[tuple[tuple[Any, ...], int, Any]] = []  # (order, kind, detail)
        for i in sorted(suspects):
            units_of = units6[i]
            if len(units_of) != 1:
                continue  # 単位数 differs between records: not computable (decisions.md)
            (units,) = units_of
            if not units:
                continue  # a 率加減算 line: its 第7表 figures are not computable (decisions.md)
            key, g = canon[i], rows[i]
            rank = (users[_USER_OF_KEY(key)], 0, i)
            if g is None:
                found.append((rank, 0, (positions[i], key)))
                continue
            days = tally.days.get(positions[i])
            found.append((rank, 1, (rows_of.get(key, [g]), units, times6[i], days)))
        # 第7表 lines no 第6表 record has, for the users this 第6表 has.
        managed = col["managed_units"]
        for key in extras:
            user = users.get(_USER_OF_KEY(key))
            g = first[key]
            if user is None or key[4][:2] in MONTHLY_SERVICE_TYPES or managed[g] is None:
                continue  # a monthly service or an add-on outside the limit (decisions.md)
            found.append(((user, 1, g), 2, key))
        found.sort(key=lambda item: item[0])
        for _, kind, detail in found:
            if kind == 0:
                position, key = detail
                code = key[4]
                self._add(
                    table6, position, "service_code", "table7.missing_detail", "error",
                    f"第7表にこのサービスコード（{code}、事業所 {key[2]}）の行がありません",
                    f"the 第7表 has no line for this サービスコード ({code}, office {key[2]})",
                    code,
                )  # fmt: skip
            elif kind == 1:
                self._check_copied(*detail)
            else:
                self._add(
                    *self._locate(first[detail]), "service_code", "table7.extra_detail",
                    self.rule,
                    "第6表にこのサービスコードのレコードがありません（加算・月額のサービス以外）",
                    "no 第6表 record has this サービスコード (only add-ons and monthly services "
                    "may appear in the 第7表 alone)",
                    detail[4],
                )  # fmt: skip

    def _check_copied(
        self, rows: list[int], units: int, counted: int, days: set[int] | None
    ) -> None:
        col = self.col
        discounted, undiscounted = col["discounted_units"], col["units"]
        for g in rows:
            no = 15 if discounted[g] is not None else 13
            stated = discounted[g] if no == 15 else undiscounted[g]
            if stated is not None and stated != units:
                self._add(
                    *self._locate(g), _NAMES[no], "table7.units", "error",
                    f"第6表の単位数（{units}）と違います",
                    f"differs from the 第6表 単位数 ({units})",
                    stated,
                )  # fmt: skip
        code = col["service_code"][rows[0]]
        expected, rule = expected_times(code, counted, days or ())
        times = col["times"]
        stated_times = sum(times[g] or 0 for g in rows)
        if stated_times == expected:
            return
        if rule == "count":
            self._add(
                *self._locate(rows[0]), "times", "table7.count", "error",
                f"回数が第6表のサービス回数の合計（{expected}）と違います",
                f"回数 differs from the sum of the 第6表 サービス回数 ({expected})",
                stated_times,
            )  # fmt: skip
        else:
            how_ja = "日割対象日の日数" if rule == "daily" else "月額のサービスの1回"
            how_en = "the days flagged in 日割対象日" if rule == "daily" else "once (monthly)"
            self._add(
                *self._locate(rows[0]), "times", "table7.count_rule", self.rule,
                f"回数／日数が第6表から求めた {expected}（{how_ja}）と違います",
                f"回数／日数 differs from {expected} ({how_en}) computed from the 第6表",
                stated_times,
            )  # fmt: skip


def _money_suspects(
    rows: Sequence[int],
    managed: Sequence[Any],
    over_type: Sequence[Any],
    within_type: Sequence[Any],
    over: Sequence[Any],
    within: Sequence[Any],
    amount: Sequence[Any],
    over_30: Sequence[Any],
    price: Sequence[Any],
    cost: Sequence[Any],
    rate: Sequence[Any],
    claim: Sequence[Any],
    copay: Sequence[Any],
    full: Sequence[Any],
    *,
    at: Any = None,
) -> list[int]:
    """The rows on which a rule of `_check_money_of` fails, tested with integers only
    (費用総額 = units × the price's exact fraction, floored: `total_cost` without Decimal),
    in row order.

    Whether a rule applies to a row depends on which of its figures are stated. Over the rows
    where each figure is stated on all or on none of them (a column of a usual file is either,
    the 区分支給限度 split and the 利用者負担 alike) and no ３０日超区分 is "1", that is known
    for the whole column, and each rule is one C pass over the columns (`_money_flags`). The
    rows with an empty figure in a column that has stated ones, or a ３０日超区分 "1", are
    tested row by row (`_money_loop`), as are all rows when they are most of them.
    """
    if not rows:
        return []
    figures: tuple[Sequence[Any], ...] = (managed, over_type, within_type, over, within, amount)
    figures += (price, cost, rate, claim, copay, full)
    at = at or _picker(rows)  # `at`: the caller's picker of `rows`

    def pick(column: Sequence[Any]) -> Sequence[Any]:
        # A column empty in every row (most of the 区分支給限度 split) is not picked.
        return _EMPTY if column[0] is None and uniform(column) else at(column)

    picked = list(map(pick, figures))
    odd: set[int] = set()
    for values in picked:
        empty = _empty_count(values)
        if empty and empty != len(values):
            odd.update(compress(rows, map(is_, values, repeat(None))))
    thirty = pick(over_30)
    if "1" in thirty:
        odd.update(compress(rows, map(eq, thirty, repeat("1"))))
    columns: tuple[Sequence[Any], ...] = (managed, over_type, within_type, over, within)
    columns += (amount, over_30, price, cost, rate, claim, copay, full)
    if 2 * len(odd) > len(rows):
        return _money_loop(rows, *columns)
    if not odd:
        return _money_flags(rows, *picked)
    clean = list(compress(rows, map(not_, map(odd.__contains__, rows))))
    at = _picker(clean)
    flagged = _money_flags(clean, *map(pick, figures))
    return sorted([*flagged, *_money_loop(sorted(odd), *columns)])


_EMPTY: tuple[None] = (None,)  # a figure no row states, as `_money_flags` reads it


def _empty_count(values: Sequence[Any]) -> int:
    """How many of `values` are None, without `==` on each (an int's or a Decimal's
    comparison with None costs a Python-level round of NotImplemented)."""
    if uniform(values):
        return len(values) if values[0] is None else 0
    try:
        sum(values)  # numbers all: a None (or a text) would not add up
    except TypeError:
        return sum(map(is_, values, repeat(None)))
    return 0


def _money_flags(
    rows: Sequence[int],
    managed: Sequence[Any],
    over_type: Sequence[Any],
    within_type: Sequence[Any],
    over: Sequence[Any],
    within: Sequence[Any],
    amount: Sequence[Any],
    price: Sequence[Any],
    cost: Sequence[Any],
    rate: Sequence[Any],
    claim: Sequence[Any],
    copay: Sequence[Any],
    full: Sequence[Any],
) -> list[int]:
    """`_money_loop`'s rules over rows where each figure (the columns given at the rows) is
    stated on every row or on none, and no ３０日超区分 is "1": a rule applies to all rows or to
    none, and runs as C passes over the columns."""
    if not rows:
        return []

    def stated(values: Sequence[Any] | None) -> bool:
        return values is not None and values[0] is not None

    def plus(one: Sequence[Any], other: Sequence[Any]) -> Iterable[Any]:
        # (one or 0) + (other or 0), of columns of which at least one is stated
        if not stated(other):
            return one
        return map(add, one, other) if stated(one) else other

    numerators: Iterable[int] = ()
    denominators: Iterable[int] = ()
    if stated(price) and uniform(price):  # one price object (the usual file): one fraction
        numerator, denominator = price[0].as_integer_ratio()
    elif stated(price):
        # 単位数単価 as an exact fraction, each distinct price object once (prices are shared).
        ids = list(map(id, price))
        ratio_of = {
            key: value.as_integer_ratio()
            for key, value in dict(zip(ids, price, strict=True)).items()
        }
        ratios = list(map(ratio_of.__getitem__, ids))
        numerators, denominators = list(map(_FIRST, ratios)), list(map(_SECOND, ratios))

    def priced(units: Sequence[Any]) -> Iterable[Any]:
        if numerators:
            return map(floordiv, map(mul, units, numerators), denominators)
        return map(floordiv, map(mul, units, repeat(numerator)), repeat(denominator))

    # Each rule that applies is one pass making what the rows should state, compared with
    # what they do in one C comparison; only a rule some row fails looks for the rows.
    failing: set[int] = set()

    def expect(stated: Sequence[Any], expected: Iterable[Any]) -> None:
        expected = tuple(expected)
        if tuple(stated) != expected:
            failing.update(compress(rows, map(ne, stated, expected)))

    if stated(managed) and (stated(over_type) or stated(within_type)):
        expect(managed, plus(over_type, within_type))
    basis = within_type if stated(within_type) else managed
    if stated(basis) and (stated(over) or stated(within)):
        expect(basis, plus(over, within))
    insured = within if stated(within) else (amount if not stated(managed) else None)
    if stated(price) and stated(cost) and stated(insured):
        expect(cost, priced(insured))  # type: ignore[arg-type]
    if stated(cost) and stated(rate) and stated(claim):
        expect(claim, map(floordiv, map(mul, cost, rate), repeat(100)))
    if stated(cost) and stated(claim) and stated(copay):
        expect(copay, map(sub, cost, claim))
    if stated(price) and stated(full) and stated(over):  # beyond the limit: 区分支給限度超
        expect(full, priced(over))
    return sorted(failing)


def _money_loop(
    rows: Sequence[int],
    managed: Sequence[Any],
    over_type: Sequence[Any],
    within_type: Sequence[Any],
    over: Sequence[Any],
    within: Sequence[Any],
    amount: Sequence[Any],
    over_30: Sequence[Any],
    price: Sequence[Any],
    cost: Sequence[Any],
    rate: Sequence[Any],
    claim: Sequence[Any],
    copay: Sequence[Any],
    full: Sequence[Any],
) -> list[int]:
    """`_money_suspects` row by row: any row, any mix of stated and empty figures."""
    ratios: dict[int, tuple[int, int]] = {}  # id(単位数単価) → its fraction (prices are shared)
    failing = []
    at = _picker(rows)
    for g, m, ot, wt, o, w, a, o30, p, c, r, k, u, f in zip(
        rows,
        *map(at, (managed, over_type, within_type, over, within, amount, over_30)),
        *map(at, (price, cost, rate, claim, copay, full)),
        strict=True,
    ):
        basis = wt if wt is not None else m
        numerator = denominator = 1
        if p is not None:
            ratio = ratios.get(id(p))
            if ratio is None:
                ratio = ratios[id(p)] = p.as_integer_ratio()
            numerator, denominator = ratio
        insured = w if w is not None else (a if m is None and o30 != "1" else None)
        beyond = o if o is not None else (a if o30 == "1" else None)
        if (
            (m is not None and (ot is not None or wt is not None) and (ot or 0) + (wt or 0) != m)
            or (
                basis is not None
                and (o is not None or w is not None)
                and (o or 0) + (w or 0) != basis
            )
            or (
                p is not None
                and c is not None
                and insured is not None
                and c != insured * numerator // denominator
            )
            or (c is not None and r is not None and k is not None and k != c * r // 100)
            or (c is not None and k is not None and u is not None and u != c - k)
            or (
                p is not None
                and f is not None
                and beyond is not None
                and f != beyond * numerator // denominator
            )
        ):
            failing.append(g)
    return failing


def _equal(one: Sequence[Any], other: Sequence[Any]) -> bool:
    """Whether two sequences hold equal values in order (a tuple and a list compared as
    such: column from a file, one picked, one joined)."""
    if type(one) is type(other):
        return one == other
    return list(one) == list(other)


_MONTHLY_STARTS = tuple(f"\n{service_type}" for service_type in sorted(MONTHLY_SERVICE_TYPES))


def _monthly_column(columns: Any) -> bool:
    """`_monthly` of a file's service codes, searched in the column joined when the item rules
    made it (no set of the codes, nor a join of them, made again)."""
    joined = columns.joined("service_code")
    if joined is None:
        return _monthly(columns.distinct("service_code"))
    return joined.startswith(_MONTHLY_TYPES) or any(map(joined.__contains__, _MONTHLY_STARTS))


_MONTHLY_TYPES = tuple(sorted(MONTHLY_SERVICE_TYPES))


def _monthly(codes: set[str | None]) -> bool:
    """Whether some code is of a monthly service (told over all codes joined, in C; a code
    holding a line break may seem one, which costs a closer look, never a missed one)."""
    joined = "\n" + "\n".join(codes - _NO_CODES if None in codes else codes)  # type: ignore[arg-type]
    return any(map(joined.__contains__, _MONTHLY_STARTS))


def _column(columns_of: ColumnsOf, file: CareplanFile, name: str) -> Sequence[Any]:
    """The file's column `name`; all None when its layout has no such item (TAIS in 202208)."""
    if name in _attributes(file):
        return columns_of(file)[name]
    return (None,) * len(file.records)


_ATTRIBUTES: dict[int, tuple[Any, frozenset[str]]] = {}  # id(layout) → (layout, its items)


def _attributes(file: CareplanFile) -> frozenset[str]:
    """The attribute names of the file's layout (a layout is one of a few shared objects: its
    names are collected once, not once for each column read)."""
    layout = file.layout
    known = _ATTRIBUTES.get(id(layout))
    if known is None or known[0] is not layout:
        known = _ATTRIBUTES[id(layout)] = (
            layout,
            frozenset(column.attribute for column in layout.columns),
        )
    return known[1]


def _joined(columns: list[Sequence[Any]]) -> Sequence[Any]:
    """Columns of several files as one (one file's as it is: the usual case costs no copy)."""
    if len(columns) == 1:
        return columns[0]
    return list(chain.from_iterable(columns))


def _picker(rows: Sequence[int]) -> Any:
    """A function giving a column's values at `rows` (in C: `itemgetter`; a slice of the
    column when the rows are evenly spaced, as the details and the 全合計 of a file of one
    line a user are, which copies instead of indexing each row)."""
    if len(rows) > 2:
        start, stop = rows[0], rows[-1] + 1
        spaced = range(start, stop, max(rows[1] - start, 1))
        if len(spaced) == len(rows) and list(rows) == list(spaced):
            return itemgetter(slice(start, stop, spaced.step))
    if len(rows) > 1:
        return itemgetter(*rows)
    return lambda column: [column[g] for g in rows]


def _records(file: CareplanFile) -> tuple[Any, ...]:
    """The records, typed loosely: the checks know the layouts they read."""
    return file.records
