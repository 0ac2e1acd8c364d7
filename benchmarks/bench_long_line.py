"""Memory and time of reading a file whose records never end: one line without line breaks.

    python benchmarks/bench_long_line.py            # a 256 MiB line
    python benchmarks/bench_long_line.py --quick    # a 16 MiB line (CI)

The line is 第6表 rows joined by commas instead of CRLF; the floor is the same rows joined by
CRLF (the same bytes, as records). The reader refuses a record longer than its cap (1 MiB by
default) as soon as it passes it and skips the rest without keeping it, so:
- `iter_records` raises `FormatError` (`csv.record_too_long`) after the first MiB;
- `parse_plan` and `validate` read on to the end of the file (to report every other problem),
  in time linear in the line and memory that does not grow with it.
Targets: peak RSS growth < 50 MB (`validate` holds the file's bytes, which are not counted), and
time ≤ 1.5× streaming the same bytes as records with `iter_records`. Each measure runs in a
fresh process, so that its peak belongs to it alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"
NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
ROW = (
    '202407,131011,{insured},20250325,202504,1370100016,"佐藤 ケアマネ",244,,202504{day:02d},,'
    '1000,1045,1,111211,,,,,1370200022,"訪問介護すみれ",,0,1370100016,'
)
MEMORY_TARGET_MB = 50
TIME_TARGET = 1.5

# Run in a fresh process: peak RSS (VmHWM) before and after, and the best time of `runs`.
_CHILD = """
import sys
sys.path.insert(0, sys.argv[4])
from _timing import best_of
from careplan_link import FormatError, iter_records, parse_plan, validate
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
what, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
outcome = []
def action():
    outcome.clear()
    try:
        if what == "iter_records":
            outcome.append(sum(1 for _ in iter_records(path)))
        elif what == "parse_plan":
            outcome.append(len(parse_plan(path).records))
        else:
            report = validate(path)
            outcome.append(",".join(sorted({i.code for i in report.errors})) or "ok")
    except FormatError as error:
        outcome.append(error.issues[0].code)
before = peak()
seconds = best_of(runs, action)
print(before, peak(), seconds, outcome[0])
"""


def make_files(size: int) -> tuple[Path, Path]:
    """A file of one line of about `size` bytes, and the same rows as records."""
    DATA.mkdir(exist_ok=True)
    line, records = DATA / f"line_{size}" / NAME, DATA / f"records_{size}" / NAME
    if line.exists() and records.exists():
        return line, records
    line.parent.mkdir(exist_ok=True)
    records.parent.mkdir(exist_ok=True)
    rows = [ROW.format(insured=f"{n:010d}", day=n % 30 + 1) for n in range(1000)]
    block = ",".join(rows).encode("cp932")
    block_records = "\r\n".join(rows).encode("cp932")
    with line.open("wb") as one, records.open("wb") as many:
        for _ in range(max(1, size // len(block))):
            one.write(block + b",")
            many.write(block_records + b"\r\n")
    return line, records


def measure(what: str, path: Path, runs: int) -> tuple[float, float, str]:
    """(peak RSS growth in MB, best time in s, outcome) of one reading in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(path), str(runs), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, seconds, outcome = result.stdout.split()
    return (int(after) - int(before)) / 1024, float(seconds), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 16 MiB line (CI)")
    args = parser.parse_args()
    size = (16 if args.quick else 256) << 20
    runs = 3 if args.quick else 1
    line, records = make_files(size)
    mb = line.stat().st_size / (1 << 20)
    print(f"careplan_link long-line benchmark: one line of {mb:.0f} MiB, no line break")
    # The floor: streaming the same bytes as records (parse_plan or validate of 256 MiB of
    # records would hold a million records, which says nothing about the line).
    _, floor, count = measure("iter_records", records, runs)
    print(f"  floor: iter_records over the same bytes as {int(count):,} records: {floor:.2f} s")
    for what in ("iter_records", "parse_plan", "validate"):
        growth, seconds, outcome = measure(what, line, runs)
        if what == "validate":
            growth -= line.stat().st_size / 1e6  # validate holds the file's bytes by design
        ratio = seconds / floor
        memory_ok = "ok" if growth < MEMORY_TARGET_MB else "ABOVE TARGET"
        time_ok = "ok" if ratio <= TIME_TARGET else "ABOVE TARGET"
        print(
            f"  {what:<12} peak RSS growth {growth:6.1f} MB (target < {MEMORY_TARGET_MB}, "
            f"{memory_ok}); {seconds:7.2f} s vs {floor:7.2f} s as records: {ratio:5.2f}x "
            f"(target ≤ {TIME_TARGET}, {time_ok}); {outcome}"
        )


if __name__ == "__main__":
    main()
