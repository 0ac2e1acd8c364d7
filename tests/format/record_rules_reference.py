"""The file rules as they were before the column-wise fast paths (issue 11, speed): a frozen
copy of `careplan_link.format._record_rules` at that time, the reference the fast paths are
compared with (`test_rule_fast_paths`, `rules_reference`). Not to be edited with the library.

Rules across the items of a file: its CSVバージョン, months, 福祉用具 codes, 第7表 totals,
利用者補足情報 special values, 第2表 numbering, office numbers against the file name."""

from __future__ import annotations

import datetime
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from careplan_link.format._columns import Columns
from careplan_link.format._editions import EDITIONS, ValueMeaning
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._layout import Column, Layout
from careplan_link.format._layouts import KNOWN_CSV_VERSIONS
from careplan_link.format._scope import OUT_OF_SCOPE, SERVICE_TYPE_NAMES
from careplan_link.format._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth

__all__ = ["check_file_rules"]


def check_file_rules(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    """Report the file-level and cross-item rules of one parsed file."""
    _check_versions(file, findings, columns)
    if not file.records:
        return
    _check_updater(file, findings, columns)
    rule = _RULES.get(file.layout.id)
    if rule is not None:
        rule(file, findings, columns)


def _where(values: Sequence[Any], bad: Callable[[Any], object]) -> list[int]:
    """Indices of the values for which `bad` holds, evaluating it once per distinct value.

    A file repeats the same few values on every line; checking each distinct value once keeps
    validation close to the cost of reading.
    """
    distinct = dict.fromkeys(values)
    bad_values = {value for value in distinct if bad(value)}
    if not bad_values:
        return []
    return [index for index, value in enumerate(values) if value in bad_values]


def _records(file: CareplanFile) -> tuple[Any, ...]:
    """The records, typed loosely: each rule below knows the layout it reads."""
    return file.records


# -- CSVバージョン ----------------------------------------------------------------------------


def _check_versions(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    if not file.records:
        return
    layout = file.layout
    column = layout.columns[0]
    versions = columns["csv_version"]
    first = versions[0]
    for index, version in enumerate(versions):
        if version != first:
            findings.add(
                "version.mixed",
                "error",
                f"1つのファイルに複数のCSVバージョンがあります（{first} と {version}）",
                f"one file holds several CSVバージョン values ({first} and {version})",
                index=index,
                column=column,
                value=version,
            )
    for version in dict.fromkeys(versions):
        index = versions.index(version)
        accepted = EDITIONS.accepted(version)
        meaning = accepted.meaning if accepted is not None else None
        if accepted is not None and meaning is ValueMeaning.SLIP:
            findings.add("version.unknown", "error", accepted.message_ja, accepted.message_en,
                         index=index, column=column, value=version)  # fmt: skip
        elif version not in KNOWN_CSV_VERSIONS:
            known = ", ".join(sorted(KNOWN_CSV_VERSIONS))
            findings.add(
                "version.unknown",
                "error",
                f"CSVバージョン {version} は標準仕様にありません（{known}）",
                f"CSVバージョン {version} is not a value of the standard ({known})",
                index=index,
                column=column,
                value=version,
            )
            continue
        elif accepted is not None and meaning is ValueMeaning.SUPERSEDED:
            findings.add(
                "version.superseded",
                "warning",
                accepted.message_ja,
                accepted.message_en,
                index=index,
                column=column,
                value=version,
            )
        _check_version_fits(file, findings, version, index)


def _check_version_fits(file: CareplanFile, findings: Findings, version: str, index: int) -> None:
    layout = file.layout
    column = layout.columns[0]
    # An unknown value is read as the current edition (and reported above).
    edition = EDITIONS.by_value(version) or EDITIONS.current
    if edition.family != layout.csv_version:
        findings.add(
            "version.interface",
            "error",
            f"{layout.name_ja} は CSVバージョン {version} には存在しません"
            "（v4 以降のファイルです）",
            f"{layout.id} does not exist in CSVバージョン {version} (a v4 file)",
            index=index,
            column=column,
            value=version,
        )
    if edition.naming != file.name.naming:
        findings.add(
            "version.naming",
            "error",
            f"ファイル名の形式（{file.name.naming}）と CSVバージョン {version} が合いません"
            "（202407 はサービス種類コード付き、202208 は無しの名前です）",
            f"the file name rule ({file.name.naming}) does not fit CSVバージョン {version} "
            "(202407 names carry service types, 202208 names do not)",
            index=index,
            column=column,
            value=version,
        )
    month = file.name.service_month
    if isinstance(month, YearMonth) and version in KNOWN_CSV_VERSIONS:
        expected_edition = EDITIONS.for_month(month)
        expected = expected_edition.csv_version
        # A superseded value is accepted for its edition's months (202504 for 202407).
        if edition is not expected_edition:
            findings.add(
                "version.month",
                "error",
                f"サービス提供年月 {month} に適用される CSVバージョン は {expected} です",
                f"CSVバージョン {expected} applies to service month {month}, not {version}",
                index=index,
                column=column,
                value=version,
            )


# -- every file ------------------------------------------------------------------------------


def _check_updater(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    layout = file.layout
    if "updater_office_no" not in {c.attribute for c in layout.columns}:
        return
    column = layout.column("updater_office_no")
    sender = file.name.sender.number
    for index in columns.where("updater_office_no", lambda v: v is not None and v != sender):
        value = columns["updater_office_no"][index]
        findings.add(
            "office.updater_mismatch",
            "warning",
            f"更新業者コードが送信元の事業所番号（{sender}）と違います",
            f"更新業者コード differs from the sender's office number ({sender})",
            index=index,
            column=column,
            value=value,
        )


def _file_month(file: CareplanFile) -> YearMonth | None:
    month = file.name.service_month
    return month if isinstance(month, YearMonth) else None


def _check_month_column(
    file: CareplanFile, findings: Findings, columns: Columns, attribute: str
) -> None:
    month = _file_month(file)
    if month is None:
        return
    column = file.layout.column(attribute)
    for index in columns.where(attribute, lambda value: value is not None and value != month):
        value = columns[attribute][index]
        findings.add(
            "month.mismatch",
            "error",
            f"{column.name_ja} がファイル名の対象年月（{month}）と違います",
            f"{column.name_ja} differs from the file name's month ({month})",
            index=index,
            column=column,
            value=value,
        )


def _service_type(code: str | None) -> str | None:
    return code[:2] if code and len(code) == 6 else None


def _check_scope(file: CareplanFile, findings: Findings, index: int, code: str | None) -> None:
    service_type = _service_type(code)
    if service_type in OUT_OF_SCOPE:
        name = SERVICE_TYPE_NAMES.get(service_type, "")
        findings.add(
            "scope.out_of_scope",
            "error",
            f"サービス種類 {service_type}（{name}）は連携の対象外です。レコードを作成しません",
            f"service type {service_type} ({name}) is outside the standard's scope: no records "
            "are made for it",
            index=index,
            column=file.layout.column("service_code"),
            value=code,
        )


def _tais_column(layout: Layout) -> Column | None:
    """The TAISコード column (v4 layouts), looked up once per file: a `Layout` hashes all its
    columns, too dear to key a cache on for every record."""
    return next((column for column in layout.columns if column.attribute == "tais_code"), None)


def _check_equipment(
    findings: Findings, tais_column: Column | None, indices: Iterable[int], columns: Columns
) -> None:
    """福祉用具貸与 (17, 67): a TAISコード or 福祉用具届出コード (v4 layouts only), at the records
    `indices` (those with a 17 or 67 code)."""
    if tais_column is None:
        return  # layouts without the codes (before v4)
    codes = columns["service_code"]
    tais = columns["tais_code"]
    notification = columns["equipment_notification_code"]
    for index in indices:
        code = codes[index]
        if _service_type(code) not in ("17", "67") or code[2:] in _SUBTOTAL_SUFFIXES:
            continue
        if tais[index] is None and notification[index] is None:
            findings.add(
                "equipment.code_missing",
                "error",
                "福祉用具貸与（17・67）には TAISコード か 福祉用具届出コード が必要です",
                "福祉用具貸与 (17, 67) needs a TAISコード or a 福祉用具届出コード",
                index=index,
                column=tais_column,
            )


# -- 第6表 ------------------------------------------------------------------------------------


def _check_table6(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_month_column(file, findings, columns, "target_month")
    layout = file.layout
    records = _records(file)
    for index in columns.where("service_code", lambda c: _service_type(c) in OUT_OF_SCOPE):
        _check_scope(file, findings, index, records[index].service_code)
    equipment = columns.where("service_code", lambda c: _service_type(c) in ("17", "67"))
    _check_equipment(findings, _tais_column(layout), equipment, columns)
    date_column = layout.column("service_date")
    distinct_months = columns.distinct("target_month")
    if len(distinct_months) == 1:  # the usual case: check each distinct day once
        (month,) = distinct_months
        outside = columns.where("service_date", lambda day: _outside_month((day, month)))
    else:
        days_and_months = zip(columns["service_date"], columns["target_month"], strict=True)
        outside = _where(list(days_and_months), _outside_month)
    for index in outside:
        days, months = columns["service_date"], columns["target_month"]
        findings.add(
            "month.service_date",
            "error",
            f"サービス利用日が対象年月（{months[index]}）の日付ではありません",
            f"サービス利用日 is not a day of the 対象年月 ({months[index]})",
            index=index,
            column=date_column,
            value=days[index],
        )
    detail_column = layout.column("detail_no")
    for index in columns.where("detail_no", lambda detail: detail is not None):
        if _service_type(records[index].service_code) != "17":
            findings.add(
                "equipment.detail_no",
                "error",
                "明細判別コードは福祉用具貸与（17）の行にだけ設定します",
                "明細判別コード is set only on 福祉用具貸与 (17) lines",
                index=index,
                column=detail_column,
                value=records[index].detail_no,
            )
    no_time_pairs: list[int] = []
    if NO_TIME in columns.distinct("start_time") or NO_TIME in columns.distinct("end_time"):
        times = list(zip(columns["start_time"], columns["end_time"], strict=True))
        no_time_pairs = _where(times, lambda pair: (pair[0] is NO_TIME) != (pair[1] is NO_TIME))
    for index in no_time_pairs:
        findings.add(
            "time.no_time_pair",
            "warning",
            "開始時刻と終了時刻の一方だけが 9999（時間表示なし）です",
            "only one of the start and end times is 9999 (no time display)",
            index=index,
            column=layout.column("end_time"),
        )
    # 第6表 No.6 names the care-manager office: the sender of a 予定, the receiver of a 実績.
    is_plan = layout.id == "table6_plan"
    care_office = file.name.sender.number if is_plan else file.name.receiver.number
    office_column = layout.column("plan_office_no")

    def names_another_office(office: str | None) -> bool:
        return office is not None and office != care_office

    for index in columns.where("plan_office_no", names_another_office):
        findings.add(
            "office.plan_office_mismatch",
            "warning",
            f"プラン担当業者コードが居宅介護支援事業所（{care_office}）と違います",
            f"プラン担当業者コード differs from the care-manager office ({care_office})",
            index=index,
            column=office_column,
            value=records[index].plan_office_no,
        )


def _outside_month(pair: tuple[Any, Any]) -> bool:
    day, month = pair
    return (
        isinstance(day, datetime.date)
        and isinstance(month, YearMonth)
        and (day.year, day.month) != (month.year, month.month)
    )


# -- 第7表 ------------------------------------------------------------------------------------

_GRAND_TOTAL_CODE = "999999"
_GRAND_TOTAL_OFFICE = "9999999999"
_SUBTOTAL_SUFFIXES = ("AAAA", "EEEE", "ZZZZ")


def _check_table7(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_month_column(file, findings, columns, "target_month")
    layout = file.layout
    code_column = layout.column("service_code")
    codes = columns["service_code"]
    # What each distinct code is, decided once: the 全合計, a subtotal, or a detail line (with
    # its service type, None when the code has none). The rules below then run column-wise.
    grand_codes: set[Any] = set()
    subtotal_codes: set[Any] = set()
    type_of: dict[Any, str | None] = {}
    for code in columns.distinct("service_code"):
        type_of[code] = None
        if code == _GRAND_TOTAL_CODE:
            grand_codes.add(code)
        elif code and len(code) == 6 and code[2:] in _SUBTOTAL_SUFFIXES:
            subtotal_codes.add(code)
        else:
            type_of[code] = _service_type(code)
    total_rows = columns.where("service_code", (grand_codes | subtotal_codes).__contains__)
    grand_rows = [index for index in total_rows if codes[index] in grand_codes]
    _check_total_rows(file, findings, columns, total_rows, grand_rows)
    out_of_scope = {code for code, kind in type_of.items() if kind in OUT_OF_SCOPE}
    for index in columns.where("service_code", out_of_scope.__contains__):
        _check_scope(file, findings, index, codes[index])
    equipment = {code for code, kind in type_of.items() if kind in ("17", "67")}
    _check_equipment(
        findings, _tais_column(layout), columns.where("service_code", equipment.__contains__),
        columns,
    )  # fmt: skip
    users = list(
        zip(columns["insurer_no"], columns["insured_no"], columns["target_month"], strict=True)
    )
    # A record that could not be read may be the total or subtotal that looks missing.
    complete = file.gaps is None or not file.gaps.unread_records
    _check_grand_totals(findings, code_column, users, grand_rows, complete)
    providers = columns["provider_office_no"]
    subtotals = {
        (*users[index], providers[index], codes[index][:2])
        for index in total_rows
        if codes[index].endswith("AAAA")
    }
    details = list(
        zip(
            columns["insurer_no"],
            columns["insured_no"],
            columns["target_month"],
            providers,
            map(type_of.__getitem__, codes),
            strict=True,
        )
    )
    # Several detail lines of one service type need their subtotal (AAAA).
    unsummed = {
        key
        for key, count in Counter(details).items()
        if count > 1 and key[-1] is not None and key not in subtotals
    }
    if not unsummed or not complete:
        return
    first: dict[tuple[Any, ...], int] = {}
    for index, key in enumerate(details):
        if key in unsummed:
            first.setdefault(key, index)
    for key, index in first.items():
        findings.add(
            "table7.subtotal",
            "error",
            f"サービス種類 {key[-1]} に複数の明細があるのに小計（{key[-1]}AAAA）がありません",
            f"service type {key[-1]} has several lines but no subtotal ({key[-1]}AAAA)",
            index=index,
            column=code_column,
            value=codes[index],
        )


def _check_grand_totals(
    findings: Findings,
    code_column: Column,
    users: list[tuple[Any, ...]],
    grand_rows: list[int],
    complete: bool,
) -> None:
    """One 全合計 per user and month (users in the order they first appear)."""
    grand_users = [users[index] for index in grand_rows]
    distinct_users = set(users)
    if len(grand_users) == len(distinct_users) and distinct_users.issubset(grand_users):
        return  # the usual case: exactly one each
    totals: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index in grand_rows:
        totals[users[index]].append(index)
    first: dict[tuple[Any, ...], int] = {}
    for index, user in enumerate(users):
        first.setdefault(user, index)
    for user, index in first.items():
        count = len(totals.get(user, []))
        if count == 0 and complete:
            findings.add(
                "table7.grand_total",
                "error",
                "利用者・対象年月ごとの全合計レコード（サービスコード 999999）がありません",
                "no 全合計 record (service code 999999) for this user and month",
                index=index,
                column=code_column,
            )
        for extra in totals.get(user, [])[1:]:
            findings.add(
                "table7.grand_total",
                "error",
                "全合計レコードは利用者・対象年月ごとに1件です",
                "one 全合計 record per user and month",
                index=extra,
                column=code_column,
                value=_GRAND_TOTAL_CODE,
            )


def _check_total_rows(
    file: CareplanFile,
    findings: Findings,
    columns: Columns,
    total_rows: list[int],
    grand_rows: list[int],
) -> None:
    """What total and subtotal records hold: 単位数 0, no discount, the 全合計's office."""
    layout = file.layout
    units = columns["units"]
    column = layout.column("units")
    for index in [index for index in total_rows if units[index] not in (0, None)]:
        findings.add(
            "table7.total_units",
            "error",
            "合計・小計レコードの単位数は 0 です",
            "単位数 of a total or subtotal record is 0",
            index=index,
            column=column,
            value=units[index],
        )
    for attribute in ("discount_rate", "discounted_units"):
        values = columns[attribute]
        column = layout.column(attribute)
        for index in [index for index in total_rows if values[index] is not None]:
            findings.add(
                "table7.total_discount",
                "error",
                "合計・小計レコードの割引後率・割引後単位数は空です",
                "割引後率 and 割引後単位数 of a total or subtotal record are empty",
                index=index,
                column=column,
                value=values[index],
            )
    offices = columns["provider_office_no"]
    column = layout.column("provider_office_no")
    for index in [index for index in grand_rows if offices[index] != _GRAND_TOTAL_OFFICE]:
        findings.add(
            "table7.grand_total_office",
            "error",
            "全合計レコードのサービス事業所コードは 9999999999 です",
            "サービス事業所コード of the 全合計 record is 9999999999",
            index=index,
            column=column,
            value=offices[index],
        )


# -- 利用者補足情報 ------------------------------------------------------------------------------


def _check_supplement(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    layout = file.layout
    month = _file_month(file)
    date_column = layout.column("plan_date")
    month_column = layout.column("target_month")
    months, dates = columns["target_month"], columns["plan_date"]
    if file.name.month == "000000":  # linked to a plan (第1表)
        for index in columns.where("target_month", _not_zero_month):
            findings.add(
                "supplement.link",
                "error",
                "計画（第1表）に付く利用者補足情報の対象年月は 000000 です",
                "対象年月 of a plan's 利用者補足情報 (file month 000000) is 000000",
                index=index,
                column=month_column,
                value=months[index],
            )
        for index in columns.where("plan_date", _is_zero_date):
            findings.add(
                "supplement.link",
                "error",
                "計画に付く利用者補足情報には居宅サービス計画作成（変更）日が必要です",
                "a plan's 利用者補足情報 needs the 居宅サービス計画作成（変更）日",
                index=index,
                column=date_column,
                value=dates[index],
            )
    else:
        for index in columns.where("plan_date", _not_zero_date):
            findings.add(
                "supplement.link",
                "error",
                "利用票（第6表）に付く利用者補足情報の居宅サービス計画作成（変更）日は "
                "00000000 です",
                "居宅サービス計画作成（変更）日 of a schedule's 利用者補足情報 is 00000000",
                index=index,
                column=date_column,
                value=dates[index],
            )
        if month is not None:
            for index in columns.where("target_month", lambda value: value not in (month, None)):
                findings.add(
                    "month.mismatch",
                    "error",
                    f"対象年月がファイル名の対象年月（{month}）と違います",
                    f"対象年月 differs from the file name's month ({month})",
                    index=index,
                    column=month_column,
                    value=months[index],
                )
    _check_slots(file, findings, columns)


def _not_zero_month(value: Any) -> bool:
    return value is not ZERO_MONTH and value is not None


def _is_zero_date(value: Any) -> bool:
    return value is ZERO_DATE


def _not_zero_date(value: Any) -> bool:
    return value is not ZERO_DATE and value is not None


_SLOTS = tuple(f"slot{n}_service_type" for n in range(1, 10))


def _check_slots(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    """Service-type limit slots are filled from slot 1 in order (judged once per distinct
    pattern of filled slots)."""
    slots = list(zip(*(columns[slot] for slot in _SLOTS), strict=True))
    for index in _where(slots, _first_gap):
        slot = _first_gap(slots[index])
        column = file.layout.column(f"slot{slot}_service_type")
        findings.add(
            "supplement.slot_order",
            "warning",
            "種類別限度額の枠は１枠から順に設定します（前の枠が空です）",
            "service-type limit slots are filled from slot 1 in order (an earlier slot is empty)",
            index=index,
            column=column,
            value=columns[column.attribute][index],
        )


def _first_gap(slots: tuple[Any, ...]) -> int:
    """The first slot (2-9) that is filled after an empty one; 0 (false) when there is none."""
    for slot, (earlier, later) in enumerate(itertools.pairwise(slots), start=2):
        if later is not None and earlier is None:
            return slot
    return 0


# -- deletions --------------------------------------------------------------------------------


def _check_deletion_month(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_month_column(file, findings, columns, "deletion_month")


# -- 第2表 ------------------------------------------------------------------------------------


def _check_table2(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    layout = file.layout
    previous: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    seen: set[tuple[Any, ...]] = set()
    for index, record in enumerate(_records(file)):
        plan = (record.insurer_no, record.insured_no, record.plan_date)
        numbers = (record.need_no or 0, record.goal_no or 0, record.support_no or 0)
        if (*plan, *numbers) in seen:
            findings.add(
                "table2.duplicate_no",
                "error",
                "同じ計画に同じ 課題ＮＯ・援助目標ＮＯ・援助内容ＮＯ の組が重複しています",
                "the same 課題ＮＯ / 援助目標ＮＯ / 援助内容ＮＯ appears twice in one plan",
                index=index,
                column=layout.column("support_no"),
                value="-".join(map(str, numbers)),
            )
        seen.add((*plan, *numbers))
        last = previous.get(plan)
        if last is not None and numbers < last:
            findings.add(
                "table2.order",
                "warning",
                "課題ＮＯ・援助目標ＮＯ・援助内容ＮＯ の順に並んでいません（印刷順になりません）",
                "records are not in 課題ＮＯ / 援助目標ＮＯ / 援助内容ＮＯ order (the print order)",
                index=index,
                column=layout.column("need_no"),
                value="-".join(map(str, numbers)),
            )
        previous[plan] = max(numbers, last) if last else numbers


_RULES: dict[str, Callable[[CareplanFile, Findings, Columns], None]] = {
    "table6_plan": _check_table6,
    "table6_actual": _check_table6,
    "table7": _check_table7,
    "supplement": _check_supplement,
    "table6_plan_delete": _check_deletion_month,
    "table6_actual_delete": _check_deletion_month,
    "table2": _check_table2,
}
