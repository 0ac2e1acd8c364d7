"""The crash test of `careplan-link sync`: killed at random points, restarted, nothing lost.

    python tests/office/crash_sync.py            # 50 runs
    python tests/office/crash_sync.py --quick    # 5 runs (the suite runs 5 as well)

A hub is served by `careplan-link hub serve` (SQLite) in its own process. Each run exports four
units (plan and schedule, two months) into the care office's outbox, then runs `careplan-link
sync` for the care office and for the provider, each in a forked process that is killed with
SIGKILL at a random moment and started again, until the provider's inbox holds every unit;
then one clean `sync --once` on each side. Checked after each run:

* the hub holds exactly one message per unit (nothing sent twice), each `downloaded`;
* the provider's inbox holds exactly one folder per unit, with the exported bytes (nothing
  lost, nothing half-written); the care office's outbox is empty and `sent/` has each unit once;
* the journals agree: no unfinished send, one `sent` per unit with the hub's message id, each
  received unit recorded once as taken in.

POSIX only (fork and SIGKILL), as the suite's machine is. `CRASH_KEEP=/some/folder` keeps
every run's folders there (each child's output is in `child.log`) instead of a temporary one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))  # run as a script: `tests` importable

from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

import careplan_link._cli_sync  # noqa: E402  (imported once here, not in each child)
import careplan_link.cli  # noqa: E402, F401
from careplan_link import Client, Login, YearMonth  # noqa: E402
from careplan_link.hub import Admin, SqliteStore  # noqa: E402
from careplan_link.office import Event, Journal  # noqa: E402
from careplan_link.office._config import (  # noqa: E402
    HUB_PASSWORD_VARIABLE,
    IDENTITY_PASSWORD_VARIABLE,
)
from careplan_link.office._demo_data import month_units  # noqa: E402
from careplan_link.office._sync import SENT_FOLDER  # noqa: E402
from careplan_link.protocol import unit_idempotency_key  # noqa: E402
from tests.office.sync_helpers import CARE, PROVIDER, identities, pki  # noqa: E402

P12_PASSWORD = "crash-test-p12"
MAX_CYCLES = 60


class CrashTestFailure(AssertionError):
    """A run ended with a unit lost, duplicated, or a journal out of step with the hub."""


def _child(config: str, password: str, once: bool) -> None:
    """A forked child: `careplan-link sync` (watch mode, or one pass), output discarded."""
    os.environ[IDENTITY_PASSWORD_VARIABLE] = P12_PASSWORD
    os.environ[HUB_PASSWORD_VARIABLE] = password
    log = os.open(Path(config).with_name("child.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # Under pytest, sys.stdout and sys.stderr are its capture files, not fds 1 and 2.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    from careplan_link.cli import main

    with contextlib.suppress(ImportError):
        import watchfiles  # noqa: F401
    os._exit(main(["sync", "--config", config, *(["--once"] if once else [])]))


class Hub:
    """`careplan-link hub serve` over a SQLite store in `folder`, both offices registered."""

    def __init__(self, folder: Path) -> None:
        store_path = folder / "hub.sqlite"
        care, provider = identities()
        store = SqliteStore(store_path)
        admin = Admin(store, password_cost=2)
        self.passwords = {
            CARE.number: admin.add_office(CARE.number, ["43"], "care01", [care.certificate]),  # type: ignore[attr-defined]
            PROVIDER.number: admin.add_office(
                PROVIDER.number,
                ["11"],
                "help01",
                [provider.certificate],  # type: ignore[attr-defined]
            ),
        }
        store.close()
        self._log = (folder / "hub.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "careplan_link", "hub", "serve", "--port", "0",
             "--store", f"sqlite:///{store_path}", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = json.loads(line)["url"]

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _office_config(root: Path, office: str, user: str, identity: object, url: str) -> Path:
    root.mkdir(parents=True)
    # PEM (a key without a password): a child starts faster than with PKCS#12.
    (root / "office.pem").write_bytes(identity.certificate_pem())  # type: ignore[attr-defined]
    (root / "office.key.pem").write_bytes(identity.private_key_pem())  # type: ignore[attr-defined]
    (root / "ca.pem").write_bytes(pki().ca_certificate.public_bytes(Encoding.PEM))
    config = root / "careplan-link.toml"
    config.write_text(
        f'office = "{office}"\nuser_id = "{user}"\nhub = "{url}"\n'
        'identity = "office.pem"\nidentity_key = "office.key.pem"\ntrust_anchors = ["ca.pem"]\n'
        "settle_seconds = 0\npoll_seconds = 0.05\n"
        '[folders]\noutbox = "送信"\ninbox = "受信"\nrejected = "送信エラー"\n'
        'receipts = "取込結果"\n',
        encoding="utf-8",
    )
    return config


def one_run(number: int, hub: Hub, folder: Path, rng: random.Random) -> int:
    """One crash run; returns how many times a process was killed. Raises CrashTestFailure."""
    care, provider = identities()
    run = folder / f"run{number:03d}"
    care_config = _office_config(run / "居宅", CARE.number, "care01", care, hub.url)
    provider_config = _office_config(run / "訪問介護", PROVIDER.number, "help01", provider, hub.url)
    care_root, provider_root = care_config.parent, provider_config.parent
    # Two months per run, months apart between runs: every run's ファイル連番 are its own.
    months = [YearMonth(2025 + (4 + 2 * number + i - 1) // 12, (4 + 2 * number + i - 1) % 12 + 1)
              for i in range(2)]  # fmt: skip
    units = []
    for month in months:
        data = month_units(
            care_office=CARE, providers=[PROVIDER], month=month, users=3, seed=number
        )
        units += [*data.plans, *data.schedules]
    (care_root / "送信").mkdir()
    for unit in units:
        for name, content in unit.files.items():
            (care_root / "送信" / name).write_bytes(content)
    expected = {f"{u.serial}_{CARE.number}_{u.kind.value}": dict(u.files) for u in units}

    context = multiprocessing.get_context("fork")
    kills = 0

    def start(config: Path, office: str, once: bool = False) -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_child, args=(str(config), hub.passwords[office], once))
        process.start()
        return process

    def inbox() -> list[str]:
        folder = provider_root / "受信"
        return (
            sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
            if folder.exists()
            else []
        )

    def started(config: Path) -> int:
        log = config.with_name("child.log")
        return log.read_text(encoding="utf-8").count("Ctrl+C") if log.exists() else 0

    for _ in range(MAX_CYCLES):
        # Killed at a random moment: now and then during start-up (journal opened, staging
        # cleaned), mostly during the work, which begins once the child says it watches. On a
        # busy machine start-up is slow, so the work's window is found, not assumed.
        before = {config: started(config) for config in (care_config, provider_config)}
        children = {
            care_config: start(care_config, CARE.number),
            provider_config: start(provider_config, PROVIDER.number),
        }
        early = rng.random() < 0.2
        deadline = time.monotonic() + 30
        while not early and time.monotonic() < deadline:
            if all(started(c) > before[c] for c in children):
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3 if early else 0.6))
        for child in children.values():
            if rng.random() < 0.85:
                assert child.pid is not None
                os.kill(child.pid, signal.SIGKILL)
                kills += 1
            else:
                child.terminate()  # a clean stop, now and then
        for child in children.values():
            child.join(15)
        if inbox() == sorted(expected):
            break
    # One clean pass on each side: whatever a kill left half done is finished now.
    for config, office in ((care_config, CARE.number), (provider_config, PROVIDER.number)):
        child = start(config, office, once=True)
        child.join(60)

    _check(number, hub, care_root, provider_root, units, expected)
    return kills


def _check(
    number: int,
    hub: Hub,
    care_root: Path,
    provider_root: Path,
    units: list,  # type: ignore[type-arg]
    expected: dict[str, dict[str, bytes]],
) -> None:
    def fail(text: str) -> None:
        raise CrashTestFailure(f"run {number}: {text}")

    serials = {u.serial for u in units}
    with Client(hub.url, login=Login(CARE.number, "care01", hub.passwords[CARE.number])) as client:
        messages = [m for m in client.outbox() if m.serial in serials]
    by_serial: dict[str, list[str]] = {}
    for message in messages:
        by_serial.setdefault(message.serial or "", []).append(message.id)
    if sorted(by_serial) != sorted(serials):
        fail(f"the hub holds units {sorted(by_serial)}, not {sorted(serials)}")
    if any(len(ids) != 1 for ids in by_serial.values()):
        fail(f"a unit was stored twice: {by_serial}")
    if {m.status.value for m in messages} != {"downloaded"}:
        fail(f"statuses {[m.status.value for m in messages]}")

    inbox = provider_root / "受信"
    folders = {p.name: p for p in inbox.iterdir()}
    if sorted(folders) != sorted(expected):
        fail(f"inbox holds {sorted(folders)}, expected {sorted(expected)}")
    for name, files in expected.items():
        written = {p.name: p.read_bytes() for p in folders[name].iterdir()}
        if written != files:
            fail(f"inbox folder {name} differs from what was exported")

    outbox = care_root / "送信"
    if sorted(p.name for p in outbox.iterdir()) != [SENT_FOLDER]:
        fail(f"the outbox still holds {sorted(p.name for p in outbox.iterdir())}")
    sent = sorted(p.name for p in (outbox / SENT_FOLDER).iterdir())
    if sent != sorted(f"{u.serial}_{PROVIDER.number}_{u.kind.value}" for u in units):
        fail(f"sent/ holds {sent}")

    with Journal(care_root / "journal.sqlite") as journal:
        if journal.unfinished_sends():
            fail(f"unfinished sends in the journal: {journal.unfinished_sends()}")
        for unit in units:
            key = unit_idempotency_key(unit)
            events = journal.events(key)
            if events.count(Event.SENT) != 1:
                fail(f"unit {unit.serial}: {events.count(Event.SENT)} 'sent' in the journal")
            journaled = journal.unit(key)
            if journaled is None or journaled.message_id != by_serial[unit.serial][0]:
                fail(f"unit {unit.serial}: the journal's message id is not the hub's")
    with Journal(provider_root / "journal.sqlite") as journal:
        for unit in units:
            message_id = by_serial[unit.serial][0]
            events = journal.events(f"in:{message_id}")
            if Event.DOWNLOADED not in events:
                fail(f"message {message_id}: no 'downloaded' in the provider's journal")
        from careplan_link.office import ImportedUnit

        taken = [
            journal.imported_by(ImportedUnit(CARE.number, "43", PROVIDER.number, "11", unit.serial))
            for unit in units
        ]
        if taken != [by_serial[u.serial][0] for u in units]:
            fail(f"units taken in: {taken}")
    # The provider's software imports them: the next run's fresh office does not see them.
    login = Login(PROVIDER.number, "help01", hub.passwords[PROVIDER.number])
    with Client(hub.url, login=login) as client:
        for ids in by_serial.values():
            client.acknowledge(ids[0], "imported")


def run_crash_test(runs: int, *, seed: int = 2026, out: object = print) -> None:
    """`runs` crash runs against one served hub; raises CrashTestFailure on the first fault."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="careplan-link-crash-") as scratch:
        folder = Path(os.environ.get("CRASH_KEEP") or scratch)
        hub = Hub(folder)
        try:
            for number in range(runs):
                started = time.perf_counter()
                kills = one_run(number, hub, folder, rng)
                out(f"run {number + 1}/{runs}: ok, {kills} kills, "  # type: ignore[operator]
                    f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        finally:
            hub.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    try:
        run_crash_test(5 if args.quick else args.runs, seed=args.seed)
    except CrashTestFailure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print("every unit delivered exactly once; nothing lost; journals consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
