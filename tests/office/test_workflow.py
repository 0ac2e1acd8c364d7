"""The office workflow: prepare → send with a journal, send_folder's order, crash safety,
receipts, the outbox's statuses in the journal — through both workflows, in-process and over
`FakeHub.serve()`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from careplan_link import Bundle, OpenedEnvelope
from careplan_link.client import Message, OutcomeUnknown
from careplan_link.office import (
    Event,
    ImportedUnit,
    ImportOrderHeld,
    InvalidBundle,
    Journal,
    Outcome,
    PreparedUnit,
)
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices
from tests.client.soak import unit

from .conftest import Connect

PROVIDER = "1370200022"


def care_office(connect: Connect, offices: HubOffices, **options: Any) -> Any:
    return connect(
        offices.care_login, identity=offices.care, trust=offices.pki.trust_store, **options
    )


def provider_office(connect: Connect, offices: HubOffices, **options: Any) -> Any:
    return connect(
        offices.provider_login,
        identity=offices.provider,
        trust=offices.pki.trust_store,
        **options,
    )


def broken(bundle: Bundle) -> Bundle:
    """The unit with a 被保険者番号 of the wrong length in its first 第1表 record."""
    files = dict(bundle.files)
    name = next(n for n in files if n.startswith("UPPLAN"))
    lines = files[name].split(b"\r\n")
    fields = lines[1].split(b",")
    fields[14] = b"171111"
    lines[1] = b",".join(fields)
    files[name] = b"\r\n".join(lines)
    return Bundle.from_files(files)


def write(folder: Path, *bundles: Bundle) -> Path:
    folder.mkdir(exist_ok=True)
    for bundle in bundles:
        for name, data in bundle.files.items():
            (folder / name).write_bytes(data)
    return folder


def test_prepare_validates_verifies_and_seals_and_send_journals_the_timeline(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    prepared = care.prepare(unit(1))
    assert isinstance(prepared, PreparedUnit) and prepared.report is not None
    assert prepared.report.ok and fake_hub.messages() == []  # nothing sent yet
    outcome = care.send_prepared(prepared)
    assert outcome.sent and not outcome.already_sent
    assert fake_hub.message(outcome.message_id).sha256 == prepared.sha256
    journal: Journal = care.journal
    assert journal.events(outcome.message_id) == [
        Event.VALIDATED,
        Event.SEALED,
        Event.SENDING,
        Event.SENT,
        Event.DELIVERED,
    ]
    (entry,) = journal.units()
    assert (entry.serial, entry.receiver, entry.sha256) == (
        unit(1).serial,
        PROVIDER,
        prepared.sha256,
    )
    assert entry.insured_nos and entry.month is not None


def test_an_invalid_unit_is_refused_with_its_report_and_journaled(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    with pytest.raises(InvalidBundle) as refused:
        care.prepare(broken(unit(1)))
    assert not refused.value.report.ok
    (entry,) = care.journal.units()
    assert care.journal.events(entry.key) == [Event.INVALID]
    codes = sorted({issue.code for issue in refused.value.report.errors})
    assert codes and care.journal.timeline(entry.key)[0].detail == " ".join(codes)
    assert fake_hub.messages() == []


def test_send_folder_sends_in_ascending_serial_and_an_unsent_unit_holds_the_later_ones(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, tmp_path: Path
) -> None:
    care = care_office(connect, hub_offices)
    folder = write(tmp_path / "outbox", unit(3), unit(1), broken(unit(2)), unit(4))
    outcomes = care.send_folder(folder)
    assert [o.unit.serial for o in outcomes] == [unit(n).serial for n in (1, 2, 3, 4)]
    assert [o.sent for o in outcomes] == [True, False, False, False]
    assert isinstance(outcomes[1].error, InvalidBundle) and outcomes[1].report is not None
    assert all(isinstance(o.error, ImportOrderHeld) for o in outcomes[2:])
    assert [m.serial for m in fake_hub.messages()] == [unit(1).serial]

    fixed = write(tmp_path / "fixed", unit(1), unit(2), unit(3), unit(4))
    again = care.send_folder(fixed)  # the office corrected unit 2: everything goes, once
    assert [o.already_sent for o in again] == [True, False, False, False]
    assert [m.serial for m in fake_hub.messages()] == [unit(n).serial for n in (1, 2, 3, 4)]


def test_a_send_interrupted_after_the_hub_stored_it_is_completed_once_after_a_restart(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    first = care_office(
        connect,
        hub_offices,
        journal=Journal(path),
        retry=fake_hub.clock.retry_policy(attempts=1),
        # Served, the lost answer is a wait until the client gives up: not the default 10 s.
        timeout=3,
    )
    fake_hub.inject("lost_response", operations={"send"}, times=1)
    with pytest.raises(OutcomeUnknown):
        first.send_bundle(unit(1))  # the hub stored it; the answer never came (a crash)
    assert len(fake_hub.messages()) == 1
    (pending,) = Journal(path).unfinished_sends()  # another process reads the same file
    assert pending.serial == unit(1).serial and pending.message_id is None

    restarted = care_office(connect, hub_offices, journal=Journal(path))
    outcome = restarted.send_bundle(unit(1))  # what a restart does with an unfinished send
    assert outcome.already_sent and len(fake_hub.messages()) == 1
    journal = Journal(path)
    assert journal.unfinished_sends() == []
    assert journal.events(pending.key).count(Event.SENT) == 1


def test_a_send_the_hub_refused_is_journaled_as_failed_not_unfinished(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    sent = care.send_bundle(unit(1))
    care.withdraw(sent.message_id)
    from careplan_link.office import SerialAlreadyUsed

    with pytest.raises(SerialAlreadyUsed):
        care.send_bundle(unit(1))
    journal: Journal = care.journal
    assert journal.unfinished_sends() == []
    assert journal.events(sent.message_id)[-1] == Event.SEND_FAILED


def test_statuses_receipts_and_the_receivers_timeline(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    sent = care.send_bundle(unit(1))
    provider = provider_office(connect, hub_offices)
    seen: list[str] = []

    def import_files(opened: OpenedEnvelope, message: Message) -> None:
        seen.append(message.id)

    (received,) = provider.receive(import_files)
    assert received.imported and seen == [sent.message_id]
    assert provider.journal.events(sent.message_id) == [
        Event.DELIVERED,
        Event.DOWNLOADED,
        Event.IMPORTED,
    ]
    (entry,) = provider.journal.history()[:1]
    assert entry.partner == "1370100016" and entry.sha256 == sent.message.sha256

    messages = care.refresh_statuses()
    assert [m.id for m in messages] == [sent.message_id]
    assert care.journal.events(sent.message_id)[-3:] == [
        Event.DELIVERED,
        Event.DOWNLOADED,
        Event.IMPORTED,
    ]
    care.refresh_statuses()  # a second refresh adds nothing
    assert care.journal.events(sent.message_id).count(Event.IMPORTED) == 1


def test_a_rejection_receipt_is_journaled_with_its_reasons_and_local_detail(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    sent = care.send_bundle(unit(1))
    provider = provider_office(connect, hub_offices)
    provider.acknowledge(sent.message_id, "downloaded")
    final = provider.receipt(
        sent.message_id, "rejected", ("VALIDATION_FAILED",), "取込エラー / import error"
    )
    assert final.status == "rejected"
    rejected = [e for e in provider.journal.timeline(sent.message_id) if e.event == "rejected"]
    assert [e.reasons for e in rejected] == [("VALIDATION_FAILED",)]
    assert [e.detail for e in rejected] == ["取込エラー / import error"]
    exported = json.loads(provider.journal.export("json"))
    assert [(e["reasons"], e["detail"]) for e in exported if e["event"] == "rejected"] == [
        (["VALIDATION_FAILED"], "取込エラー / import error")
    ]
    csv_text = provider.journal.export("csv", "utf-8").decode("utf-8-sig")
    assert "取込エラー / import error" in csv_text
    care.refresh_statuses()
    (refused,) = [e for e in care.journal.timeline(sent.message_id) if e.event == "rejected"]
    assert refused.reasons == ("VALIDATION_FAILED",)
    assert fake_hub.message(sent.message_id).history[-1].reasons == ("VALIDATION_FAILED",)


def test_a_hand_off_stops_at_downloaded_and_the_vendors_rejection_keeps_its_detail(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    sent = care.send_bundle(unit(1))
    later = care.send_bundle(unit(2))
    provider = provider_office(connect, hub_offices)
    written: dict[str, list[str]] = {}

    def write(opened: OpenedEnvelope, message: Message) -> None:
        written.setdefault(message.id, []).append(opened.unit.serial)

    results = provider.receive(write, acknowledge="downloaded")
    assert [(r.message.id, r.outcome) for r in results] == [
        (sent.message_id, Outcome.DOWNLOADED),
        (later.message_id, Outcome.DOWNLOADED),
    ]
    # The vendor imports later: the hub has `downloaded`, not `imported`.
    assert fake_hub.message(sent.message_id).status == "downloaded"
    assert provider.journal.events(sent.message_id) == [Event.DELIVERED, Event.DOWNLOADED]
    assert provider.journal.unit(sent.message_id).insured_nos  # the users, for the history
    # Handed over once: a second receive neither calls the handler nor sends anything.
    assert provider.receive(write, acknowledge="downloaded") == []
    assert {m: len(serials) for m, serials in written.items()} == {
        sent.message_id: 1,
        later.message_id: 1,
    }

    final = provider.receipt(
        sent.message_id, "rejected", ("USER_UNKNOWN",), detail="利用者が未登録 / unknown user"
    )
    assert final.status == "rejected"
    assert provider.journal.events(sent.message_id) == [
        Event.DELIVERED,
        Event.DOWNLOADED,
        Event.REJECTED,
    ]
    (rejected,) = [e for e in provider.journal.history() if e.event is Event.REJECTED]
    assert rejected.reasons == ("USER_UNKNOWN",)
    assert rejected.detail == "利用者が未登録 / unknown user"
    assert fake_hub.message(sent.message_id).history[-1].reasons == ("USER_UNKNOWN",)
    imported = provider.receipt(later.message_id, "imported")
    assert imported.status == "imported"
    assert provider.journal.events(later.message_id)[-1] == Event.IMPORTED


def test_a_handed_over_unit_whose_downloaded_receipt_was_lost_is_handed_over_again(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = care_office(connect, hub_offices)
    sent = care.send_bundle(unit(1))
    provider = provider_office(connect, hub_offices)
    calls: list[str] = []

    def write_then_lose_the_receipt(opened: OpenedEnvelope, message: Message) -> None:
        calls.append(message.id)
        if len(calls) == 1:
            provider.imported.add(ImportedUnit.of(opened.manifest), message.id)
            raise OSError("killed before the receipt")

    (first,) = provider.receive(write_then_lose_the_receipt, acknowledge="downloaded")
    assert first.outcome is Outcome.DEFERRED
    assert fake_hub.message(sent.message_id).status == "delivered"
    (second,) = provider.receive(write_then_lose_the_receipt, acknowledge="downloaded")
    # Taken as the same unit (not a replay): handed over again, then acknowledged.
    assert second.outcome is Outcome.DOWNLOADED and calls == [sent.message_id] * 2
    assert fake_hub.message(sent.message_id).status == "downloaded"


def test_receive_refuses_an_unknown_acknowledgement(
    connect: Connect, hub_offices: HubOffices
) -> None:
    provider = provider_office(connect, hub_offices)
    with pytest.raises(ValueError, match="acknowledge"):
        provider.receive(lambda opened, message: None, acknowledge="read")


def test_a_directory_certificate_the_trust_anchors_do_not_certify_is_never_sealed_to(
    hub_offices: HubOffices,
) -> None:
    from careplan_link import UntrustedRecipient
    from careplan_link.client import Client
    from careplan_link.office import Workflow

    hub = FakeHub()  # a hub whose directory hands out another CA's key for the provider
    login = hub.register_office(hub_offices.care)
    hub.register_office(hub_offices.pki.foreign(PROVIDER))
    with Client(hub.url, login=login, transport=hub.transport()) as client:
        office = Workflow(client, identity=hub_offices.care, trust=hub_offices.pki.trust_store)
        with pytest.raises(UntrustedRecipient):
            office.send_bundle(unit(1))
        with pytest.raises(UntrustedRecipient):  # certificates given by the caller, the same
            office.prepare(unit(1), to=[hub_offices.pki.foreign(PROVIDER).certificate])
        assert hub.messages() == []
        (entry,) = office.journal.units()
        assert Event.SEALED not in office.journal.events(entry.key)
