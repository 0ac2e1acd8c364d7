"""`careplan-link sync`: one office's folder hand-off between its care software and the hub.

The care software exports into `outbox/`; sync takes each transmission unit once it has
*settled* (every file the unit needs is there, and no file of that ファイル連番 changed for
`settle_seconds`), validates it (an invalid unit moves to `rejected/<unit>/` with its report in
Japanese and English, and is not sent), verifies the receiver's certificate from the hub's
office directory against the trust anchors, seals and sends it, then moves its files to
`sent/<unit>/`. Units to one partner go in ascending ファイル連番: a unit still waiting (not
settled, incomplete, a file locked by another program) or a send that failed holds the later
ones to that partner.

Every new inbox message is downloaded, opened, verified and validated, and its files written
into `inbox/<ファイル連番>_<sender office>_<unit kind>/` all or nothing (written under a hidden
staging name, then renamed), then the `downloaded` receipt goes to the hub. The vendor's
software reports its import back: `careplan-link receipt`, `Workflow.receipt` (the Python
hook), or a file dropped into `receipts/`: `<message id>.imported`, or `<message id>.rejected`
holding the reason code on its first line and a text after it.

Crash safety: the journal (`Journal`) records each unit's timeline. A send is journaled before
it goes and the unit's idempotency key comes from its files, so a unit sent but not yet moved
to `sent/` when the process died is recognised (the journal, or the hub by the key) and never
stored twice; an inbox folder is written before the receipt, and found again (same files) when
the receipt was lost.

Windows: a file held open by another program (a CSV open in Excel) raises PermissionError on
reading or moving it: the unit waits for the next pass instead of failing. Moves use
`os.replace`, which replaces atomically on Windows as on POSIX.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..errors import (
    CareplanLinkError,
    FormatError,
    HubError,
    InvalidBundle,
    SerialAlreadyUsed,
)
from ..format import Bundle, FileName, ValidationReport, write_bundle
from ._config import Folders
from ._flow import file_name
from ._handoff import Receives, hand_off
from ._journal import Journal

__all__ = [
    "DEFAULT_REJECTION_REASON",
    "RECEIPT_SUFFIXES",
    "REPORT_NAME",
    "SENT_FOLDER",
    "FolderSync",
    "SyncPass",
    "Waiting",
    "unit_folder_name",
]

log = logging.getLogger("careplan_link.sync")

SENT_FOLDER = "sent"
"""The subfolder of the outbox that keeps the files of sent units, one folder per unit."""
RECEIPT_SUFFIXES = {".imported": "imported", ".rejected": "rejected"}
DEFAULT_REJECTION_REASON = "IMPORT_FAILED"
"""The reason code sent for a `.rejected` receipt file that names none."""
REPORT_NAME = "検証結果_report.txt"
MOVING_MARKER = ".files"
_STAGING_PREFIX = ".staging-"

# What an export leaves beside its files and never belongs to a unit.
_DEBRIS = {"thumbs.db", "desktop.ini", ".ds_store"}


class OfficeWorkflow(Receives, Protocol):
    """What sync needs of the office layer (`careplan_link.office.Workflow`)."""

    journal: Journal

    def prepare(self, unit: Bundle, *, journal_with_send: bool = ...) -> Any: ...

    def send(self, prepared: Any) -> Any: ...

    def receipt(
        self,
        message_id: str,
        status: str,
        reasons: Sequence[str] = (),
        detail: str | None = None,
    ) -> Any: ...

    def refresh_statuses(self) -> Any: ...


def unit_folder_name(bundle: Bundle, office: str) -> str:
    """`<ファイル連番>_<office>_<unit kind>`: sorting these names gives the import order."""
    return f"{bundle.serial}_{office}_{bundle.kind.value}"


@attrs.frozen
class Waiting:
    """A unit (or file) left in a folder for a later pass, and why."""

    name: str
    reason_ja: str
    reason_en: str


@attrs.define
class SyncPass:
    """What one pass of sync did. `ok` is False when something failed that needs a person
    (an invalid unit, a refused send, an unreachable hub)."""

    sent: list[tuple[str, str]] = attrs.Factory(list)
    """(unit folder name, message id) of each unit sent."""
    rejected: list[str] = attrs.Factory(list)
    """Units (and stray files) moved to `rejected/`."""
    waiting: list[Waiting] = attrs.Factory(list)
    received: list[tuple[str, str]] = attrs.Factory(list)
    """(inbox folder name, message id) of each unit written into the inbox."""
    refused: list[tuple[str, str]] = attrs.Factory(list)
    """(message id, reason code) of each received message sync rejected itself."""
    receipts: list[tuple[str, str]] = attrs.Factory(list)
    """(message id, imported | rejected) forwarded from `receipts/`."""
    errors: list[str] = attrs.Factory(list)
    hub_unreachable: bool = False

    @property
    def ok(self) -> bool:
        return not (self.rejected or self.errors or self.refused or self.hub_unreachable)


@attrs.frozen
class _Candidate:
    """The files in the outbox that share one unit key."""

    names: tuple[FileName, ...]
    paths: tuple[Path, ...]
    newest: float
    """The latest modification time of its files (seconds since the epoch)."""
    fingerprint: tuple[tuple[str, int, int], ...]

    @property
    def first(self) -> FileName:
        return self.names[0]

    @property
    def label(self) -> str:
        name = self.first
        return f"{name.serial}_{name.receiver.number}"


class _Locked(Exception):
    """A file is held open by another program (Windows: PermissionError)."""


class FolderSync:
    """One office's folder hand-off over a `Workflow` (see the module docstring).

        sync = FolderSync(workflow, folders, settle_seconds=10)
        result = sync.run_once()          # what `careplan-link sync --once` does
        sync.watch(stop_event)            # what `careplan-link sync` does

    `clock` gives the time compared with the files' modification times (tests move it);
    `receive` replaces the inbox step (tests, the benchmark).
    """

    def __init__(
        self,
        workflow: OfficeWorkflow,
        folders: Folders,
        *,
        settle_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workflow = workflow
        self.folders = folders
        self.settle_seconds = settle_seconds
        self.clock = clock
        folders.create()
        self.sent_folder = folders.outbox / SENT_FOLDER
        self.sent_folder.mkdir(exist_ok=True)
        # Fingerprints of the units seen in the last pass: a unit whose files changed since
        # then has not settled, whatever the modification times say (a copy keeps mtimes).
        # Keyed by unit: its files' (name, size, mtime) and when this process saw them change.
        self._seen: dict[tuple[str, ...], tuple[tuple[tuple[str, int, int], ...], float]] = {}
        self._recover_staging()

    @property
    def journal(self) -> Journal:
        return self.workflow.journal

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> SyncPass:
        """Send what has settled, take in the inbox, forward dropped receipts, refresh the
        sent units' statuses. Never raises for a failure of one unit or of the hub: the
        returned `SyncPass` says what happened."""
        result = SyncPass()
        for step in (self.send_outbox, self.receive_inbox, self.forward_receipts, self._refresh):
            if result.hub_unreachable:
                break
            try:
                step(result)
            except HubError as error:
                if _hub_wide(error):
                    result.hub_unreachable = True
                result.errors.append(_first_line(error))
                log.error("%s", _first_line(error))
        return result

    # -- outbox --------------------------------------------------------------------------------

    def send_outbox(self, result: SyncPass) -> None:
        """Send every settled unit of the outbox, in ascending ファイル連番 per partner."""
        _finish_moves(self.folders.outbox, self.sent_folder, self.folders.rejected)
        candidates, strays = self._outbox_units()
        now = self.clock()
        for path in strays:
            if now - _mtime(path) >= self.settle_seconds:
                self._reject_stray(path, result)
        by_partner: dict[tuple[str, str | None], list[_Candidate]] = {}
        for candidate in candidates:
            receiver = candidate.first.receiver
            by_partner.setdefault((receiver.number, receiver.service_type), []).append(candidate)
        for partner in sorted(by_partner, key=lambda p: (p[0], p[1] or "")):
            for candidate in sorted(by_partner[partner], key=lambda c: c.first.serial):
                if not self._send_one(candidate, now, result):
                    break  # the later units to this partner wait for this one

    def _outbox_units(self) -> tuple[list[_Candidate], list[Path]]:
        groups: dict[tuple[str, ...], list[tuple[FileName, Path]]] = {}
        strays: list[Path] = []
        for path in _files_in(self.folders.outbox):
            try:
                name = file_name(path.name)
            except FormatError:
                strays.append(path)
                continue
            key = tuple(part or "" for part in name.unit_key)
            groups.setdefault(key, []).append((name, path))
        candidates = []
        fresh: dict[tuple[str, ...], tuple[tuple[tuple[str, int, int], ...], float]] = {}
        for key, members in groups.items():
            stats = []
            for _, path in members:
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    stats.append((path.name, stat.st_size, stat.st_mtime_ns))
            fingerprint = tuple(sorted(stats))
            newest = max((s[2] / 1e9 for s in stats), default=0.0)
            before = self._seen.get(key)
            if before is not None and before[0] != fingerprint:
                changed_at = self.clock()
            else:
                changed_at = before[1] if before is not None else 0.0
            fresh[key] = (fingerprint, changed_at)
            candidates.append(
                _Candidate(
                    names=tuple(n for n, _ in members),
                    paths=tuple(p for _, p in members),
                    newest=max(newest, changed_at),
                    fingerprint=fingerprint,
                )
            )
        self._seen = fresh
        return candidates, strays

    def _send_one(self, candidate: _Candidate, now: float, result: SyncPass) -> bool:
        """Take one unit; returns False when it did not resolve (the later ones wait)."""
        label = candidate.label
        if now - candidate.newest < self.settle_seconds:
            result.waiting.append(
                Waiting(label, "書き出し中（ファイルが変化しています）", "still being written")
            )
            return False
        try:
            files = {path.name: _read(path) for path in candidate.paths}
        except _Locked as locked:
            result.waiting.append(
                Waiting(
                    label,
                    f"{locked} が他のプログラムで開かれています",
                    f"{locked} is held open by another program",
                )
            )
            return False
        except FileNotFoundError:
            return False  # moved away meanwhile (another sync?): look again next pass
        bundle = Bundle.from_files(files)
        if bundle.missing:
            result.waiting.append(
                Waiting(
                    label,
                    f"ファイルがそろっていません（{', '.join(bundle.missing)} を待っています）",
                    f"incomplete: waiting for {', '.join(bundle.missing)}",
                )
            )
            return False
        folder = unit_folder_name(bundle, bundle.receiver.number)
        if self._already_sent(bundle):
            # Sent before a crash kept its files here: only the move is left to do.
            return self._archive(candidate, folder, result)
        try:
            # Its `validated` and `sealed` are journaled with `sending`: one commit, not three.
            prepared = self.workflow.prepare(bundle, journal_with_send=True)
        except InvalidBundle as invalid:
            self._reject_unit(candidate, folder, invalid.report, result)
            return True
        except HubError:
            raise
        except CareplanLinkError as error:
            # The receiver's certificate is not trusted, or it has none: a person must look.
            result.errors.append(f"{folder}: {_first_line(error)}")
            log.error("%s not sent: %s", folder, _first_line(error))
            return False
        try:
            outcome = self.workflow.send(prepared)
        except SerialAlreadyUsed as used:
            self._reject_unit(candidate, folder, None, result, refusal=used)
            return True
        except HubError as error:
            if _hub_wide(error):
                raise
            result.errors.append(f"{folder}: {_first_line(error)}")
            log.error("%s not sent: %s", folder, _first_line(error))
            return False
        refused = getattr(outcome, "error", None)
        if refused is not None:
            result.errors.append(f"{folder}: {_first_line(refused)}")
            return False
        message_id = str(getattr(outcome, "message_id", "") or "")
        log.info("sent %s as message %s", folder, message_id)
        result.sent.append((folder, message_id))
        self._archive(candidate, folder, result)
        return True

    def _already_sent(self, bundle: Bundle) -> bool:
        from ..protocol import unit_idempotency_key

        # The key hashes every file: only worth it when a unit of this 連番 went out before.
        sent = self.journal.sent_keys(bundle.receiver.number, bundle.serial)
        return bool(sent) and unit_idempotency_key(bundle) in sent

    def _archive(self, candidate: _Candidate, folder: str, result: SyncPass) -> bool:
        target = _free_folder(self.sent_folder, folder)
        try:
            _move_all(candidate.paths, target)
        except _Locked as locked:
            # Sent; the move is retried next pass (the journal knows it was sent).
            result.waiting.append(
                Waiting(
                    folder,
                    f"送信済み。{locked} が開かれているため移動を待っています",
                    f"sent; {locked} is held open, so it stays until the next pass",
                )
            )
        return True

    def _reject_unit(
        self,
        candidate: _Candidate,
        folder: str,
        report: ValidationReport | None,
        result: SyncPass,
        *,
        refusal: CareplanLinkError | None = None,
    ) -> None:
        target = _free_folder(self.folders.rejected, folder)
        target.mkdir(parents=True, exist_ok=True)
        text = _report_text(report, refusal)
        (target / REPORT_NAME).write_text(text, encoding="utf-8-sig", newline="\r\n")
        try:
            _move_all(candidate.paths, target)
        except _Locked as locked:
            log.warning("%s rejected; %s is held open and stays in the outbox", folder, locked)
        result.rejected.append(folder)
        log.warning("%s not sent: see %s", folder, target / REPORT_NAME)

    def _reject_stray(self, path: Path, result: SyncPass) -> None:
        target = self.folders.rejected / path.name
        if target.exists():
            target = _free_folder(self.folders.rejected, path.name)
        try:
            _replace(path, target)
        except _Locked:
            return
        reason = target.with_name(target.name + ".理由_reason.txt")
        reason.write_text(
            f"{path.name}: 標準仕様のファイル名ではないため送信しません。\r\n"
            f"{path.name}: not a file name of the standard, so it was not sent.\r\n",
            encoding="utf-8-sig",
        )
        result.rejected.append(path.name)

    # -- inbox ---------------------------------------------------------------------------------

    def receive_inbox(self, result: SyncPass) -> None:
        """Download, open, verify and validate every new message; write each unit into its
        own inbox folder; send the `downloaded` receipt."""
        for outcome in hand_off(self.workflow, self.write_unit):
            if outcome.folder is not None:
                result.received.append((outcome.folder, outcome.message_id))
            elif outcome.reason is not None:
                result.refused.append((outcome.message_id, outcome.reason))

    def write_unit(self, bundle: Bundle) -> str:
        """Write a received unit into its inbox folder, all or nothing; returns the folder's
        name. A folder already holding exactly these files (a receipt lost in a crash) is
        taken as written."""
        name = unit_folder_name(bundle, bundle.sender.number)
        final = self.folders.inbox / name
        if final.exists():
            if _same_files(final, bundle.files):
                return name
            raise FileExistsError(
                f"受信フォルダ {final} に別の内容があります / the inbox folder {final} "
                "already holds other files"
            )
        staging = self.folders.inbox / f"{_STAGING_PREFIX}{name}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        write_bundle(bundle, to=staging)
        os.replace(staging, final)  # noqa: PTH105  (os.replace: the documented semantics)
        log.info("received %s", name)
        return name

    def _recover_staging(self) -> None:
        """Remove the half-written inbox folders a crash left behind (the message is still
        `delivered` on the hub, so the next pass writes it again)."""
        for entry in self.folders.inbox.iterdir():
            if entry.is_dir() and entry.name.startswith(_STAGING_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)

    # -- receipts ------------------------------------------------------------------------------

    def forward_receipts(self, result: SyncPass) -> None:
        """Send the receipts the vendor's software dropped into `receipts/`, then move each
        file into `receipts/done/` (or `receipts/failed/` with the reason)."""
        done = self.folders.receipts / "done"
        failed = self.folders.receipts / "failed"
        for path in sorted(_files_in(self.folders.receipts)):
            status = RECEIPT_SUFFIXES.get(path.suffix.lower())
            if status is None:
                continue
            message_id = path.stem
            try:
                text = _read(path).decode("utf-8-sig", errors="replace")
            except (_Locked, FileNotFoundError):
                continue
            reasons: tuple[str, ...] = ()
            detail: str | None = None
            if status == "rejected":
                lines = text.strip().splitlines()
                first = lines[0].split(maxsplit=1) if lines else []
                reasons = (first[0],) if first else (DEFAULT_REJECTION_REASON,)
                rest = [first[1]] if len(first) > 1 else []
                detail = "\n".join(rest + lines[1:]).strip() or None
            try:
                self.workflow.receipt(message_id, status, reasons, detail)
            except HubError as error:
                if _hub_wide(error):
                    raise
                failed.mkdir(exist_ok=True)
                with contextlib.suppress(_Locked):
                    _replace(path, failed / path.name)
                (failed / f"{path.name}.理由_reason.txt").write_text(
                    "受領通知を送れませんでした / the receipt was refused: "
                    f"{_first_line(error)}\r\n",
                    encoding="utf-8-sig",
                )
                result.errors.append(f"{path.name}: {_first_line(error)}")
                continue
            done.mkdir(exist_ok=True)
            with contextlib.suppress(_Locked):
                _replace(path, done / path.name)
            result.receipts.append((message_id, status))
            log.info("receipt %s for message %s", status, message_id)

    def _refresh(self, result: SyncPass) -> None:
        """Pull the sent units' hub statuses into the journal, when there is one to learn.

        Skipped (no hub call) when every sent unit has reached a final status, or the only
        ones that have not were sent in this very pass: their status came back with the send
        and was journaled with it, and a later change is picked up by the next pass (a
        scheduled `sync --once` included), as it would be had it happened a moment later."""
        just_sent = {message_id for _, message_id in result.sent}
        if set(self.journal.awaiting_status()) - just_sent:
            self.workflow.refresh_statuses()

    # -- watching ------------------------------------------------------------------------------

    def watch(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 5.0,
        on_pass: Callable[[SyncPass], object] | None = None,
    ) -> None:
        """Run passes until `stop` is set: after each change in the outbox or receipts folder
        (watchfiles, when installed) and at least every `poll_seconds` (the inbox is on the
        hub, and a unit settles by time passing)."""
        for _ in _wakeups(
            [self.folders.outbox, self.folders.receipts], stop, poll_seconds, self.settle_seconds
        ):
            outcome = self.run_once()
            if on_pass is not None:
                on_pass(outcome)


def _wakeups(
    folders: Sequence[Path], stop: threading.Event, poll_seconds: float, settle_seconds: float
) -> Iterator[None]:
    """Yield at once, then after each batch of changes and every `poll_seconds`."""
    yield
    try:
        import watchfiles
    except ImportError:
        watchfiles = None  # type: ignore[assignment]
    if watchfiles is None:
        while not stop.wait(poll_seconds):
            yield
        return
    watcher = watchfiles.watch(
        *folders,
        stop_event=stop,
        rust_timeout=max(1, int(poll_seconds * 1000)),
        yield_on_timeout=True,
        recursive=False,
    )
    for changes in watcher:
        if stop.is_set():
            return
        if changes:
            # A unit settles only `settle_seconds` after its last change: look again then.
            yield
            if stop.wait(settle_seconds + 0.05):
                return
        yield


# -- files -------------------------------------------------------------------------------------


def _files_in(folder: Path) -> list[Path]:
    """The plain files directly in `folder`, without OS debris, lock and temporary files."""
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith((".", "~$")) or name.lower() in _DEBRIS or name.endswith(".part"):
            continue
        if entry.is_file():
            found.append(entry)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise _Locked(path.name) from None


def _replace(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)  # noqa: PTH105  (os.replace: the documented semantics)
    except PermissionError:
        raise _Locked(source.name) from None


def _move_all(paths: Iterable[Path], target: Path) -> None:
    """Move a unit's files into `target`. The names go first into `target/.files`, so that a
    move cut short by a crash is finished by the next pass (`_finish_moves`) instead of
    leaving an incomplete unit in the outbox forever."""
    paths = list(paths)
    target.mkdir(parents=True, exist_ok=True)
    marker = target / MOVING_MARKER
    marker.write_text("\n".join(p.name for p in paths) + "\n", encoding="utf-8")
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            _replace(path, target / path.name)
    marker.unlink()


def _finish_moves(outbox: Path, *parents: Path) -> None:
    """Finish the moves out of `outbox` that a crash interrupted (see `_move_all`)."""
    for parent in parents:
        for marker in parent.glob(f"*/{MOVING_MARKER}"):
            names = marker.read_text(encoding="utf-8").split()
            try:
                for name in names:
                    if (outbox / name).exists():
                        _replace(outbox / name, marker.parent / name)
            except _Locked:
                continue
            marker.unlink()


def _free_folder(parent: Path, name: str) -> Path:
    """`parent/name`, or `parent/name-2`, `-3` … when taken (a unit re-exported)."""
    candidate = parent / name
    number = 2
    # An empty one is a move a crash cut short before its first file: use it.
    while candidate.exists() and any(candidate.iterdir()):
        candidate = parent / f"{name}-{number}"
        number += 1
    return candidate


def _same_files(folder: Path, files: Mapping[str, bytes]) -> bool:
    present = {p.name for p in folder.iterdir() if p.is_file()}
    if present != set(files):
        return False
    return all(
        hashlib.sha256((folder / name).read_bytes()).digest() == hashlib.sha256(data).digest()
        for name, data in files.items()
    )


def _report_text(report: ValidationReport | None, refusal: CareplanLinkError | None) -> str:
    lines: list[str] = []
    if refusal is not None:
        lines += ["送信できませんでした / not sent", str(refusal), ""]
    if report is not None:
        summary = report.summary()
        lines += [
            f"この送信単位は検証でエラー {summary['errors']} 件のため送信していません。",
            f"This unit was not sent: validation found {summary['errors']} errors.",
            "",
            "[日本語]",
            *(issue.message("ja") for issue in report.issues),
            "",
            "[English]",
            *(issue.message("en") for issue in report.issues),
        ]
    return "\n".join(lines) + "\n"


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _hub_wide(error: BaseException) -> bool:
    from ._flow import HUB_WIDE

    return isinstance(error, HUB_WIDE)
