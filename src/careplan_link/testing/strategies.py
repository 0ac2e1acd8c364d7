"""Hypothesis strategies for the standard's records, files and transmission units.

    from careplan_link.testing import strategies as cst

    @given(cst.csv_files())
    def test_import(file): ...

Each strategy yields what its name says, and the project's tests hold it to that over many
examples: `records` yields records whose every item is valid on its own; `csv_files` yields
files that validate with no issue at all except the `unit.*` ones a lone file must have (a
第6表 without its 第7表 is an incomplete unit); `plan_units`, `schedule_units`, `results_units`
and `units` yield units that validate clean. Values are written and read back unchanged: codes
from their code tables, identifiers of the right length (事業所番号 and 保険者番号 with a
都道府県番号 01-47 and their published check digit), free text of MS932 characters including
commas, quotes and line breaks, the standard's special values (`00000000`, `000000`, `9999`) only
where the standard uses them, and service months whose CSVバージョン is the one the layout has
(202407 from service month 2025-04, 202208 from 2023-01 to 2025-03).
"""

from __future__ import annotations

import calendar
import datetime
import functools
import operator
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ..format import (
    CSV_VERSION_CURRENT,
    EDITIONS,
    LAYOUTS,
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    Bundle,
    CareplanFile,
    Edition,
    FileName,
    Layout,
    Office,
    Record,
    YearMonth,
    ZeroMonth,
    build_table7,
    get_layout,
    write_file,
)
from ..format._item_rules import _IDENTIFIER_COLUMNS
from ..format._layout import Column, Kind
from ..identifiers import insurer_number, office_number

__all__ = [
    "csv_files",
    "file_names",
    "free_text",
    "layouts",
    "ms932_characters",
    "offices",
    "plan_units",
    "records",
    "results_units",
    "schedule_units",
    "units",
]

_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Where the standard puts its special values: (interface, attribute) → special value.
_SPECIAL_VALUES: dict[tuple[str, str], Any] = {
    ("supplement", "plan_date"): ZERO_DATE,
    ("supplement", "target_month"): ZERO_MONTH,
    ("table6_plan", "start_time"): NO_TIME,
    ("table6_plan", "end_time"): NO_TIME,
    ("table6_actual", "start_time"): NO_TIME,
    ("table6_actual", "end_time"): NO_TIME,
}

# Service codes of services inside the standard's scope that are neither 福祉用具貸与 (which needs
# a TAISコード) nor billed per month: a 第6表 line of one of them stands on its own.
_SERVICE_CODES = ["111111", "112211", "131111", "151111", "161111", "781111", "A21111"]
_SERVICE_TYPES_OF_PROVIDERS = ["11", "13", "15", "16", "78", "A2"]

# The last service month drawn for the newest edition, which has no end yet.
_LAST_MONTH = YearMonth(2030, 12)


@functools.cache
def _ms932_alphabet() -> tuple[str, ...]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xF0), *range(0xFA, 0xFD)]:
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
            try:
                chars.add(bytes((lead, trail)).decode("cp932"))
            except UnicodeDecodeError:
                continue
    chars.update(bytes((b,)).decode("cp932") for b in range(0xA1, 0xE0))  # half-width kana
    chars = {c for c in chars if not ("\ue000" <= c <= "\uf8ff")}
    return tuple(sorted(chars))


def ms932_characters() -> st.SearchStrategy[str]:
    """Single characters of MS932 (JIS X 0208, NEC and IBM extensions, half-width kana)."""
    return st.sampled_from(_ms932_alphabet())


def free_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-empty free text of at most `max_size` characters: MS932 characters, commas, quotes
    and line breaks (CRLF, LF, CR)."""
    pieces = st.one_of(
        ms932_characters(),
        st.sampled_from([",", '"', "\r\n", "\n", "\r", " ", "　", "髙", "﨑", "①", "㈱", "～"]),
    )
    # A CRLF piece counts two characters: cut to the size (a cut CRLF leaves a valid CR).
    return st.lists(pieces, min_size=1, max_size=max_size).map(lambda p: "".join(p)[:max_size])


def _prefectures() -> st.SearchStrategy[str]:
    return st.integers(1, 47).map("{:02d}".format)


def _office_numbers() -> st.SearchStrategy[str]:
    """事業所番号: 都道府県番号 01-47, 7 digits, and the published check digit."""
    first_nine = st.builds(operator.add, _prefectures(), st.text(_DIGITS, min_size=7, max_size=7))
    return first_nine.map(lambda nine: nine + office_number.calc_check_digit(nine))


def _insurer_numbers() -> st.SearchStrategy[str]:
    """保険者番号: 都道府県番号 01-47, 3 digits, and the published check digit."""
    first_five = st.builds(operator.add, _prefectures(), st.text(_DIGITS, min_size=3, max_size=3))
    return first_five.map(lambda five: five + insurer_number.calc_check_digit(five))


# The strategy of each column holding a 事業所番号 or a 保険者番号, the columns whose published
# structure validation warns about.
_IDENTIFIER_STRATEGIES = {office_number: _office_numbers, insurer_number: _insurer_numbers}


def offices(with_service_type: bool = True) -> st.SearchStrategy[Office]:
    """Office numbers (10 digits: 都道府県番号 01-47 and the published check digit, so that
    validation gives no `identifier.*` warning) with a service type (2 characters, digits or
    letters)."""
    number = _office_numbers()
    if not with_service_type:
        return st.builds(Office, number)
    service_type = st.sampled_from(["43", "11", "13", "15", "17", "2A", "A1", "46", "78"])
    return st.builds(Office, number, service_type)


def _year_months(csv_version: str = CSV_VERSION_CURRENT) -> st.SearchStrategy[YearMonth]:
    """Service months that the CSVバージョン (or layout family) applies to."""
    start, end = EDITIONS.months(_edition(csv_version))
    if end is None:
        end = max(_LAST_MONTH, YearMonth(start.year + 5, start.month))
    first = start.year * 12 + start.month - 1
    last = end.year * 12 + end.month - 1
    return st.integers(first, last).map(lambda n: YearMonth(n // 12, n % 12 + 1))


def _edition(csv_version: str) -> Edition:
    """The edition of a CSVバージョン value or of a layout family (`Layout.csv_version`)."""
    return EDITIONS.by_value(csv_version) or EDITIONS.for_family(csv_version)


def _value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
    kind = column.kind
    length = column.max_length
    if kind is Kind.CSV_VERSION:
        return st.just(layout.csv_version)
    if column.code_table is not None:
        return st.sampled_from([code for code, _ in column.code_table.values])
    if kind is Kind.DIGITS:
        identifier = _IDENTIFIER_COLUMNS.get(column.attribute)
        if identifier is not None and length == identifier.LENGTH:
            return _IDENTIFIER_STRATEGIES[identifier]()
        return st.text(_DIGITS, min_size=length or 1, max_size=length or 10)
    if kind is Kind.ALPHANUMERIC:
        if column.attribute == "insured_no":
            return _insured_numbers()
        return st.text(_DIGITS + _UPPER + "-", min_size=1, max_size=length or 12)
    if kind is Kind.CODE:
        return st.text(_DIGITS + _UPPER, min_size=length or 1, max_size=length or 2)
    if kind is Kind.SERVICE_CODE:
        return st.sampled_from(_SERVICE_CODES)
    if kind is Kind.INTEGER:
        if layout.id == "table2" and column.attribute in ("need_no", "goal_no", "support_no"):
            return st.integers(1, 99)  # the numbering runs 1-99
        return st.integers(0, 10 ** (length or 2) - 1)
    if kind is Kind.DECIMAL:
        return st.integers(1000, 1500).map(lambda n: Decimal(n).scaleb(-2))
    if kind is Kind.YYYYMM:
        return _year_months(layout.csv_version)
    if kind is Kind.YYYYMMDD:
        return st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31))
    if kind is Kind.HHMM:
        return st.builds(datetime.time, st.integers(0, 23), st.integers(0, 59))
    if kind is Kind.POSTAL_CODE:
        return st.tuples(
            st.text(_DIGITS, min_size=3, max_size=3), st.text(_DIGITS, min_size=4, max_size=4)
        ).map("-".join)
    if kind is Kind.PHONE:
        return st.text(_DIGITS + "-", min_size=1, max_size=length or 15)
    if kind is Kind.FLAG31:
        return st.text("01", min_size=31, max_size=31)
    if kind is Kind.FREE_TEXT:
        return free_text(min(length, 40) if length else 40)
    raise AssertionError(f"no strategy for {kind}")


def _insured_numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(_DIGITS, min_size=10, max_size=10),
        st.text(_DIGITS, min_size=9, max_size=9).map(lambda d: "H" + d),
    )


def _column_value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
    if column.attribute == "identifier":
        return st.none()  # 識別子 is not used by the standard: always empty
    value = _value(layout, column)
    special = _SPECIAL_VALUES.get((layout.id, column.attribute))
    if special is not None:
        value = st.one_of(value, st.just(special))
    if column.required or column.kind is Kind.CSV_VERSION:
        return value
    return st.one_of(st.none(), value)


def layouts(csv_version: str | None = None) -> st.SearchStrategy[Layout]:
    """Any layout (of one CSVバージョン family if given)."""
    chosen = [
        layout
        for (_, family), layout in sorted(LAYOUTS.items())
        if csv_version is None or family == csv_version
    ]
    return st.sampled_from(chosen)


def records(layout: Layout | str, csv_version: str | None = None) -> st.SearchStrategy[Record]:
    """Records of one layout (a `Layout`, or an interface id with a CSVバージョン) whose every
    item is valid on its own. Rules between items and records (months, totals, keys) are kept
    by `csv_files` and the unit strategies, which build on these."""
    if isinstance(layout, str):
        layout = get_layout(layout, csv_version or CSV_VERSION_CURRENT)
    fields = {column.attribute: _column_value(layout, column) for column in layout.columns}
    return st.fixed_dictionaries(fields).map(lambda values: layout.record_type(**values))


def file_names(layout: Layout) -> st.SearchStrategy[FileName]:
    """Names for a file of this layout (v4.1 rule for 202407 layouts, v3 rule for 202208), with
    a service month the layout's CSVバージョン applies to."""
    v4 = _edition(layout.csv_version).names_carry_service_types
    month: st.SearchStrategy[Any] = st.none()
    if layout.has_month:
        month = _year_months(layout.csv_version)
        if layout.id == "supplement":
            month = st.one_of(month, st.just(ZERO_MONTH))
    return st.builds(
        lambda sender, receiver, month, serial: FileName.new(
            layout.prefix, sender=sender, receiver=receiver, month=month, serial=serial
        ),
        offices(v4),
        offices(v4),
        month,
        st.builds(_serial_text, st.datetimes(datetime.datetime(2020, 1, 1), _LAST_SERIAL)),
    )


_LAST_SERIAL = datetime.datetime(2099, 12, 31)


def _serial_text(moment: datetime.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


# -- files ----------------------------------------------------------------------------------------


@st.composite
def csv_files(
    draw: st.DrawFn,
    layout: Layout | str | None = None,
    csv_version: str | None = None,
    max_records: int = 5,
) -> CareplanFile:
    """A file of one layout (any layout if none is given) that validates with no issue but the
    `unit.*` ones of a lone file: its name, months, offices, keys and totals agree.

    It holds 1 to `max_records` records; a 第7表 holds the lines, subtotals and total of up to
    `max_records` users' services, so it can hold more.
    """
    if layout is None:
        chosen = draw(layouts(csv_version))
    elif isinstance(layout, str):
        chosen = get_layout(layout, csv_version or CSV_VERSION_CURRENT)
    else:
        chosen = layout
    version = chosen.csv_version
    v4 = _edition(version).names_carry_service_types
    sender, receiver = _unit_offices(draw, v4)
    if chosen.id == "table6_actual":
        sender, receiver = receiver, sender  # 実績 go from the provider to the care manager
    month: YearMonth | ZeroMonth | None = None
    if chosen.has_month:
        month = draw(_year_months(version))
    if chosen.id == "supplement" and draw(st.booleans()):
        month = ZERO_MONTH  # a plan's 補足
    name = FileName.new(
        chosen.prefix, sender=sender, receiver=receiver, month=month, serial=_serial(draw)
    )
    limit = max(1, max_records)
    rows: list[Record]
    if chosen.id in ("table1", "table2", "table3") or (
        chosen.id == "supplement" and month is ZERO_MONTH
    ):
        content = _plan_content(
            draw, version, sender, max_users=limit, max_lines=limit, wanted=frozenset({chosen.id})
        )
        rows = content[chosen.id]
    elif chosen.id in ("table6_plan", "table7", "supplement"):
        assert isinstance(month, YearMonth)
        plan_rows, total_rows, supplements = _schedule_content(
            draw, version, month, sender, receiver, max_users=limit, max_services=2
        )
        rows = {"table6_plan": plan_rows, "table7": total_rows, "supplement": supplements}[
            chosen.id
        ]
    elif chosen.id == "table6_actual":
        assert isinstance(month, YearMonth)
        rows = _results_content(draw, version, month, receiver, sender, max_users=limit)
    else:
        rows = [
            _fill(chosen, draw, **_coherent_items(chosen, name))
            for _ in range(draw(st.integers(1, limit)))
        ]
    if chosen.id != "table7":
        rows = rows[:limit]  # any subset of these records is still consistent
    return CareplanFile(name=name, layout=chosen, csv_version=version, records=tuple(rows))


def _coherent_items(layout: Layout, name: FileName) -> dict[str, Any]:
    """Items that must agree with the file name: the updater and the month items."""
    fixed: dict[str, Any] = {}
    attributes = {column.attribute for column in layout.columns}
    if "updater_office_no" in attributes:
        fixed["updater_office_no"] = name.sender.number
    month = name.service_month
    for attribute in ("target_month", "deletion_month"):
        if attribute in attributes and isinstance(month, YearMonth):
            fixed[attribute] = month
    return fixed


# -- whole transmission units -------------------------------------------------------------------


@st.composite
def _users(draw: st.DrawFn, max_users: int) -> list[tuple[str, str]]:
    pairs = st.tuples(_insurer_numbers(), _insured_numbers())
    return draw(st.lists(pairs, min_size=1, max_size=max_users, unique=True))


def _fill(layout: Layout, draw: st.DrawFn, **fixed: Any) -> Record:
    """A record with some items fixed (those the layout has), the others drawn item-valid."""
    values = {
        column.attribute: fixed[column.attribute]
        if column.attribute in fixed
        else draw(_column_value(layout, column))
        for column in layout.columns
    }
    return layout.record_type(**values)


def _supplement(draw: st.DrawFn, layout: Layout, user: tuple[str, str], **fixed: Any) -> Record:
    # Service-type limit slots are filled from slot 1 in order: the first `filled` drawn.
    filled = draw(st.integers(0, 9))
    slots = {
        f"slot{n}_{part}": None
        for n in range(filled + 1, 10)
        for part in ("service_type", "benefit_limit", "total_units", "excess_units")
    }
    for n in range(1, filled + 1):
        slot = layout.column(f"slot{n}_service_type")
        slots[f"slot{n}_service_type"] = draw(_value(layout, slot))
    return _fill(layout, draw, insurer_no=user[0], insured_no=user[1], **slots, **fixed)


def _unit_offices(draw: st.DrawFn, v4: bool = True) -> tuple[Office, Office]:
    """A care-manager office (43) and a provider, different offices."""
    number = _office_numbers()
    care_no = draw(number)
    provider_no = draw(number.filter(lambda n: n != care_no))
    if not v4:
        return Office(care_no), Office(provider_no)
    return Office(care_no, "43"), Office(
        provider_no, draw(st.sampled_from(_SERVICE_TYPES_OF_PROVIDERS))
    )


def _serial(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime.datetime(2025, 4, 1), datetime.datetime(2030, 12, 31)))
    return _serial_text(moment)


def _day_of(draw: st.DrawFn, month: YearMonth) -> datetime.date:
    last = calendar.monthrange(month.year, month.month)[1]
    return datetime.date(month.year, month.month, draw(st.integers(1, last)))


def _service_times(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        start = draw(st.integers(6, 20))
        return {"start_time": datetime.time(start, 0), "end_time": datetime.time(start + 1, 0)}
    return {"start_time": NO_TIME, "end_time": NO_TIME}  # 9999 comes in pairs


# A service line that is not 福祉用具 and not prorated: the items valid data leaves empty.
_PLAIN_SERVICE_LINE: dict[str, Any] = {
    "tais_code": None,
    "equipment_notification_code": None,
    "equipment_name": None,
    "detail_no": None,
    "prorated_days": None,
}


def _schedule_content(
    draw: st.DrawFn,
    version: str,
    month: YearMonth,
    care: Office,
    provider: Office,
    *,
    max_users: int,
    max_services: int,
) -> tuple[list[Record], list[Record], list[Record]]:
    """The 第6表, 第7表 and 補足 records of one month's schedule, consistent with each other."""
    table6 = get_layout("table6_plan", version)
    supplement = get_layout("supplement", version)
    plan_rows: list[Record] = []
    supplements: list[Record] = []
    created = datetime.date(month.year, month.month, 1) - datetime.timedelta(days=1)
    for user in draw(_users(max_users)):
        codes = draw(
            st.lists(
                st.sampled_from(_SERVICE_CODES), min_size=1, max_size=max_services, unique=True
            )
        )
        for code in codes:
            plan_rows.append(
                _fill(
                    table6,
                    draw,
                    insurer_no=user[0],
                    insured_no=user[1],
                    target_month=month,
                    created_date=created,
                    updater_office_no=care.number,
                    plan_office_no=care.number,
                    service_code=code,
                    service_date=_day_of(draw, month),
                    provider_office_no=provider.number,
                    # Figures of a real month, so the computed 第7表 fits its item lengths.
                    units=draw(st.one_of(st.just(0), st.integers(1, 999))),
                    service_count=draw(st.integers(1, 3)),
                    **_service_times(draw),
                    **_PLAIN_SERVICE_LINE,
                )
            )
        supplements.append(
            _supplement(
                draw,
                supplement,
                user,
                plan_date=ZERO_DATE,
                target_month=month,
                updater_office_no=care.number,
            )
        )
    total_rows = _table7_for_schedule(draw, get_layout("table7", version), plan_rows, supplements)
    return plan_rows, total_rows, supplements


def _table7_for_schedule(
    draw: st.DrawFn, layout: Layout, schedule: list[Record], supplements: list[Record]
) -> list[Record]:
    """The 第7表 of a month's 第6表 records, computed by `build_table7` (the month's
    arithmetic): a line per service code, 種類別小計, the 全合計, the 支給限度 split by the
    補足's 区分支給限度基準額 and the money at a drawn unit price and benefit rate."""
    sheets = build_table7(
        schedule,
        unit_price=draw(st.sampled_from(["10.00", "10.21", "10.72", "11.40"])),
        benefit_rate=draw(st.sampled_from([90, 80, 70])),
        supplements=supplements,  # type: ignore[arg-type]
    )
    first: Any = schedule[0]
    return [
        record
        for sheet in sheets
        for record in sheet.records(
            created_date=first.created_date,
            updater_office_no=first.updater_office_no,
            csv_version=layout.csv_version,
        )
    ]


@st.composite
def schedule_units(draw: st.DrawFn, max_users: int = 3, max_services: int = 4) -> Bundle:
    """A schedule unit (予定) that validates clean: 第6表 + 第7表 + 利用者補足情報 for a few
    users."""
    care, provider = _unit_offices(draw)
    month = draw(_year_months(CSV_VERSION_CURRENT))
    plan_rows, total_rows, supplements = _schedule_content(
        draw,
        CSV_VERSION_CURRENT,
        month,
        care,
        provider,
        max_users=max_users,
        max_services=max_services,
    )
    name = FileName.new("UPPLAN", sender=care, receiver=provider, month=month, serial=_serial(draw))
    return _bundle(
        {
            name: plan_rows,
            name.sibling("UPSIKYU"): total_rows,
            name.sibling("UPHOSOKU"): supplements,
        }
    )


def _plan_content(
    draw: st.DrawFn,
    version: str,
    care: Office,
    *,
    max_users: int,
    max_lines: int,
    wanted: frozenset[str] = frozenset({"table1", "table2", "table3", "supplement"}),
) -> dict[str, list[Record]]:
    """The 第1表, 第2表, 第3表 (v4) and 補足 (month 000000) records of a plan unit (those
    `wanted`: drawing the others would only cost time)."""
    rows: dict[str, list[Record]] = {"table1": [], "table2": [], "table3": [], "supplement": []}
    table1, table2 = get_layout("table1", version), get_layout("table2", version)
    supplement = get_layout("supplement", version)
    for user in draw(_users(max_users)):
        plan_date = draw(st.dates(datetime.date(2024, 1, 1), datetime.date(2030, 12, 31)))
        key = {"insurer_no": user[0], "insured_no": user[1], "plan_date": plan_date}
        if "table1" in wanted:
            rows["table1"].append(_fill(table1, draw, **key, updater_office_no=care.number))
        numbers = sorted(
            draw(
                st.lists(
                    st.tuples(st.integers(1, 99), st.integers(1, 99), st.integers(1, 99)),
                    min_size=1,
                    max_size=max_lines,
                    unique=True,
                )
            )
        )
        for need_no, goal_no, support_no in numbers if "table2" in wanted else ():
            rows["table2"].append(
                _fill(
                    table2,
                    draw,
                    **key,
                    need_no=need_no,
                    goal_no=goal_no,
                    support_no=support_no,
                    updater_office_no=care.number,
                )
            )
        if "table3" in wanted and ("table3", version) in LAYOUTS:
            table3 = get_layout("table3", version)
            for _ in range(draw(st.integers(1, max_lines))):
                rows["table3"].append(_fill(table3, draw, **key))
        if "supplement" not in wanted:
            continue
        rows["supplement"].append(
            _supplement(
                draw,
                supplement,
                user,
                plan_date=plan_date,
                target_month=ZERO_MONTH,
                updater_office_no=care.number,
            )
        )
    return rows


@st.composite
def plan_units(draw: st.DrawFn, max_users: int = 3, max_lines: int = 4) -> Bundle:
    """A plan unit that validates clean: 第1表 + 第2表 + 第3表 + 利用者補足情報 (month 000000)."""
    care, provider = _unit_offices(draw)
    rows = _plan_content(draw, CSV_VERSION_CURRENT, care, max_users=max_users, max_lines=max_lines)
    name = FileName.new("UP1KYO", sender=care, receiver=provider, serial=_serial(draw))
    return _bundle(
        {
            name: rows["table1"],
            name.sibling("UP2KYO"): rows["table2"],
            name.sibling("UP3KYO"): rows["table3"],
            name.sibling("UPHOSOKU", month=ZERO_MONTH): rows["supplement"],
        }
    )


def _results_content(
    draw: st.DrawFn,
    version: str,
    month: YearMonth,
    care: Office,
    provider: Office,
    *,
    max_users: int,
    max_services: int = 4,
) -> list[Record]:
    """The 第6表 実績 records of a provider for one month."""
    layout = get_layout("table6_actual", version)
    rows = []
    for user in draw(_users(max_users)):
        for code in draw(
            st.lists(st.sampled_from(_SERVICE_CODES), min_size=1, max_size=max_services)
        ):
            rows.append(
                _fill(
                    layout,
                    draw,
                    insurer_no=user[0],
                    insured_no=user[1],
                    target_month=month,
                    plan_office_no=care.number,
                    updater_office_no=provider.number,
                    service_code=code,
                    service_date=_day_of(draw, month),
                    provider_office_no=provider.number,
                    **_service_times(draw),
                    **_PLAIN_SERVICE_LINE,
                )
            )
    return rows


@st.composite
def results_units(draw: st.DrawFn, max_users: int = 3, max_services: int = 4) -> Bundle:
    """A results unit (実績, UPJSK) from a provider to its care-manager office that validates
    clean."""
    care, provider = _unit_offices(draw)
    month = draw(_year_months(CSV_VERSION_CURRENT))
    rows = _results_content(
        draw,
        CSV_VERSION_CURRENT,
        month,
        care,
        provider,
        max_users=max_users,
        max_services=max_services,
    )
    name = FileName.new("UPJSK", sender=provider, receiver=care, month=month, serial=_serial(draw))
    return _bundle({name: rows})


def units() -> st.SearchStrategy[Bundle]:
    """Any unit that validates clean: plan, schedule or results."""
    return st.one_of(plan_units(), schedule_units(), results_units())


def _bundle(files: dict[FileName, list[Record]]) -> Bundle:
    return Bundle.from_files({str(name): write_file(rows, name) for name, rows in files.items()})
