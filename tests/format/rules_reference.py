"""Reference for the differential test: the item and record rules as they were before they ran
column-wise over the file.

`careplan_link.format._item_rules.check_items` now decides most columns with one bulk check and
`_record_rules` checks the 第7表 and 利用者補足情報 column by column; this is the earlier walk
(every distinct value through `_problems`, one pass over the column per bad value; the 第7表 and
補足 rules record by record), kept only so that test_item_rules_bulk.py can show the rewrite
reports exactly the same issues. The value rules themselves (`_problems`, `_identifier_problems`)
and the rules that were not restructured are imported, not copied.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from typing import Any

from careplan_link._issue import Issue
from careplan_link.format._columns import Columns
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._item_rules import _identifier_problems, _problems
from careplan_link.format._layout import Kind, Layout
from careplan_link.format._model_rules import _CONTROL, _describe_control, _has_control
from careplan_link.format._scope import OUT_OF_SCOPE
from careplan_link.format._values import NO_TIME, ZERO_DATE, ZERO_MONTH

from .record_rules_reference import (
    _GRAND_TOTAL_CODE,
    _GRAND_TOTAL_OFFICE,
    _SUBTOTAL_SUFFIXES,
    _check_deletion_month,
    _check_month_column,
    _check_scope,
    _check_table2,
    _check_updater,
    _check_versions,
    _file_month,
    _outside_month,
    _records,
    _service_type,
    _where,
)

__all__ = ["check_records"]


def check_records(file: CareplanFile, label: str, *, identifier_checks: bool = True) -> list[Issue]:
    """`_model_rules.check_records` with the earlier item and record rules."""
    findings = Findings(file, label)
    columns = Columns(file)
    check_items(file, findings, columns, identifier_checks=identifier_checks)
    check_file_rules(file, findings, columns)
    _check_control_characters(file, findings, columns)
    return findings.finish()


def check_file_rules(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_versions(file, findings, columns)
    if not file.records:
        return
    _check_updater(file, findings, columns)
    rule = _RULES.get(file.layout.id)
    if rule is not None:
        rule(file, findings, columns)


def check_items(
    file: CareplanFile, findings: Findings, columns: Columns, *, identifier_checks: bool = True
) -> None:
    """Report every item of the file that breaks a rule of its column.

    `identifier_checks=True` adds the warnings of the published structure of 事業所番号 and
    保険者番号 (都道府県番号, 検証番号; docs/decisions.md "Identifiers"). They are off by default:
    the standard's own examples, and most test data, use numbers that fail them.
    """
    layout = file.layout
    for column in layout.columns:
        if column.kind is Kind.CSV_VERSION:
            continue  # checked with the file's version rules
        distinct = columns.distinct(column.attribute)
        if column.kind is Kind.FREE_TEXT and column.max_length is None:
            # Free text of any length: only emptiness can be wrong, and only if required.
            distinct = {None} if column.required and None in distinct else set()
        for value in distinct:
            problems = _problems(layout, column, value)
            if identifier_checks and not problems:
                problems = _identifier_problems(column, value)
            if not problems:
                continue
            kind_of_value = type(value)
            for index, held in enumerate(columns[column.attribute]):
                if held == value and type(held) is kind_of_value:
                    for code, severity, ja, en in problems:
                        findings.add(
                            code,
                            severity,
                            ja,
                            en,
                            index=index,
                            column=column,
                            value=value,
                            single_item=True,
                        )


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


@functools.cache
def _has_column(layout: Layout, attribute: str) -> bool:
    return any(column.attribute == attribute for column in layout.columns)


def _check_equipment(file: CareplanFile, findings: Findings, index: int, record: Any) -> None:
    """福祉用具貸与 (17, 67): a TAISコード or 福祉用具届出コード (v4 layouts only)."""
    if not _has_column(file.layout, "tais_code"):
        return  # layouts without the codes (before v4)
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


def _check_control_characters(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    for column in file.layout.columns:
        if column.kind is not Kind.FREE_TEXT:
            continue  # other kinds allow no control character by their own format rules
        for index in columns.where(column.attribute, _has_control):
            text = columns[column.attribute][index]
            found = [
                f"{_describe_control(match.group())} ({match.start() + 1})"
                for match in _CONTROL.finditer(text)
            ]
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            findings.add(
                "text.control_character",
                "error",
                f"制御文字があります: {shown}（括弧内は何文字目か）。"
                "改行（CR・LF）以外の制御文字は使えません",
                f"control characters: {shown} (character positions in brackets); no control "
                "character other than a line break (CR, LF) is allowed",
                index=index,
                column=column,
                value=text,
            )


_RULES = {
    "table6_plan": _check_table6,
    "table6_actual": _check_table6,
    "table7": _check_table7,
    "supplement": _check_supplement,
    "table6_plan_delete": _check_deletion_month,
    "table6_actual_delete": _check_deletion_month,
    "table2": _check_table2,
}
