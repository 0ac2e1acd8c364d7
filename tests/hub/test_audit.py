"""The audit log: every action recorded, hash-chained, tampering detected, read by offices."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from careplan_link.client import Client
from careplan_link.hub import GENESIS, HubStore, MemoryStore, SqliteStore, verify_chain
from careplan_link.testing import FakeHub

from .helpers import CARE, PROVIDER, Rig


def _exchange(rig: Rig) -> tuple[dict[str, object], dict[str, object]]:
    care, provider = rig.login(), rig.login(PROVIDER)
    kept = rig.send(care, b"plan", "k1")
    pulled = rig.send(care, b"mistake", "k2")
    rig.request("GET", "/v1/inbox", token=provider)
    rig.request("GET", f"/v1/messages/{kept['id']}/content", token=provider)
    rig.receipt(provider, str(kept["id"]), "downloaded")
    rig.receipt(provider, str(kept["id"]), "imported")
    rig.request("POST", f"/v1/messages/{pulled['id']}/withdraw", token=care)
    return kept, pulled


def test_every_action_is_recorded_with_who_what_and_the_envelope_hash(store: HubStore) -> None:
    rig = Rig(store)
    kept, pulled = _exchange(rig)
    entries = rig.store.audit_entries()
    actions = [(e.office_no, e.action, e.message_id) for e in entries]
    assert ("operator", "office_added", None) in actions
    assert (CARE, "send", kept["id"]) in actions
    assert (PROVIDER, "list_inbox", None) in actions
    assert (PROVIDER, "download", kept["id"]) in actions
    assert (PROVIDER, "receipt_downloaded", kept["id"]) in actions
    assert (PROVIDER, "receipt_imported", kept["id"]) in actions
    assert (CARE, "withdraw", pulled["id"]) in actions
    download = next(e for e in entries if e.action == "download")
    assert download.envelope_sha256 == kept["sha256"] and download.counterpart == CARE
    assert download.at == rig.clock.now()
    assert entries[0].previous_hash == GENESIS
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert verify_chain(entries, rig.store.audit_head()).intact


def _tampered(tmp_path: Path, statement: str) -> list[str]:
    path = tmp_path / "hub.sqlite"
    rig = Rig(SqliteStore(path))
    _exchange(rig)
    rig.store.close()
    db = sqlite3.connect(path)
    db.execute(statement)
    db.commit()
    db.close()
    store = SqliteStore(path)
    check = verify_chain(store.audit_entries(), store.audit_head())
    store.close()
    return list(check.problems)


def test_an_altered_entry_is_detected(tmp_path: Path) -> None:
    problems = _tampered(
        tmp_path, "UPDATE audit SET office_no = '1399999999' WHERE action = 'download'"
    )
    assert any("altered" in p for p in problems), problems


def test_a_removed_entry_is_detected(tmp_path: Path) -> None:
    problems = _tampered(tmp_path, "DELETE FROM audit WHERE action = 'download'")
    assert any("missing" in p for p in problems), problems


def test_a_removed_last_entry_is_detected(tmp_path: Path) -> None:
    problems = _tampered(tmp_path, "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
    assert any("at the end" in p for p in problems), problems


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    assert _tampered(tmp_path, "SELECT 1") == []


def test_an_office_reads_its_own_entries_through_the_api(fake_hub: FakeHub) -> None:
    from careplan_link.testing import FakePKI

    pki = FakePKI()
    care_login = fake_hub.register_office(pki.office(CARE))
    provider_login = fake_hub.register_office(pki.office(PROVIDER))
    third_login = fake_hub.register_office(pki.office("1370300038"))
    transport = fake_hub.transport()
    with Client(fake_hub.url, login=care_login, transport=transport) as care:
        sent = care.send(b"plan", to=PROVIDER, service_type="11")
    with Client(fake_hub.url, login=provider_login, transport=transport) as provider:
        provider.download(sent.id)
        provider.acknowledge(sent.id, "downloaded")
    with Client(fake_hub.url, login=care_login, transport=transport) as care:
        first = care.audit_page(limit=2)
        assert first.has_more and len(first.entries) == 2
        rest = care.audit_page(first.next_cursor, limit=500)
        entries = [*first.entries, *rest.entries]
    # The sender sees the receiver's download and receipt: its proof of delivery.
    seen = {(e.office_no, e.action) for e in entries}
    assert {(CARE, "send"), (PROVIDER, "download"), (PROVIDER, "receipt_downloaded")} <= seen
    assert all(CARE in (e.office_no, e.counterpart) for e in entries)
    assert (PROVIDER, "login") not in seen  # the provider's own logins are not the sender's
    with Client(fake_hub.url, login=third_login, transport=transport) as third:
        assert all("1370300038" in (e.office_no, e.counterpart) for e in third.audit_page().entries)


@pytest.mark.parametrize("form", ["csv", "json"])
def test_the_operator_exports_every_entry(form: str) -> None:
    rig = Rig(MemoryStore())
    _exchange(rig)
    text = rig.admin.export_audit(form)  # type: ignore[arg-type]
    rows = json.loads(text) if form == "json" else list(csv.DictReader(io.StringIO(text)))
    entries = rig.store.audit_entries()
    assert [str(r["seq"]) for r in rows] == [str(e.seq) for e in entries]
    assert [r["hash"] for r in rows] == [e.hash for e in entries]
    assert rig.admin.verify_audit().intact
