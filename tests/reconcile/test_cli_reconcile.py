"""`careplan-link reconcile`: exit 0 / 1 / 2, table, JSON, CSV (MS932), never a traceback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from careplan_link import write_bundle
from careplan_link.cli import main
from tests.reconcile.helpers import V, month

P1 = "2710000001"
U1 = "0000000001"


def _folders(tmp_path: Path, planned: list[V], delivered: list[V]) -> tuple[Path, Path]:
    plan, results = month(planned, delivered)
    (tmp_path / "plan").mkdir()
    (tmp_path / "results").mkdir()
    for bundle in plan:
        write_bundle(bundle, to=tmp_path / "plan")
    for bundle in results:
        write_bundle(bundle, to=tmp_path / "results")
    return tmp_path / "plan", tmp_path / "results"


def test_exit_0_when_everything_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, results = _folders(tmp_path, [V(U1, P1, 2)], [V(U1, P1, 2)])
    assert main(["reconcile", str(plan), str(results)]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("OK")


def test_exit_1_with_differences_table_json_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, results = _folders(tmp_path, [V(U1, P1, 2), V(U1, P1, 9)], [V(U1, P1, 2), V(U1, P1, 12)])
    out_csv = tmp_path / "r.csv"
    assert main(["reconcile", str(plan), str(results), "--csv", str(out_csv)]) == 1
    table = capsys.readouterr().out
    assert "日付の変更" in table and "moved" in table and "UPPLAN_" in table and "#2" in table
    assert main(["reconcile", str(plan), str(results), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["kinds"] == {"moved": 1}
    rows = list(csv.reader(io.StringIO(out_csv.read_bytes().decode("cp932"), newline="")))
    assert rows[1][0] == "日付変更" and rows[1][10:12] == ["2025-06-09", "2025-06-12"]


def test_exit_2_with_the_validation_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, results = _folders(tmp_path, [V(U1, P1, 2)], [V(U1, P1, 2)])
    broken = next(results.iterdir())
    broken.write_bytes(b"202407,131011,short\r\n")
    assert main(["reconcile", str(plan), str(results)]) == 2
    err = capsys.readouterr().err
    assert "valid" in err and broken.name in err and "Traceback" not in err
    assert main(["reconcile", str(plan), str(results), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["valid"] is False


def test_exit_2_for_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", str(tmp_path / "nope"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "ありません" in err


def test_corrected_plan_written_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, results = _folders(tmp_path, [V(U1, P1, 2)], [V(U1, P1, 3)])
    out = tmp_path / "corrected"
    assert main(["reconcile", str(plan), str(results), "--corrected", str(out)]) == 1
    capsys.readouterr()
    assert main(["reconcile", str(out), str(results)]) == 0
