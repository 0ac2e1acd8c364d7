"""Cost of computing the 第7表 of a month from its 第6表, as a ratio to parsing that 第6表.

    python benchmarks/bench_table7.py            # 100k 第6表 records
    python benchmarks/bench_table7.py --quick    # 20k records (CI)

The schedule is `bench_validate.make_unit`'s (5,000 users, 20 records each). Both sides run
with the garbage collector paused, as `parse_plan` pauses it. Target: building ≤ 1.0× parsing.
It also prints what the 第7表 checks add to `validate` (target for all of validation: ≤ 1.5×).
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from _timing import best_of_paused
from bench_validate import NAMES, make_unit
from careplan_link import SupplementRecord, build_table7, parse_plan, validate
from careplan_link.format._table7_rules import check_table7_arithmetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k records (CI)")
    args = parser.parse_args()
    records = 20_000 if args.quick else 100_000
    unit = make_unit(records)
    plan_name, supplement_name = NAMES["UPPLAN"], NAMES["UPHOSOKU"]
    schedule = parse_plan(unit[plan_name], name=plan_name).records
    supplements = [
        r
        for r in parse_plan(unit[supplement_name], name=supplement_name).records
        if isinstance(r, SupplementRecord)
    ]
    sheets = build_table7(schedule, unit_price=Decimal("11.40"), supplements=supplements)
    assert len(sheets) == records // 20 and all(s.computable for s in sheets)

    parse = best_of_paused(5, lambda: parse_plan(unit[plan_name], name=plan_name))
    build = best_of_paused(
        5, lambda: build_table7(schedule, unit_price=Decimal("11.40"), supplements=supplements)
    )
    to_records = best_of_paused(3, lambda: [s.records() for s in sheets])
    report = validate(unit)
    assert report.ok, [str(i) for i in report.errors[:5]]
    from careplan_link.format import _validation  # the parsed unit, as validate sees it

    parsed = {name: parse_plan(data, name=name) for name, data in unit.items()}
    units = _validation.group_units(unit)
    checks = best_of_paused(3, lambda: check_table7_arithmetic(units, parsed))
    whole = best_of_paused(3, lambda: [parse_plan(data, name=name) for name, data in unit.items()])
    ratio = build / parse
    print(
        f"careplan_link 第7表 benchmark: {records:,} 第6表 records, {len(sheets):,} users\n"
        f"  parse 第6表         {parse * 1000:8.0f} ms\n"
        f"  build_table7        {build * 1000:8.0f} ms  ratio {ratio:.2f}× parsing "
        f"(target ≤ 1.0, {'ok' if ratio <= 1.0 else 'ABOVE TARGET'})\n"
        f"  sheets → records    {to_records * 1000:8.0f} ms\n"
        f"  第7表 checks        {checks * 1000:8.0f} ms  = {checks / whole:.2f}× parsing the "
        f"unit's 3 files ({whole * 1000:.0f} ms); {len(report.issues)} issues in validate"
    )


if __name__ == "__main__":
    main()
