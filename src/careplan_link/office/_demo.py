"""`careplan-link demo`: the whole month of two offices, on this machine, in a few seconds.

No configuration and nothing left behind: a test certification authority (`FakePKI`), a hub
served on a loopback port with its SQLite store in a temporary folder, a care-manager office
(居宅介護支援事業所) and a provider (訪問介護), each with its `sync` folders and journal. The
care office's software "exports" a month (the plan unit and the schedule unit for several
users) into its outbox; sync sends it; the provider's sync takes it into its inbox; the
provider's software imports it (a receipt file) and exports the month's 実績; sync carries it
back. Then both offices' delivery timelines are printed, and everything is removed.

Needs the `[hub]` extra (uvicorn, starlette) for the served hub; nothing of hypothesis or
pytest.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..client import Client
from ..format import Bundle, Office, YearMonth
from ..hub import Admin, Hub, SqliteStore
from ..protocol import Login
from ..testing._pki import FakePKI
from ._config import Folders
from ._demo_data import month_units
from ._journal import Direction, Event, HistoryEntry, Journal
from ._sync import FolderSync, SyncPass
from ._workflow import Workflow

__all__ = ["EVENT_LABELS", "format_timeline", "run_demo"]

CARE_OFFICE = Office("1310000003", "43")
PROVIDER = Office("1310000102", "11")
DEMO_MONTH = YearMonth(2025, 6)
_JST = datetime.timezone(datetime.timedelta(hours=9))

EVENT_LABELS: dict[Event, str] = {
    Event.VALIDATED: "検証OK validated",
    Event.INVALID: "検証エラー invalid",
    Event.SEALED: "封緘 sealed",
    Event.SENDING: "送信開始 sending",
    Event.SENT: "送信済 sent",
    Event.SEND_FAILED: "送信失敗 send failed",
    Event.DELIVERED: "配信 delivered",
    Event.DOWNLOADED: "受信済 downloaded",
    Event.IMPORTED: "取込済 imported",
    Event.REJECTED: "取込不可 rejected",
    Event.DEFERRED: "保留 deferred",
    Event.WITHDRAWN: "取下げ withdrawn",
    Event.EXPIRED: "期限切れ expired",
}
_KIND_LABELS = {
    "plan": "居宅サービス計画 plan",
    "schedule": "サービス利用票 schedule",
    "results": "実績 results",
}


def run_demo(out: Callable[[str], object] = print, *, users: int = 5) -> int:
    """Run the demo, writing what happens through `out`; returns the exit status (0).

    Everything lives in one temporary folder, removed at the end, and the served hub is
    stopped, whatever happens."""
    from ..hub._asgi import build_app
    from ..hub._server import ServerThread

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="careplan-link-demo-"))
    journals: list[Journal] = []
    clients: list[Client] = []
    store = SqliteStore(root / "hub.sqlite")
    try:
        out("ケアプランデータ連携 デモ / careplan-link demo")
        out(f"  作業フォルダ work folder: {root}")
        pki = FakePKI()
        care_identity = pki.office(CARE_OFFICE.number, name="ケアプランセンターさくら")
        provider_identity = pki.office(PROVIDER.number, name="ヘルパーステーションひまわり")
        admin = Admin(store, password_cost=2**10)  # a demo: logins need not be slow
        passwords = {
            CARE_OFFICE.number: admin.add_office(
                CARE_OFFICE.number, [CARE_OFFICE.service_type or ""], "care01",
                [care_identity.certificate],
            ),
            PROVIDER.number: admin.add_office(
                PROVIDER.number, [PROVIDER.service_type or ""], "help01",
                [provider_identity.certificate],
            ),
        }  # fmt: skip
        with ServerThread(build_app(Hub(store).handle)) as server:
            out(f"  連携基盤 hub: {server.url} (SQLite, test PKI)")

            def office(number: str, user: str, identity: object, folder: str) -> FolderSync:
                client = Client(
                    server.url,
                    login=Login(number, user, passwords[number]),
                    identity=identity,  # type: ignore[arg-type]
                )
                clients.append(client)
                journal = Journal(root / folder / "journal.sqlite")
                journals.append(journal)
                workflow = Workflow(
                    client,
                    identity=identity,  # type: ignore[arg-type]
                    trust=pki.trust_store,
                    journal=journal,
                )
                return FolderSync(workflow, Folders.under(root / folder), settle_seconds=0)

            (root / "care").mkdir()
            (root / "provider").mkdir()
            care = office(CARE_OFFICE.number, "care01", care_identity, "care")
            provider = office(PROVIDER.number, "help01", provider_identity, "provider")
            month = month_units(
                care_office=CARE_OFFICE, providers=[PROVIDER], month=DEMO_MONTH, users=users
            )
            out("")
            out(
                f"1. 居宅介護支援事業所がソフトから書き出し / the care office exports "
                f"{DEMO_MONTH} for {users} users ({month.schedule_records} 第6表 records)"
            )
            for unit in (*month.plans, *month.schedules):
                _export(unit, care.folders.outbox)
            _show(out, "care", care.run_once())
            out("2. サービス事業所が受信 / the provider takes them in")
            _show(out, "provider", provider.run_once())
            out("3. サービス事業所が取込み、実績を書き出し / the provider imports, exports 実績")
            _import_all(provider)
            for unit in month.results:
                _export(unit, provider.folders.outbox)
            _show(out, "provider", provider.run_once())
            out("4. 居宅介護支援事業所が実績を受信・取込み / the care office takes in the 実績")
            _show(out, "care", care.run_once())
            _import_all(care)
            _show(out, "care", care.run_once())
            _show(out, "provider", provider.run_once())
            out("")
            out(format_timeline(journals[0].history(), f"居宅介護支援事業所 {CARE_OFFICE.number}"))
            out(format_timeline(journals[1].history(), f"サービス事業所 {PROVIDER.number}"))
        out(f"完了 done in {time.perf_counter() - started:.1f} s; 作業フォルダを削除しました "
            "the work folder was removed")  # fmt: skip
        return 0
    finally:
        for client in clients:
            client.close()
        for journal in journals:
            journal.close()
        store.close()
        shutil.rmtree(root, ignore_errors=True)


def _export(unit: Bundle, outbox: Path) -> None:
    """What the care software does: write the unit's files into the outbox."""
    for name, data in unit.files.items():
        (outbox / name).write_bytes(data)


def _import_all(sync: FolderSync) -> None:
    """What the vendor's software does after importing each inbox folder: drop a receipt."""
    for message_id in _awaiting(sync):
        (sync.folders.receipts / f"{message_id}.imported").write_bytes(b"")


def _awaiting(sync: FolderSync) -> list[str]:
    done = set()
    waiting = []
    for entry in sync.journal.history():
        if entry.direction is Direction.RECEIVED and entry.message_id is not None:
            if entry.event is Event.IMPORTED:
                done.add(entry.message_id)
            elif entry.event is Event.DOWNLOADED:
                waiting.append(entry.message_id)
    return [m for m in dict.fromkeys(waiting) if m not in done]


def _show(out: Callable[[str], object], who: str, result: SyncPass) -> None:
    for folder, message_id in result.sent:
        out(f"   [{who}] 送信 sent {folder} → {message_id}")
    for folder, message_id in result.received:
        out(f"   [{who}] 受信 received {message_id} → inbox/{folder}")
    for message_id, status in result.receipts:
        out(f"   [{who}] 受領通知 receipt {status} → {message_id}")
    for folder in result.rejected:
        out(f"   [{who}] 送信せず not sent: rejected/{folder}")
    for line in result.errors:
        out(f"   [{who}] エラー error: {line}")


def format_timeline(entries: list[HistoryEntry], title: str) -> str:
    """The delivery timeline of one office, one block per unit (bilingual)."""
    lines = [f"== {title} 配信記録 / delivery timeline =="]
    units: dict[tuple[str, str], list[HistoryEntry]] = {}
    for entry in entries:
        units.setdefault((entry.direction.value, entry.serial + entry.partner), []).append(entry)
    for group in units.values():
        first = group[0]
        arrow = "送信 sent →" if first.direction is Direction.SENT else "受信 received ←"
        kind = _KIND_LABELS.get(first.kind, first.kind)
        message = next((e.message_id for e in reversed(group) if e.message_id), "-")
        lines.append(
            f"  {arrow} {first.partner}  {kind}  ファイル連番 {first.serial}  message {message}"
        )
        for entry in group:
            at = entry.at.astimezone(_JST).strftime("%H:%M:%S.%f")[:-3]
            reasons = f" ({', '.join(entry.reasons)})" if entry.reasons else ""
            lines.append(f"      {at}  {EVENT_LABELS.get(entry.event, entry.event.value)}{reasons}")
    return "\n".join(lines)
