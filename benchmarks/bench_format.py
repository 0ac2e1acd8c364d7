"""Speed and memory of reading and writing standard files, as ratios to floors of the same run.

    python benchmarks/bench_format.py            # 1k and 100k records of two shapes, 1M streaming
    python benchmarks/bench_format.py --quick    # the same at 1k and 100k, 50k streaming (CI)

Two shapes of spec-shaped 第6表 (UPPLAN), 第7表 (UPSIKYU) and 利用者補足情報 (UPHOSOKU) files:
*realistic* (hundreds of users, every day of the month, few distinct values per column, so the
per-column caches hit) and *distinct* (every value of every free column different, so they miss).
For each it prints time ratios (lower is better) against floors timed in the same run:
- read: MS932 decode + `csv.reader` into lists. Both sides run with the garbage collector
  paused, after a full collection, as in bench_validate: `parse_plan` pauses it while it makes
  records, and a floor with the collector on is ~2x slower for reasons unrelated to the work
  (it would flatter the ratio). Neither side pays the young-generation collection that follows
  when the collector is resumed: `parse_plan` resumes it before it returns and would pay one
  over its records (0.15-0.3 of the floor), the paused floor would pay one over its rows only
  after the clock stops (0.25-0.6 of the floor, lists of strings being larger than records),
  so timing one and not the other would compare unequal work. Targets at 100k records:
  `parse_plan` ≤ 1.8x (realistic), ≤ 3.0x (distinct);
- write: `csv.writer(QUOTE_ALL)` into text + MS932 encode. Targets: `write_file` ≤ 1.5x
  (realistic), ≤ 2.5x (distinct);
- every layout of v4.1 at 1k records (records drawn by the library's strategies): `parse_plan`
  ≤ 3.0x the read floor;
- the growth of peak RSS while `iter_records` streams 1M records (target < 50 MB), measured in a
  fresh process so that nothing else of this run counts.
Machines are noisy: the library and its floors take turns, each timed in CPU time
(`_timing.turns`), and the judged figure is the median of the turns' own ratios
(`_timing.Ratio`; the ratio of each side's least time is printed beside it).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from _timing import Ratio, turns
from careplan_link import iter_records, parse_plan, write_file  # noqa: F401  (iter_records: child)

DATA = Path(__file__).resolve().parent / ".data"
SENDER, RECEIVER, SERIAL = "1370100016_43", "1370200022_11", "20250325093000"
NAMES = {
    "table6": f"UPPLAN_202504_{SENDER}_{RECEIVER}_{SERIAL}.CSV",
    "table7": f"UPSIKYU_202504_{SENDER}_{RECEIVER}_{SERIAL}.CSV",
    "supplement": f"UPHOSOKU_202504_{SENDER}_{RECEIVER}_{SERIAL}.CSV",
}
# Time ratios to the floors (lower is better), judged from 100k records.
READ_TARGETS = {"realistic": 1.8, "distinct": 3.0}
WRITE_TARGETS = {"realistic": 1.5, "distinct": 2.5}
SMALL_TARGET = 3.0
# JIS X 0208 names only: the plain writer (the floor) encodes with Python's cp932, which writes
# IBM-extension characters such as 髙 differently from Windows (and so from write_file).
FAMILY = ["山田", "佐藤", "高橋", "鈴木", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "崎山"]
GIVEN = ["花子", "一郎", "幸子", "健太", "和子", "正夫", "美智子", "清", "トメ", "ハル"]


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class _Values:
    """Values of one shape: few repeated ones (realistic) or a new one each time (distinct)."""

    def __init__(self, rng: random.Random, distinct: bool) -> None:
        self.rng, self.distinct, self.n = rng, distinct, 0

    def pick(self, choices: list[str]) -> str:
        return self.rng.choice(choices)

    def name(self, fixed: str) -> str:
        self.n += 1
        return _q(f"{fixed}{self.n}" if self.distinct else fixed)

    def units(self, choices: list[int]) -> int:
        return self.rng.randint(1, 9999) if self.distinct else self.rng.choice(choices)

    def code(self, choices: list[str]) -> str:
        return str(self.rng.randint(110000, 999999)) if self.distinct else self.rng.choice(choices)

    def start(self) -> str:
        if self.distinct:
            return f"{self.rng.randint(0, 22):02d}{self.rng.randint(0, 59):02d}"
        return self.rng.choice(["0900", "1000", "1330", "1500", "9999"])


def _table6_row(v: _Values, user: int) -> list[str]:
    day = v.rng.randint(1, 30)
    start = v.start()
    end = "9999" if start == "9999" else f"{int(start[:2]) + 1:02d}{start[2:]}"
    return [
        "202407", "131011", f"{user:010d}", "20250325", "202504", "1370100016",
        v.name("佐藤 ケアマネ"), str(v.units([244, 387, 567, 98])), "", f"202504{day:02d}", "",
        start, end, "1", v.code(["111211", "112211", "131111", "151111"]), "", "", "", "",
        "1370200022", v.name("訪問介護ステーション　すみれ"), "", "0", "1370100016", "",
    ]  # fmt: skip


def _table7_row(v: _Values, user: int) -> list[str]:
    units = v.units([244, 387, 567])
    times = v.rng.randint(1, 20)
    return [
        "202407", "131011", f"{user:010d}", "20250325", "202504",
        v.name("訪問介護ステーション　すみれ"), "1370200022", "",
        v.code(["111211", "112211", "131111"]), "", "", "", str(units), "",
        "", str(times), "", str(units * times), "", "", "", str(units * times), "11.40",
        str(int(units * times * 11.4)), "90", str(int(units * times * 11.4 * 0.9)), "",
        str(int(units * times * 11.4 * 0.1)), "", "", "", "", "0", "", "", "1370100016", "",
    ]  # fmt: skip


def _supplement_row(v: _Values, user: int) -> list[str]:
    rng = v.rng
    name = f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}"
    row = [
        "202407", "131011", f"{user:010d}", "00000000", v.name("ヤマダ ハナコ"), v.name(name),
        rng.choice("12"), f"19{rng.randint(20, 50)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
        "160-0023", _q(f"東京都新宿区西新宿{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番"),
        v.name("ケアハイツ"), "03-0000-0000", "20250301", "20250301", "20260228", "2", "",
        rng.choice(["21", "22", "23"]), "16765",
    ]  # fmt: skip
    row += ["11", "16765", "1220", "0"] + [""] * 32
    row += ["0", "", "", "", "1370100016", "1370100016", "", "202504"]
    return row


ROW_MAKERS: dict[str, Callable[[_Values, int], list[str]]] = {
    "table6": _table6_row,
    "table7": _table7_row,
    "supplement": _supplement_row,
}
SHAPES = ("realistic", "distinct")


def make_rows(kind: str, count: int, shape: str = "realistic") -> list[list[str]]:
    values = _Values(random.Random(count), distinct=shape == "distinct")
    maker = ROW_MAKERS[kind]
    # Realistic: 20 records a user (hundreds of users at 10k); distinct: each record its own user.
    per_user = 1 if shape == "distinct" else 20
    return [maker(values, 1 + n // per_user) for n in range(count)]


def encode_rows(rows: list[list[str]]) -> bytes:
    """Rows that are already canonical text, joined and encoded (how the data is made)."""
    return ("\r\n".join(",".join(row) for row in rows) + "\r\n").encode("cp932")


def floor_read(data: bytes) -> list[list[str]]:
    """The read floor: decode and split into lists of strings, all kept (as a parse keeps them)."""
    return list(csv.reader(io.StringIO(data.decode("cp932"), newline="")))


def floor_write(rows: list[list[str]]) -> bytes:
    """The write floor: `csv.writer(QUOTE_ALL)` into text, then MS932 encode."""
    out = io.StringIO(newline="")
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp932")


def _verdict(value: float, target: float, judged: bool) -> str:
    if not judged:
        return f"target ≤ {target} from 100k"
    return f"target ≤ {target}, {'ok' if value <= target else 'ABOVE TARGET'}"


def bench_size(kind: str, count: int, shape: str, runs: int) -> None:
    rows = make_rows(kind, count, shape)
    data = encode_rows(rows)
    name = NAMES[kind]
    parsed = parse_plan(data, name=name)
    assert len(parsed.records) == count
    assert parsed.to_bytes() == data, "benchmark data must be canonical"
    plain_rows = floor_read(data)
    times = turns(
        runs,
        {
            "floor": (lambda: floor_read(data), True),
            "parse": (lambda: parse_plan(data, name=name), True),
            "write_floor": (lambda: floor_write(plain_rows), False),
            "write": (lambda: write_file(parsed.records, name), False),
        },
    )
    judged = count >= 100_000
    read = Ratio.of(times["parse"], times["floor"])
    write = Ratio.of(times["write"], times["write_floor"])
    print(
        f"{kind:<10} {shape:<9} {count:>9,}  parse_plan {count / min(times['parse']):>9,.0f} rec/s "
        f"{read.median:4.2f}x floor ({_verdict(read.median, READ_TARGETS[shape], judged)}; "
        f"{read.spread()})  write_file {count / min(times['write']):>9,.0f} rec/s "
        f"{write.median:4.2f}x floor ({_verdict(write.median, WRITE_TARGETS[shape], judged)}; "
        f"{write.spread()})"
    )


def bench_every_layout(count: int, runs: int) -> None:
    """`parse_plan` of a `count`-record file of each v4.1 layout, against the read floor."""
    from hypothesis import HealthCheck, Phase, given, settings

    from careplan_link.format import LAYOUTS
    from careplan_link.testing import strategies as cst

    worst = 0.0
    for (layout_id, version), layout in sorted(LAYOUTS.items()):
        if version != "202407" or layout.prefix == "UPKIHON_IMAGE":
            continue
        records: list[object] = []
        names: list[object] = []

        # One record an example: a whole list in one example overflows hypothesis' buffer.
        @settings(
            max_examples=40,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(cst.records(layout), cst.file_names(layout))
        def draw(record: object, file_name: object) -> None:
            records.append(record)  # noqa: B023
            names.append(file_name)  # noqa: B023

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw()
        file_name = names[0]
        data = write_file((records * (count // len(records) + 1))[:count], file_name)  # type: ignore[arg-type]
        times = turns(
            runs,
            {
                "floor": (lambda: floor_read(data), True),  # noqa: B023
                "parse": (lambda: parse_plan(data, name=file_name), True),  # noqa: B023
            },
        )
        ratio = Ratio.of(times["parse"], times["floor"])
        worst = max(worst, ratio.median)
        print(
            f"  {layout_id:<22} {count:>6,} records  parse_plan {ratio.median:4.2f}x floor "
            f"({ratio.spread()})"
        )
    ok = "ok" if worst <= SMALL_TARGET else "ABOVE TARGET"
    print(f"  worst layout at {count:,} records: {worst:.2f}x (target ≤ {SMALL_TARGET}, {ok})")


# Peak RSS (VmHWM, in KiB) of a fresh process: ru_maxrss would carry the parent's peak over
# exec on Linux, VmHWM belongs to the new process image only.
_CHILD = """
import sys
from pathlib import Path
from careplan_link import iter_records
def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = sys.argv[1]
before = peak()
count = sum(1 for _ in iter_records(path))
after = peak()
print(count, before, after)
"""


def bench_streaming_memory(count: int) -> None:
    DATA.mkdir(exist_ok=True)
    path = DATA / NAMES["table6"]
    if not path.exists() or path.stat().st_size < count * 100:
        with path.open("wb") as out:
            for start in range(0, count, 100_000):
                out.write(encode_rows(make_rows("table6", min(100_000, count - start))))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    )
    records, before, after = map(int, result.stdout.split())
    growth_mb = (after - before) / 1024
    print(
        f"iter_records over {records:,} 第6表 records ({path.stat().st_size / 1e6:.0f} MB): "
        f"peak RSS {before / 1024:.0f} MB → {after / 1024:.0f} MB, "
        f"growth {growth_mb:.1f} MB (target < 50 MB, {'ok' if growth_mb < 50 else 'ABOVE'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI)")
    args = parser.parse_args()
    print(f"careplan_link format benchmark ({'quick' if args.quick else 'full'})")
    for shape in SHAPES:
        for kind in ROW_MAKERS:
            for size in (1000, 100_000):
                bench_size(kind, size, shape, runs=20 if size <= 1000 else 7)
    print("every v4.1 layout, 1k records:")
    bench_every_layout(1000, runs=20)
    bench_streaming_memory(50_000 if args.quick else 1_000_000)


if __name__ == "__main__":
    main()
