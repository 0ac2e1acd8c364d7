"""`careplan-link demo`, the README's main job, and the month it is made of."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import attrs
import pytest

from careplan_link import Bundle, Office, UnitKind, YearMonth, iter_records, validate
from careplan_link.cli import main
from careplan_link.office._demo_data import month_units


def test_the_demo_runs_prints_both_timelines_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    threads_before = set(threading.enumerate())
    assert main(["demo", "--users", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("配信記録 / delivery timeline") == 2
    assert "居宅介護支援事業所 1310000003" in out and "サービス事業所 1310000102" in out
    # Each office's timeline ends with the receiver's import of every unit.
    for label in ("検証OK validated", "封緘 sealed", "送信済 sent", "配信 delivered",
                  "受信済 downloaded", "取込済 imported"):  # fmt: skip
        assert label in out
    assert out.count("取込済 imported") == 6  # 3 units, seen from both sides
    assert "エラー" not in out
    assert list(tmp_path.iterdir()) == []  # the work folder is gone
    left = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert [t.name for t in left if "careplan-link hub" in t.name] == []


def test_the_demo_refuses_a_nonsense_user_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--users", "0"]) == 2
    assert "--users" in capsys.readouterr().err


@pytest.mark.parametrize(("seed", "services"), [(1, 1), (2, 2), (3, 2)])
def test_every_unit_of_a_generated_month_validates_clean(seed: int, services: int) -> None:
    providers = [Office("1310000102", "11"), Office("1310000201", "15"), Office("1310000300", "13")]
    data = month_units(
        care_office=Office("1310000003", "43"),
        providers=providers,
        month=YearMonth(2025, 5 + seed),
        users=8,
        services_per_provider=services,
        visits_per_service=31 if services == 2 else 8,
        seed=seed,
    )
    units = (*data.plans, *data.schedules, *data.results)
    assert [u.kind for u in units] == (
        [UnitKind.PLAN] * len(data.plans)
        + [UnitKind.SCHEDULE] * len(data.schedules)
        + [UnitKind.RESULTS] * len(data.results)
    )
    assert len(data.plans) >= 2
    for unit in units:
        report = validate(unit, strict=True)
        assert report.issues == (), [str(i) for i in report.issues]
    # Units to one partner have their own ファイル連番 each, plan before schedule.
    for plan, schedule in zip(data.plans, data.schedules, strict=True):
        assert plan.receiver == schedule.receiver and plan.serial < schedule.serial


def test_the_same_arguments_give_the_same_bytes() -> None:
    options = {
        "care_office": Office("1310000003", "43"),
        "providers": [Office("1310000102", "11")],
        "month": YearMonth(2025, 6),
        "users": 4,
    }
    first, second = month_units(**options), month_units(**options)  # type: ignore[arg-type]
    assert [u.files for u in first.schedules] == [u.files for u in second.schedules]
    other = month_units(**options, seed=99)  # type: ignore[arg-type]
    assert [u.files for u in other.schedules] != [u.files for u in first.schedules]


def _by_records(unit: Bundle) -> tuple[str, ...]:
    """The users found the slow way: every record built."""
    found = set()
    for name, data in unit.files.items():
        if name.upper().endswith((".JPG", ".JPEG")):
            continue
        for record in iter_records(data, name=name):
            number = getattr(record, "insured_no", None)
            if number:
                found.add(str(number))
    return tuple(sorted(found))


def test_the_column_scan_finds_the_same_users_as_reading_every_record() -> None:
    from careplan_link.office._flow import insured_numbers

    data = month_units(
        care_office=Office("1310000003", "43"),
        providers=[Office("1310000102", "11"), Office("1310000201", "15")],
        month=YearMonth(2025, 7),
        users=12,
    )
    for unit in (*data.plans, *data.schedules, *data.results):
        assert insured_numbers(unit) == _by_records(unit)
        assert len(insured_numbers(unit)) >= 1


def test_the_column_scan_skips_what_it_cannot_read() -> None:
    from careplan_link.office._flow import insured_numbers

    data = month_units(
        care_office=Office("1310000003", "43"),
        providers=[Office("1310000102", "11")],
        month=YearMonth(2025, 7),
        users=3,
    )
    unit = data.plans[0]
    expected = _by_records(unit)
    files = dict(unit.files)
    files["notes.txt"] = b"not a standard file name"
    first = sorted(files)[0]
    files[first] = files[first] + b"\xff\xfe,\xff\r\n"  # undecodable bytes
    assert insured_numbers(attrs.evolve(unit, files=files)) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # Read by the pattern: quoted and bare, a comma inside quotes before the column.
        (b'a,b,"H000000005",z\r\nc,"x,y",H000000006\r\n', ("H000000005", "H000000006")),
        # Left to the csv module: an escaped quote, a field spanning lines, CR-only lines,
        # a short line.
        (b'"a""b",x,"H000000001",z\r\nc,d,H000000002\r\n', ("H000000001", "H000000002")),
        (b'a,"multi\r\nline",H000000003,z\r\n', ("H000000003",)),
        (b"a,b,H000000004,z\rc,d,H000000007,z\r", ("H000000004", "H000000007")),
        (b"a,b\r\nc,d,H000000008\r\n\r\n", ("H000000008",)),
    ],
)
def test_the_column_scan_reads_the_column_however_the_csv_is_written(
    content: bytes, expected: tuple[str, ...]
) -> None:
    from careplan_link.office._flow import insured_numbers

    unit = month_units(
        care_office=Office("1310000003", "43"),
        providers=[Office("1310000102", "11")],
        month=YearMonth(2025, 7),
        users=1,
    ).schedules[0]
    name = next(n for n in unit.files if n.startswith("UPPLAN"))
    assert insured_numbers(attrs.evolve(unit, files={name: content})) == expected
