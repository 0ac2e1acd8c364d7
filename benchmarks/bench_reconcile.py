"""Cost of reconciling a month, as a ratio to parsing both sides in the same run.

    python benchmarks/bench_reconcile.py            # 300 users, 20 providers, ~20,000 a side
    python benchmarks/bench_reconcile.py --quick    # 60 users, 20 providers (CI)

The care office sends each provider the part of the schedule that provider serves (第6表 + 第7表 +
補足), and each provider returns its 実績; about one visit in twenty is changed (moved, cancelled,
recoded, another time or count), so the reconciliation has work to report. `--full-copies` sends
each provider its users' whole schedules (every provider's services), as many offices do; the
plan side then holds about three times the records. Target: reconcile ≤ 1.0× the parse time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from _timing import best_of_paused

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reconcile.helpers import V, month

from careplan_link import (
    Bundle,
    CareplanFile,
    DifferenceKind,
    parse_plan,
    reconcile,
)

CODES = ["111111", "112211", "131111", "151111", "161111"]


def make_month(users: int, providers: int, seed: int = 19) -> tuple[list[V], list[V]]:
    rng = random.Random(seed)
    offices = [f"27100{n:05d}" for n in range(1, providers + 1)]
    planned: list[V] = []
    delivered: list[V] = []
    for number in range(1, users + 1):
        user = f"{number:010d}"
        for office in rng.sample(offices, 3):
            code = rng.choice(CODES)
            for day in sorted(rng.sample(range(1, 31), 22)):
                visit = V(user, office, day, code, hour=rng.choice([9, 10, 14, 16]))
                planned.append(visit)
                roll = rng.random()
                if roll < 0.01:
                    continue  # cancelled
                if roll < 0.02:
                    delivered.append(V(user, office, min(day + 1, 30), code, visit.hour))
                elif roll < 0.03:
                    delivered.append(V(user, office, day, "112211", visit.hour))
                elif roll < 0.04:
                    delivered.append(V(user, office, day, code, 18))
                elif roll < 0.05:
                    delivered.append(V(user, office, day, code, visit.hour, count=2))
                else:
                    delivered.append(visit)
    return planned, delivered


def _parse(bundles: list[Bundle]) -> list[CareplanFile]:
    return [parse_plan(data, name=name) for b in bundles for name, data in b.files.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 users (CI)")
    parser.add_argument("--full-copies", action="store_true", help="whole schedules per copy")
    args = parser.parse_args()
    users = 60 if args.quick else 300
    started = time.perf_counter()
    planned, delivered = make_month(users, 20)
    plan, results = month(planned, delivered)
    if not args.full_copies:
        plan = [_own_part(b) for b in plan]
    print(f"made the month in {time.perf_counter() - started:.1f} s")
    plan_files, result_files = _parse(plan), _parse(results)
    plan_records = sum(len(f.records) for f in plan_files if f.name.layout_id == "table6_plan")
    result_records = sum(len(f.records) for f in result_files)
    parse = best_of_paused(3, lambda: (_parse(plan), _parse(results)))
    work = best_of_paused(3, lambda: reconcile(plan_files, result_files))
    outcome = reconcile(plan_files, result_files)
    kinds = outcome.summary()["kinds"]
    assert kinds.get(DifferenceKind.UNMATCHED.value, 0) == 0, kinds
    print(
        f"{users} users, 20 providers: 第6表 予定 {plan_records} records, "
        f"実績 {result_records} records"
    )
    print(f"differences found: {kinds}")
    print(f"parse both sides  {parse * 1000:8.1f} ms")
    print(f"reconcile         {work * 1000:8.1f} ms   ({work / parse:.2f}x parse; target <= 1.0x)")


def _own_part(bundle: Bundle) -> Bundle:
    """The copy for one provider with only that provider's 第6表 records (and 第7表 lines)."""
    from careplan_link import FileName, write_file

    files = {}
    keep_users: set[str] = set()
    for name, data in bundle.files.items():
        parsed = parse_plan(data, name=name)
        own = bundle.receiver.number
        if parsed.name.layout_id == "table6_plan":
            records = [r for r in parsed.records if r.provider_office_no == own]  # type: ignore[attr-defined]
            keep_users = {r.insured_no for r in records}  # type: ignore[attr-defined]
        elif parsed.name.layout_id == "table7":
            records = [
                r
                for r in parsed.records
                if r.provider_office_no in (own, "9999999999")  # type: ignore[attr-defined]
            ]
        else:
            records = list(parsed.records)
        files[name] = (FileName.parse(name), records)
    out = {}
    for name, (file_name, records) in files.items():
        kept = [r for r in records if r.insured_no in keep_users]  # type: ignore[attr-defined]
        out[name] = write_file(kept, file_name)
    return Bundle.from_files(out)


if __name__ == "__main__":
    main()
