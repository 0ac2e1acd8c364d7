"""Hypothesis strategies for the standard's records and files.

    from careplan_link.testing import strategies as cst

    @given(cst.csv_files())
    def test_import(file): ...

Every strategy produces values the library writes and reads back unchanged: codes from their
code tables, identifiers of the right length, free text of MS932 characters including commas,
quotes and line breaks, and the standard's special values (`00000000`, `000000`, `9999`) only
where the standard uses them.
"""

from __future__ import annotations

import datetime
import functools
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ..format import (
    LAYOUTS,
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    Bundle,
    CareplanFile,
    FileName,
    Layout,
    Office,
    Record,
    YearMonth,
    get_layout,
    write_file,
)
from ..format._layout import Column, Kind

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
    """Non-empty free text: MS932 characters, commas, quotes and line breaks (CRLF, LF, CR)."""
    pieces = st.one_of(
        ms932_characters(),
        st.sampled_from([",", '"', "\r\n", "\n", "\r", " ", "　", "髙", "﨑", "①", "㈱", "～"]),
    )
    return st.lists(pieces, min_size=1, max_size=max_size).map("".join)


def offices(with_service_type: bool = True) -> st.SearchStrategy[Office]:
    """Office numbers (10 digits) with a service type (2 characters, digits or letters)."""
    number = st.text(_DIGITS, min_size=10, max_size=10)
    if not with_service_type:
        return st.builds(Office, number)
    service_type = st.sampled_from(["43", "11", "13", "15", "17", "2A", "A1", "46", "78"])
    return st.builds(Office, number, service_type)


def _year_months() -> st.SearchStrategy[YearMonth]:
    return st.builds(YearMonth, st.integers(2000, 2099), st.integers(1, 12))


def _value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
    kind = column.kind
    length = column.max_length
    if kind is Kind.CSV_VERSION:
        return st.just(layout.csv_version)
    if column.code_table is not None:
        return st.sampled_from([code for code, _ in column.code_table.values])
    if kind is Kind.DIGITS:
        return st.text(_DIGITS, min_size=length or 1, max_size=length or 10)
    if kind is Kind.ALPHANUMERIC:
        if column.attribute == "insured_no":
            return st.one_of(
                st.text(_DIGITS, min_size=10, max_size=10),
                st.text(_DIGITS, min_size=9, max_size=9).map(lambda d: "H" + d),
            )
        return st.text(_DIGITS + _UPPER + "-", min_size=1, max_size=length or 12)
    if kind is Kind.CODE:
        return st.text(_DIGITS + _UPPER, min_size=length or 1, max_size=length or 2)
    if kind is Kind.SERVICE_CODE:
        return st.text(_DIGITS + _UPPER, min_size=6, max_size=6)
    if kind is Kind.INTEGER:
        return st.integers(0, 10 ** (length or 2) - 1)
    if kind is Kind.DECIMAL:
        return st.integers(1000, 1500).map(lambda n: Decimal(n).scaleb(-2))
    if kind is Kind.YYYYMM:
        return _year_months()
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
        return free_text()
    raise AssertionError(f"no strategy for {kind}")


def _column_value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
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
    """Valid records of one layout (a `Layout`, or an interface id with a CSVバージョン)."""
    if isinstance(layout, str):
        layout = get_layout(layout, csv_version or "202407")
    fields = {column.attribute: _column_value(layout, column) for column in layout.columns}
    return st.fixed_dictionaries(fields).map(lambda values: layout.record_type(**values))


def file_names(layout: Layout) -> st.SearchStrategy[FileName]:
    """Names for a file of this layout (v4.1 rule for 202407 layouts, v3 rule for 202208)."""
    v4 = layout.csv_version == "202407"
    month: st.SearchStrategy[Any] = st.none()
    if layout.has_month:
        month = (
            st.one_of(_year_months(), st.just(ZERO_MONTH))
            if layout.id == "supplement"
            else (_year_months())
        )
    serial = st.datetimes(datetime.datetime(2020, 1, 1), datetime.datetime(2099, 12, 31)).map(
        lambda moment: moment.strftime("%Y%m%d%H%M%S")
    )
    return st.builds(
        lambda sender, receiver, month, serial: FileName.new(
            layout.prefix, sender=sender, receiver=receiver, month=month, serial=serial
        ),
        offices(v4),
        offices(v4),
        month,
        serial,
    )


@st.composite
def csv_files(
    draw: st.DrawFn,
    layout: Layout | str | None = None,
    csv_version: str | None = None,
    max_records: int = 5,
) -> CareplanFile:
    """A valid file: a name and records of one layout (any layout if none is given)."""
    if layout is None:
        chosen = draw(layouts(csv_version))
    elif isinstance(layout, str):
        chosen = get_layout(layout, csv_version or "202407")
    else:
        chosen = layout
    name = draw(file_names(chosen))
    rows = draw(st.lists(records(chosen), min_size=0, max_size=max_records))
    return CareplanFile(
        name=name,
        layout=chosen,
        csv_version=chosen.csv_version if rows else None,
        records=tuple(rows),
    )


# -- whole transmission units -------------------------------------------------------------------

_SERVICE_CODES = ["111111", "112211", "131111", "151111", "161111", "781111", "A21111"]
_SERVICE_TYPES_OF_PROVIDERS = ["11", "13", "15", "16", "78", "A2"]


@st.composite
def _users(draw: st.DrawFn, max_users: int) -> list[tuple[str, str]]:
    insured = st.one_of(
        st.text(_DIGITS, min_size=10, max_size=10),
        st.text(_DIGITS, min_size=9, max_size=9).map(lambda d: "H" + d),
    )
    pairs = st.tuples(st.text(_DIGITS, min_size=6, max_size=6), insured)
    return draw(st.lists(pairs, min_size=1, max_size=max_users, unique=True))


def _fill(layout: Layout, draw: st.DrawFn, **fixed: Any) -> Record:
    """A valid record with some items fixed (the others drawn, required ones non-empty)."""
    values = {
        column.attribute: fixed[column.attribute]
        if column.attribute in fixed
        else draw(_column_value(layout, column))
        for column in layout.columns
    }
    if "identifier" in values:
        values["identifier"] = None  # 識別子 is not used by the standard
    return layout.record_type(**values)


def _supplement(draw: st.DrawFn, user: tuple[str, str], **fixed: Any) -> Record:
    layout = get_layout("supplement")
    slots = {
        f"slot{n}_{part}": None
        for n in range(1, 10)
        for part in ("service_type", "benefit_limit", "total_units", "excess_units")
    }
    return _fill(layout, draw, insurer_no=user[0], insured_no=user[1], **slots, **fixed)


def _unit_offices(draw: st.DrawFn) -> tuple[Office, Office]:
    care = Office(draw(st.text(_DIGITS, min_size=10, max_size=10)), "43")
    provider = Office(
        draw(st.text(_DIGITS, min_size=10, max_size=10).filter(lambda n: n != care.number)),
        draw(st.sampled_from(_SERVICE_TYPES_OF_PROVIDERS)),
    )
    return care, provider


def _serial(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime.datetime(2025, 4, 1), datetime.datetime(2030, 12, 31)))
    return moment.strftime("%Y%m%d%H%M%S")


@st.composite
def schedule_units(draw: st.DrawFn, max_users: int = 3, max_services: int = 4) -> Bundle:
    """A valid schedule unit (予定): 第6表 + 第7表 + 利用者補足情報 for a few users."""
    care, provider = _unit_offices(draw)
    month = draw(st.builds(YearMonth, st.integers(2025, 2030), st.integers(1, 12)))
    if (month.year, month.month) < (2025, 4):
        month = YearMonth(2025, 4)
    serial = _serial(draw)
    table6 = get_layout("table6_plan")
    table7 = get_layout("table7")
    plan_rows: list[Record] = []
    total_rows: list[Record] = []
    supplements: list[Record] = []
    created = datetime.date(month.year, month.month, 1) - datetime.timedelta(days=1)
    for user in draw(_users(max_users)):
        codes = draw(
            st.lists(
                st.sampled_from(_SERVICE_CODES), min_size=1, max_size=max_services, unique=True
            )
        )
        common = {
            "insurer_no": user[0],
            "insured_no": user[1],
            "target_month": month,
            "created_date": created,
            "updater_office_no": care.number,
        }
        for code in codes:
            day = draw(st.integers(1, 28))
            start = draw(st.integers(6, 20))
            timed = draw(st.booleans())
            plan_rows.append(
                _fill(
                    table6,
                    draw,
                    **common,
                    plan_office_no=care.number,
                    service_code=code,
                    service_date=datetime.date(month.year, month.month, day),
                    start_time=datetime.time(start, 0) if timed else NO_TIME,
                    end_time=datetime.time(start + 1, 0) if timed else NO_TIME,
                    provider_office_no=provider.number,
                    **_PLAIN_SERVICE_LINE,
                )
            )
        by_type: dict[str, list[str]] = {}
        for code in codes:
            by_type.setdefault(code[:2], []).append(code)
        for service_type, type_codes in by_type.items():
            for code in type_codes:
                total_rows.append(_table7_row(table7, draw, common, provider.number, code, 100))
            if len(type_codes) > 1:
                total_rows.append(
                    _table7_row(table7, draw, common, provider.number, service_type + "AAAA", 0)
                )
        total_rows.append(_table7_row(table7, draw, common, "9999999999", "999999", 0))
        supplements.append(
            _supplement(
                draw, user, plan_date=ZERO_DATE, target_month=month, updater_office_no=care.number
            )
        )
    name = FileName.new("UPPLAN", sender=care, receiver=provider, month=month, serial=serial)
    return _bundle(
        {
            name: plan_rows,
            name.sibling("UPSIKYU"): total_rows,
            name.sibling("UPHOSOKU"): supplements,
        }
    )


# A service line that is not 福祉用具 and not prorated: the items valid data leaves empty.
_PLAIN_SERVICE_LINE: dict[str, Any] = {
    "tais_code": None,
    "equipment_notification_code": None,
    "equipment_name": None,
    "detail_no": None,
    "prorated_days": None,
}


def _table7_row(
    layout: Layout, draw: st.DrawFn, common: dict[str, Any], office: str, code: str, units: int
) -> Record:
    return _fill(
        layout,
        draw,
        **common,
        provider_office_no=office,
        service_code=code,
        units=units,
        tais_code=None,
        equipment_notification_code=None,
        equipment_name=None,
        discount_rate=None,
        discounted_units=None,
    )


@st.composite
def plan_units(draw: st.DrawFn, max_users: int = 3, max_lines: int = 4) -> Bundle:
    """A valid plan unit: 第1表 + 第2表 + 第3表 + 利用者補足情報 (month 000000)."""
    care, provider = _unit_offices(draw)
    serial = _serial(draw)
    table1, table2, table3 = (get_layout(i) for i in ("table1", "table2", "table3"))
    rows: dict[str, list[Record]] = {"table1": [], "table2": [], "table3": [], "supplement": []}
    for user in draw(_users(max_users)):
        plan_date = draw(st.dates(datetime.date(2024, 1, 1), datetime.date(2030, 12, 31)))
        key = {"insurer_no": user[0], "insured_no": user[1], "plan_date": plan_date}
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
        for need_no, goal_no, support_no in numbers:
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
        for _ in range(draw(st.integers(1, max_lines))):
            rows["table3"].append(_fill(table3, draw, **key))
        rows["supplement"].append(
            _supplement(
                draw,
                user,
                plan_date=plan_date,
                target_month=ZERO_MONTH,
                updater_office_no=care.number,
            )
        )
    name = FileName.new("UP1KYO", sender=care, receiver=provider, serial=serial)
    return _bundle(
        {
            name: rows["table1"],
            name.sibling("UP2KYO"): rows["table2"],
            name.sibling("UP3KYO"): rows["table3"],
            name.sibling("UPHOSOKU", month=ZERO_MONTH): rows["supplement"],
        }
    )


@st.composite
def results_units(draw: st.DrawFn, max_users: int = 3, max_services: int = 4) -> Bundle:
    """A valid results unit (実績, UPJSK) from a provider to its care-manager office."""
    care, provider = _unit_offices(draw)
    month = YearMonth(draw(st.integers(2025, 2030)), draw(st.integers(4, 12)))
    layout = get_layout("table6_actual")
    rows = []
    for user in draw(_users(max_users)):
        for code in draw(
            st.lists(st.sampled_from(_SERVICE_CODES), min_size=1, max_size=max_services)
        ):
            day = draw(st.integers(1, 28))
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
                    service_date=datetime.date(month.year, month.month, day),
                    start_time=datetime.time(9, 0),
                    end_time=datetime.time(10, 0),
                    provider_office_no=provider.number,
                    **_PLAIN_SERVICE_LINE,
                )
            )
    name = FileName.new("UPJSK", sender=provider, receiver=care, month=month, serial=_serial(draw))
    return _bundle({name: rows})


def units() -> st.SearchStrategy[Bundle]:
    """Any valid unit: plan, schedule or results."""
    return st.one_of(plan_units(), schedule_units(), results_units())


def _bundle(files: dict[FileName, list[Record]]) -> Bundle:
    return Bundle.from_files({str(name): write_file(rows, name) for name, rows in files.items()})
