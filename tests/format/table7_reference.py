"""Reference for the differential test: the 第7表 checks as first written, record by record.

`careplan_link.format._table7_rules` was rewritten column-wise for speed; this is the earlier
walk (with the Decimal rounding and `covered` it used), kept only so that
test_table7_differential.py can show the rewrite reports exactly the same issues.

The 第7表's arithmetic, and its agreement with the 第6表 of its unit.

Sums inside a 第7表 (a 種類別小計 is the sum of its lines, the 全合計 the sum of its user's lines,
サービス単位／金額 is 単位数 × 回数) and figures copied from the 第6表 (a line per service code,
its 単位数 and 回数) are errors. Relations that hold by the calculation rules of the 介護給付費
(rounding of 費用総額 and 請求額, 利用者負担, the split at the 支給限度) are warnings, errors with
`strict`: a 公費 share or a municipal rule can make a correct file differ. The rules and their
sources: docs/arithmetic.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import Any

from careplan_link._issue import Issue, Severity
from careplan_link.format._bundle import Bundle
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._table7_calc import (
    GRAND_TOTAL_SERVICE_CODE,
    MONTHLY_SERVICE_TYPES,
    SUBTOTALLED,
    TOTALLED,
    benefit_claim,
    count_lines,
    expected_times,
    is_subtotal,
)

__all__ = ["check_table7_arithmetic"]


def discounted_units(units: int, rate: int) -> int:
    return int((Decimal(units) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def total_cost(units: int, unit_price: Decimal) -> int:
    return int((units * unit_price).to_integral_value(rounding=ROUND_FLOOR))


def covered(subtotal: Any, details: Sequence[Any]) -> list[Any]:
    suffix = subtotal.service_code[2:]
    if suffix == "ZZZZ":
        return [d for d in details if d.over_30_days == "1"]
    regular = [d for d in details if d.over_30_days != "1"]
    if suffix == "EEEE":
        return [d for d in regular if d.managed_units is None]
    managed = [d for d in regular if d.managed_units is not None]
    return managed if managed else regular


def grand_total_terms(lines: Sequence[Any], attributes: Iterable[str]) -> dict[str, list[Any]]:
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


_USER = attrgetter("insurer_no", "insured_no", "target_month")
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


def check_table7_arithmetic(
    units: Iterable[Bundle], parsed: Mapping[str, CareplanFile], *, strict: bool = False
) -> list[Issue]:
    """Issues of every 第7表 of the units: its sums, its money, its agreement with the 第6表."""
    issues: list[Issue] = []
    for unit in units:
        files = [parsed[name] for name in unit.files if name in parsed]
        table7 = [f for f in files if f.layout.id == "table7" and f.records]
        if not table7:
            continue
        table6 = [f for f in files if f.layout.id == "table6_plan"]
        limits = {
            (r.insurer_no, r.insured_no): r.benefit_limit
            for f in files
            if f.layout.id == "supplement"
            for r in _records(f)
            if getattr(r, "benefit_limit", None) is not None
        }
        issues += _Check(table7, table6, limits, strict).run()
    return issues


class _Check:
    """The checks of one unit's 第7表 file(s) against its 第6表 file(s)."""

    def __init__(
        self,
        table7: Sequence[CareplanFile],
        table6: Sequence[CareplanFile],
        limits: Mapping[tuple[Any, Any], int],
        strict: bool,
    ) -> None:
        self.table7 = table7
        self.table6 = table6
        self.limits = limits
        self.rule: Severity = "error" if strict else "warning"
        self.findings = {id(f): Findings(f) for f in (*table7, *table6)}

    def run(self) -> list[Issue]:
        # 第7表 lines of each user and line key, across the unit's 第7表 files.
        lines_of_user: dict[tuple[Any, ...], list[tuple[CareplanFile, int]]] = {}
        for file in self.table7:
            for index, user in enumerate(map(_USER, _records(file))):
                lines_of_user.setdefault(user, []).append((file, index))
        for located in lines_of_user.values():
            self._check_sheet(located)
        self._check_against_table6(lines_of_user)
        issues: list[Issue] = []
        for findings in self.findings.values():
            issues += findings.finish()
        return issues

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

    # -- inside one user's 第7表 -----------------------------------------------------------

    def _check_sheet(self, located: list[tuple[CareplanFile, int]]) -> None:
        records = [_records(file)[index] for file, index in located]
        where = {id(r): loc for r, loc in zip(records, located, strict=True)}
        blocks: dict[tuple[Any, Any], list[Any]] = {}
        subtotals: list[Any] = []
        totals: list[Any] = []
        for record in records:
            code = record.service_code
            if code == GRAND_TOTAL_SERVICE_CODE:
                totals.append(record)
            elif is_subtotal(code):
                subtotals.append(record)
            elif code is not None:
                blocks.setdefault((record.provider_office_no, code[:2]), []).append(record)
                self._check_detail(record, *where[id(record)])
        for record in (*subtotals, *(d for block in blocks.values() for d in block)):
            self._check_money(record, *where[id(record)])
        for subtotal in subtotals:
            block = blocks.get((subtotal.provider_office_no, subtotal.service_code[:2]), [])
            self._check_subtotal(subtotal, covered(subtotal, block), *where[id(subtotal)])
        for total in totals[:1]:
            self._check_total(total, records, *where[id(total)])

    def _check_detail(self, record: Any, file: CareplanFile, index: int) -> None:
        units, rate, discounted = record.units, record.discount_rate, record.discounted_units
        if units is not None and rate is not None and discounted is not None:
            expected = discounted_units(units, rate)
            if discounted != expected:
                self._add(
                    file, index, "discounted_units", "table7.discounted_units", self.rule,
                    f"割引後単位数は 単位数 × 割引後率 を四捨五入した {expected} です",
                    f"割引後単位数 is 単位数 × 割引後率 rounded half up: {expected}",
                    discounted,
                )  # fmt: skip
        effective = discounted if discounted is not None else units
        times, amount = record.times, record.service_unit_amount
        product = effective * times if effective is not None and times is not None else None
        if amount is not None and product is not None and amount != product:
            self._add(
                file, index, "service_unit_amount", "table7.unit_amount", "error",
                f"サービス単位／金額は（割引後）単位数 × 回数 の {product} です",
                f"サービス単位／金額 is (割引後)単位数 × 回数 = {product}",
                amount,
            )  # fmt: skip
        managed = record.managed_units
        basis = amount if amount is not None else product
        if managed is not None and basis is not None and managed != basis:
            self._add(
                file, index, "managed_units", "table7.managed_units", self.rule,
                f"給付管理単位数がサービス単位／金額（{basis}）と違います（大規模型の通所系など"
                "の例外を除く）",
                f"給付管理単位数 differs from サービス単位／金額 ({basis}); only a few services "
                "(大規模型 通所 …) manage other units",
                managed,
            )  # fmt: skip

    def _check_money(self, record: Any, file: CareplanFile, index: int) -> None:
        managed = record.managed_units
        over_type, within_type = record.over_type_limit_units, record.within_type_limit_units
        if (
            managed is not None
            and (over_type is not None or within_type is not None)
            and (over_type or 0) + (within_type or 0) != managed
        ):
            self._add(
                    file, index, "within_type_limit_units", "table7.limit_split", self.rule,
                    "種類支給限度基準を超える単位数と基準内単位数の和が給付管理単位数と違います",
                    "種類支給限度 over + within units do not add up to 給付管理単位数",
                    within_type,
                )  # fmt: skip
        over, within = record.over_category_limit_units, record.within_category_limit_units
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
                    self._add(
                        file, index, attribute, "table7.limit_split", self.rule,
                        f"区分支給限度基準を超える単位数と基準内単位数の和が {basis} になりません",
                        f"区分支給限度 over + within units do not add up to {basis}",
                        value,
                    )  # fmt: skip
        price: Decimal | None = record.unit_price
        cost = record.total_cost
        insured = within if within is not None else (
            record.service_unit_amount if managed is None and record.over_30_days != "1" else None
        )  # fmt: skip
        if price is not None and cost is not None and insured is not None:
            expected = total_cost(insured, price)
            if cost != expected:
                self._add(
                    file, index, "total_cost", "table7.total_cost", self.rule,
                    f"費用総額は {insured} 単位 × 単位数単価 {price} の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"費用総額 is {insured} units × 単位数単価 {price}, rounded down to the yen: "
                    f"{expected}",
                    cost,
                )  # fmt: skip
        rate, claim = record.benefit_rate, record.insurance_claim
        if cost is not None and rate is not None and claim is not None:
            expected = benefit_claim(cost, rate)
            if claim != expected:
                self._add(
                    file, index, "insurance_claim", "table7.claim", self.rule,
                    f"保険／事業費請求額は 費用総額 × 給付率 {rate}% の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"保険／事業費請求額 is 費用総額 × 給付率 {rate}%, rounded down to the yen: "
                    f"{expected}",
                    claim,
                )  # fmt: skip
        copay = record.user_copay
        if cost is not None and claim is not None and copay is not None and copay != cost - claim:
            self._add(
                    file, index, "user_copay", "table7.copay", self.rule,
                    f"利用者負担（保険／事業対象分）は 費用総額 − 請求額 = {cost - claim} 円です"
                    "（公費負担がない場合）",
                    f"利用者負担（保険／事業対象分） is 費用総額 − 請求額 = {cost - claim} "
                    "(without 公費)",
                    copay,
                )  # fmt: skip
        full = record.user_full_payment
        beyond = over if over is not None else (
            record.service_unit_amount if record.over_30_days == "1" else None
        )  # fmt: skip
        if price is not None and full is not None and beyond is not None:
            expected = total_cost(beyond, price)
            if full != expected:
                self._add(
                    file, index, "user_full_payment", "table7.full_payment", self.rule,
                    f"利用者負担（全額負担分）は {beyond} 単位 × 単位数単価 の1円未満切り捨てで "
                    f"{expected} 円です",
                    f"利用者負担（全額負担分） is {beyond} units × 単位数単価, rounded down: "
                    f"{expected}",
                    full,
                )  # fmt: skip

    def _check_subtotal(
        self, subtotal: Any, members: list[Any], file: CareplanFile, index: int
    ) -> None:
        for no in SUBTOTALLED:
            name = _NAMES[no]
            value = getattr(subtotal, name)
            stated = [v for v in map(attrgetter(name), members) if v is not None]
            if value is None or not stated or value == sum(stated):
                continue
            self._add(
                file, index, name, "table7.subtotal_sum", "error",
                f"種類別小計（{subtotal.service_code}）が明細の合計 {sum(stated)} と違います",
                f"the subtotal ({subtotal.service_code}) is not the sum of its lines "
                f"({sum(stated)})",
                value,
            )  # fmt: skip

    def _check_total(self, total: Any, records: list[Any], file: CareplanFile, index: int) -> None:
        limit = self.limits.get((total.insurer_no, total.insured_no))
        wanted = [_NAMES[no] for no in TOTALLED if getattr(total, _NAMES[no]) is not None]
        if limit is not None:
            wanted += [_NAMES[21], _NAMES[22]]
        if not wanted:
            return
        terms = grand_total_terms(records, dict.fromkeys(wanted))
        for no in TOTALLED:
            name = _NAMES[no]
            value = getattr(total, name)
            if value is None:
                continue
            expected = sum(t for t in terms[name] if t is not None)
            if value != expected:
                self._add(
                    file, index, name, "table7.total_sum", "error",
                    f"全合計がこの利用者の各行の合計 {expected} と違います",
                    f"the 全合計 is not the sum of this user's lines ({expected})",
                    value,
                )  # fmt: skip
        if limit is None:
            return
        within = [t for t in terms[_NAMES[22]] if t is not None]
        over = [t for t in terms[_NAMES[21]] if t is not None]
        if not within and not over:
            return
        if sum(within) > limit:
            self._add(
                file, index, "within_category_limit_units", "table7.limit", self.rule,
                f"区分支給限度基準内単位数の合計 {sum(within)} が区分支給限度基準額 {limit} "
                "（利用者補足情報）を超えています",
                f"the 区分支給限度基準内単位数 add up to {sum(within)}, over the "
                f"区分支給限度基準額 {limit} (利用者補足情報)",
                sum(within),
            )  # fmt: skip
        elif sum(within) < limit and sum(over) > 0:
            self._add(
                file, index, "over_category_limit_units", "table7.limit", self.rule,
                f"区分支給限度基準額 {limit} に達していないのに限度を超える単位数があります",
                f"units are put over the limit while the 区分支給限度基準額 {limit} is not used up",
                sum(over),
            )  # fmt: skip

    # -- against the 第6表 -----------------------------------------------------------------

    def _check_against_table6(
        self, lines_of_user: Mapping[tuple[Any, ...], list[tuple[CareplanFile, int]]]
    ) -> None:
        for table6 in self.table6:
            for user, counted in count_lines(_records(table6), positions=False).items():
                located = lines_of_user.get(user, [])
                self._check_user(table6, counted, located)

    def _check_user(
        self,
        table6: CareplanFile,
        counted: Mapping[tuple[Any, ...], Any],
        located: list[tuple[CareplanFile, int]],
    ) -> None:
        by_key: dict[tuple[Any, ...], list[tuple[CareplanFile, int]]] = {}
        for file, index in located:
            record = _records(file)[index]
            code = record.service_code
            if code is None or code == GRAND_TOTAL_SERVICE_CODE or is_subtotal(code):
                continue
            key = (
                record.provider_office_no, record.satellite_no, code,
                getattr(record, "tais_code", None),
                getattr(record, "equipment_notification_code", None), record.over_30_days,
            )  # fmt: skip
            by_key.setdefault(key, []).append((file, index))
        for key, group in counted.items():
            units = group.units_stated
            lines = by_key.get(key)
            code = key[2]
            if units is None:
                continue  # a 率加減算 line: its 第7表 figures are not computable (decisions.md)
            if not lines:
                self._add(
                    table6, group.position, "service_code", "table7.missing_detail", "error",
                    f"第7表にこのサービスコード（{code}、事業所 {key[0]}）の行がありません",
                    f"the 第7表 has no line for this サービスコード ({code}, office {key[0]})",
                    code,
                )  # fmt: skip
                continue
            self._check_copied(lines, units, group)
        for key, lines in by_key.items():
            if key in counted:
                continue
            file, index = lines[0]
            record = _records(file)[index]
            if key[2][:2] in MONTHLY_SERVICE_TYPES or record.managed_units is None:
                continue  # a monthly service or an add-on outside the limit (decisions.md)
            self._add(
                file, index, "service_code", "table7.extra_detail", self.rule,
                "第6表にこのサービスコードのレコードがありません（加算・月額のサービス以外）",
                "no 第6表 record has this サービスコード (only add-ons and monthly services may "
                "appear in the 第7表 alone)",
                key[2],
            )  # fmt: skip

    def _check_copied(self, lines: list[tuple[CareplanFile, int]], units: int, group: Any) -> None:
        file, index = lines[0]
        code = _records(file)[index].service_code
        for line_file, line_index in lines:
            record = _records(line_file)[line_index]
            no = 15 if record.discounted_units is not None else 13
            stated = record.discounted_units if no == 15 else record.units
            if stated is not None and stated != units:
                self._add(
                    line_file, line_index, _NAMES[no], "table7.units", "error",
                    f"第6表の単位数（{units}）と違います",
                    f"differs from the 第6表 単位数 ({units})",
                    stated,
                )  # fmt: skip
        expected, rule = expected_times(code, group.times, group.days)
        stated_times = sum(_records(file)[i].times or 0 for file, i in lines)
        if stated_times == expected:
            return
        if rule == "count":
            self._add(
                file, index, "times", "table7.count", "error",
                f"回数が第6表のサービス回数の合計（{expected}）と違います",
                f"回数 differs from the sum of the 第6表 サービス回数 ({expected})",
                stated_times,
            )  # fmt: skip
        else:
            how_ja = "日割対象日の日数" if rule == "daily" else "月額のサービスの1回"
            how_en = "the days flagged in 日割対象日" if rule == "daily" else "once (monthly)"
            self._add(
                file, index, "times", "table7.count_rule", self.rule,
                f"回数／日数が第6表から求めた {expected}（{how_ja}）と違います",
                f"回数／日数 differs from {expected} ({how_en}) computed from the 第6表",
                stated_times,
            )  # fmt: skip


def _records(file: CareplanFile) -> tuple[Any, ...]:
    """The records, typed loosely: the checks know the layouts they read."""
    return file.records
