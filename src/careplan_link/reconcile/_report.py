"""A reconciliation as text: a table for the terminal, and CSV (MS932, CRLF) for Excel."""

from __future__ import annotations

import csv
import io
from typing import Literal

from ._model import (
    Difference,
    DifferenceKind,
    Reconciliation,
    UserReconciliation,
    figure_json,
)

__all__ = ["KIND_LABELS", "to_csv", "to_text"]

Lang = Literal["ja", "en"]

KIND_LABELS: dict[DifferenceKind, tuple[str, str]] = {
    DifferenceKind.CANCELLED: ("予定のみ", "cancelled"),
    DifferenceKind.ADDED: ("実績のみ", "added"),
    DifferenceKind.MOVED: ("日付変更", "moved"),
    DifferenceKind.TIME: ("時刻変更", "time"),
    DifferenceKind.CODE: ("コード変更", "code"),
    DifferenceKind.COUNT: ("回数変更", "count"),
    DifferenceKind.UNMATCHED: ("対応なし", "unmatched"),
    DifferenceKind.UNITS: ("単位数差", "units"),
    DifferenceKind.RESULTS_MISSING: ("実績未着", "no results"),
    DifferenceKind.OVER_LIMIT: ("限度超過配分", "over limit"),
}


def _label(kind: DifferenceKind, lang: Lang) -> str:
    ja, en = KIND_LABELS[kind]
    return ja if lang == "ja" else en


def _where(difference: Difference) -> str:
    planned = str(difference.planned) if difference.planned else "-"
    delivered = str(difference.delivered) if difference.delivered else "-"
    return f"予定/plan {planned} | 実績/results {delivered}"


def _difference_lines(difference: Difference, lang: Lang) -> list[str]:
    first, second = (
        (difference.message_ja, difference.message_en)
        if lang == "ja"
        else (difference.message_en, difference.message_ja)
    )
    return [
        f"  [{_label(difference.kind, lang)}] {first}",
        f"      {second}",
        f"      {_where(difference)}",
    ]


def _user_lines(user: UserReconciliation, lang: Lang) -> list[str]:
    state = (
        ("確定" if lang == "ja" else "final")
        if user.benefit.final
        else ("未確定（実績未着あり）" if lang == "ja" else "not final (results missing)")
    )
    lines = [
        f"{user.user}  {len(user.differences)} differences, {user.matched} matched, {state}",
    ]
    for difference in user.differences:
        lines += _difference_lines(difference, lang)
    lines.append("  事業所/provider  種類/type  第7表/planned  実績/delivered  差/diff")
    for unit in user.units:
        lines.append(
            f"  {unit.provider_office_no}  {unit.service_type}  {_fig(unit.planned):>10}  "
            f"{_fig(unit.delivered) if unit.arrived else '(未着/missing)':>10}  "
            f"{_fig(unit.difference):>8}"
        )
    limit = user.limit
    within = {True: "内/within", False: "超過/over", None: "-"}[limit.within]
    lines.append(
        f"  区分支給限度基準額/limit {limit.limit if limit.limit is not None else '-'}: "
        f"給付管理単位数/managed {_fig(limit.delivered_total)} ({within})"
    )
    benefit = ", ".join(
        f"{b.provider_office_no}/{b.service_type} {_fig(b.units)}" for b in user.benefit.lines
    )
    lines.append(f"  給付管理票/benefit plan: {benefit or '-'} ({state})")
    return lines


def _fig(value: object) -> str:
    shown = figure_json(value)  # type: ignore[arg-type]
    return "-" if shown is None else str(shown)


def to_text(reconciliation: Reconciliation, lang: Lang = "ja") -> str:
    """The readable report: per user, the differences (both languages, located), the units
    per provider and service type, the limit check and the 給付管理票 figures."""
    out = [
        f"居宅介護支援事業所/care office {reconciliation.care_office_no or '-'}, "
        f"対象年月/month {', '.join(reconciliation.months) or '-'}",
        "",
    ]
    for user in reconciliation.users:
        out += _user_lines(user, lang)
        out.append("")
    if reconciliation.unmatched:
        out.append("予定と対応しない実績 / 実績 matching no 予定")
        for difference in reconciliation.unmatched:
            out += _difference_lines(difference, lang)
        out.append("")
    summary = reconciliation.summary()
    verdict = "OK" if reconciliation.ok else "NG"
    out.append(
        f"{verdict}: {summary['users']} users, {summary['matched']} matched, "
        f"{summary['differences']} differences, {summary['final_users']} final"
    )
    return "\n".join(out) + "\n"


_CSV_HEADER = (
    "種類 kind",
    "保険者番号",
    "被保険者番号",
    "対象年月",
    "サービス事業者コード",
    "サービスコード",
    "予定ファイル",
    "予定レコード",
    "実績ファイル",
    "実績レコード",
    "予定日",
    "実績日",
    "原因 cause",
    "内容",
    "description",
)

_BENEFIT_HEADER = (
    "給付管理票",
    "保険者番号",
    "被保険者番号",
    "対象年月",
    "サービス事業者コード",
    "サービス種類",
    "第7表単位数",
    "実績単位数",
    "差",
    "給付計画単位数",
    "確定",
)


def to_csv(reconciliation: Reconciliation) -> bytes:
    """CSV for Excel: MS932, CRLF. The differences, a blank line, then per user, provider and
    service type the units and the 給付管理票 figures. Characters MS932 lacks become `?`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    for d in reconciliation.differences:
        writer.writerow(
            (
                _label(d.kind, "ja"),
                d.user.insurer_no,
                d.user.insured_no,
                d.user.month,
                d.provider_office_no or "",
                d.service_code or "",
                d.planned.file if d.planned else "",
                d.planned.record if d.planned else "",
                d.delivered.file if d.delivered else "",
                d.delivered.record if d.delivered else "",
                d.planned_date.isoformat() if d.planned_date else "",
                d.delivered_date.isoformat() if d.delivered_date else "",
                d.cause.value if d.cause else "",
                d.message_ja,
                d.message_en,
            )
        )
    writer.writerow(())
    writer.writerow(_BENEFIT_HEADER)
    for user in reconciliation.users:
        benefit = {(b.provider_office_no, b.service_type): b for b in user.benefit.lines}
        for unit in user.units:
            line = benefit.get((unit.provider_office_no, unit.service_type))
            writer.writerow(
                (
                    "",
                    user.user.insurer_no,
                    user.user.insured_no,
                    user.user.month,
                    unit.provider_office_no,
                    unit.service_type,
                    _fig(unit.planned),
                    _fig(unit.delivered) if unit.arrived else "未着",
                    _fig(unit.difference),
                    _fig(line.units) if line else "",
                    "確定" if user.benefit.final else "未確定",
                )
            )
    return buffer.getvalue().encode("cp932", errors="replace")
