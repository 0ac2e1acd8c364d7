"""Every hub operation, through both clients (one body each, parametrized by `connect`)."""

from __future__ import annotations

import datetime

import httpx
import pytest

from careplan_link.client import (
    AuthenticationError,
    Conflict,
    Forbidden,
    HubBusinessError,
    Login,
    MessageStatus,
    NotFound,
)
from careplan_link.hub import token_hash
from careplan_link.protocol import IDEMPOTENCY_HEADER
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

from .conftest import Connect

CARE, PROVIDER = "1370100016", "1370200022"


def test_send_list_download_acknowledge(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = care.send(b"envelope-1", to=PROVIDER, service_type="11", serial="20250325093000")
    assert (sent.sender, sent.receiver, sent.status) == (CARE, PROVIDER, "delivered")
    assert [change.status for change in sent.history] == ["accepted", "delivered"]
    assert sent.serial == "20250325093000" and sent.unit_kind is None and sent.size == 10

    (received,) = provider.inbox()
    assert received.id == sent.id
    assert provider.download(sent.id) == b"envelope-1"
    assert fake_hub.message(sent.id).status == "delivered"  # downloading changes nothing

    for receipt in ("downloaded", "imported"):
        fake_hub.clock.advance(5)
        provider.acknowledge(sent.id, receipt)
    final = care.message(sent.id)
    assert final.status == MessageStatus.IMPORTED
    assert [c.status for c in final.history] == ["accepted", "delivered", "downloaded", "imported"]
    times = [c.at for c in final.history]
    assert times == sorted(times) and times[-1] - times[1] == datetime.timedelta(seconds=10)
    assert [m.id for m in care.outbox()] == [sent.id]
    assert care.inbox() == []


def test_a_repeated_receipt_changes_nothing(connect: Connect, hub_offices: HubOffices) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = care.send(b"x", to=PROVIDER, service_type="11")
    first = provider.acknowledge(sent.id, "downloaded")
    again = provider.acknowledge(sent.id, "downloaded")
    assert first == again and len(again.history) == 3


def test_rejection_carries_reasons_and_needs_one(connect: Connect, hub_offices: HubOffices) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = care.send(b"x", to=PROVIDER, service_type="11")
    provider.acknowledge(sent.id, "downloaded")
    with pytest.raises(HubBusinessError) as refused:
        provider.acknowledge(sent.id, "rejected")
    assert refused.value.code == "REASONS_REQUIRED"
    rejected = provider.acknowledge(sent.id, "rejected", ["第6表: 単位数が違います"])
    assert rejected.status == "rejected"
    assert rejected.history[-1].reasons == ("第6表: 単位数が違います",)


def test_a_receipt_out_of_order_is_a_business_error(
    connect: Connect, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = care.send(b"x", to=PROVIDER, service_type="11")
    with pytest.raises(HubBusinessError) as refused:
        provider.acknowledge(sent.id, "imported")  # not downloaded yet
    assert refused.value.code == "INVALID_TRANSITION"
    with pytest.raises(ValueError, match="receipt"):
        provider.acknowledge(sent.id, "read")


def test_withdraw_before_download_only(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    first = care.send(b"first", to=PROVIDER, service_type="11")
    withdrawn = care.withdraw(first.id)
    assert [c.status for c in withdrawn.history][-2:] == ["withdraw_requested", "withdrawn"]
    assert care.withdraw(first.id) == withdrawn  # idempotent
    with pytest.raises(HubBusinessError) as gone:
        provider.download(first.id)
    assert gone.value.code == "MESSAGE_WITHDRAWN" and fake_hub.content(first.id) is None

    second = care.send(b"second", to=PROVIDER, service_type="11")
    provider.acknowledge(second.id, "downloaded")
    with pytest.raises(HubBusinessError) as late:
        care.withdraw(second.id)
    assert late.value.code == "ALREADY_DOWNLOADED"
    with pytest.raises(Forbidden):
        provider.withdraw(second.id)


def test_office_directory(connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices) -> None:
    care = connect(hub_offices.care_login)
    entry = care.office(PROVIDER)
    assert entry.registered and entry.certificates == (hub_offices.provider.certificate,)
    renewed = hub_offices.pki.renewed(hub_offices.provider)
    fake_hub.register_office(renewed, user_id="user-1370200022", password="unused-here")
    assert care.office(PROVIDER).certificates == (
        renewed.certificate,
        hub_offices.provider.certificate,
    )  # newest first
    unknown = care.office("1370999999")
    assert not unknown.registered and unknown.certificates == ()


def test_listing_filters_and_cursor(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    ids = []
    for number in range(7):
        fake_hub.clock.advance(60)
        ids.append(care.send(f"e{number}".encode(), to=PROVIDER, service_type="11").id)
    provider.acknowledge(ids[0], "downloaded")
    assert [m.id for m in provider.inbox(page_size=2)] == ids
    assert [m.id for m in provider.inbox(status="downloaded")] == ids[:1]
    assert [m.id for m in provider.inbox(status=["delivered"])] == ids[1:]
    since = fake_hub.message(ids[4]).accepted_at
    assert [m.id for m in provider.inbox(since=since)] == ids[4:]
    assert provider.inbox(counterpart="1370300036") == []
    assert [m.id for m in provider.inbox(counterpart=CARE)] == ids

    page = provider.inbox_page(limit=3)
    assert [m.id for m in page.messages] == ids[:3] and page.has_more
    rest = provider.inbox_page(page.next_cursor, limit=10)
    assert [m.id for m in rest.messages] == ids[3:] and not rest.has_more
    later = care.send(b"later", to=PROVIDER, service_type="11")
    resumed = provider.inbox_page(rest.next_cursor)  # a kept cursor returns only what is new
    assert [m.id for m in resumed.messages] == [later.id]
    assert [m.id for m in care.outbox_page(limit=1).messages] == ids[:1]


def test_idempotent_send_and_conflict(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    first = care.send(b"same", to=PROVIDER, service_type="11")
    again = care.send(b"same", to=PROVIDER, service_type="11")
    assert again == first and len(fake_hub.messages()) == 1
    assert fake_hub.counts["send_replayed"] == 1
    # The same key with another body is a conflict (a client bug or a key collision).
    token = care.client.session.usable_token()
    with httpx.Client(transport=fake_hub.transport()) as raw:
        answer = raw.post(
            f"{fake_hub.url}/v1/messages",
            params={"to": PROVIDER, "service_type": "11"},
            content=b"other",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/pkcs7-mime",
                IDEMPOTENCY_HEADER: care_key(b"same"),
            },
        )
    assert answer.status_code == 409
    assert isinstance(_error_of(answer), Conflict)


def care_key(envelope: bytes) -> str:
    from careplan_link.protocol import idempotency_key

    return idempotency_key(envelope, PROVIDER, "11")


def _error_of(response: httpx.Response) -> Exception:
    from careplan_link.protocol import http_error

    return http_error(response)


def test_business_error_in_a_200_raises(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    with pytest.raises(HubBusinessError) as refused:
        care.send(b"x", to="1370999999", service_type="11")
    assert refused.value.code == "RECIPIENT_NOT_REGISTERED"
    assert "1370999999" in refused.value.hub_message


def test_service_types_are_checked_when_registered(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    fake_hub.register_office(
        hub_offices.provider,
        service_types=["11", "15"],
        user_id=hub_offices.provider_login.user_id,
        password=hub_offices.provider_login.password,
    )
    care = connect(hub_offices.care_login)
    assert care.office(PROVIDER).service_types == ("11", "15")
    with pytest.raises(HubBusinessError, match="SERVICE_TYPE_NOT_OFFERED"):
        care.send(b"x", to=PROVIDER, service_type="43")


def test_errors_for_wrong_login_unknown_and_foreign_messages(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    wrong = connect(Login(CARE, hub_offices.care_login.user_id, "not-the-password"))
    with pytest.raises(AuthenticationError) as refused:
        wrong.inbox()
    assert refused.value.status == 401 and refused.value.code == "LOGIN_FAILED"
    care = connect(hub_offices.care_login)
    with pytest.raises(NotFound):
        care.message("msg-999999999999")
    other_pki_office = hub_offices.pki.office("1370300036")
    other = connect(fake_hub.register_office(other_pki_office))
    sent = care.send(b"x", to=PROVIDER, service_type="11")
    with pytest.raises(Forbidden):
        other.download(sent.id)


def test_tokens_refresh_before_expiry_and_login_again_after_the_refresh_token(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    care.inbox()
    assert fake_hub.counts["login"] == 1
    fake_hub.clock.advance(datetime.timedelta(minutes=56))  # within the 5-minute margin
    care.inbox()
    assert (fake_hub.counts["login"], fake_hub.counts["refresh"]) == (1, 1)
    fake_hub.clock.advance(datetime.timedelta(hours=9))  # refresh token expired too
    care.inbox()
    assert (fake_hub.counts["login"], fake_hub.counts["refresh"]) == (2, 1)
    assert care.client.session.logins == 2 and care.client.session.refreshes == 1


def test_a_refresh_token_is_single_use(fake_hub: FakeHub, hub_offices: HubOffices) -> None:
    tokens = fake_hub.rules.login(hub_offices.care_login)
    renewed = fake_hub.rules.refresh(tokens.refresh_token)
    assert renewed.refresh_token != tokens.refresh_token
    with httpx.Client(transport=fake_hub.transport()) as raw:
        reused = raw.post(f"{fake_hub.url}/v1/token", json={"refresh_token": tokens.refresh_token})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "REFRESH_TOKEN_INVALID"


def test_a_token_the_hub_dropped_is_renewed_once(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    care.inbox()
    token = care.client.session.usable_token()
    assert token is not None
    # The hub forgets it (an operator revoked it, or a memory store restarted).
    assert fake_hub.store.take_token(token_hash(token)) is not None
    assert care.inbox() == []
    assert fake_hub.counts["refresh"] == 1


def test_retention_expires_messages_and_drops_content(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    waiting = care.send(b"never fetched", to=PROVIDER, service_type="11")
    done = care.send(b"imported", to=PROVIDER, service_type="11")
    provider.acknowledge(done.id, "downloaded")
    provider.acknowledge(done.id, "imported")
    fake_hub.clock.advance(datetime.timedelta(days=31))
    assert provider.message(waiting.id).status == "expired"
    assert provider.message(done.id).status == "imported"  # final states stay
    with pytest.raises(HubBusinessError, match="MESSAGE_EXPIRED"):
        provider.download(waiting.id)
    assert fake_hub.content(done.id) is None


def test_a_download_altered_in_transit_is_refused(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careplan_link.client import HubProtocolError

    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = care.send(b"original", to=PROVIDER, service_type="11")
    original = fake_hub.store.content
    monkeypatch.setattr(fake_hub.store, "content", lambda i: original(i)[:-1] + b"X")
    with pytest.raises(HubProtocolError, match="altered"):
        provider.download(sent.id)
