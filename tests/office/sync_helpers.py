"""Two offices with their sync folders over a served hub (real server, SQLite store).

`Offices.restart_hub()` stops the server and serves the same store again on the same port: the
messages in flight stay in the store, as they would across a hub restart.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from careplan_link import Bundle, Client, Login, Office, YearMonth
from careplan_link.hub import Admin, Hub, SqliteStore
from careplan_link.hub._asgi import build_app
from careplan_link.hub._server import ServerThread
from careplan_link.office import Journal, Workflow
from careplan_link.office._config import Folders
from careplan_link.office._demo_data import DemoMonth, month_units
from careplan_link.office._sync import FolderSync
from careplan_link.testing import FakePKI

CARE = Office("1310000003", "43")
PROVIDER = Office("1310000102", "11")
MONTH = YearMonth(2025, 6)


@functools.cache
def pki() -> FakePKI:
    return FakePKI()


@functools.cache
def identities() -> tuple[object, object]:
    return pki().office(CARE.number), pki().office(PROVIDER.number)


@functools.cache
def month(users: int = 3, seed: int = 7) -> DemoMonth:
    return month_units(care_office=CARE, providers=[PROVIDER], month=MONTH, users=users, seed=seed)


def folders(root: Path) -> Folders:
    """Japanese folder names, as offices name them on Windows."""
    return Folders(
        outbox=root / "送信",
        inbox=root / "受信",
        rejected=root / "送信エラー",
        receipts=root / "取込結果",
    )


@attrs.define
class Offices:
    root: Path
    store: SqliteStore
    server: ServerThread
    care: FolderSync
    provider: FolderSync
    clients: list[Client]
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def stop_hub(self) -> None:
        self.server.stop()

    def start_hub(self) -> None:
        self.server = ServerThread(build_app(Hub(self.store).handle), port=self.server.port)
        self.server.start()

    def restart_hub(self) -> None:
        self.stop_hub()
        self.start_hub()

    def export(self, unit: Bundle, *, office: str = "care") -> None:
        sync = self.care if office == "care" else self.provider
        for name, data in unit.files.items():
            (sync.folders.outbox / name).write_bytes(data)


@contextlib.contextmanager
def two_offices(
    root: Path,
    *,
    settle_seconds: float = 0.0,
    clock: Callable[[], float] | None = None,
) -> Iterator[Offices]:
    """The care office and the provider, each with its folders (Japanese names) and journal
    under `root`, over a hub served on loopback."""
    care_identity, provider_identity = identities()
    store = SqliteStore(root / "hub.sqlite")
    admin = Admin(store, password_cost=2)
    passwords = {
        CARE.number: admin.add_office(CARE.number, ["43"], "care01", [care_identity.certificate]),  # type: ignore[attr-defined]
        PROVIDER.number: admin.add_office(
            PROVIDER.number,
            ["11"],
            "help01",
            [provider_identity.certificate],  # type: ignore[attr-defined]
        ),
    }
    server = ServerThread(build_app(Hub(store).handle))
    server.start()
    clients: list[Client] = []
    journals: list[Journal] = []

    def office(number: str, user: str, identity: object, name: str) -> FolderSync:
        from careplan_link.client import RetryPolicy

        client = Client(
            server.url,
            login=Login(number, user, passwords[number]),
            identity=identity,  # type: ignore[arg-type]
            retry=RetryPolicy(attempts=1),
            timeout=5.0,
        )
        clients.append(client)
        journal = Journal(root / name / "journal.sqlite")
        journals.append(journal)
        workflow = Workflow(client, identity=identity, trust=pki().trust_store, journal=journal)  # type: ignore[arg-type]
        options = {"clock": clock} if clock is not None else {}
        return FolderSync(workflow, folders(root / name), settle_seconds=settle_seconds, **options)

    (root / "居宅").mkdir()
    (root / "訪問介護").mkdir()
    offices = Offices(
        root,
        store,
        server,
        office(CARE.number, "care01", care_identity, "居宅"),
        office(PROVIDER.number, "help01", provider_identity, "訪問介護"),
        clients,
        passwords,
    )
    try:
        yield offices
    finally:
        for client in clients:
            client.close()
        for journal in journals:
            journal.close()
        offices.server.stop()
        store.close()


def inbox_folders(sync: FolderSync) -> dict[str, dict[str, bytes]]:
    """Each inbox unit folder's files."""
    return {
        folder.name: {p.name: p.read_bytes() for p in folder.iterdir()}
        for folder in sorted(sync.folders.inbox.iterdir())
        if folder.is_dir()
    }
