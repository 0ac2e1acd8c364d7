"""Valid units to break one item at a time in the validation tests."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

from careplan_link import (
    ZERO_MONTH,
    FileName,
    Office,
    SupplementRecord,
    Table1Record,
    Table2Record,
    Table3Record,
    get_layout,
    write_file,
)
from careplan_link.format._ms932 import decode, encode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERIAL = "20250325093000"
CARE = Office("1370100016", "43")
PROVIDER = Office("1370200022", "11")


def schedule_unit() -> dict[str, bytes]:
    """The shipped example: 第6表, 第7表 and 補足 for April 2025, two users."""
    return {p.name: p.read_bytes() for p in sorted(EXAMPLES.glob("*.CSV"))}


def name_of(files: dict[str, bytes], prefix: str) -> str:
    return next(n for n in files if n.startswith(prefix + "_"))


def plan_unit() -> dict[str, bytes]:
    key = {
        "insurer_no": "131011",
        "insured_no": "0000012345",
        "plan_date": datetime.date(2025, 3, 1),
    }
    table1 = Table1Record(
        **key,
        created_date=datetime.date(2025, 3, 1),
        planner_name="佐藤",
        care_office_name="ケアプランセンターさくら",
        care_office_no=CARE.number,
        first_plan_date=datetime.date(2024, 4, 1),
        updater_office_no=CARE.number,
    )
    table2 = [
        Table2Record(
            **key,
            created_date=datetime.date(2025, 3, 1),
            need_no=n,
            goal_no=g,
            support_no=s,
            need="歩行が不安定",
            updater_office_no=CARE.number,
        )
        for n, g, s in [(1, 1, 1), (1, 1, 2), (2, 1, 1)]
    ]
    table3 = [
        Table3Record(
            **key,
            created_date=datetime.date(2025, 3, 1),
            weekly_service="訪問介護",
            weekday="1",
            service_start=datetime.time(10, 0),
            service_end=datetime.time(11, 0),
        )
    ]
    supplement = SupplementRecord(
        **key,
        user_name_kana="ヤマダ ハナコ",
        user_name="山田 花子",
        user_sex="2",
        user_birth_date=datetime.date(1940, 5, 3),
        target_month=ZERO_MONTH,
        updater_office_no=CARE.number,
    )
    name = FileName.new("UP1KYO", sender=CARE, receiver=PROVIDER, serial=SERIAL)
    return {
        str(name): write_file([table1], name),
        str(name.sibling("UP2KYO")): write_file(table2, name.sibling("UP2KYO")),
        str(name.sibling("UP3KYO")): write_file(table3, name.sibling("UP3KYO")),
        str(name.sibling("UPHOSOKU", month=ZERO_MONTH)): write_file(
            [supplement], name.sibling("UPHOSOKU", month=ZERO_MONTH)
        ),
    }


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(decode(data), newline="")))


def bytes_of(rows: list[list[str]], layout_id: str) -> bytes:
    """Rows of text back to canonical bytes (free text quoted)."""
    layout = get_layout(layout_id)
    quoted = {c.no - 1 for c in layout.columns if c.quoted}
    lines = []
    for row in rows:
        cells = [
            '"' + v.replace('"', '""') + '"' if i in quoted and v else v for i, v in enumerate(row)
        ]
        lines.append(",".join(cells) + "\r\n")
    return encode("".join(lines))


def edit(
    files: dict[str, bytes], prefix: str, record: int, column: int, text: str
) -> dict[str, bytes]:
    """A copy of `files` with one item (1-based record and column) of one file replaced."""
    name = name_of(files, prefix)
    layout_id = FileName.parse(name).layout_id
    rows = rows_of(files[name])
    rows[record - 1][column - 1] = text
    return {**files, name: bytes_of(rows, layout_id)}
