"""Rules across the items of a file: its CSVバージョン, months, 福祉用具 codes, 第7表 totals,
利用者補足情報 special values, 第2表 numbering, office numbers against the file name.

They run column-wise (issue 11's speed target: all rules together within half the cost of
reading): a rule decides each distinct value of a column once, in Python, and finds the records
holding a bad one in C (`compress`, `map`, set operations) rather than in a loop over records.
Values that hash in a Python function (YearMonth, the special values, which are enum members)
are never hashed once per record: they are reduced by identity first (`IdentityNumbers`).
"""

from __future__ import annotations

import datetime
import itertools
import operator
import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Container, Iterable, Sequence, Set
from itertools import compress, repeat
from typing import Any

import attrs

from ._columns import Columns
from ._editions import EDITIONS, ValueMeaning
from ._file import CareplanFile
from ._findings import Findings
from ._layout import Column, Kind, Layout
from ._layouts import KNOWN_CSV_VERSIONS
from ._scope import OUT_OF_SCOPE, SERVICE_TYPE_NAMES
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth

__all__ = [
    "GrandTotalRows",
    "IdentityNumbers",
    "check_file_rules",
    "grand_total_rows",
    "hashable_column",
]


def check_file_rules(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    """Report the file-level and cross-item rules of one parsed file."""
    _check_versions(file, findings, columns)
    if not file.records:
        return
    _check_updater(file, findings, columns)
    rule = _RULES.get(file.layout.id)
    if rule is not None:
        rule(file, findings, columns)


# -- finding records in C ---------------------------------------------------------------------

# Kinds whose values (or special values: enum members) hash in a Python function.
_IDENTITY_KINDS = frozenset({Kind.YYYYMM, Kind.YYYYMMDD, Kind.HHMM})

_FIRST_TWO = operator.itemgetter(slice(0, 2))
_FROM_THIRD = operator.itemgetter(slice(2, None))


class IdentityNumbers:
    """Small ints standing for values, equal where the values are equal, made once per distinct
    value object: a key holding them hashes in C.

    The reader gives equal texts of a column one value object, so a column of 100,000 months
    holds a handful of objects; each is hashed once here (equal objects made elsewhere still
    get one number), and the column is mapped by `id` in C.
    """

    def __init__(self) -> None:
        self._numbers: dict[Any, int] = {}

    def numbers(self, values: Sequence[Any]) -> list[int]:
        """The number of each value, in order."""
        numbers = self._numbers
        objects = dict(zip(map(id, values), values, strict=True))
        number_of = {key: numbers.setdefault(value, len(numbers)) for key, value in objects.items()}
        return list(map(number_of.__getitem__, map(id, values)))


def hashable_column(
    layout: Layout, columns: Columns, attribute: str, identity: IdentityNumbers
) -> Sequence[Any]:
    """The column's values, or their `identity` numbers when they hash in Python."""
    values = columns[attribute]
    if layout.column(attribute).kind in _IDENTITY_KINDS:
        return identity.numbers(values)
    return values


def _telling_columns(
    layout: Layout, columns: Columns, attributes: Sequence[str]
) -> list[Sequence[Any]]:
    """The columns of a key (a user's 保険者番号, 被保険者番号, 対象年月) that tell the file's
    records apart, for comparing keys within the file.

    A column of one value throughout tells none apart and is left out: a file usually holds
    one month, often one insurer, and a shorter key hashes faster. The others are given as
    values that hash in C (`hashable_column`).
    """
    identity = IdentityNumbers()
    return [
        hashable_column(layout, columns, attribute, identity)
        for attribute in attributes
        if not columns.single(attribute)
    ]


def _indices_in(values: Sequence[Any], found: Container[Any]) -> list[int]:
    """Indices of the values in `found`, in order, selected in C."""
    return list(compress(range(len(values)), map(found.__contains__, values)))


def _where(
    layout: Layout, columns: Columns, attribute: str, bad: Callable[[Any], object]
) -> list[int]:
    """Indices of the records whose value is bad; `bad` runs once per distinct value.

    A file repeats the same few values on every line; checking each distinct value once keeps
    validation close to the cost of reading. The records holding a bad value are found in C,
    by identity for values that hash in Python (each bad value object is looked up once).
    """
    bad_values = [value for value in columns.distinct(attribute) if bad(value)]
    if not bad_values:
        return []
    values = columns[attribute]
    if layout.column(attribute).kind not in _IDENTITY_KINDS:
        return _indices_in(values, set(bad_values))
    objects = dict(zip(map(id, values), values, strict=True))
    bad_ids = {key for key, value in objects.items() if value in bad_values}
    return list(compress(range(len(values)), map(bad_ids.__contains__, map(id, values))))


def _where_pairs(values: Sequence[Any], bad: Callable[[Any], object]) -> list[int]:
    """Indices of the values (tuples) for which `bad` holds, evaluating it once per distinct
    value."""
    bad_values = {value for value in dict.fromkeys(values) if bad(value)}
    if not bad_values:
        return []
    return _indices_in(values, bad_values)


def _picked(values: Sequence[Any], indices: Sequence[int]) -> Sequence[Any]:
    """The values at `indices`, fetched in C (by one `itemgetter` of them all: half the cost
    of a call of `__getitem__` each)."""
    if len(indices) < 2:
        return [values[index] for index in indices]
    picked: tuple[Any, ...] = operator.itemgetter(*indices)(values)
    return picked


def _check_scope_and_equipment(
    file: CareplanFile, findings: Findings, columns: Columns, total_codes: Set[str | None]
) -> None:
    """Service types out of the standard's scope, and 福祉用具貸与 lines without a TAISコード
    or 福祉用具届出コード, on the records whose code is none of `total_codes`.

    Usually no code is of those types: told by one pass over the distinct codes' first two
    characters, in C, or by one search of all the codes when their set is not made (a file
    where most lines have their own code); only then are the codes of each type looked at
    one by one."""
    codes = columns["service_code"]
    # The set of codes when they repeat (made once for the rules), else one search of them.
    checkable = columns.checkable("service_code")
    if not _few(checkable) and not _may_start_with(
        columns, "service_code", _SCOPE_OR_EQUIPMENT_START
    ):
        return
    named = list(filter(None, columns.distinct("service_code")))
    if not any(map(_SCOPE_OR_EQUIPMENT.__contains__, map(_FIRST_TWO, named))):
        return
    for index in _indices_in(codes, _codes_of_types(named, OUT_OF_SCOPE) - total_codes):
        _check_scope(file, findings, index, codes[index])
    equipment = _indices_in(codes, _codes_of_types(named, _EQUIPMENT_TYPES) - total_codes)
    _check_equipment(findings, _tais_column(file.layout), equipment, columns)


# A set of more distinct values than this is searched as the column joined (one search in C)
# rather than value by value: a 第7表 of a detail line and a 全合計 a user holds half as many
# distinct codes as rows, a set (`Columns.checkable`) though each is looked at once.
_FEW = 256


def _few(checkable: Collection[Any]) -> bool:
    """Whether the column's values to check (`Columns.checkable`) are a set of few."""
    return isinstance(checkable, set) and len(checkable) <= _FEW


def _starting_with(prefixes: Collection[str]) -> re.Pattern[str]:
    """A pattern found in `_joined` texts where a text starts with one of `prefixes`
    (2 characters each: grouped by the first, which the search tells fastest)."""
    by_first: dict[str, list[str]] = defaultdict(list)
    for prefix in sorted(prefixes):
        by_first[prefix[0]].append(re.escape(prefix[1:]))
    return re.compile(
        "\n(?:" + "|".join(f"{re.escape(a)}(?:{'|'.join(b)})" for a, b in by_first.items()) + ")"
    )


def _joined(columns: Columns, attribute: str) -> str | None:
    """The column's texts, each after a line feed (None left out; empty ones may be kept:
    they start with no prefix and hold no letters); None when a value is no text."""
    joined = columns.joined(attribute)  # the usual column, of texts only: joined once
    if joined is not None:
        return "\n" + joined
    try:
        return "\n" + "\n".join(filter(None, columns[attribute]))
    except TypeError:
        return None


def _may_start_with(columns: Columns, attribute: str, starts: re.Pattern[str]) -> bool:
    """False when no text of the column starts with one of the 2-character prefixes of
    `starts` (`_starting_with`), told by one search of them all, in C. True when one may (a
    text holding a line feed may look like two); then the caller looks value by value."""
    joined = _joined(columns, attribute)
    return joined is None or starts.search(joined) is not None


def _codes_of_types(codes: list[str], types: Collection[str]) -> set[str]:
    """The `codes` whose service type (`_service_type`) is one of `types`: the first two
    characters compared in C, the length of those that match in Python."""
    candidates = compress(codes, map(types.__contains__, map(_FIRST_TWO, codes)))
    return {code for code in candidates if _service_type(code) in types}


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
    # The usual case, one value throughout, is told by counting in C.
    mixed = versions.count(first) != len(versions)
    for index in (
        compress(range(len(versions)), map(operator.ne, versions, repeat(first))) if mixed else ()
    ):
        version = versions[index]
        findings.add(
            "version.mixed",
            "error",
            f"1つのファイルに複数のCSVバージョンがあります（{first} と {version}）",
            f"one file holds several CSVバージョン values ({first} and {version})",
            index=index,
            column=column,
            value=version,
        )
    for version in dict.fromkeys(versions) if mixed else (first,):
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
    for index in _where(
        file.layout, columns, "updater_office_no", lambda v: v is not None and v != sender
    ):
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
    for index in _where(
        file.layout, columns, attribute, lambda value: value is not None and value != month
    ):
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


# 福祉用具貸与 (居宅, 予防).
_EQUIPMENT_TYPES = frozenset({"17", "67"})
_SCOPE_OR_EQUIPMENT = OUT_OF_SCOPE | _EQUIPMENT_TYPES
_SCOPE_OR_EQUIPMENT_START = _starting_with(_SCOPE_OR_EQUIPMENT)


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
        if _service_type(code) not in _EQUIPMENT_TYPES or code[2:] in _SUBTOTAL_SUFFIXES:
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
    _check_scope_and_equipment(file, findings, columns, set())
    date_column = layout.column("service_date")
    distinct_months = columns.distinct("target_month")
    if len(distinct_months) == 1:  # the usual case: check each distinct day once
        (month,) = distinct_months
        outside = _where(
            file.layout, columns, "service_date", lambda day: _outside_month((day, month))
        )
    else:
        days_and_months = zip(columns["service_date"], columns["target_month"], strict=True)
        outside = _where_pairs(list(days_and_months), _outside_month)
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
    for index in _where(file.layout, columns, "detail_no", lambda detail: detail is not None):
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
        no_time_pairs = _where_pairs(
            times, lambda pair: (pair[0] is NO_TIME) != (pair[1] is NO_TIME)
        )
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

    for index in _where(file.layout, columns, "plan_office_no", names_another_office):
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
_SUBTOTAL_SUFFIX_SET = frozenset(_SUBTOTAL_SUFFIXES)
_USER_KEY = ("insurer_no", "insured_no", "target_month")


def _check_table7(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    _check_month_column(file, findings, columns, "target_month")
    layout = file.layout
    code_column = layout.column("service_code")
    codes = columns["service_code"]
    # The total and subtotal records, found from the distinct codes (a file where every line
    # has its own code holds as many codes as lines: they are told apart in C).
    # The set of codes when they repeat (made once for the rules), else one search of them.
    checkable = columns.checkable("service_code")
    joined = None if _few(checkable) else _joined(columns, "service_code")
    if joined is not None and not any(map(joined.__contains__, _SUBTOTAL_SUFFIXES)):
        # No code holds a subtotal's letters (one search of all the codes, in C: the usual
        # file's lines and 全合計): the totals are the 全合計, and no set of the codes is
        # made (a file of many users holds nearly as many codes as lines).
        grand_codes = {_GRAND_TOTAL_CODE} if _GRAND_TOTAL_CODE in codes else set()
        total_codes = set(grand_codes)
    else:
        distinct_codes = columns.distinct("service_code")
        named = list(filter(None, distinct_codes))
        grand_codes = distinct_codes & {_GRAND_TOTAL_CODE}
        total_codes = set(grand_codes)
        # A subtotal's code ends in letters: codes of digits only (one test of them all
        # joined, in C: the usual file's lines and 全合計) hold none.
        if not "".join(named).isdigit():
            subtotals = map(str.endswith, named, repeat(_SUBTOTAL_SUFFIXES))
            total_codes |= {code for code in compress(named, subtotals) if len(code) == 6}
    is_total = list(map(total_codes.__contains__, codes))
    total_rows = list(compress(range(len(codes)), is_total))
    if total_codes == grand_codes:
        grand_rows = total_rows
    else:
        in_grand = map(grand_codes.__contains__, _picked(codes, total_rows))
        grand_rows = list(compress(total_rows, in_grand))
    _check_total_rows(file, findings, columns, total_rows, grand_rows)
    _check_scope_and_equipment(file, findings, columns, total_codes)
    # Users (保険者番号, 被保険者番号, 対象年月) are compared as keys.
    user_columns = _telling_columns(layout, columns, _USER_KEY)
    users = _keys(user_columns, len(codes))
    # A record that could not be read may be the total or subtotal that looks missing.
    complete = file.gaps is None or not file.gaps.unread_records
    grand_users, one_each = _check_grand_totals(findings, code_column, users, grand_rows, complete)
    not_total = list(map(operator.not_, is_total))
    if total_codes == grand_codes:  # no 種類別小計: the 全合計 rows are the total rows
        _GRAND_TOTAL_ROWS[columns] = GrandTotalRows(not_total, grand_rows, one_each)
    if not complete:
        return
    # Several detail lines of one service type need their subtotal (AAAA). When no user has
    # two lines that are no totals, none has: the lines' users are those of the 全合計, one
    # each, in the same order (the usual file: compared in C, mostly by identity), or else
    # as many as their set.
    line_users = list(compress(users, not_total))
    if (grand_users is not None and line_users == grand_users) or len(set(line_users)) == len(
        line_users
    ):
        return
    _check_subtotals(file, findings, columns, user_columns)


@attrs.frozen
class GrandTotalRows:
    """What the 第7表 file rules found of a file without 種類別小計 (`grand_total_rows`), for
    the arithmetic (`_table7_rules`), which would otherwise find it again."""

    not_grand: list[bool]  # by row: whether its サービスコード is other than the 全合計's
    rows: list[int]  # the 全合計 rows, in order
    one_each: bool  # every user (保険者番号, 被保険者番号, 対象年月) has exactly one


# By the file's `Columns` (one validation run's): kept while they are.
_GRAND_TOTAL_ROWS: weakref.WeakKeyDictionary[Columns, GrandTotalRows] = weakref.WeakKeyDictionary()


def grand_total_rows(columns: Columns) -> GrandTotalRows | None:
    """The 全合計 rows the file rules found in the 第7表 file of `columns`, None when they
    have not run on it or it holds 種類別小計."""
    return _GRAND_TOTAL_ROWS.get(columns)


def _check_subtotals(
    file: CareplanFile, findings: Findings, columns: Columns, user_columns: list[Sequence[Any]]
) -> None:
    """Each user's detail lines of one office and service type, when several, have their
    subtotal (AAAA) of that office and type."""
    code_column = file.layout.column("service_code")
    codes = columns["service_code"]
    # Each record's service type (a total's kind), decided once per distinct code.
    kind_of = _kinds_of_codes(columns.distinct("service_code"))
    kinds = list(map(kind_of.__getitem__, codes))
    providers = columns["provider_office_no"]
    details = list(zip(*user_columns, providers, kinds, strict=True))
    sum_rows = _indices_in(kinds, {_SUM})
    subtotals = set(
        zip(
            *(_picked(values, sum_rows) for values in (*user_columns, providers)),
            map(_FIRST_TWO, _picked(codes, sum_rows)),
            strict=True,
        )
    )
    counts = Counter(details)
    repeated = set(compress(counts, map((1).__lt__, counts.values())))
    # Totals and lines without a service type are not lines that need a subtotal.
    unsummed = {key for key in repeated if key[-1] is not None and key[-1] not in _TOTALS}
    unsummed -= subtotals
    first: dict[tuple[Any, ...], int] = {}
    for index in _indices_in(details, unsummed) if unsummed else ():
        first.setdefault(details[index], index)
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


# The kinds of 第7表 total records (`_kinds_of_codes`): strings that are no service type (a
# type has two characters), so that they hash in C and never equal a type.
_GRAND = "999999"
_SUM = "AAAA"
_OTHER_SUM = "EEEE, ZZZZ"
_TOTALS = frozenset({_GRAND, _SUM, _OTHER_SUM})


def _kinds_of_codes(codes: Set[str | None]) -> dict[str | None, str | None]:
    """Each service code's kind of 第7表 record: a total (`_TOTALS`), or a detail line of its
    service type (one string object per type), None when the code has none.

    Worked out in C: a file where every line has its own code holds as many codes as lines."""
    named = list(filter(None, codes))
    prefixes = list(map(_FIRST_TWO, named))
    one_each = dict(zip(prefixes, prefixes, strict=True))  # one string object per type
    kinds: dict[str | None, str | None] = dict(
        zip(named, map(one_each.__getitem__, prefixes), strict=True)
    )
    kinds.update(dict.fromkeys(codes & {None, ""}))  # no code
    kinds.update(dict.fromkeys(compress(named, map((6).__ne__, map(len, named)))))
    for code in compress(named, map(_SUBTOTAL_SUFFIX_SET.__contains__, map(_FROM_THIRD, named))):
        kinds[code] = _SUM if code.endswith("AAAA") else _OTHER_SUM
    if _GRAND_TOTAL_CODE in kinds:
        kinds[_GRAND_TOTAL_CODE] = _GRAND
    return kinds


def _keys(columns: Sequence[Sequence[Any]], count: int) -> Sequence[Any]:
    """The keys made of `columns`' values, record by record: the values themselves when
    there is one column (no tuple to make and hash)."""
    if len(columns) == 1:
        return columns[0]
    return list(zip(*columns, strict=True)) if columns else [()] * count


def _check_grand_totals(
    findings: Findings,
    code_column: Column,
    users: Sequence[Any],
    grand_rows: list[int],
    complete: bool,
) -> tuple[list[Any] | None, bool]:
    """One 全合計 per user and month (users in the order they first appear). Gives the users
    of the 全合計 records in order when they are distinct (else None), and whether every user
    has exactly one."""
    # The usual case, exactly one each: the 全合計 users are distinct and every user is one
    # of them (set lookups, in C).
    picked = list(_picked(users, grand_rows))
    grand_users = set(picked)
    distinct = len(grand_users) == len(grand_rows)
    if distinct and grand_users.issuperset(users):
        return picked, True
    totals: dict[Any, list[int]] = defaultdict(list)
    for index in grand_rows:
        totals[users[index]].append(index)
    first: dict[Any, int] = {}
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
    return (picked if distinct else None), False


def _check_total_rows(
    file: CareplanFile,
    findings: Findings,
    columns: Columns,
    total_rows: list[int],
    grand_rows: list[int],
) -> None:
    """What total and subtotal records hold: 単位数 0, no discount, the 全合計's office.

    The values of the total records are fetched and compared in C."""
    layout = file.layout
    units = columns["units"]
    column = layout.column("units")
    total_units = _picked(units, total_rows)
    # The usual file: every total's 単位数 is 0 (counted in C, by identity first).
    not_zero: Iterable[bool] = ()
    if total_units.count(0) + total_units.count(None) != len(total_units):
        not_zero = map(operator.not_, map((0, None).__contains__, total_units))
    for index in compress(total_rows, not_zero):
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
        if not columns.distinct(attribute) - {None}:
            continue  # the usual case: no record has one
        values = columns[attribute]
        column = layout.column(attribute)
        filled = map(operator.is_not, _picked(values, total_rows), repeat(None))
        for index in compress(total_rows, filled):
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
    grand_offices = _picked(offices, grand_rows)
    other: Iterable[bool] = ()
    if grand_offices.count(_GRAND_TOTAL_OFFICE) != len(grand_offices):
        other = map(operator.ne, grand_offices, repeat(_GRAND_TOTAL_OFFICE))
    for index in compress(grand_rows, other):
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
        for index in _where(file.layout, columns, "target_month", _not_zero_month):
            findings.add(
                "supplement.link",
                "error",
                "計画（第1表）に付く利用者補足情報の対象年月は 000000 です",
                "対象年月 of a plan's 利用者補足情報 (file month 000000) is 000000",
                index=index,
                column=month_column,
                value=months[index],
            )
        for index in _where(file.layout, columns, "plan_date", _is_zero_date):
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
        for index in _where(file.layout, columns, "plan_date", _not_zero_date):
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
            for index in _where(
                file.layout, columns, "target_month", lambda value: value not in (month, None)
            ):
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
    # A gap needs a record with one slot empty and the next filled: when no column of empty
    # slots is followed by a column with a filled one, there is none (the usual case).
    distinct = [columns.distinct(slot) for slot in _SLOTS]
    if not any(
        None in earlier and later - {None} for earlier, later in itertools.pairwise(distinct)
    ):
        return
    slots = list(zip(*(columns[slot] for slot in _SLOTS), strict=True))
    for index in _where_pairs(slots, _first_gap):
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
