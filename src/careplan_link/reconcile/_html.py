"""A reconciliation as one self-contained HTML page: a month calendar per user.

No external resource, no script: the page holds personal data (insured numbers, services), so it
must open offline and send nothing anywhere; a Content-Security-Policy forbids every fetch. Each
day cell holds the planned entries and the delivered entries side by side; a day with a
difference carries the class `diff` (and a visible marker, not colour alone).
"""

from __future__ import annotations

import calendar
import datetime
from html import escape

from ._model import Reconciliation, UserReconciliation, Visit
from ._report import KIND_LABELS

__all__ = ["to_html"]

_CSS = """
body{font-family:sans-serif;margin:1em;color:#111;background:#fff}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:2em;border-bottom:2px solid #444}
table.cal{border-collapse:collapse;width:100%;table-layout:fixed}
table.cal th{background:#eee;border:1px solid #999;padding:2px}
table.cal td{border:1px solid #999;vertical-align:top;height:5em;padding:2px;font-size:.8em}
td.diff{background:#ffe0e0;outline:3px solid #c00;outline-offset:-3px}
td.diff .day::after{content:" ⚠";color:#c00}
td.empty{background:#f6f6f6}
.day{font-weight:bold}
.sides{display:flex;gap:2px}.sides ul{flex:1;margin:0;padding:0;list-style:none}
li.planned{background:#e0ecff;margin:1px 0}li.delivered{background:#e0f5e0;margin:1px 0}
.legend span{display:inline-block;padding:0 .5em;margin-right:.5em}
ul.diffs li{margin:.2em 0}.ok{color:#060}.ng{color:#c00}
"""

_WEEKDAYS = "月火水木金土日"


def _entry(visit: Visit, side: str) -> str:
    time = "" if visit.start is None else visit.start.strftime("%H:%M") + " "
    return (
        f'<li class="{side}" data-code="{escape(visit.service_code)}" '
        f'data-provider="{escape(visit.provider_office_no)}">'
        f"{escape(time)}{escape(visit.service_code)}</li>"
    )


def _calendar(user: UserReconciliation) -> str:
    year, month = int(user.user.month[:4]), int(user.user.month[4:])
    by_day: dict[datetime.date, tuple[list[Visit], list[Visit]]] = {}
    for visit in user.planned:
        if visit.date is not None and not visit.monthly:
            by_day.setdefault(visit.date, ([], []))[0].append(visit)
    for visit in user.delivered:
        if visit.date is not None and not visit.monthly:
            by_day.setdefault(visit.date, ([], []))[1].append(visit)
    differing = {
        day
        for d in user.differences
        for day in (d.planned_date, d.delivered_date)
        if day is not None
    }
    rows = ["<tr>" + "".join(f"<th>{w}</th>" for w in _WEEKDAYS) + "</tr>"]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        cells = []
        for day in week:
            if day.month != month:
                cells.append('<td class="empty"></td>')
                continue
            planned, delivered = by_day.get(day, ([], []))
            css = ' class="diff"' if day in differing else ""
            cells.append(
                f'<td data-date="{day.isoformat()}"{css}><div class="day">{day.day}</div>'
                '<div class="sides"><ul class="plan-side">'
                + "".join(_entry(v, "planned") for v in planned)
                + '</ul><ul class="result-side">'
                + "".join(_entry(v, "delivered") for v in delivered)
                + "</ul></div></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table class="cal">' + "".join(rows) + "</table>"


def _monthly(user: UserReconciliation) -> str:
    planned = sorted({v.service_code for v in user.planned if v.monthly})
    delivered = sorted({v.service_code for v in user.delivered if v.monthly})
    if not planned and not delivered:
        return ""
    return (
        '<p class="monthly">月単位のサービス / monthly services: 予定 planned '
        f"{escape(', '.join(planned) or '-')} ・ 実績 delivered "
        f"{escape(', '.join(delivered) or '-')}</p>"
    )


def _section(user: UserReconciliation) -> str:
    status = (
        '<span class="ok">差異なし / no difference</span>'
        if user.ok
        else f'<span class="ng">差異 {len(user.differences)} / differences</span>'
    )
    final = "確定 final" if user.benefit.final else "未確定 not final"
    items = "".join(
        f"<li><b>{escape(KIND_LABELS[d.kind][0])} / {escape(KIND_LABELS[d.kind][1])}</b> "
        f"{escape(d.message_ja)}<br><small>{escape(d.message_en)}</small></li>"
        for d in user.differences
    )
    benefit = ", ".join(
        f"{b.provider_office_no}/{b.service_type}: {b.units}" for b in user.benefit.lines
    )
    key = user.user
    return (
        f'<section class="user" id="u-{escape(key.insurer_no)}-{escape(key.insured_no)}-'
        f'{escape(key.month)}"><h2>{escape(key.insurer_no)}-{escape(key.insured_no)} '
        f"{escape(key.month[:4])}年{escape(key.month[4:])}月 — {status}</h2>"
        f"{_monthly(user)}{_calendar(user)}"
        f'<ul class="diffs">{items}</ul>'
        f"<p>給付管理票 / benefit plan ({escape(final)}): {escape(benefit or '-')}</p>"
        "</section>"
    )


def to_html(reconciliation: Reconciliation) -> str:
    """The page: a section per user with the month calendar, planned (blue) and delivered
    (green) entries side by side, differing days outlined and marked ⚠."""
    unmatched = "".join(
        f"<li>{escape(d.message_ja)}<br><small>{escape(d.message_en)}</small></li>"
        for d in reconciliation.unmatched
    )
    months = ", ".join(reconciliation.months)
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="robots" content="noindex">'
        f"<title>予定・実績の照合 {escape(months)}</title><style>{_CSS}</style></head><body>"
        f"<h1>予定・実績の照合 / plan against results — {escape(months)} "
        f"(居宅介護支援事業所 {escape(reconciliation.care_office_no or '-')})</h1>"
        '<p class="legend"><span class="planned" style="background:#e0ecff">予定 planned</span>'
        '<span style="background:#e0f5e0">実績 delivered</span>'
        '<span style="background:#ffe0e0">⚠ 差異のある日 day with a difference</span></p>'
        "<p>個人情報を含みます。共有・保存に注意してください。 / Contains personal data: "
        "handle as the care records it comes from.</p>"
        + "".join(_section(user) for user in reconciliation.users)
        + (
            f'<section class="unmatched"><h2>予定と対応しない実績 / 実績 matching no 予定</h2>'
            f"<ul>{unmatched}</ul></section>"
            if unmatched
            else ""
        )
        + "</body></html>\n"
    )
