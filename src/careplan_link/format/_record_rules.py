"""Rules across the items of a file: its CSVバージョン, months, 福祉用具 codes, 第7表 totals,
利用者補足情報 special values, 第2表 numbering, office numbers against the file name."""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from ._columns import Columns
from ._file import CareplanFile
from ._findings import Findings
from ._layouts import CSV_VERSION_CURRENT, KNOWN_CSV_VERSIONS, layout_family
from ._scope import OUT_OF_SCOPE, SERVICE_TYPE_NAMES
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth

__all__ = ["check_file_rules"]

# CSVバージョン values that real exporters write by mistake, with what they meant.
_VERSION_SLIPS = {
    "202410": (
        "202410 はありません。v4.1 の値は 202407 です（202410 は v4.1 の発行月）",
        "there is no CSVバージョン 202410: v4.1's value is 202407 (202410 is the month v4.1 "
        "was issued; one public implementation writes it)",
    ),
    "202404": (
        "202404 は仕様書の記載例の値で、CSVバージョンではありません。202407 を使ってください",
        "202404 appears in the specification's examples but is no CSVバージョン: use 202407",
    ),
}


def check_file_rules(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    """Report the file-level and cross-item rules of one parsed file."""
    _check_versions(file, findings, columns)
    if not file.records:
        return
    _check_updater(file, findings, columns)
    rule = _RULES.get(file.layout.id)
    if rule is not None:
        rule(file, findings, columns)


def _where(values: Sequence[Any], bad: Callable[[Any], bool]) -> list[int]:
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


def expected_csv_version(month: YearMonth) -> str:
    """The CSVバージョン that applies to a service month (the latest that started by then)."""
    applicable = [
        (start, version)
        for version, start in KNOWN_CSV_VERSIONS.items()
        if start <= str(month) and version != "202504"
    ]
    return max(applicable)[1] if applicable else min(KNOWN_CSV_VERSIONS)


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
        if version in _VERSION_SLIPS:
            ja, en = _VERSION_SLIPS[version]
            findings.add("version.unknown", "error", ja, en, index=index, column=column,
                         value=version)  # fmt: skip
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
        elif version == "202504":
            findings.add(
                "version.superseded",
                "warning",
                "202504 は v4.0 の値で、v4.1 で 202407 に改められました",
                "202504 was v4.0's value; v4.1 replaced it with 202407",
                index=index,
                column=column,
                value=version,
            )
        _check_version_fits(file, findings, version, index)


def _check_version_fits(file: CareplanFile, findings: Findings, version: str, index: int) -> None:
    layout = file.layout
    column = layout.columns[0]
    family = layout_family(version)
    if family != layout.csv_version:
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
    naming_family = "202208" if file.name.naming == "v3" else CSV_VERSION_CURRENT
    if family != naming_family:
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
        expected = expected_csv_version(month)
        if version != expected and not (version == "202504" and expected == "202407"):
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


def _check_equipment(file: CareplanFile, findings: Findings, index: int, record: Any) -> None:
    """福祉用具貸与 (17, 67): a TAISコード or 福祉用具届出コード (v4 layouts only)."""
    if file.layout.csv_version != CSV_VERSION_CURRENT:
        return
    code = record.service_code
    if _service_type(code) not in ("17", "67") or code[2:] in ("AAAA", "EEEE", "ZZZZ"):
        return
    if record.tais_code is None and record.equipment_notification_code is None:
        findings.add(
            "equipment.code_missing",
            "error",
            "福祉用具貸与（17・67）には TAISコード か 福祉用具届出コード が必要です",
            "福祉用具貸与 (17, 67) needs a TAISコード or a 福祉用具届出コード",
            index=index,
            column=file.layout.column("tais_code"),
        )


# -- 第6表 ------------------------------------------------------------------------------------


def _check_table6(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_month_column(file, findings, columns, "target_month")
    layout = file.layout
    records = _records(file)
    for index in columns.where("service_code", lambda c: _service_type(c) in OUT_OF_SCOPE):
        _check_scope(file, findings, index, records[index].service_code)
    for index in columns.where("service_code", lambda c: _service_type(c) in ("17", "67")):
        _check_equipment(file, findings, index, records[index])
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
    totals: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    users: dict[tuple[Any, ...], int] = {}
    details: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    subtotals: set[tuple[Any, ...]] = set()
    for index, record in enumerate(_records(file)):
        user = (record.insurer_no, record.insured_no, record.target_month)
        users.setdefault(user, index)
        code = record.service_code
        if code == _GRAND_TOTAL_CODE:
            totals[user].append(index)
            _check_total_row(file, findings, index, record, grand=True)
            continue
        if code and len(code) == 6 and code[2:] in _SUBTOTAL_SUFFIXES:
            if code.endswith("AAAA"):
                subtotals.add((*user, record.provider_office_no, code[:2]))
            _check_total_row(file, findings, index, record, grand=False)
            continue
        _check_scope(file, findings, index, code)
        _check_equipment(file, findings, index, record)
        service_type = _service_type(code)
        if service_type:
            details[(*user, record.provider_office_no, service_type)].append(index)
    # A record that could not be read may be the total or subtotal that looks missing.
    complete = file.gaps is None or not file.gaps.unread_records
    for user, first in users.items():
        count = len(totals.get(user, []))
        if count == 0 and complete:
            findings.add(
                "table7.grand_total",
                "error",
                "利用者・対象年月ごとの全合計レコード（サービスコード 999999）がありません",
                "no 全合計 record (service code 999999) for this user and month",
                index=first,
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
    for key, indices in details.items():
        if len(indices) > 1 and key not in subtotals and complete:
            findings.add(
                "table7.subtotal",
                "error",
                f"サービス種類 {key[-1]} に複数の明細があるのに小計（{key[-1]}AAAA）がありません",
                f"service type {key[-1]} has several lines but no subtotal ({key[-1]}AAAA)",
                index=indices[0],
                column=code_column,
                value=_records(file)[indices[0]].service_code,
            )


def _check_total_row(
    file: CareplanFile, findings: Findings, index: int, record: Any, *, grand: bool
) -> None:
    layout = file.layout
    if record.units not in (0, None):
        findings.add(
            "table7.total_units",
            "error",
            "合計・小計レコードの単位数は 0 です",
            "単位数 of a total or subtotal record is 0",
            index=index,
            column=layout.column("units"),
            value=record.units,
        )
    for attribute in ("discount_rate", "discounted_units"):
        value = getattr(record, attribute)
        if value is not None:
            findings.add(
                "table7.total_discount",
                "error",
                "合計・小計レコードの割引後率・割引後単位数は空です",
                "割引後率 and 割引後単位数 of a total or subtotal record are empty",
                index=index,
                column=layout.column(attribute),
                value=value,
            )
    if grand and record.provider_office_no != _GRAND_TOTAL_OFFICE:
        findings.add(
            "table7.grand_total_office",
            "error",
            "全合計レコードのサービス事業所コードは 9999999999 です",
            "サービス事業所コード of the 全合計 record is 9999999999",
            index=index,
            column=layout.column("provider_office_no"),
            value=record.provider_office_no,
        )


# -- 利用者補足情報 ------------------------------------------------------------------------------


def _check_supplement(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    layout = file.layout
    plan_linked = file.name.month == "000000"
    month = _file_month(file)
    date_column = layout.column("plan_date")
    month_column = layout.column("target_month")
    for index, record in enumerate(_records(file)):
        if plan_linked:
            if record.target_month is not ZERO_MONTH and record.target_month is not None:
                findings.add(
                    "supplement.link",
                    "error",
                    "計画（第1表）に付く利用者補足情報の対象年月は 000000 です",
                    "対象年月 of a plan's 利用者補足情報 (file month 000000) is 000000",
                    index=index,
                    column=month_column,
                    value=record.target_month,
                )
            if record.plan_date is ZERO_DATE:
                findings.add(
                    "supplement.link",
                    "error",
                    "計画に付く利用者補足情報には居宅サービス計画作成（変更）日が必要です",
                    "a plan's 利用者補足情報 needs the 居宅サービス計画作成（変更）日",
                    index=index,
                    column=date_column,
                    value=record.plan_date,
                )
        else:
            if record.plan_date is not ZERO_DATE and record.plan_date is not None:
                findings.add(
                    "supplement.link",
                    "error",
                    "利用票（第6表）に付く利用者補足情報の居宅サービス計画作成（変更）日は "
                    "00000000 です",
                    "居宅サービス計画作成（変更）日 of a schedule's 利用者補足情報 is 00000000",
                    index=index,
                    column=date_column,
                    value=record.plan_date,
                )
            if month is not None and record.target_month not in (month, None):
                findings.add(
                    "month.mismatch",
                    "error",
                    f"対象年月がファイル名の対象年月（{month}）と違います",
                    f"対象年月 differs from the file name's month ({month})",
                    index=index,
                    column=month_column,
                    value=record.target_month,
                )
        _check_slots(file, findings, index, record)


def _check_slots(file: CareplanFile, findings: Findings, index: int, record: Any) -> None:
    """Service-type limit slots are filled from slot 1 in order."""
    filled = [getattr(record, f"slot{n}_service_type") is not None for n in range(1, 10)]
    for slot, (earlier, later) in enumerate(itertools.pairwise(filled), start=2):
        if later and not earlier:
            findings.add(
                "supplement.slot_order",
                "warning",
                "種類別限度額の枠は１枠から順に設定します（前の枠が空です）",
                "service-type limit slots are filled from slot 1 in order (an earlier slot "
                "is empty)",
                index=index,
                column=file.layout.column(f"slot{slot}_service_type"),
                value=getattr(record, f"slot{slot}_service_type"),
            )
            return


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
