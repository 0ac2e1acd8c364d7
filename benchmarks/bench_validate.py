"""Cost of full validation of a schedule unit, as a ratio to parsing the same files.

    python benchmarks/bench_validate.py            # 100k 第6表 records (and its 第7表, 補足)
    python benchmarks/bench_validate.py --quick    # 20k records (CI)

Two shapes, as in bench_format: *realistic* (20 records a user, few distinct values per column,
so per-value checks run once per distinct value) and *distinct* (one record a user, and every
name, code, amount and time different, so they run once per record). The unit is valid (the
script checks that validation finds no error), so the figure is the cost of checking
everything, not of reporting. Target: validation ≤ 1.5× parsing in both shapes.

Both sides run with the cyclic garbage collector paused, after a full collection: `validate`
pauses it for its whole run, `parse_plan` only while it makes records, so a parse floor left
with the collector on would pay for collections validation never makes, and flatter the ratio.
They take turns, each timed in CPU time (`_timing.turns`), and the judged ratio is the median
of the turns' own ratios (`_timing.Ratio`), printed with their quartiles and with the ratio of
each side's least time (what this script judged before; docs/testing.md says why it changed).
"""

from __future__ import annotations

import argparse
import random
import statistics

from _timing import Ratio, turns
from careplan_link import parse_plan, validate
from careplan_link.format._ms932 import encode

CARE, PROVIDER, SERIAL = "1370100016", "1370200022", "20250325093000"
MONTH = "202504"
NAMES = {
    prefix: f"{prefix}_{MONTH}_{CARE}_43_{PROVIDER}_11_{SERIAL}.CSV"
    for prefix in ("UPPLAN", "UPSIKYU", "UPHOSOKU")
}
CODES = {"111211": 244, "112211": 387, "131111": 567, "151111": 98}


def _lines(rows: list[list[str]]) -> bytes:
    return encode("".join(",".join(row) + "\r\n" for row in rows))


SHAPES = ("realistic", "distinct")


def make_unit(records: int, shape: str = "realistic") -> dict[str, bytes]:
    """A valid schedule unit with `records` 第6表 records: 20 per user of few distinct values
    (realistic), or one per user with every free value different (distinct)."""
    rng = random.Random(records)
    distinct = shape == "distinct"
    per_user = 1 if distinct else 20
    units_of = dict(CODES)
    plan, totals, supplements = [], [], []
    for user in range(records // per_user):
        insured = f"{user + 1:010d}"
        provider = f'"すみれ{user + 1}"' if distinct else '"すみれ"'
        used: dict[str, int] = {}
        for n in range(per_user):
            if distinct:
                code = f"{rng.choice(['11', '13', '15'])}{rng.randint(1000, 9999)}"
                units_of[code] = rng.randint(1, 9999)
                hour, minute = rng.randint(0, 22), rng.randint(0, 59)
                planner = f'"佐藤 ケアマネ{user * per_user + n}"'
            else:
                code = rng.choice(list(CODES))
                hour, minute = rng.choice([9, 10, 13, 15]), 0
                planner = '"佐藤 ケアマネ"'
            used[code] = used.get(code, 0) + 1
            plan.append(
                ["202407", "131011", insured, "20250325", MONTH, CARE, planner,
                 str(units_of[code]), "", f"202504{rng.randint(1, 30):02d}", "",
                 f"{hour:02d}{minute:02d}", f"{hour + 1:02d}{minute:02d}", "1", code, "", "", "",
                 "", PROVIDER, provider, "", "0", CARE, ""]
            )  # fmt: skip
        by_type: dict[str, list[str]] = {}
        for code in used:
            by_type.setdefault(code[:2], []).append(code)
        common = ["202407", "131011", insured, "20250325", MONTH]
        for service_type, codes in by_type.items():
            for code in codes:
                units = units_of[code] * used[code]
                totals.append(
                    [*common, provider, PROVIDER, "", code, "", "", "", str(units_of[code]), "", "",
                     str(used[code]), "", str(units), "", "", "", str(units), "11.40",
                     str(units * 114 // 10), "90", str(units * 114 // 10 * 90 // 100), "", "", "",
                     "", "", "", "0", "", "", CARE, ""]
                )  # fmt: skip
            if len(codes) > 1:
                totals.append(
                    [*common, provider, PROVIDER, "", service_type + "AAAA", "", "", "", "0",
                     "", "", "0", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
                     "0", "", "", CARE, ""]
                )  # fmt: skip
        totals.append(
            [*common, "", "9999999999", "", "999999", "", "", "", "0", "", "", "0", "", "", "",
             "", "", "", "", "", "", "", "", "", "", "", "", "", "0", "", "", CARE, ""]
        )  # fmt: skip
        supplements.append(
            ["202407", "131011", insured, "00000000",
             f'"ヤマダ タロウ{user + 1}"' if distinct else '"ヤマダ タロウ"',
             f'"山田 太郎{user + 1}"' if distinct else '"山田 太郎"', "1",
             "19400101", "160-0023", '"東京都新宿区"', "", "03-0000-0000", "", "", "", "2", "",
             "21", "16765", *[""] * 36, "", "", "", "", "", CARE, "", MONTH]
        )  # fmt: skip
    return {
        NAMES["UPPLAN"]: _lines(plan),
        NAMES["UPSIKYU"]: _lines(totals),
        NAMES["UPHOSOKU"]: _lines(supplements),
    }


# Turns of each side: the judged figure is the median of the turns' own ratios.
TURNS = 11


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k records (CI)")
    args = parser.parse_args()
    records = 20_000 if args.quick else 100_000
    print(f"careplan_link validation benchmark: schedule unit of {records:,} 第6表 records")
    for shape in SHAPES:
        unit = make_unit(records, shape)
        report = validate(unit)
        assert report.ok, [str(i) for i in report.errors[:5]]

        times = turns(
            TURNS,
            {
                "parse": (lambda: [parse_plan(d, name=n) for n, d in unit.items()], True),  # noqa: B023
                "validate": (lambda: validate(unit), True),  # noqa: B023
            },
        )
        ratio = Ratio.of(times["validate"], times["parse"])
        verdict = "ok" if ratio.median <= 1.5 else "ABOVE TARGET"
        print(
            f"  {shape:<9} ({sum(map(len, unit.values())) / 1e6:.1f} MB in 3 files)  "
            f"parse only {statistics.median(times['parse']) * 1000:6.0f} ms  "
            f"validate {statistics.median(times['validate']) * 1000:6.0f} ms  "
            f"ratio {ratio.median:.2f}× parsing (target ≤ 1.5, {verdict}; {ratio.spread()}); "
            f"{len(report.issues)} issues"
        )


if __name__ == "__main__":
    main()
