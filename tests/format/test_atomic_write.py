"""Writing into a folder loses nothing: atomic files, all-or-nothing units, crash recovery."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from careplan_link import (
    Bundle,
    FileName,
    FormatError,
    Substituted,
    Substitution,
    parse_plan,
    write_bundle,
    write_file,
    write_unit,
)
from careplan_link.format import _atomic

from .helpers import PLAN_NAME, table6_record
from .unitfiles import schedule_unit

NAME = FileName.parse(PLAN_NAME)


def _unit_records() -> dict[str, list[object]]:
    return {
        str(FileName.parse(name)): list(parse_plan(data, name=name).records)
        for name, data in schedule_unit().items()
    }


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- one file ------------------------------------------------------------------------------------


def test_missing_folder_is_an_error_never_a_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    with pytest.raises(FormatError) as caught:
        write_file([table6_record()], NAME, to=outbox)
    assert [i.code for i in caught.value.issues] == ["write.no_folder"]
    assert "path=" in caught.value.issues[0].message_en
    assert not outbox.exists()
    with pytest.raises(FormatError):
        write_file([table6_record()], NAME, to=str(outbox) + "/")
    assert list(tmp_path.iterdir()) == []


def test_a_file_given_as_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"keep")
    with pytest.raises(FormatError) as caught:
        write_file([table6_record()], NAME, to=tmp_path / "a.csv")
    assert caught.value.issues[0].code == "write.no_folder"
    assert (tmp_path / "a.csv").read_bytes() == b"keep"


def test_explicit_path_and_folder(tmp_path: Path) -> None:
    data = write_file([table6_record()], NAME, to=tmp_path)
    assert _listing(tmp_path) == {PLAN_NAME: data}
    other = tmp_path / "other.csv"
    assert write_file([table6_record()], NAME, path=other) == data
    assert other.read_bytes() == data
    with pytest.raises(FormatError) as caught:
        write_file([table6_record()], NAME, path=tmp_path / "missing" / "x.csv")
    assert caught.value.issues[0].code == "write.no_folder"
    with pytest.raises(ValueError, match="not both"):
        write_file([table6_record()], NAME, to=tmp_path, path=other)


def test_existing_file_is_replaced_only_when_told(tmp_path: Path) -> None:
    first = write_file([table6_record(units=1)], NAME, to=tmp_path)
    with pytest.raises(FormatError) as caught:
        write_file([table6_record(units=2)], NAME, to=tmp_path)
    (issue,) = caught.value.issues
    assert (issue.code, issue.file) == ("write.exists", PLAN_NAME)
    assert _listing(tmp_path) == {PLAN_NAME: first}
    second = write_file([table6_record(units=2)], NAME, to=tmp_path, overwrite=True)
    assert second != first
    assert _listing(tmp_path) == {PLAN_NAME: second}


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this system")
def test_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"precious")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / PLAN_NAME).symlink_to(outside)
    for overwrite in (False, True):
        with pytest.raises(FormatError) as caught:
            write_file([table6_record()], NAME, to=outbox, overwrite=overwrite)
        assert caught.value.issues[0].code == "write.symlink"
    assert outside.read_bytes() == b"precious"
    assert (outbox / PLAN_NAME).is_symlink()
    # A dangling symlink is refused too (it would create a file wherever it points).
    (outbox / PLAN_NAME).unlink()
    (outbox / PLAN_NAME).symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(FormatError):
        write_file([table6_record()], NAME, to=outbox)
    assert not (tmp_path / "elsewhere.csv").exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this system")
def test_a_symlinked_folder_named_by_the_caller_is_used(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    data = write_file([table6_record()], NAME, to=tmp_path / "link")
    assert (real / PLAN_NAME).read_bytes() == data


def test_disk_full_keeps_the_earlier_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_file([table6_record(units=1)], NAME, to=tmp_path)

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_atomic, "_write_all", half_then_full)
    with pytest.raises(OSError) as caught:
        write_file([table6_record(units=2)], NAME, to=tmp_path, overwrite=True)
    assert caught.value.errno == errno.ENOSPC
    assert _listing(tmp_path) == {PLAN_NAME: first}


def test_unencodable_character_names_file_record_column_and_item(tmp_path: Path) -> None:
    records = [table6_record(), table6_record(provider_name="すみれ〜")]
    with pytest.raises(FormatError) as caught:
        write_file(records, NAME, to=tmp_path)
    (issue,) = caught.value.issues
    assert (issue.code, issue.file, issue.record, issue.column, issue.item) == (
        "write.unencodable",
        PLAN_NAME,
        2,
        21,
        "サービス事業所名",
    )
    assert "U+301C" in issue.message_en and "U+301C" in issue.message_ja
    assert list(tmp_path.iterdir()) == []


def test_every_substitution_is_reported(tmp_path: Path) -> None:
    log: list[Substituted] = []
    records = [
        table6_record(),
        table6_record(planner_name="〜𠮷田〜", provider_name="すみれ−"),
    ]
    data = write_file(
        records, NAME, to=tmp_path, substitution=Substitution(), on_substitute=log.append
    )
    assert [
        (s.file, s.record, s.column, s.item, s.original, s.replacement, s.count) for s in log
    ] == [
        (PLAN_NAME, 2, 7, "プラン担当者名", "〜", "～", 2),
        (PLAN_NAME, 2, 7, "プラン担当者名", "𠮷", "吉", 1),
        (PLAN_NAME, 2, 21, "サービス事業所名", "−", "－", 1),
    ]
    issue = log[0].to_issue()
    assert (issue.code, issue.severity, issue.record, issue.column) == (
        "write.substituted",
        "warning",
        2,
        7,
    )
    assert "U+301C" in issue.message_ja and "U+FF5E" in issue.message_en
    assert parse_plan(data, name=PLAN_NAME).records[1].planner_name == "～吉田～"  # type: ignore[attr-defined]


def test_no_substitution_reported_when_the_write_fails(tmp_path: Path) -> None:
    log: list[Substituted] = []
    records = [table6_record(planner_name="〜😀")]  # 😀 has no substitute
    with pytest.raises(FormatError):
        write_file(
            records, NAME, to=tmp_path, substitution=Substitution(), on_substitute=log.append
        )
    assert log == []
    assert list(tmp_path.iterdir()) == []


# -- whole units ---------------------------------------------------------------------------------


def test_write_unit_writes_every_file_and_returns_the_bundle(tmp_path: Path) -> None:
    bundle = write_unit(_unit_records(), to=tmp_path)  # type: ignore[arg-type]
    assert _listing(tmp_path) == dict(sorted(bundle.files.items()))
    assert dict(bundle.files) == schedule_unit()


def test_write_unit_encodes_everything_first(tmp_path: Path) -> None:
    files = _unit_records()
    names = list(files)
    third = files[names[2]]
    # An unencodable character in the last file: nothing at all may be written.
    bad = [type(third[0])(**{**_as_dict(third[0]), _free_text_attribute(third[0]): "〜"})]
    files[names[2]] = bad + third[1:]
    with pytest.raises(FormatError) as caught:
        write_unit(files, to=tmp_path)  # type: ignore[arg-type]
    assert {(i.code, i.file) for i in caught.value.issues} == {("write.unencodable", names[2])}
    assert list(tmp_path.iterdir()) == []


def test_write_unit_refuses_several_units(tmp_path: Path) -> None:
    files = _unit_records()
    name = FileName.parse(next(iter(files)))
    other = FileName.parse(str(name).replace(name.serial, "20250325093001"))
    files[str(other)] = files[str(name)]
    with pytest.raises(FormatError) as caught:
        write_unit(files, to=tmp_path)  # type: ignore[arg-type]
    assert caught.value.issues[0].code == "unit.not_one"
    assert list(tmp_path.iterdir()) == []


def test_failing_rename_of_the_third_file_restores_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = Bundle.from_files(schedule_unit())
    names = list(bundle.files)
    # An earlier copy of two of the files, which overwrite=True replaces: both must come back.
    (tmp_path / names[0]).write_bytes(b"old first")
    (tmp_path / names[2]).write_bytes(b"old third")
    before = _listing(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def third_fails(src: object, dst: object) -> None:
        if ".old." not in str(src) and not str(dst).endswith(".part"):
            calls.append(str(dst))
            if len(calls) == 3:
                raise OSError(errno.EIO, "I/O error")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(OSError):
        write_bundle(bundle, to=tmp_path, overwrite=True)
    monkeypatch.undo()
    assert len(calls) == 3
    assert _listing(tmp_path) == before


def test_failing_new_file_rename_removes_the_files_already_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = Bundle.from_files(schedule_unit())
    real_link = os.link
    placed: list[str] = []

    def third_fails(src: object, dst: object, **kwargs: object) -> None:
        if not str(dst).endswith(".part"):
            placed.append(str(dst))
            if len(placed) == 3:
                raise OSError(errno.EIO, "I/O error")
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", third_fails)
    if sys.platform == "win32":
        pytest.skip("Windows places new files with os.rename")
    with pytest.raises(OSError):
        write_bundle(bundle, to=tmp_path)
    monkeypatch.undo()
    assert len(placed) == 3
    assert list(tmp_path.iterdir()) == []


def test_existing_file_in_unit_refuses_the_whole_unit(tmp_path: Path) -> None:
    bundle = Bundle.from_files(schedule_unit())
    last = list(bundle.files)[-1]
    (tmp_path / last).write_bytes(b"earlier")
    with pytest.raises(FormatError) as caught:
        write_bundle(bundle, to=tmp_path)
    assert [(i.code, i.file) for i in caught.value.issues] == [("write.exists", last)]
    assert _listing(tmp_path) == {last: b"earlier"}


# -- crashes -------------------------------------------------------------------------------------

_CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from careplan_link import Bundle, write_bundle
    from careplan_link.format import _atomic

    folder = Path(sys.argv[1])
    files = {p.name: p.read_bytes() for p in Path(sys.argv[2]).glob("*.CSV")}
    where = sys.argv[3]
    if where == "before_commit":
        def crash(*args, **kwargs):
            os._exit(9)
        _atomic._commit = crash
    else:
        real_place = _atomic._place
        done = []
        def crash_after_first(temp, target, overwrite):
            if done:
                os._exit(9)
            real_place(temp, target, overwrite)
            done.append(target)
        _atomic._place = crash_after_first
    write_bundle(Bundle.from_files(files), to=folder, overwrite=True)
    """
)


def _crash(folder: Path, where: str) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = subprocess.run(
        [sys.executable, "-c", _CRASH, str(folder), str(examples), where],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 9, result.stderr


def _temporary(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part")]


def test_crash_before_commit_leaves_only_temporary_names(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_bytes(b"not ours")
    earlier = Bundle.from_files(schedule_unit())
    first_name = next(iter(earlier.files))
    (tmp_path / first_name).write_bytes(b"earlier copy")
    _crash(tmp_path, "before_commit")
    leftovers = _temporary(tmp_path)
    assert len(leftovers) == 3
    visible = {n for n in _listing(tmp_path) if n not in leftovers}
    assert visible == {"keep.txt", first_name}
    assert (tmp_path / first_name).read_bytes() == b"earlier copy"
    # The next write to the folder removes the dead writer's temporary files.
    write_file(
        [table6_record()], PLAN_NAME.replace("20250325093000", "20250401000000"), to=tmp_path
    )
    assert _temporary(tmp_path) == []
    assert (tmp_path / first_name).read_bytes() == b"earlier copy"


def test_crash_during_renames_is_finished_by_the_next_write(tmp_path: Path) -> None:
    _crash(tmp_path, "during_renames")
    assert _temporary(tmp_path)  # a journal and the files not yet in place
    placed = [n for n in _listing(tmp_path) if not n.startswith(".")]
    assert len(placed) == 1
    _atomic.recover(tmp_path)
    assert _temporary(tmp_path) == []
    assert _listing(tmp_path) == dict(sorted(schedule_unit().items()))


def test_a_live_writers_temporary_files_are_left_alone(tmp_path: Path) -> None:
    # Another process's files under a temporary name, its process still running (this one's
    # parent, pytest itself, stands in for it).
    live = tmp_path / f".{PLAN_NAME}.{os.getppid()}-0123456789abcdef.part"
    live.write_bytes(b"in progress")
    write_file([table6_record()], NAME, to=tmp_path)
    assert live.read_bytes() == b"in progress"


def _as_dict(record: object) -> dict[str, object]:
    import attrs

    return attrs.asdict(record, recurse=False)  # type: ignore[arg-type]


def _free_text_attribute(record: object) -> str:
    from careplan_link import layout_for
    from careplan_link.format._layout import Kind

    return next(c.attribute for c in layout_for(record).columns if c.kind is Kind.FREE_TEXT)  # type: ignore[arg-type]
