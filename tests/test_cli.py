"""The `careplan-link` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from careplan_link import from_json, parse_plan
from careplan_link.cli import main

from .format.test_validation import EXPECTED_COLUMN, ITEM_RULE_CASES
from .format.unitfiles import edit, plan_unit, schedule_unit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLAN = EXAMPLES / "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"


def test_inspect_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(PLAN), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "ファイル連番 serial: 20250325093000" in out
    assert "サービス開始時刻" in out and "1000" in out
    assert "送信元事業所番号 sender: 1370100016" in out
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


def test_inspect_json_is_the_json_codec_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(PLAN), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert (data["format"], data["interface"], data["layout_family"]) == (
        "careplan_link.records",
        "table6_plan",
        "202407",
    )
    assert data["records"][0]["units"] == 244  # typed: integers are numbers
    # What inspect prints reads back as the file's records (the extra fields are ignored).
    assert from_json(out) == parse_plan(PLAN)
    assert main(["inspect", str(PLAN), "--json", "--limit", "2"]) == 0
    limited = json.loads(capsys.readouterr().out)
    assert len(limited["records"]) == 2 and limited["record_count"] == 12
    assert from_json(json.dumps(limited)).records == parse_plan(PLAN).records[:2]


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


def _unit_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outbox"
    folder.mkdir()
    for path in EXAMPLES.glob("*.CSV"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(_unit_folder(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "unit schedule: 1370100016/43 → 1370200022/11" in out
    assert "OK: 3 files, 1 units, 0 errors, 0 warnings" in out


def test_validate_errors_grouped_by_unit_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _unit_folder(tmp_path)
    plan = folder / PLAN.name
    plan.write_bytes(plan.read_bytes().replace(b",111211,", b",331111,", 1))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    # (the month's arithmetic may add issues of its own for the changed service code)
    assert re.search(rf"^  {re.escape(PLAN.name)}  \d+ issues$", out, re.MULTILINE)
    assert "エラー scope.out_of_scope record 1, line 1, No.15 サービスコード:" in out
    assert "NG: 3 files" in out
    assert main(["validate", "--lang", "en", str(folder)]) == 1
    assert "error scope.out_of_scope record 1, line 1, No.15" in capsys.readouterr().out


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _unit_folder(tmp_path)
    (folder / "notes.txt").write_text("x")
    assert main(["validate", "--json", str(folder)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"issues", "units", "summary"}
    (issue,) = data["issues"]
    assert set(issue) == {"code", "severity", "file", "record", "line", "column", "item",
                          "value", "message_ja", "message_en"}  # fmt: skip
    assert issue["code"] == "file.not_standard" and issue["record"] is None
    assert data["units"][0]["kind"] == "schedule"
    assert data["summary"]["warnings"] == 1


def test_validate_usage_errors(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["validate"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("prefix", "record", "column", "text", "code", "severity"), ITEM_RULE_CASES
)
def test_validate_cli_reports_each_rule(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prefix: str,
    record: int,
    column: int,
    text: str,
    code: str,
    severity: str,
) -> None:
    files = edit(schedule_unit(), prefix, record, column, text)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    status = main(["validate", "--json", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    hits = [i for i in data["issues"] if i["code"] == code]
    assert hits and hits[0]["severity"] == severity
    assert (hits[0]["record"], hits[0]["column"]) == (record, EXPECTED_COLUMN.get(code, column))
    assert status == (1 if data["summary"]["errors"] else 0)


def test_validate_cli_passing_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in schedule_unit().items():
        (tmp_path / name).write_bytes(data)
    assert main(["validate", "--json", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["issues"] == []


def test_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    big = tmp_path / PLAN.name
    big.write_bytes(PLAN.read_bytes() * 200)  # far more output than a pipe buffers
    process = subprocess.Popen(
        [sys.executable, "-m", "careplan_link", "inspect", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # like `| head -c 10`
    stderr = process.stderr.read()
    assert process.wait(timeout=30) == 0
    assert b"Traceback" not in stderr


# -- nothing unchecked passes (issue 11): misnamed files, empty folders, strict ---------------

MISNAMED_IN_OUTBOX = {
    # the issue's cases, each with a content fault (サービス利用日 20250431 on record 5)
    "UPPLAN_202504_1370100016_43_137020002_11_20250325093000.CSV": "name.office_no",
    "UPJSK_202504_1370200022_11__43_20250325093000.CSV": "name.empty_field",
    "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000 (1).CSV": "name.copy_suffix",
    "UPPLNA_202504_1370100016_43_1370200022_11_20250325093000.CSV": "name.prefix",
}


def test_validate_folder_with_misnamed_files_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _unit_folder(tmp_path)
    faulty = edit(schedule_unit(), "UPPLAN", 5, 10, "20250431")[PLAN.name]
    for name in MISNAMED_IN_OUTBOX:
        (folder / name).write_bytes(faulty)
    (folder / "UP1KYO_1370100016_43_20250425173000.csv").write_bytes(b"")
    (folder / "Thumbs.db").write_bytes(b"\x00")
    assert main(["validate", "--json", str(folder)]) == 1
    data = json.loads(capsys.readouterr().out)
    by_file: dict[str, set[str]] = {}
    for issue in data["issues"]:
        by_file.setdefault(issue["file"], set()).add(issue["code"])
    for name, code in MISNAMED_IN_OUTBOX.items():
        assert {code, "value.yyyymmdd"} <= by_file[name], name
    assert "name.fields" in by_file["UP1KYO_1370100016_43_20250425173000.csv"]
    assert "Thumbs.db" not in by_file and "file.not_standard" not in str(data)
    assert data["summary"]["ok"] is False and data["summary"]["files"] == 8
    assert main(["validate", "--lang", "en", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "a leading zero was probably lost" in out and "NG: 8 files" in out


def test_validate_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "file.none" in out and "NG: 0 files" in out
    assert main(["validate", "--json", str(tmp_path)]) == 1
    assert json.loads(capsys.readouterr().out)["issues"][0]["code"] == "file.none"


def test_validate_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _unit_folder(tmp_path)
    (folder / PLAN.name).rename(folder / PLAN.name.replace(".CSV", ".csv"))
    assert main(["validate", str(folder)]) == 0
    assert "警告 name.extension_case" in capsys.readouterr().out
    assert main(["validate", "--strict", str(folder)]) == 1
    assert "エラー name.extension_case" in capsys.readouterr().out


def test_validate_shows_a_check_digit_warning_and_can_leave_it_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 第1表 No.13 介護支援事業者コード mistyped: 1370100012 for 1370100016.
    for name, data in edit(plan_unit(), "UP1KYO", 1, 13, "1370100012").items():
        (tmp_path / name).write_bytes(data)
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "警告 identifier.check_digit record 1, line 1, No.13 介護支援事業者コード:" in out
    assert "[1370100012]" in out and "OK: 4 files, 1 units, 0 errors, 1 warnings" in out
    assert main(["validate", "--strict", "--lang", "en", str(tmp_path)]) == 0  # still a warning
    assert "warning identifier.check_digit record 1" in capsys.readouterr().out
    assert main(["validate", "--no-check-digits", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "identifier." not in out and "0 errors, 0 warnings" in out


# -- encoding and characters (issue 11) ------------------------------------------------------


def _plan_with(tmp_path: Path, old: str, new: str, *, utf8: bool = False) -> Path:
    text = PLAN.read_bytes().decode("cp932").replace(old, new, 1)
    path = tmp_path / PLAN.name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8") if utf8 else text.encode("cp932"))
    return path


def test_inspect_prints_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _plan_with(tmp_path, "佐藤", "佐藤\x1b[2J\x00\x7f")
    assert main(["inspect", str(path), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "佐藤\\x1b[2J\\x00\\x7f" in out
    assert not {"\x1b", "\x00", "\x7f"} & set(out)
    assert main(["inspect", str(path), "--json", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert not {"\x1b", "\x00", "\x7f"} & set(out)
    assert json.loads(out)["records"][0]["planner_name"].startswith("佐藤\x1b[2J\x00\x7f")


def test_validate_prints_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _plan_with(tmp_path, "佐藤", "佐藤\x1b[2J")
    assert main(["validate", "--lang", "en", str(tmp_path / PLAN.name)]) == 1
    out = capsys.readouterr().out
    assert "text.control_character record 1, line 1, No.7 プラン担当者名" in out
    assert "\\x1b[2J" in out and "\x1b" not in out
    assert main(["validate", "--json", str(tmp_path / PLAN.name)]) == 1
    data = json.loads(capsys.readouterr().out)
    (issue,) = [i for i in data["issues"] if i["code"] == "text.control_character"]
    assert (issue["record"], issue["column"], issue["severity"]) == (1, 7, "error")


def test_private_use_character_in_a_utf8_file_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _plan_with(tmp_path, "佐藤", "佐\ue758藤", utf8=True)
    assert main(["validate", "--lang", "en", str(path)]) == 1
    out = capsys.readouterr().out
    assert "encoding.utf8" in out and "U+E758" in out and "No.7 プラン担当者名" in out
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert "U+E758" in captured.err and "column 7" in captured.err
    assert "Traceback" not in captured.err + captured.out
