"""Cost of full validation of a schedule unit, as a ratio to parsing the same files.

    python benchmarks/bench_validate.py            # 100k 第6表 records (and its 第7表, 補足)
    python benchmarks/bench_validate.py --quick    # 20k records (CI)

The unit is valid (the script checks that validation finds no error), so the figure is the cost
of checking everything, not of reporting. Target: validation ≤ 1.5× parsing.
"""

from __future__ import annotations

import argparse
import random

from _timing import best_of
from careplan_link import parse_plan, validate
from careplan_link.format._ms932 import encode

CARE, PROVIDER, SERIAL = "1370100012", "1370200028", "20250325093000"
MONTH = "202504"
NAMES = {
    prefix: f"{prefix}_{MONTH}_{CARE}_43_{PROVIDER}_11_{SERIAL}.CSV"
    for prefix in ("UPPLAN", "UPSIKYU", "UPHOSOKU")
}
CODES = {"111211": 244, "112211": 387, "131111": 567, "151111": 98}


def _lines(rows: list[list[str]]) -> bytes:
    return encode("".join(",".join(row) + "\r\n" for row in rows))


def make_unit(records: int) -> dict[str, bytes]:
    """A valid schedule unit with `records` 第6表 records (20 per user)."""
    rng = random.Random(records)
    plan, totals, supplements = [], [], []
    for user in range(records // 20):
        insured = f"{user + 1:010d}"
        used: dict[str, int] = {}
        for _ in range(20):
            code = rng.choice(list(CODES))
            used[code] = used.get(code, 0) + 1
            start = rng.choice([9, 10, 13, 15])
            plan.append(
                ["202407", "131001", insured, "20250325", MONTH, CARE, '"佐藤 ケアマネ"',
                 str(CODES[code]), "", f"202504{rng.randint(1, 30):02d}", "", f"{start:02d}00",
                 f"{start + 1:02d}00", "1", code, "", "", "", "", PROVIDER, '"すみれ"', "", "0",
                 CARE, ""]
            )  # fmt: skip
        by_type: dict[str, list[str]] = {}
        for code in used:
            by_type.setdefault(code[:2], []).append(code)
        common = ["202407", "131001", insured, "20250325", MONTH]
        for service_type, codes in by_type.items():
            for code in codes:
                units = CODES[code] * used[code]
                totals.append(
                    [*common, '"すみれ"', PROVIDER, "", code, "", "", "", str(CODES[code]), "", "",
                     str(used[code]), "", str(units), "", "", "", str(units), "11.40",
                     str(units * 114 // 10), "90", str(units * 114 // 10 * 90 // 100), "", "", "",
                     "", "", "", "0", "", "", CARE, ""]
                )  # fmt: skip
            if len(codes) > 1:
                totals.append(
                    [*common, '"すみれ"', PROVIDER, "", service_type + "AAAA", "", "", "", "0",
                     "", "", "0", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
                     "0", "", "", CARE, ""]
                )  # fmt: skip
        totals.append(
            [*common, "", "9999999999", "", "999999", "", "", "", "0", "", "", "0", "", "", "",
             "", "", "", "", "", "", "", "", "", "", "", "", "", "0", "", "", CARE, ""]
        )  # fmt: skip
        supplements.append(
            ["202407", "131001", insured, "00000000", '"ヤマダ タロウ"', '"山田 太郎"', "1",
             "19400101", "160-0023", '"東京都新宿区"', "", "03-0000-0000", "", "", "", "2", "",
             "21", "16765", *[""] * 36, "", "", "", "", "", CARE, "", MONTH]
        )  # fmt: skip
    return {
        NAMES["UPPLAN"]: _lines(plan),
        NAMES["UPSIKYU"]: _lines(totals),
        NAMES["UPHOSOKU"]: _lines(supplements),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k records (CI)")
    args = parser.parse_args()
    records = 20_000 if args.quick else 100_000
    unit = make_unit(records)
    report = validate(unit)
    assert report.ok, [str(i) for i in report.errors[:5]]
    parse = best_of(3, lambda: [parse_plan(data, name=name) for name, data in unit.items()])
    check = best_of(3, lambda: validate(unit))
    ratio = check / parse
    print(
        f"careplan_link validation benchmark: schedule unit of {records:,} 第6表 records "
        f"({sum(map(len, unit.values())) / 1e6:.1f} MB in 3 files)\n"
        f"  parse only   {parse * 1000:8.0f} ms\n"
        f"  validate     {check * 1000:8.0f} ms  ratio {ratio:.2f}× parsing "
        f"(target ≤ 1.5, {'ok' if ratio <= 1.5 else 'ABOVE TARGET'}); "
        f"{len(report.issues)} issues"
    )


if __name__ == "__main__":
    main()
