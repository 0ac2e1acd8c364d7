"""Fuzz validation's column read against the row-by-row read; a command, not a pytest module.

    python tests/format/fuzz_by_column.py [--quick] [--seed N] [--cases N]

`validate` reads each file by column (`_reader.read_for_rules`: blocks of rows typed column by
column, no record made); `read_leniently` types row by row. Both must give the same records,
lines, gaps, issues and columns, or raise the same `FormatError`, whatever the bytes. The
files are 第6表 files of 5 to 1,400 rows (long enough for the typer's blocks and its re-plan
after 1,024 rows), with and without quotes, mutated at random byte positions as another
office's exporter or the network could: quotes, commas, line breaks, digits, spaces, NUL,
multi-byte and 外字 codes, NEC row 13 duplicates, long digit runs inserted, written over or
deleted; read with chunks of 512 bytes to 1 MiB and caps of 300 bytes to 1 MiB.

A case that differs (or raises anything else) is saved under the temporary directory and
named; exit status 0 when none does. `--quick` (CI) runs 300 cases, in about 15 seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from careplan_link import FormatError
from careplan_link.format import _reader
from format.helpers import PLAN_NAME, table6_csv, table6_row

_INSERTS = [
    b'"', b",", b"\r\n", b"\n", b"\r", b"0", b"x", b"-", b" ", b"\x00",
    b"\x82\xa0", b"\xf0\x40", b"\x87\x90", b'""', b"9" * 30,
]  # fmt: skip


def _file(rng: random.Random) -> bytes:
    quoted = rng.random() < 0.7
    rows = [
        table6_row(
            insured_no=f"{n:010d}",
            planner_name=f'"佐藤 {n}"' if quoted else "",
            provider_name=f'"すみれ{n % 7}"' if quoted else "",
            units=str(1000 + n) if rng.random() < 0.9 else str(rng.randint(0, 99)),
            start_time=f"{9 + n % 8:02d}{n % 60:02d}",
            service_count=rng.choice(["1", "1", "2", "01", ""]),
        )
        for n in range(rng.choice([5, 130, 300, 1100, 1400]))
    ]
    data = bytearray(table6_csv(*rows))
    for _ in range(rng.randint(1, 4)):
        at, insert, how = rng.randrange(len(data)), rng.choice(_INSERTS), rng.random()
        if how < 0.4:
            data[at:at] = insert
        elif how < 0.7:
            data[at : at + len(insert)] = insert
        else:
            del data[at : at + rng.randint(1, 5)]
    return bytes(data)


def _outcome(read: Callable[..., Any], data: bytes, cap: int) -> Any:
    try:
        reading = read(data, name=PLAN_NAME, max_record_bytes=cap)
    except FormatError as error:
        return ("error", error.issues)
    file = reading.file
    columns = {c.attribute: list(reading.columns[c.attribute]) for c in file.layout.columns}
    return ("read", tuple(file.records), file.record_lines, file.gaps, reading.issues, columns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 cases (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=5000)
    args = parser.parse_args()
    cases = 300 if args.quick else args.cases
    rng = random.Random(args.seed)
    saved = Path(tempfile.mkdtemp(prefix="fuzz_by_column_"))
    failures = 0
    for case in range(cases):
        data = _file(rng)
        cap = rng.choice([_reader.DEFAULT_MAX_RECORD_BYTES, 1000, 300])
        _reader._CHUNK_SIZE = rng.choice([1 << 20, 4096, 512])
        try:
            by_row = _outcome(_reader.read_leniently, data, cap)
            same = by_row == _outcome(_reader.read_for_rules, data, cap)
        except Exception:
            traceback.print_exc()
            same = False
        if not same:
            failures += 1
            path = saved / f"case{case}_cap{cap}_chunk{_reader._CHUNK_SIZE}.CSV"
            path.write_bytes(data)
            print(f"case {case}: the column read differs from the row read; saved {path}")
    print(f"fuzz_by_column: {cases} cases (seed {args.seed}), {failures} differing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
