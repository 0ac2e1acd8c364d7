"""`reconcile(plan, results)`: the month's 予定 against its 実績."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..format import NOT_COMPUTABLE, Table7Sheet
from ._match import match_visits, visits_of
from ._model import (
    Difference,
    DifferenceKind,
    Location,
    Reconciliation,
    UnitComparison,
    UnmatchedCause,
    UserKey,
    UserReconciliation,
    Visit,
)
from ._sources import Collected, ReconcileSource, Row, collect
from ._units import (
    GRAND_TOTAL_SERVICE_CODE,
    Block,
    benefit_figures,
    blocks_of,
    limit_check,
    recompute,
)

__all__ = ["reconcile"]


def reconcile(plan: ReconcileSource, results: ReconcileSource) -> Reconciliation:
    """Compare a month's 予定 (schedules: 第6表 + 第7表 + 補足, and their withdrawals) with the
    実績 (UPJSK, and DLTJSK withdrawals) sent back by the providers.

    `plan` and `results` are file or folder paths, `Bundle`s, parsed `CareplanFile`s, mappings
    of file name → bytes, or several of these; files of the other side found in either are
    taken too (one inbox folder may hold both). Raises `FormatError` when a file cannot be read;
    run `validate` first for the full report.
    """
    collected = collect(plan, results)
    return reconcile_collected(collected)


def reconcile_collected(collected: Collected) -> Reconciliation:
    every_result = [
        row[0] for parts in collected.results.values() for rows in parts.values() for row in rows
    ]
    sheets = recompute(
        every_result,
        supplements=collected.supplements.values(),
        table7=[row[0] for rows in collected.table7.values() for row in rows],
    )
    plan_visits = _visits(collected.plan)
    result_visits = _visits(
        {u: collected.results[u] for u in collected.plan if u in collected.results}
    )
    users = [
        _user(user, parts, collected, sheets, plan_visits[user], result_visits.get(user, {}))
        for user, parts in collected.plan.items()
    ]
    unmatched = _unmatched(collected)
    months = sorted({u.user.month for u in users} | {d.user.month for d in unmatched})
    return Reconciliation(
        care_office_no=collected.care_office_no,
        months=tuple(months),
        users=tuple(users),
        unmatched=tuple(unmatched),
        sources=collected,
    )


def _visits(
    rows_by_user: dict[UserKey, dict[str, list[Row]]],
) -> dict[UserKey, dict[str, list[Visit]]]:
    """The visits of every user and provider, made in one `visits_of` call (its cost is per
    call as well as per record, and a user's part is a few dozen records)."""
    visits = visits_of(
        [row for parts in rows_by_user.values() for rows in parts.values() for row in rows]
    )
    out: dict[UserKey, dict[str, list[Visit]]] = {}
    start = 0
    for user, parts in rows_by_user.items():
        mine = out[user] = {}
        for provider, rows in parts.items():
            mine[provider] = visits[start : start + len(rows)]
            start += len(rows)
    return out


def _user(
    user: UserKey,
    parts: dict[str, list[Row]],
    collected: Collected,
    sheets: dict[UserKey, Table7Sheet],
    plan_visits_of: dict[str, list[Visit]],
    result_visits_of: dict[str, list[Visit]],
) -> UserReconciliation:
    results = dict(collected.results.get(user, {}))
    for provider in parts:
        if provider not in results and (provider, user.month) in collected.reported:
            results[provider] = []  # the provider reported the month, nothing for this user
    differences: list[Difference] = []
    planned: list[Visit] = []
    delivered: list[Visit] = []
    matched = 0
    for provider, rows in parts.items():
        plan_visits = plan_visits_of[provider]
        planned += plan_visits
        if provider not in results:
            differences.append(
                Difference(
                    kind=DifferenceKind.RESULTS_MISSING,
                    user=user,
                    provider_office_no=provider,
                    message_ja=f"事業所 {provider} の実績が届いていません",
                    message_en=f"no 実績 from provider {provider} (yet)",
                    planned=rows[0][1],
                )
            )
            continue
        done_visits = result_visits_of.get(provider, [])  # [] also where reported empty
        delivered += done_visits
        result = match_visits(user, provider, plan_visits, done_visits)
        matched += result.matched
        differences += result.differences
    for provider, rows in results.items():
        if provider not in parts and rows:
            delivered += result_visits_of[provider]
    table7_rows = collected.table7.get(user, [])
    planned_blocks = blocks_of([row[0] for row in table7_rows])
    sheet = sheets.get(user)
    delivered_blocks = blocks_of(sheet.lines) if sheet is not None else {}
    units, effective = _units(user, parts, results, planned_blocks, delivered_blocks)
    differences += _unit_differences(user, units, parts, results, table7_rows)
    supplement = collected.supplements.get(user)
    limit = supplement.benefit_limit if supplement is not None else None
    benefit = benefit_figures(
        planned_blocks, effective, limit=limit, final=all(p in results for p in parts)
    )
    if benefit.allocation_fits is False:
        total = next(
            (row[1] for row in table7_rows if row[0].service_code == GRAND_TOTAL_SERVICE_CODE), None
        )
        differences.append(
            Difference(
                kind=DifferenceKind.OVER_LIMIT,
                user=user,
                provider_office_no=None,
                message_ja=(
                    f"区分支給限度基準額 {limit} 単位に対し、第7表の限度超過単位の配分が合いません"
                    "（配分はケアマネジャーが決めてください）"
                ),
                message_en=(
                    f"the original allocation of units over the 区分支給限度基準額 ({limit}) no "
                    "longer fits (the care manager decides the allocation)"
                ),
                planned=total,
            )
        )
    return UserReconciliation(
        user=user,
        planned=tuple(planned),
        delivered=tuple(delivered),
        differences=tuple(differences),
        units=tuple(units),
        limit=limit_check(limit, planned_blocks, list(effective.values())),
        benefit=benefit,
        providers=tuple(parts),
        arrived=frozenset(p for p in parts if p in results),
        matched=matched,
    )


def _units(
    user: UserKey,
    parts: dict[str, list[Row]],
    results: dict[str, list[Row]],
    planned: dict[tuple[str, str], Block],
    delivered: dict[tuple[str, str], Block],
) -> tuple[list[UnitComparison], dict[tuple[str, str], Block]]:
    comparisons = []
    effective: dict[tuple[str, str], Block] = {}
    for key in dict.fromkeys([*planned, *delivered]):
        provider, service_type = key
        arrived = provider in results
        plan_block = planned.get(key)
        done_block = delivered.get(key)
        comparisons.append(
            UnitComparison(
                provider_office_no=provider,
                service_type=service_type,
                planned=plan_block.units if plan_block else None,
                delivered=(done_block.units if done_block else None) if arrived else None,
                arrived=arrived,
            )
        )
        chosen = done_block if arrived else plan_block
        if chosen is not None:
            effective[key] = chosen
    return comparisons, effective


def _first(rows: Iterable[Row], service_type: str, attribute: str) -> Location | None:
    for record, location in rows:
        if (getattr(record, attribute) or "")[:2] == service_type:
            return location
    return None


def _unit_differences(
    user: UserKey,
    units: Sequence[UnitComparison],
    parts: dict[str, list[Row]],
    results: dict[str, list[Row]],
    table7_rows: list[Row],
) -> list[Difference]:
    out = []
    for unit in units:
        difference = unit.difference
        if not isinstance(difference, int) or difference == 0:
            continue
        if unit.provider_office_no not in parts:
            continue  # already reported record by record (provider not in the plan)
        provider, service_type = unit.provider_office_no, unit.service_type
        planned_rows = [r for r in table7_rows if r[0].provider_office_no == provider]
        out.append(
            Difference(
                kind=DifferenceKind.UNITS,
                user=user,
                provider_office_no=provider,
                message_ja=(
                    f"単位数の差: 事業所 {provider} 種類 {service_type} 第7表 "
                    f"{_text(unit.planned)} → 実績 {_text(unit.delivered)}（差 {difference:+d}）"
                ),
                message_en=(
                    f"units differ: provider {provider} type {service_type}: 第7表 "
                    f"{_text(unit.planned)}, 実績 {_text(unit.delivered)} ({difference:+d})"
                ),
                planned=_first(planned_rows, service_type, "service_code"),
                delivered=_first(results.get(provider, []), service_type, "service_code"),
                service_code=service_type,
            )
        )
    return out


def _text(value: object) -> str:
    if value is NOT_COMPUTABLE:
        return "計算不能/not computable"
    return "-" if value is None else str(value)


# -- 実績 that match no 予定 ---------------------------------------------------------------------


_CAUSE_TEXT = {
    UnmatchedCause.OTHER_OFFICE: (
        "別の居宅介護支援事業所あての実績です",
        "addressed to another care-manager office",
    ),
    UnmatchedCause.OTHER_MONTH: (
        "この利用者の予定は別の月です",
        "the user is planned in another month",
    ),
    UnmatchedCause.INSURED_NO_TYPO: (
        "被保険者番号の入力誤りと思われます",
        "likely a typo in the insured number",
    ),
    UnmatchedCause.PROVIDER_NOT_IN_PLAN: (
        "予定にない事業所の実績です",
        "a provider that was not in the plan",
    ),
    UnmatchedCause.UNKNOWN_USER: ("予定にない利用者です", "a user who is not in the plan"),
}


def _unmatched(collected: Collected) -> list[Difference]:
    planned_users = collected.plan
    by_person: dict[tuple[str, str], list[UserKey]] = {}
    for user in planned_users:
        by_person.setdefault((user.insurer_no, user.insured_no), []).append(user)
    out = []
    for user, parts in collected.results.items():
        planned = planned_users.get(user)
        for provider, rows in parts.items():
            if planned is not None and provider in planned:
                continue
            offices = collected.result_receivers.get(user, {}).get(provider, set())
            cause, counterpart = _cause(user, planned is not None, offices, collected, by_person)
            ja, en = _CAUSE_TEXT[cause]
            if counterpart is not None:
                ja += f"（予定: {counterpart}）"
                en += f" (planned: {counterpart})"
            planned_location = (
                next(iter(planned_users[counterpart].values()))[0][1] if counterpart else None
            )
            for record, location in rows:
                day = record.service_date
                text = f"{provider} {record.service_code} {getattr(day, 'isoformat', str)()}"
                out.append(
                    Difference(
                        kind=DifferenceKind.UNMATCHED,
                        user=user,
                        provider_office_no=provider,
                        message_ja=f"予定と対応しない実績 {text}: {ja}",
                        message_en=f"実績 matching no 予定, {text}: {en}",
                        planned=planned_location,
                        delivered=location,
                        service_code=record.service_code,
                        delivered_date=day if hasattr(day, "isoformat") else None,
                        cause=cause,
                    )
                )
    return out


def _cause(
    user: UserKey,
    user_planned: bool,
    offices: set[str],
    collected: Collected,
    by_person: dict[tuple[str, str], list[UserKey]],
) -> tuple[UnmatchedCause, UserKey | None]:
    care = collected.care_office_no
    if care is not None and offices and care not in offices:
        return UnmatchedCause.OTHER_OFFICE, None
    if user_planned:
        return UnmatchedCause.PROVIDER_NOT_IN_PLAN, user
    others = by_person.get((user.insurer_no, user.insured_no))
    if others:
        return UnmatchedCause.OTHER_MONTH, others[0]
    for planned in collected.plan:
        same_insurer = planned.month == user.month and planned.insurer_no == user.insurer_no
        if same_insurer and _one_slip(planned.insured_no, user.insured_no):
            return UnmatchedCause.INSURED_NO_TYPO, planned
    return UnmatchedCause.UNKNOWN_USER, None


def _one_slip(a: str, b: str) -> bool:
    """One character different, or two neighbours swapped (the usual typing slips)."""
    if len(a) != len(b) or a == b:
        return False
    diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diffs) == 1:
        return True
    return (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and a[diffs[0]] == b[diffs[1]]
        and (a[diffs[1]] == b[diffs[0]])
    )
