"""Rules about one item on its own: required, length, format, code tables, special values.

They are checked once per distinct value of a column (a 第6表 repeats the same few values on
every line), then reported at every record holding a bad value.
"""

from __future__ import annotations

import datetime
import operator
import re
import sys
import unicodedata
from array import array
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from itertools import compress, repeat
from typing import Any

from .._issue import Severity
from ..identifiers import insured_number, insurer_number, office_number, service_code, service_type
from ._columns import _SAMPLE, Columns, uniform
from ._file import CareplanFile
from ._findings import Findings
from ._layout import Column, Kind, Layout
from ._table7_calc import GRAND_TOTAL_OFFICE
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth

__all__ = ["check_items"]

Problem = tuple[str, Severity, str, str]

_ALPHANUMERIC = re.compile(r"[0-9A-Za-z\-]+")
_POSTAL_CODE = re.compile(r"\d{3}-\d{4}")
_PHONE = re.compile(r"[0-9\-()+]+")
_FLAG31 = re.compile(r"[01]{31}")

# Where the standard uses its special values; anywhere else they are errors.
_SPECIAL_ALLOWED = {
    ZERO_DATE: {("supplement", "plan_date")},
    ZERO_MONTH: {("supplement", "target_month")},
    NO_TIME: {("table6_plan", "start_time"), ("table6_plan", "end_time"),
              ("table6_actual", "start_time"), ("table6_actual", "end_time")},
}  # fmt: skip


def check_items(
    file: CareplanFile, findings: Findings, columns: Columns, *, identifier_checks: bool = True
) -> None:
    """Report every item of the file that breaks a rule of its column.

    `identifier_checks` (on by default) adds the warnings of the published structure of
    事業所番号 and 保険者番号 (都道府県番号, 検証番号; docs/decisions.md "Identifiers"); `False`
    is the opt-out for test data made of invented numbers.
    """
    layout = file.layout
    for column in layout.columns:
        if column.kind is Kind.CSV_VERSION:
            continue  # checked with the file's version rules
        if column.kind is Kind.FREE_TEXT and column.max_length is None:
            # Free text of any length: only emptiness can be wrong, and only if required. (Its
            # values are not gathered into a set: names that all differ would make that dear.)
            if column.required and _holds_none(columns[column.attribute]):
                _report(findings, layout, column, columns, {None}, identifier_checks)
            continue
        # Most columns of most files are clean: one check of all their values at once, in C,
        # decides it (of the distinct values, or of the whole column when its values mostly
        # differ); only a column that fails it is looked at value by value.
        raw = _raw_check(layout, column, identifier_checks)
        if raw is None:
            values = columns.checkable(column.attribute)
        else:
            values = columns.checkable(column.attribute, mostly_distinct=_mostly_distinct(column))
            # Not the set: the whole column (the values' types not yet known).
            if not isinstance(values, set) and raw(columns, column.attribute):
                continue
        if _column_is_clean(layout, column, values, identifier_checks):
            continue
        _report(
            findings, layout, column, columns, columns.distinct(column.attribute), identifier_checks
        )


def _holds_none(values: Sequence[Any]) -> bool:
    """`None in values`, told first without comparing None to every text: a column of one
    value throughout holds None only if that is its value, and a column of true values
    (non-empty texts: names) holds none. (`in` compares None to each text by `__eq__`.)"""
    if uniform(values):
        return values[0] is None
    return not all(values) and None in values


def _report(
    findings: Findings,
    layout: Layout,
    column: Column,
    columns: Columns,
    distinct: set[Any],
    identifier_checks: bool,
) -> None:
    """Report each value of `distinct` that breaks a rule, at every record holding it."""
    bad: dict[Any, list[Problem]] = {}
    for value in distinct:
        problems = _problems(layout, column, value)
        if identifier_checks and not problems:
            problems = _identifier_problems(column, value)
        if problems:
            bad[value] = problems
    if not bad:
        return
    # Where each bad value is, in one pass over the column (not one pass per bad value: a
    # column whose every value is wrong would take quadratic time).
    held = columns[column.attribute]
    where: dict[Any, list[int]] = {value: [] for value in bad}
    for index, value in enumerate(held):
        indices = where.get(value)
        if indices is not None:
            indices.append(index)
    for value, problems in bad.items():
        kind_of_value = type(value)
        for index in where[value]:
            if type(held[index]) is not kind_of_value:
                continue  # an equal value of another type (1 and True) is not this value
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


# -- all the values of a column at once -----------------------------------------------------

_NONE = frozenset({None})
_SPECIALS = frozenset(_SPECIAL_ALLOWED)
# Kinds with no rule of their own for a typed value (a time, a month).
_UNCHECKED_TYPES = frozenset({datetime.time, YearMonth})

# The types a value of a column can have besides None and the special values.
_PLAIN_TYPES = frozenset({str, int, Decimal, datetime.date, datetime.time, YearMonth})

ColumnCheck = Callable[[Collection[Any], set[type]], bool]
"""Whether none of a column's values (neither None nor a special value; its distinct values or
all of them), given with the set of their types, breaks a rule;
False also means "cannot tell in bulk": the values are then checked one by one."""

_CHECKS: dict[tuple[int, int], tuple[Layout, Column, ColumnCheck]] = {}

RawCheck = Callable[[Columns, str], bool]
"""Whether no value of a whole column (any values: None, special values, other types) breaks
a rule, told without the set of the values' types: its tests fail on a value of another type
(`Columns.joined` takes only texts; `len` no number, date or special value). False also means
"cannot tell": `_column_is_clean` then decides."""

_RAW_CHECKS: dict[tuple[int, int], tuple[Layout, Column, RawCheck | None]] = {}


def _mostly_distinct(column: Column) -> int:
    """`Columns.checkable`'s "mostly distinct" for a column with a raw check. Texts of a
    fixed width (`_fixed_width`) are tested, joined, for less than a set of them costs, so a
    set pays only where a sample of the column shows few values (a 第7表's 被保険者番号 or
    service codes, each held by a detail line and the 全合計, are tested whole); another
    text's test (a pattern's match, a length) costs more than hashing it, which the reader
    has mostly done already (the default). Integers are tested whole in C too
    (`_integer_raw_check`), for less than their set costs: a 第7表's amounts, each held by
    one detail line (its 全合計 line holds 0 or nothing), are tested whole."""
    if column.kind is Kind.INTEGER or _fixed_width(column) is not None:
        return _SAMPLE // 8
    return _SAMPLE // 2


def _column_is_clean(
    layout: Layout, column: Column, checkable: Collection[Any], identifier_checks: bool
) -> bool:
    """Whether no value of the column breaks a rule (`_problems` finds nothing for any), decided
    for all values at once. `checkable` is the column's distinct values or the whole column
    (`Columns.checkable`). It must never say True where a value has a problem; False only
    costs the value-by-value check."""
    if isinstance(checkable, set):
        values = checkable
    else:
        types = set(map(type, checkable))
        if types <= _PLAIN_TYPES:
            # Values of plain types only: no None and no special value (those have types of
            # their own), so the whole column goes to the bulk check as it is (with its
            # types, found once).
            return _plain_column_is_clean(layout, column, checkable, identifier_checks, types)
        values = set(checkable)
    if None in values:
        if column.required:
            return False  # required.missing
        values = values - _NONE
    specials = values & _SPECIALS
    if specials:
        if any((layout.id, column.attribute) not in _SPECIAL_ALLOWED[s] for s in specials):
            return False  # special.not_allowed
        values = values - specials
    if not values:
        return True
    return _plain_column_is_clean(layout, column, values, identifier_checks)


def _plain_column_is_clean(
    layout: Layout,
    column: Column,
    values: Collection[Any],
    identifier_checks: bool,
    types: set[type] | None = None,
) -> bool:
    """`_column_is_clean` of values that are neither None nor special values (`types`: the
    set of their types, when known)."""
    identifiers = identifier_checks and column.attribute in _IDENTIFIER_COLUMNS
    if identifiers and not isinstance(values, set):
        values = set(values)  # checked one by one in Python: each distinct number once
    if identifiers and any(_identifier_problems(column, value) for value in values):
        return False
    return _column_check(layout, column)(values, set(map(type, values)) if types is None else types)


def _column_check(layout: Layout, column: Column) -> ColumnCheck:
    """The bulk check of `column`, made once per layout and column (like the row builders)."""
    key = (id(layout), id(column))
    entry = _CHECKS.get(key)
    if entry is None:
        # The layout and column are kept with their check, so their ids are never reused.
        entry = _CHECKS[key] = (layout, column, _make_column_check(layout, column))
    return entry[2]


def _cannot_tell(values: Collection[Any], types: set[type]) -> bool:
    return False


def _raw_check(layout: Layout, column: Column, identifier_checks: bool) -> RawCheck | None:
    """The raw check of `column`, made once per layout and column; None for the columns that
    have none (their values are checked in the set of their types, or one by one: the
    事業所番号 and 保険者番号 when their published structure is checked)."""
    if identifier_checks and column.attribute in _IDENTIFIER_COLUMNS:
        return None
    key = (id(layout), id(column))
    entry = _RAW_CHECKS.get(key)
    if entry is None:
        # The layout and column are kept with their check, so their ids are never reused.
        entry = _RAW_CHECKS[key] = (layout, column, _make_raw_check(layout, column))
    return entry[2]


def _present(column: Column, values: Sequence[Any]) -> Sequence[Any]:
    """The values, without the empty items (None) of an optional column (a 第7表's amounts
    are empty on its 全合計 lines), picked in C; a required one's are left in (and fail the
    test: `required.missing`)."""
    if column.required or None not in values[:_SAMPLE]:
        # (An empty item further on fails the test: the column is then checked in its set.)
        return values
    return list(compress(values, map(operator.is_not, values, repeat(None))))


def _make_raw_check(layout: Layout, column: Column) -> RawCheck | None:
    """The `RawCheck` of `column`: what its `ColumnCheck` decides, for a column of values of
    the column's own type only, with the type told by the test itself (the differential
    tests in tests/format/test_rule_speed_paths2.py hold them together)."""
    kind = column.kind
    limit = column.max_length
    if kind is Kind.INTEGER:
        return _integer_raw_check(layout, column)
    if kind is Kind.FREE_TEXT:
        if limit is None:
            return None

        def free_text(columns: Columns, attribute: str) -> bool:
            # `len` of None, a number, a date or a special value fails; a value that has a
            # length but is no text (none of a read file) has no item rule to break.
            try:
                return max(map(len, _present(column, columns[attribute]))) <= limit
            except (TypeError, ValueError):
                return False  # (ValueError: no value)

        return free_text
    text = _text_check(column)
    if text is None:
        return None

    def texts(columns: Columns, attribute: str) -> bool:
        joined = columns.joined(attribute)  # texts only: None or any other type fails
        return joined is not None and text(columns[attribute], joined)

    return texts


# An array of 4-byte unsigned integers: building it from a column tests, in C, that every
# value is an int (or a bool: the value rules treat it as one) between 0 and 2 ** 32.
_UINT32 = next(code for code in "HILQ" if array(code).itemsize == 4)
# The offset of each byte of such an integer, least significant first, in the array's bytes.
_BYTE_AT = (0, 1, 2, 3) if sys.byteorder == "little" else (3, 2, 1, 0)


def _integer_raw_check(layout: Layout, column: Column) -> RawCheck | None:
    """The `RawCheck` of an integer column: what `_integer_check` decides of the column's
    values, told without sets. The column goes whole into an array of unsigned 32-bit
    integers (in C: a value of another type, a negative one or None stops it: the column is
    then checked in its set), and its bytes tell that every value is below the item's
    bound. An optional column's empty items are left out by `filter`, exactly: the values
    it drops must be as many as the column's None (a 0 among them, or any other false value,
    leaves the column to its set). The 番号 (1 to 99) have none: their column is small."""
    if layout.id == "table2" and column.attribute in ("need_no", "goal_no", "support_no"):
        return None
    limit = column.max_length
    if limit is not None and limit < 1:
        return None
    bound = None if limit is None else 10**limit
    required = column.required

    def integers(columns: Columns, attribute: str) -> bool:
        values = columns[attribute]
        try:
            held = array(_UINT32, values)
        except (TypeError, OverflowError):
            if required:
                return False  # (None is required.missing; negative: checked in the set)
            try:
                held = array(_UINT32, filter(None, values))
            except (TypeError, OverflowError):
                return False
            if len(values) - len(held) != values.count(None):
                return False
        return bound is None or _below(held, bound)

    return integers


def _below(held: array[int], bound: int) -> bool:
    """Whether every integer of `held` (an array of `_UINT32`) is below `bound` (> 0), told
    by its bytes in C where a few comparisons can: every byte above the bound's leading one
    is 0 and that byte is below the bound's (then the value is below the bound with the
    lower bytes taken as 0, which is at most the bound). Otherwise by `max`."""
    if bound >= 1 << 32:
        return True
    if not held:
        return True
    data = held.tobytes()
    top = (bound.bit_length() - 1) // 8  # the bound's leading byte
    for byte in range(top + 1, 4):
        if data[_BYTE_AT[byte] :: 4].count(0) != len(held):
            return max(held) < bound
    lead = bound >> (8 * top)
    if not data[_BYTE_AT[top] :: 4].translate(None, bytes(range(lead))):
        return True
    return max(held) < bound


def _make_column_check(layout: Layout, column: Column) -> ColumnCheck:
    """A function deciding in bulk what `_problems` decides value by value (same rules; the
    differential test in tests/format/test_item_rules_bulk.py holds them together)."""
    kind = column.kind
    limit = column.max_length
    if kind is Kind.FREE_TEXT:
        if limit is None:
            return _cannot_tell  # only emptiness is checked (check_items)

        def free_text(values: Collection[Any], types: set[type]) -> bool:
            return types == {str} and max(map(len, values)) <= limit

        return free_text
    if kind is Kind.INTEGER:
        return _integer_check(layout, column)
    if kind is Kind.DECIMAL:
        return lambda values, types: (
            types == {Decimal} and not any(_decimal_problems(column, value) for value in values)
        )
    if kind is Kind.YYYYMMDD:

        def dates(values: Collection[Any], types: set[type]) -> bool:
            return (
                types == {datetime.date} and min(values).year >= 1900 and max(values).year <= 2099
            )

        return dates
    if kind in (Kind.HHMM, Kind.YYYYMM):
        return lambda values, types: types <= _UNCHECKED_TYPES
    text = _text_check(column)
    if text is None:
        return _cannot_tell

    def texts(values: Collection[Any], types: set[type]) -> bool:
        if types != {str}:
            return False  # (nor are there values: a set of types of none is empty)
        return text(values, "\n".join(values))

    return texts


TextCheck = Callable[[Collection[str], str], bool]
"""Whether no text of a column (given with the texts joined by line feeds) breaks a rule."""


def _text_check(column: Column) -> TextCheck | None:
    """The bulk check of the texts of a column of a text pattern (None: no bulk check)."""
    pattern = _text_pattern(column)
    if pattern is None:
        return None
    kind = column.kind
    limit = column.max_length
    # All values at once: joined by line feeds, one match of the pattern then more after a
    # line feed each. The patterns match no line feed, so that is exact once no value holds
    # one (counted).
    every = re.compile(f"(?:{pattern.pattern})(?:\n(?:{pattern.pattern}))*").fullmatch
    # The codes (identifier: any value is a problem) and the types, patterns without a
    # length rule; every other pattern is followed by the item length, as in `_text_problems`.
    checks_length = kind is not Kind.CODE
    if kind is Kind.ALPHANUMERIC and column.attribute == "insured_no":
        checks_length = False
    # Patterns of a fixed width within the item length: a value they match is not too long
    # (their digits count, `{n}`, is the item length; a service code is 6 characters).
    if kind is Kind.DIGITS or (
        kind is Kind.SERVICE_CODE and limit is not None and limit >= service_code.LENGTH
    ):
        checks_length = False
    length_limit = limit if checks_length else None
    fixed = _fixed_width(column)

    def text(values: Collection[str], joined: str) -> bool:
        if fixed is not None and _all_fixed_width(values, joined, *fixed):
            return True  # the usual column, told without the pattern
        return (
            joined.isascii()
            and joined.count("\n") == len(values) - 1
            and every(joined) is not None
            and (length_limit is None or max(map(len, values)) <= length_limit)
        )

    return text


_DIGITS = b"0123456789"
_UPPER_ALPHANUMERIC = _DIGITS + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _fixed_width(column: Column) -> tuple[int, bytes] | None:
    """A width and the ASCII characters of which every text of that width matches the
    column's pattern (`_text_pattern`) and keeps within its item length: then a value of
    that width, of those characters only, breaks no rule of the column (None: no such)."""
    kind = column.kind
    limit = column.max_length
    if kind is Kind.DIGITS and limit:
        return limit, _DIGITS  # `[0-9]{limit}`
    if kind is Kind.ALPHANUMERIC and column.attribute == "insured_no":
        return insured_number.LENGTH, _DIGITS  # `[0-9]{10}|H[0-9]{9}`, no length rule
    if kind is Kind.SERVICE_CODE and limit is not None and limit >= service_code.LENGTH:
        return service_code.LENGTH, _UPPER_ALPHANUMERIC  # `[0-9A-Z]{2}[0-9A-Z]{4}`
    if kind is Kind.FLAG31 and limit is not None and limit >= 31:
        return 31, b"01"  # `[01]{31}`
    return None


def _all_fixed_width(values: Collection[str], joined: str, width: int, allowed: bytes) -> bool:
    """Whether every text of `values` (`joined` by line feeds) is `width` characters of
    `allowed` ones, told in C by a few passes over the joined texts: of the expected length,
    ASCII, of the allowed characters and line feeds only, with a line feed every `width`
    characters and nowhere else. (The usual column of 被保険者番号, 事業所番号 or service
    codes; cheaper than matching the pattern.)"""
    count = len(values)
    return (
        len(joined) == count * (width + 1) - 1
        and joined.isascii()
        and not joined.encode("ascii").translate(None, allowed + b"\n")
        and joined.count("\n") == count - 1
        and joined[width :: width + 1] == "\n" * (count - 1)
    )


def _text_pattern(column: Column) -> re.Pattern[str] | None:
    """The pattern every ASCII value of a text column must match (None: no bulk check)."""
    kind = column.kind
    if kind is Kind.DIGITS:
        return None if column.max_length is None else re.compile(f"[0-9]{{{column.max_length}}}")
    if kind is Kind.ALPHANUMERIC:
        return insured_number.SHAPE if column.attribute == "insured_no" else _ALPHANUMERIC
    if kind is Kind.CODE:
        if column.attribute == "identifier":
            return None  # any value is reported (not used)
        table = column.code_table
        if table is None:
            return service_type.SHAPE
        return re.compile("|".join(re.escape(code) for code, _ in table.values))
    return {
        Kind.SERVICE_CODE: service_code.SHAPE,
        Kind.POSTAL_CODE: _POSTAL_CODE,
        Kind.PHONE: _PHONE,
        Kind.FLAG31: _FLAG31,
    }.get(kind)


def _integer_check(layout: Layout, column: Column) -> ColumnCheck:
    limit = column.max_length
    if limit is not None and limit < 1:
        return _cannot_tell
    # Fewer digits than the item length: below 10 ** length in absolute value.
    bound = None if limit is None else 10**limit
    numbering = layout.id == "table2" and column.attribute in ("need_no", "goal_no", "support_no")
    signed = column.attribute in ("units", "discounted_units")

    def integers(values: Collection[Any], types: set[type]) -> bool:
        if types != {int}:
            return False
        low: int = min(values)
        high: int = max(values)
        if bound is not None and max(-low, high) >= bound:
            return False
        if numbering:
            return low >= 1 and high <= 99
        return signed or low >= 0

    return integers


def _problems(layout: Layout, column: Column, value: Any) -> list[Problem]:
    if value is None:
        return _missing(layout, column)
    if value in _SPECIAL_ALLOWED and not isinstance(value, str | int):
        if (layout.id, column.attribute) not in _SPECIAL_ALLOWED[value]:
            return [
                (
                    "special.not_allowed",
                    "error",
                    f"特別な値 {value} はこの項目では使えません",
                    f"the special value {value} is not allowed in this item",
                )
            ]
        return []
    if isinstance(value, str):
        return _text_problems(layout, column, value)
    if isinstance(value, int):
        digits = len(str(abs(value)))
        if column.max_length is not None and digits > column.max_length:
            return [_too_long(column, digits)]
        return _range_problems(layout, column, value)
    if isinstance(value, Decimal):
        return _decimal_problems(column, value)
    if isinstance(value, datetime.date) and not 1900 <= value.year <= 2099:
        return [
            (
                "format.date_range",
                "warning",
                "日付の年が1900～2099年の範囲外です",
                "the year of this date is outside 1900-2099",
            )
        ]
    return []


# The columns holding a 事業所番号 or a 保険者番号, and the module that knows its structure. Their
# shape is the DIGITS rule's (10 or 6 digits); these add the softer, published checks.
_IDENTIFIER_COLUMNS = {
    "care_office_no": office_number,
    "consent_office_no": office_number,
    "plan_office_no": office_number,
    "provider_office_no": office_number,
    "updater_office_no": office_number,
    "insurer_no": insurer_number,
}


def _identifier_problems(column: Column, value: Any) -> list[Problem]:
    module = _IDENTIFIER_COLUMNS.get(column.attribute)
    if module is None or not isinstance(value, str) or not module.has_shape(value):
        return []
    if value == GRAND_TOTAL_OFFICE:
        return []  # the 第7表's 全合計 marker, not an office number
    if not module.is_valid(value):
        return [
            (
                "identifier.prefecture",
                "warning",
                f"{module.ITEM}の先頭2桁（都道府県番号）が 01～47 ではありません",
                f"the first two digits of this {module.ITEM} (都道府県番号) are not 01-47",
            )
        ]
    if module.checksum_ok(value):
        return []
    return [
        (
            "identifier.check_digit",
            "warning",
            f"{module.ITEM}の検証番号（末尾の桁）が合いません。番号の誤りの可能性があります",
            f"the check digit (last digit) of this {module.ITEM} does not match: the number "
            "is probably mistyped",
        )
    ]


def _missing(layout: Layout, column: Column) -> list[Problem]:
    if not column.required:
        return []
    if column.uncertain:
        # The standard's 必須 mark for this item is unclear (docs/decisions.md): a sender that
        # leaves it empty may still conform, so this is a warning, not an error.
        return [
            (
                "required.missing",
                "warning",
                "必須項目が空です（この項目の必須指定は仕様書上あいまいなため警告とします）",
                "a required item is empty (a warning: the standard's required mark for this "
                "item is unclear)",
            )
        ]
    return [("required.missing", "error", "必須項目が空です", "a required item is empty")]


def _too_long(column: Column, length: int) -> Problem:
    return (
        "length.too_long",
        "error",
        f"項目長 {column.max_length} を超えています（{length}）",
        f"longer than the item length {column.max_length} ({length})",
    )


def _text_problems(layout: Layout, column: Column, value: str) -> list[Problem]:
    kind = column.kind
    if kind is Kind.FREE_TEXT:
        if column.max_length is not None and len(value) > column.max_length:
            return [_too_long(column, len(value))]
        return []
    if not value.isascii():
        return [_full_width(value)]
    if kind is Kind.DIGITS:
        if value.isdigit() and len(value) == column.max_length:
            return []
        hint_ja = hint_en = ""
        if value.isdigit() and column.max_length == 10 and len(value) == 9:
            hint_ja = "（9桁です。先頭の0が落ちていないか確認してください）"
            hint_en = " (9 digits: a leading zero was probably lost)"
        return [
            (
                "format.digits",
                "error",
                f"{column.max_length}桁の数字ではありません{hint_ja}",
                f"not {column.max_length} digits{hint_en}",
            )
        ]
    if kind is Kind.ALPHANUMERIC:
        if column.attribute == "insured_no":
            if insured_number.has_shape(value):
                return []
            return [
                (
                    "format.insured_no",
                    "error",
                    "被保険者番号は10桁の数字（生保単独は H＋9桁の数字）です",
                    "被保険者番号 must be 10 digits (or H + 9 digits for public assistance only)",
                )
            ]
        if not _ALPHANUMERIC.fullmatch(value):
            return [
                (
                    "format.alphanumeric",
                    "error",
                    "半角英数字（とハイフン）ではありません",
                    "not ASCII letters, digits and hyphens",
                )
            ]
    elif kind is Kind.CODE:
        return _code_problems(column, value)
    elif kind is Kind.SERVICE_CODE:
        if not service_code.has_shape(value):
            return [
                (
                    "format.service_code",
                    "error",
                    "サービスコードは6桁の半角英数字（種類2桁＋項目4桁）です",
                    "a service code is 6 characters 0-9/A-Z (type 2 + item 4)",
                )
            ]
    elif kind is Kind.POSTAL_CODE:
        if not _POSTAL_CODE.fullmatch(value):
            hint_ja = "（ハイフンがありません）" if value.isdigit() and len(value) == 7 else ""
            hint_en = " (the hyphen is missing)" if hint_ja else ""
            return [
                (
                    "format.postal_code",
                    "error",
                    f"郵便番号は XXX-XXXX の形式です{hint_ja}",
                    f"a postal code is written XXX-XXXX{hint_en}",
                )
            ]
    elif kind is Kind.PHONE:
        if not _PHONE.fullmatch(value):
            return [
                (
                    "format.phone",
                    "error",
                    "電話番号は半角数字とハイフンで書きます",
                    "a phone number holds ASCII digits and hyphens",
                )
            ]
    elif kind is Kind.FLAG31 and not _FLAG31.fullmatch(value):
        return [
            (
                "format.prorated_days",
                "error",
                "日割対象日は 0 と 1 の31文字です",
                "日割対象日 is 31 characters of 0 and 1",
            )
        ]
    if column.max_length is not None and len(value) > column.max_length:
        return [_too_long(column, len(value))]
    return []


def _code_problems(column: Column, value: str) -> list[Problem]:
    if column.attribute == "identifier":
        return [
            (
                "code.not_used",
                "warning",
                "識別子は使用しない項目です（空にしてください）",
                "識別子 is not used by the standard and should be empty",
            )
        ]
    table = column.code_table
    if table is None:
        if service_type.has_shape(value):
            return []
        return [
            (
                "format.service_type",
                "error",
                "サービス種類コードは2桁の半角英数字です",
                "a service type code is 2 characters 0-9/A-Z",
            )
        ]
    if value in table:
        return []
    allowed = ", ".join(f"{code}={meaning}" for code, meaning in table.values)
    return [
        (
            "code.unknown",
            "error",
            f"{table.name_ja}にないコードです（{allowed}）",
            f"not a code of {table.name_ja} ({allowed})",
        )
    ]


def _full_width(value: str) -> Problem:
    odd = sorted({c for c in value if not c.isascii()})
    shown = ", ".join(f"U+{ord(c):04X}" for c in odd)
    if any(unicodedata.east_asian_width(c) in "FW" for c in odd):
        return (
            "format.full_width",
            "error",
            f"全角文字があります（{shown}）。半角英数字で書いてください",
            f"full-width characters ({shown}): write half-width ASCII",
        )
    return (
        "format.full_width",
        "error",
        f"半角英数字以外の文字があります（{shown}）",
        f"non-ASCII characters ({shown}) in an item that holds ASCII only",
    )


def _range_problems(layout: Layout, column: Column, value: int) -> list[Problem]:
    numbering = layout.id == "table2" and column.attribute in ("need_no", "goal_no", "support_no")
    if numbering and not 1 <= value <= 99:
        return [
            (
                "format.range",
                "error",
                "番号は 1～99 です",
                "numbers (NO) are 1 to 99",
            )
        ]
    if value < 0 and column.attribute not in ("units", "discounted_units"):
        return [
            (
                "format.negative",
                "warning",
                "負の値です",
                "a negative value",
            )
        ]
    return []


def _decimal_problems(column: Column, value: Decimal) -> list[Problem]:
    text = format(value, "f")
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > 2 or (column.max_length is not None and len(text) > column.max_length):
        return [
            (
                "format.decimal",
                "error",
                "99.99 の形式（小数点以下2桁まで）ではありません",
                "not of the form 99.99 (at most 2 decimals)",
            )
        ]
    return []
