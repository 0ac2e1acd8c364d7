"""The `careplan-link` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from careplan_link.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLAN = EXAMPLES / "UPPLAN_202504_1370100012_43_1370200028_11_20250325093000.CSV"


def test_inspect_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(PLAN), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "ファイル連番 serial: 20250325093000" in out
    assert "サービス開始時刻" in out and "1000" in out
    assert "送信元事業所番号 sender: 1370100012" in out
    assert "more records" in out


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(PLAN), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["file"]["interface"] == "table6_plan"
    assert data["file"]["sender_service_type"] == "43"
    assert data["record_count"] == len(data["records"]) == 12
    assert data["records"][0]["service_date"] == "20250401"
    assert data["records"][0]["tais_code"] is None
    assert data["records"][-1]["start_time"] == "9999"


def test_inspect_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / PLAN.name
    bad.write_bytes(PLAN.read_bytes().replace(b"20250401", b"20250431", 1))
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "record 1 (line 1) column 10 サービス利用日" in err
    assert "存在する日付" in err


def test_inspect_missing_path(tmp_path: Path) -> None:
    assert main(["inspect", str(tmp_path / "nope.CSV")]) == 2


def test_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["inspect"])
    assert caught.value.code == 2
    assert main([]) == 2


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "careplan_link", "inspect", str(PLAN), "--json"],
        capture_output=True,
        check=True,
    )
    assert json.loads(result.stdout.decode("utf-8"))["record_count"] == 12
