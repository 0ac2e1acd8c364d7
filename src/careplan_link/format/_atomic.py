"""Writing files into a folder so that nothing is ever lost or half-written.

Every write goes the same way, for one file or a whole transmission unit:

1. The folder must exist (a missing folder is an error, never a file of that name). A name that
   is a symlink is refused, also with `overwrite=True`: the writer never writes through one.
   A name that exists is refused unless `overwrite=True`.
2. Each file is written to a temporary name in the same folder (`.NAME.PID-TOKEN.part`: a leading
   dot and the `.part` suffix, which no importer picks up), flushed and fsync'ed.
3. A journal (`.careplan-link.PID-TOKEN.journal.part`) listing temporary → final names is written
   the same way: from this point the write is committed.
4. The temporary files are renamed into place (a rename never replaces an existing file unless
   `overwrite=True`; it never writes through a symlink, it replaces the name), then the journal
   is removed and the folder fsync'ed.

An exception anywhere removes what was written (and, in step 4, puts back the files it had
replaced), so nothing stays behind. A crash (power loss, a killed process) leaves only the
temporary names; the next write to the same folder finishes the work of a committed writer (the
journal exists: its files are renamed into place, the unit is complete) and removes the
temporary files of any other dead writer (the earlier files are untouched). A writer is dead
when its process no longer runs (POSIX); on Windows, where that cannot be asked cheaply, when
its files are older than a day.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from .._issue import Issue
from ..errors import FormatError

__all__ = ["write_atomically"]

_TEMP = re.compile(
    r"^\..+\.(?P<pid>\d+)-(?P<token>[0-9a-f]{16})(?P<role>\.old|\.journal|\.journal-new)?\.part$"
)
_JOURNAL_PREFIX = ".careplan-link"
_WINDOWS_STALE_SECONDS = 24 * 3600

# Writers of this process still at work (their temporary files are not debris).
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def write_atomically(
    folder: str | os.PathLike[str], files: Mapping[str, bytes], *, overwrite: bool = False
) -> tuple[Path, ...]:
    """Write `files` (name → bytes) into `folder`, all or nothing; returns the paths written.

    Raises `FormatError` (nothing written) when the folder does not exist, a name is not a plain
    file name, is a symlink, or exists and `overwrite` is False; `OSError` when the system fails
    (disk full, no permission), after removing everything this call wrote.
    """
    directory = Path(folder)
    _check_folder(directory)
    recover(directory)
    targets = {name: _target(directory, name, overwrite) for name in files}
    token = secrets.token_hex(8)
    tag = f"{os.getpid()}-{token}"
    with _ACTIVE_LOCK:
        _ACTIVE.add(token)
    try:
        temps: dict[str, Path] = {}
        try:
            for name, data in files.items():
                temps[name] = directory / f".{name}.{tag}.part"
                _write_new(temps[name], data)
            _commit(directory, tag, temps, targets, overwrite)
        except BaseException:
            for temp in temps.values():
                _remove(temp)
            raise
        _place_all(directory, tag, temps, targets, overwrite)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(token)
    _sync_folder(directory)
    return tuple(targets.values())


def _check_folder(directory: Path) -> None:
    # A folder the caller names may itself be a symlink (an outbox on another drive): that is
    # the caller's explicit choice. Only the file names inside it are guarded.
    if not directory.is_dir():
        what_ja, what_en = (
            ("フォルダではありません", "is not a folder")
            if directory.exists()
            else ("フォルダがありません", "does not exist")
        )
        raise FormatError(
            [
                Issue(
                    "write.no_folder",
                    "error",
                    f"書き込み先 {directory} は{what_ja}（to= には既存のフォルダ、"
                    "ファイルのパスは path= で指定します）",
                    f"the destination {directory} {what_en} (to= takes an existing folder; "
                    "give a file path as path=)",
                    value=str(directory),
                )
            ]
        )


def _target(directory: Path, name: str, overwrite: bool) -> Path:
    if not name or name in (".", "..") or Path(name).name != name or "/" in name or "\\" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    if _TEMP.match(name):
        raise ValueError(f"{name!r} is a temporary name of the writer")
    target = directory / name
    if target.is_symlink():
        raise FormatError(
            [
                Issue(
                    "write.symlink",
                    "error",
                    "書き込み先の名前がシンボリックリンクです。リンク先には書き込みません",
                    "the destination name is a symlink: the writer never writes through one",
                    file=name,
                    value=str(target),
                )
            ]
        )
    if os.path.lexists(target) and (not overwrite or not target.is_file()):
        raise FormatError(
            [
                Issue(
                    "write.exists",
                    "error",
                    "同じ名前のファイルがすでにあります（置き換えるには overwrite=True）",
                    "a file of this name already exists (overwrite=True replaces it)",
                    file=name,
                    value=str(target),
                )
            ]
        )
    return target


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` (never an existing name, never through a symlink), write, fsync."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o666)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove(path)
        raise


def _journal(directory: Path, tag: str) -> Path:
    return directory / f"{_JOURNAL_PREFIX}.{tag}.journal.part"


def _commit(
    directory: Path,
    tag: str,
    temps: Mapping[str, Path],
    targets: Mapping[str, Path],
    overwrite: bool,
) -> None:
    """Write the journal: after this, a crash ends with every file in place."""
    entries = [[temps[name].name, targets[name].name] for name in temps]
    content = json.dumps({"overwrite": overwrite, "files": entries}).encode()
    new = directory / f"{_JOURNAL_PREFIX}.{tag}.journal-new.part"
    _write_new(new, content)
    try:
        new.replace(_journal(directory, tag))
    except BaseException:
        _remove(new)
        raise
    _sync_folder(directory)


def _place_all(
    directory: Path,
    tag: str,
    temps: Mapping[str, Path],
    targets: Mapping[str, Path],
    overwrite: bool,
) -> None:
    placed: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
    try:
        for name, temp in temps.items():
            target = targets[name]
            backup = None
            if overwrite and os.path.lexists(target):
                backup = directory / f".{name}.{tag}.old.part"
                _keep_copy(target, backup)
            try:
                _place(temp, target, overwrite)
            except BaseException:
                if backup is not None:
                    _remove(backup)
                raise
            placed.append((target, backup))
    except BaseException:
        # Put the folder back as it was: replaced files restored, new ones removed.
        for target, backup in reversed(placed):
            if backup is not None:
                backup.replace(target)
            else:
                _remove(target)
        for temp in temps.values():
            _remove(temp)
        _remove(_journal(directory, tag))
        raise
    for _, backup in placed:
        if backup is not None:
            _remove(backup)
    _remove(_journal(directory, tag))


def _keep_copy(target: Path, backup: Path) -> None:
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError:
        # No hard links on this file system (FAT, some network shares): copy instead.
        shutil.copyfile(target, backup, follow_symlinks=False)


def _place(temp: Path, target: Path, overwrite: bool) -> None:
    """Rename `temp` to `target`; without `overwrite`, never replace an existing name."""
    if target.is_symlink():
        raise FormatError(
            [
                Issue(
                    "write.symlink",
                    "error",
                    "書き込み先の名前がシンボリックリンクです。リンク先には書き込みません",
                    "the destination name is a symlink: the writer never writes through one",
                    file=target.name,
                    value=str(target),
                )
            ]
        )
    if overwrite:
        temp.replace(target)  # replaces the name itself, even if it became a symlink
        return
    if sys.platform == "win32":
        temp.rename(target)  # fails when the target exists
        return
    try:
        os.link(temp, target, follow_symlinks=False)  # fails when the target exists
    except FileExistsError:
        raise FormatError(
            [
                Issue(
                    "write.exists",
                    "error",
                    "同じ名前のファイルがすでにあります（置き換えるには overwrite=True）",
                    "a file of this name already exists (overwrite=True replaces it)",
                    file=target.name,
                    value=str(target),
                )
            ]
        ) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # No hard links here: check, then rename (a narrow race with another writer).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
        temp.rename(target)
        return
    temp.unlink()


def _sync_folder(directory: Path) -> None:
    """Make the renames durable (POSIX; Windows has no directory handles to fsync)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _alive(pid: int, token: str, example: Path) -> bool:
    if pid == os.getpid():
        with _ACTIVE_LOCK:
            return token in _ACTIVE
    if sys.platform == "win32":
        try:
            return time.time() - example.lstat().st_mtime < _WINDOWS_STALE_SECONDS
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's live process (EPERM)
    return True


def _leftovers(directory: Path) -> Iterator[tuple[str, str, str, Path]]:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match:
            yield match["pid"], match["token"], match["role"] or "", Path(entry.path)


def recover(folder: str | os.PathLike[str]) -> None:
    """Finish or undo what dead writers left in `folder` (run by every write)."""
    directory = Path(folder)
    by_writer: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    for pid, token, role, path in _leftovers(directory):
        by_writer.setdefault((pid, token), []).append((role, path))
    for (pid, token), paths in by_writer.items():
        if _alive(int(pid), token, paths[0][1]):
            continue
        journals = [path for role, path in paths if role == ".journal"]
        if journals:
            _roll_forward(directory, journals[0])
        for _, path in paths:
            _remove(path)


def _roll_forward(directory: Path, journal: Path) -> None:
    try:
        plan = json.loads(journal.read_bytes())
        overwrite = bool(plan["overwrite"])
        entries = [(str(temp), str(final)) for temp, final in plan["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return  # not a journal of ours: its files are removed as debris
    for temp_name, final_name in entries:
        temp, target = directory / temp_name, directory / final_name
        if Path(temp_name).name != temp_name or Path(final_name).name != final_name:
            continue
        if not os.path.lexists(temp):
            continue  # already in place
        try:
            _place(temp, target, overwrite)
        except (OSError, FormatError):
            _remove(temp)
    _sync_folder(directory)
