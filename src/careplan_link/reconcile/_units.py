"""Units per provider and service type, the 区分支給限度基準額 check and the 給付管理票 figures.

The 実績 are recomputed by the month's arithmetic of `careplan_link.format` (`build_table7`):
this module is the only place that calls it, so a change of its interface is met here alone.
A figure the files do not allow to compute (第6表 No.8 empty or 0, as for 率加減算; no service-code
master is shipped) stays `NOT_COMPUTABLE`.

How units over the 区分支給限度基準額 are spread across providers is the care manager's choice:
the 給付管理票 figures keep the allocation of the original 第7表 (No.21 per provider and service
type) and say when it no longer fits (`BenefitFigures.allocation_fits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..format import NOT_COMPUTABLE, NotComputable, Table7Sheet, build_table7
from ..format._table7_calc import (  # the calculation's own constants: stated once, there
    GRAND_TOTAL_SERVICE_CODE,
    MONTHLY_SERVICE_TYPES,
    SUBTOTAL_SUFFIXES,
)
from ._model import BenefitFigures, BenefitLine, Figure, LimitCheck, UserKey, month_text

__all__ = [
    "GRAND_TOTAL_SERVICE_CODE",
    "MONTHLY_SERVICE_TYPES",
    "Block",
    "benefit_figures",
    "blocks_of",
    "limit_check",
    "recompute",
]


def recompute(
    records: Iterable[Any], *, supplements: Iterable[Any], table7: Iterable[Any]
) -> dict[UserKey, Table7Sheet]:
    """The 第7表 of each user recomputed from 第6表 records (one call of `build_table7` per
    record layout: v3 and v4 records are counted apart)."""
    records = list(records)
    by_type: dict[type, list[Any]] = {}
    if len(set(map(type, records))) == 1:
        by_type[type(records[0])] = records  # the usual month: one record layout
    else:
        for record in records:
            by_type.setdefault(type(record), []).append(record)
    supplements = list(supplements)
    table7 = list(table7)
    sheets: dict[UserKey, Table7Sheet] = {}
    for group in by_type.values():
        for sheet in build_table7(group, supplements=supplements, from_table7=table7):
            key = UserKey(
                sheet.insurer_no or "", sheet.insured_no or "", month_text(sheet.target_month)
            )
            sheets[key] = sheet
    return sheets


@attrs.frozen
class Block:
    """The figures of one provider and service type on a 第7表 (file or computed)."""

    units: Figure
    """Sum of サービス単位／金額 (No.17) of the detail lines."""
    managed: Figure
    """給付管理単位数 (No.18): the AAAA 小計's, else the sum of the detail lines'."""
    over_limit: int
    """区分支給限度基準を超える単位数 (No.21) carried by the block."""
    over_type_limit: int = 0
    """種類支給限度基準を超える単位数 (No.19) carried by the block."""


def _is_detail(code: str) -> bool:
    return code != GRAND_TOTAL_SERVICE_CODE and code[2:] not in SUBTOTAL_SUFFIXES


def _sum(values: Iterable[Figure]) -> Figure:
    total: Figure = None
    for value in values:
        if value is NOT_COMPUTABLE:
            return NOT_COMPUTABLE
        if value is not None:
            total = value if total is None else total + value  # type: ignore[operator]
    return total


def _detail_units(line: Any) -> Figure:
    amount = line.service_unit_amount
    if amount is not None:
        return amount  # type: ignore[no-any-return]
    units = line.discounted_units if line.discounted_units is not None else line.units
    if isinstance(units, NotComputable):
        return NOT_COMPUTABLE
    if isinstance(units, int) and isinstance(line.times, int):
        return units * line.times
    return None


def blocks_of(lines: Sequence[Any]) -> dict[tuple[str, str], Block]:
    """(provider, service type) → `Block`, from 第7表 records or `Table7Line`s of one user."""
    details: dict[tuple[str, str], list[Any]] = {}
    subtotals: dict[tuple[str, str], Any] = {}
    for line in lines:
        code = line.service_code or ""
        if len(code) < 2 or code == GRAND_TOTAL_SERVICE_CODE:
            continue
        key = (line.provider_office_no or "", code[:2])
        if _is_detail(code):
            details.setdefault(key, []).append(line)
        elif code[2:] == "AAAA":
            subtotals[key] = line
    out = {}
    for key, block in details.items():
        subtotal = subtotals.get(key)
        if subtotal is not None and subtotal.managed_units is not None:
            managed: Figure = subtotal.managed_units
        else:
            managed = _sum(line.managed_units for line in block)
        carriers = [subtotal] if subtotal is not None else block
        over = _sum(line.over_category_limit_units for line in carriers)
        over_type = _sum(line.over_type_limit_units for line in carriers)
        out[key] = Block(
            units=_sum(_detail_units(line) for line in block),
            managed=managed,
            over_limit=over if isinstance(over, int) else 0,
            over_type_limit=over_type if isinstance(over_type, int) else 0,
        )
    return out


def limit_check(
    limit: int | None, planned: Mapping[tuple[str, str], Block], effective: Sequence[Block]
) -> LimitCheck:
    """The user's total against the 区分支給限度基準額."""
    return LimitCheck(
        limit=limit,
        planned_total=_sum(b.managed for b in planned.values()),
        delivered_total=_sum(b.managed for b in effective),
    )


def benefit_figures(
    planned: Mapping[tuple[str, str], Block],
    effective: Mapping[tuple[str, str], Block],
    *,
    limit: int | None,
    final: bool,
) -> BenefitFigures:
    """The 給付管理票 lines: 給付計画単位数 per provider and service type.

    `effective` is each block as it stands (recomputed from the 実績 where they arrived, the 第7表
    where not). The units over the limits stay where the original 第7表 put them (No.19 and
    No.21), at most the block's units; the allocation fits when what remains within equals
    min(total less the units over a 種類支給限度, limit), as the arithmetic's own split gives.
    """
    lines = []
    within_total = 0
    managed_total = 0
    type_over_total = 0
    computable = True
    for (provider, service_type), block in effective.items():
        managed = block.managed
        if managed is None and block.units is not NOT_COMPUTABLE:
            continue  # outside the 区分支給限度 (e.g. 居宅療養管理指導): not on the 給付管理票
        if not isinstance(managed, int):
            computable = False
            lines.append(BenefitLine(provider, service_type, NOT_COMPUTABLE))
            continue
        original = planned.get((provider, service_type))
        type_over = min(original.over_type_limit, managed) if original is not None else 0
        over = min(original.over_limit, managed - type_over) if original is not None else 0
        lines.append(
            BenefitLine(provider, service_type, managed - type_over - over, type_over + over)
        )
        within_total += managed - type_over - over
        managed_total += managed
        type_over_total += type_over
    fits = None
    if limit is not None and computable:
        fits = within_total == min(managed_total - type_over_total, limit)
    return BenefitFigures(lines=tuple(lines), final=final, allocation_fits=fits)
