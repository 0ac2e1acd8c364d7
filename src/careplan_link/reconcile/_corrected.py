"""The corrected plan: revised 第6表/第7表 that reflect what was delivered.

One schedule unit (第6表 + 第7表 + 補足) per receiving provider and month, under a new ファイル連番
later than any the office sent that provider, for the care manager to review and send. The
original files are never touched (`write` refuses to replace a file).

A provider whose 実績 arrived is planned as delivered (its 実績 records, as 予定 records); a
provider whose 実績 has not arrived keeps its planned records. The 第7表 is recomputed by the
month's arithmetic; units over the 区分支給限度基準額 stay allocated as in the original 第7表
(`flags` says where that allocation no longer fits: the care manager decides).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ..format import (
    JST,
    NOT_COMPUTABLE,
    Bundle,
    FileName,
    Office,
    Record,
    YearMonth,
    build_table7,
    get_layout,
    new_serial,
    write_file,
    write_unit,
)
from ..format._table7_calc import benefit_claim, total_cost
from ._model import Difference, DifferenceKind, Reconciliation, UnmatchedCause, UserKey
from ._sources import Collected
from ._units import GRAND_TOTAL_SERVICE_CODE, blocks_of

__all__ = ["CorrectedPlan", "CorrectedUnit", "corrected_plan"]


@attrs.frozen
class CorrectedUnit:
    """One revised schedule unit for one provider and month: file name → records."""

    receiver: Office
    month: str
    files: Mapping[FileName, tuple[Record, ...]]

    def bundle(self) -> Bundle:
        """The unit encoded in memory (nothing written)."""
        return Bundle.from_files(
            {str(name): write_file(records, name) for name, records in self.files.items()}
        )


@attrs.frozen
class CorrectedPlan:
    """The revised schedules, one unit per receiving provider and month."""

    units: tuple[CorrectedUnit, ...]
    flags: tuple[Difference, ...]
    """Users whose original over-limit allocation no longer fits (kind OVER_LIMIT)."""

    def bundles(self) -> tuple[Bundle, ...]:
        return tuple(unit.bundle() for unit in self.units)

    def write(self, to: str | os.PathLike[str]) -> tuple[Bundle, ...]:
        """Write every unit into the folder `to`; an existing file is never replaced
        (`FormatError` with `write.exists`-style issues from `write_unit`)."""
        return tuple(
            write_unit({str(name): rows for name, rows in unit.files.items()}, to=to)
            for unit in self.units
        )


def corrected_plan(
    reconciliation: Reconciliation,
    *,
    created: datetime.date | None = None,
    at: datetime.datetime | None = None,
) -> CorrectedPlan:
    """The revised schedules of a reconciliation (see the module docstring).

    `created` is the 作成年月日 written (today in Japan by default); `at` the moment the new
    ファイル連番 are minted from (now by default; always later than the office's last one).
    """
    collected: Collected | None = reconciliation.sources
    if collected is None or collected.care_office is None:
        raise ValueError("this reconciliation holds no schedule to correct")
    care = collected.care_office
    created = created or datetime.datetime.now(JST).date()
    plan_type = get_layout("table6_plan", collected.plan_csv_version).record_type
    unplanned = {
        (d.user, d.provider_office_no)
        for d in reconciliation.unmatched
        if d.cause is UnmatchedCause.PROVIDER_NOT_IN_PLAN
    }
    revised: dict[UserKey, list[Record]] = {}
    audience: dict[UserKey, list[str]] = {}
    for user, parts in collected.plan.items():
        results = collected.results.get(user, {})
        rows: list[Record] = []
        providers = list(parts)
        providers += [p for p in results if p not in parts and (user, p) in unplanned]
        for provider in providers:
            if provider in results or (provider, user.month) in collected.reported:
                rows += [
                    _as_plan(record, plan_type, care.number, created)
                    for record, _ in results.get(provider, [])
                ]
            else:
                rows += [
                    attrs.evolve(record, created_date=created) for record, _ in parts[provider]
                ]
        if rows:  # a user served by no one keeps the old schedule: withdraw it (DLTPLAN)
            revised[user] = rows
            audience[user] = providers
    every_row = [row for rows in revised.values() for row in rows]
    original_table7 = [row[0] for rows in collected.table7.values() for row in rows]
    sheets = build_table7(
        every_row, supplements=collected.supplements.values(), from_table7=original_table7
    )
    table7: dict[UserKey, list[Record]] = {}
    flags: list[Difference] = []
    for sheet in sheets:
        user = UserKey(sheet.insurer_no or "", sheet.insured_no or "", str(sheet.target_month))
        original = blocks_of([row[0] for row in collected.table7.get(user, [])])
        lines, fits = _keep_allocation(sheet.lines, original, _limit(collected, user))
        sheet = attrs.evolve(sheet, lines=tuple(lines))
        table7[user] = list(
            sheet.records(
                created_date=created,
                updater_office_no=care.number,
                csv_version=collected.plan_csv_version,
            )
        )
        if not fits:
            flags.append(_flag(user, collected))
    return CorrectedPlan(
        units=tuple(_units(collected, care, revised, table7, audience, at)), flags=tuple(flags)
    )


def _as_plan(record: Any, plan_type: type[Record], care_no: str, created: datetime.date) -> Record:
    values = attrs.asdict(record, recurse=False)
    values.update(created_date=created, updater_office_no=care_no, plan_office_no=care_no)
    return plan_type(**values)


def _limit(collected: Collected, user: UserKey) -> int | None:
    supplement = collected.supplements.get(user)
    return supplement.benefit_limit if supplement is not None else None


_MONEY = ("total_cost", "insurance_claim", "user_copay", "user_full_payment")
_SPLIT = ("over_category_limit_units", "within_category_limit_units")


def _keep_allocation(
    lines: Iterable[Any], original: Mapping[tuple[str, str], Any], limit: int | None
) -> tuple[list[Any], bool]:
    """The lines with No.21/No.22 (and the money that follows) as the original 第7表 allocated
    them; and whether that allocation fits the limit."""
    lines = list(lines)
    deltas: dict[str, int] = {}
    within_total = managed_total = 0
    for index, line in enumerate(lines):
        within = line.within_category_limit_units
        if line.kind == "total" or not isinstance(within, int):
            continue
        managed = line.managed_units
        if not isinstance(managed, int):
            continue
        block = original.get((line.provider_office_no, line.service_code[:2]))
        over = min(block.over_limit, managed) if block is not None else 0
        base = line.within_type_limit_units
        base = base if isinstance(base, int) else managed
        within = base - over
        kept: dict[str, Any] = {
            "over_category_limit_units": over or None,
            "within_category_limit_units": within,
        }
        kept.update(_money(line, within, over))
        within_total += within
        managed_total += managed
        for name, value in kept.items():
            old = getattr(line, name)
            if isinstance(value, int) and isinstance(old, int | type(None)):
                deltas[name] = deltas.get(name, 0) + value - (old or 0)
            elif value is None and isinstance(old, int):
                deltas[name] = deltas.get(name, 0) - old
        lines[index] = attrs.evolve(line, **kept)
    total = lines[-1]
    if total.kind == "total":
        changes = {}
        for name, delta in deltas.items():
            old = getattr(total, name)
            if old is NOT_COMPUTABLE or delta == 0:
                continue
            changes[name] = ((old or 0) + delta) or None
        lines[-1] = attrs.evolve(total, **changes)
    fits = limit is None or within_total == min(managed_total, limit)
    return lines, fits


def _money(line: Any, within: int, over: int) -> dict[str, Any]:
    price, rate = line.unit_price, line.benefit_rate
    if not isinstance(price, Decimal) or line.total_cost is NOT_COMPUTABLE:
        return {}
    cost = total_cost(within, price) if within else 0
    money: dict[str, Any] = {
        "total_cost": cost,
        "user_full_payment": total_cost(over, price) or None,
    }
    if isinstance(rate, int):
        claim = benefit_claim(cost, rate)
        money.update(insurance_claim=claim, user_copay=cost - claim)
    return money


def _flag(user: UserKey, collected: Collected) -> Difference:
    total = next(
        (
            row[1]
            for row in collected.table7.get(user, [])
            if row[0].service_code == GRAND_TOTAL_SERVICE_CODE
        ),
        None,
    )
    return Difference(
        kind=DifferenceKind.OVER_LIMIT,
        user=user,
        provider_office_no=None,
        message_ja="元の第7表の限度超過単位の配分が合いません（配分を見直してください）",
        message_en="the original allocation of units over the limit no longer fits (review it)",
        planned=total,
    )


def _units(
    collected: Collected,
    care: Office,
    revised: dict[UserKey, list[Record]],
    table7: dict[UserKey, list[Record]],
    audience: dict[UserKey, list[str]],
    at: datetime.datetime | None,
) -> list[CorrectedUnit]:
    users_of: dict[tuple[str, str], list[UserKey]] = {}
    for user, providers in audience.items():
        for provider in providers:
            users_of.setdefault((provider, user.month), []).append(user)
    out = []
    for (provider, month), users in sorted(users_of.items()):
        receiver = collected.provider_offices.get(provider) or _office(
            care, provider, revised, users
        )
        serial = _serial(care.number, collected.latest_serial.get((care.number, provider)), at)
        name = FileName.new(
            "UPPLAN", sender=care, receiver=receiver, month=YearMonth.parse(month), serial=serial
        )
        files = {
            name: tuple(r for u in users for r in revised[u]),
            name.sibling("UPSIKYU"): tuple(r for u in users for r in table7.get(u, [])),
            name.sibling("UPHOSOKU"): tuple(
                collected.supplements[u] for u in users if u in collected.supplements
            ),
        }
        out.append(CorrectedUnit(receiver=receiver, month=month, files=files))
    return out


def _office(
    care: Office, provider: str, revised: Mapping[UserKey, list[Any]], users: list[UserKey]
) -> Office:
    if care.service_type is None:
        return Office(provider)
    for user in users:
        for record in revised[user]:
            if record.provider_office_no == provider and record.service_code:
                return Office(provider, record.service_code[:2])
    return Office(provider, "00")


def _serial(office_no: str, latest: str | None, at: datetime.datetime | None) -> str:
    """A new ファイル連番 later than `latest` (the last one sent to this provider)."""
    serial = new_serial(office_no, at)
    if latest is not None and serial <= latest:
        moment = datetime.datetime.strptime(latest, "%Y%m%d%H%M%S").replace(tzinfo=JST)
        serial = new_serial(office_no, moment + datetime.timedelta(seconds=1))
    return serial
