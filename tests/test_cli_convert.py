"""`careplan-link convert`: whole units, refusals in two languages, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from careplan_link import validate
from careplan_link.cli import main

from .format.test_versions import _march_unit
from .format.unitfiles import EXAMPLES, plan_unit


def _folder(tmp_path: Path, files: dict[str, bytes], name: str = "in") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    return folder


def test_converts_a_folder_unit_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _folder(tmp_path, _march_unit())
    (source / "notes.txt").write_text("not a standard file")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(source), "--to", "202208", "-o", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(n.replace("_43_", "_").replace("_11_", "_") for n in _march_unit())
    assert validate(out).ok
    printed = capsys.readouterr().out
    assert all(name in printed for name in written)


def test_refuses_a_conversion_for_the_wrong_month_in_two_languages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(EXAMPLES), "--to", "202208", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "convert.month" in err
    assert "適用される" in err and "would not validate" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


def test_allow_month_mismatch_lists_the_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = ["convert", str(EXAMPLES), "--to", "202208", "-o", str(out), "--allow-month-mismatch"]
    assert main(argv) == 0
    assert "convert.month" in capsys.readouterr().out
    assert len(list(out.iterdir())) == 3


def test_existing_files_are_kept_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _folder(tmp_path, _march_unit())
    out = tmp_path / "out"
    out.mkdir()
    argv = ["convert", str(source), "--to", "202208", "-o", str(out)]
    assert main(argv) == 0
    first = next(iter(sorted(out.iterdir())))
    first.write_bytes(b"edited")
    assert main(argv) == 1
    assert "write.exists" in capsys.readouterr().err
    assert first.read_bytes() == b"edited"
    assert main([*argv, "--overwrite"]) == 0
    assert first.read_bytes() != b"edited"


def test_going_up_needs_service_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v3 = {n: d for n, d in plan_unit().items() if not n.startswith("UP3KYO")}
    source = _folder(tmp_path, v3)
    down = tmp_path / "down"
    down.mkdir()
    assert main(["convert", str(source), "--to", "202208", "-o", str(down)]) == 0
    up = tmp_path / "up"
    up.mkdir()
    assert main(["convert", str(down), "--to", "202407", "-o", str(up)]) == 1
    assert "convert.service_types" in capsys.readouterr().err
    assert (
        main(["convert", str(down), "--to", "202407", "-o", str(up), "--service-types", "4"]) == 2
    )
    assert "--service-types" in capsys.readouterr().err
    argv = ["convert", str(down), "--to", "202407", "-o", str(up), "--service-types", "43,11"]
    assert main(argv) == 0
    assert sorted(p.name for p in up.iterdir()) == sorted(v3)


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    assert main(["convert", str(EXAMPLES), "--to", "202208", "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "出力先フォルダがありません" in err and "does not exist" in err
    assert not missing.exists()
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(tmp_path / "nope"), "--to", "202208", "-o", str(out)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["convert", str(empty), "--to", "202208", "-o", str(out)]) == 1
    assert "no standard file" in capsys.readouterr().err
