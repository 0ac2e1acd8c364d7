"""The hub's transport-neutral core: routing, refusals, passwords, tokens, limits, admin."""

from __future__ import annotations

import datetime
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import errors
from careplan_link.envelope import RECEIPT_REASONS
from careplan_link.errors import HubAdminError
from careplan_link.hub import (
    Admin,
    HubRequest,
    HubResponse,
    HubStore,
    MemoryStore,
    SqliteStore,
    open_store,
    token_hash,
)
from careplan_link.hub._http_core import _OPERATIONS
from careplan_link.protocol import ENVELOPE_REASONS, ERROR_CODES, REJECTION_REASONS, ROUTES

from .helpers import CARE, PASSWORD, PROVIDER, Rig, error_code, pki

# -- the protocol module -------------------------------------------------------------------------


def test_the_envelope_reason_codes_are_the_protocols() -> None:
    # The protocol states the strings without importing envelope; the error classes keep theirs.
    assert ENVELOPE_REASONS == RECEIPT_REASONS
    for error_class in (
        errors.EnvelopeError,
        errors.NotForThisRecipient,
        errors.UntrustedSigner,
        errors.SenderMismatch,
        errors.PayloadError,
        errors.Misaddressed,
        errors.CertificateExpired,
    ):
        assert error_class.reason in ENVELOPE_REASONS
    assert set(ENVELOPE_REASONS) <= set(REJECTION_REASONS)


def test_the_protocol_package_imports_no_envelope_no_httpx_no_client() -> None:
    # careplan_link/__init__ imports everything, so look at the package's own import lines.
    import ast

    folder = Path(__file__).parents[2] / "src/careplan_link/protocol"
    imported = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                imported.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
    forbidden = {"httpx", "..envelope", "..client", "..format", "..hub", "sqlite3", "socket"}
    assert imported & forbidden == set()
    assert "..errors" in imported  # the one tree of errors is shared


def test_every_route_has_a_rule_and_every_refusal_a_code() -> None:
    assert set(_OPERATIONS) == {route.operation for route in ROUTES}
    source = "".join(
        path.read_text(encoding="utf-8")
        for path in (Path(__file__).parents[2] / "src/careplan_link/hub").glob("_*.py")
    )
    import re

    used = set(re.findall(r'(?:Refusal|refusal|_refused|BadDocument)\(\s*"([A-Z_]+)"', source))
    assert used and used <= set(ERROR_CODES), used - set(ERROR_CODES)


# -- handle() never raises ---------------------------------------------------------------------

_TEXT = st.text(string.printable + "日本\x00", max_size=30)
_TIMES = st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-03-25T09:00:00Z", "x"]
)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def _requests(draw: st.DrawFn) -> tuple[HubRequest, bool]:
    route = draw(st.sampled_from(ROUTES))
    path = route.template
    for name in route.parameters:
        path = path.replace("{" + name + "}", draw(st.sampled_from(["msg-000000000001", "x"])))
    path = draw(st.sampled_from([path, "/v1/" + draw(_TEXT), path + "/"]))
    method = draw(st.sampled_from([route.method, "GET", "POST", "DELETE", "\x00"]))
    query = draw(
        st.dictionaries(
            st.sampled_from(["limit", "since", "cursor", "status", "to", "service_type", "x"]),
            st.one_of(_TEXT, _TIMES, st.sampled_from(["-1", "1e9", "٣", "MjAyNQ==", "10"])),
            max_size=4,
        )
    )
    if draw(st.booleans()):
        query["cursor"] = draw(st.sampled_from(["MDAwMS0wMS0wMVQwMDowMDowMCswMTowMHx4", "@@"]))
    body = draw(
        st.one_of(
            st.binary(max_size=40),
            st.just(_deep(100_000)),
            st.just(b'{"receipt": "rejected", "reasons": [1]}'),
            st.just(b'{"office_no": "1370100016", "user_id": [], "password": {}}'),
            st.just(b"NaN"),
        )
    )
    headers = draw(
        st.dictionaries(
            st.sampled_from(["content-type", "idempotency-key", "X-Other"]),
            _TEXT,
            max_size=2,
        )
    )
    return HubRequest(method, path, query, headers, body), draw(st.booleans())


@pytest.fixture(scope="module")
def rig() -> Rig:
    return Rig(MemoryStore())


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_requests())
def test_handle_never_raises_and_never_fails_on_what_a_client_sends(
    rig: Rig, drawn: tuple[HubRequest, bool]
) -> None:
    request, authenticated = drawn
    if authenticated:
        token = rig.login()
        request = HubRequest(
            request.method,
            request.path,
            request.query,
            {**request.headers, "authorization": f"Bearer {token}"},
            request.body,
        )
    answer = rig.hub.handle(request)
    assert isinstance(answer, HubResponse)
    assert answer.status != 500, answer.body  # a 500 here is a bug in the hub, not the client
    if answer.status >= 400:
        assert json.loads(answer.body)["error"]["code"] in ERROR_CODES


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z"]
)
def test_out_of_range_times_in_since_are_a_bad_query(rig: Rig, since: str) -> None:
    answer = rig.request("GET", "/v1/inbox", token=rig.login(), query={"since": since})
    assert (answer.status, error_code(answer)) == (400, "BAD_QUERY")


def test_an_out_of_range_time_in_a_cursor_is_a_bad_cursor(rig: Rig) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(b"0001-01-01T00:00:00+01:00|msg-1").decode()
    answer = rig.request("GET", "/v1/outbox", token=rig.login(), query={"cursor": cursor})
    assert (answer.status, error_code(answer)) == (400, "BAD_CURSOR")


@pytest.mark.parametrize("path", ["/v1/login", "/v1/token", "/v1/messages/m/receipts"])
def test_deeply_nested_json_is_bad_json(rig: Rig, path: str) -> None:
    token = rig.login()
    answer = rig.request("POST", path, token=token, body=b"[" * 200_000 + b"]" * 200_000)
    assert answer.status in (400, 413)
    small = rig.request("POST", path, token=token, body=b"[" * 20_000)
    assert (small.status, error_code(small)) == (400, "BAD_JSON")


def test_an_unexpected_failure_is_a_500_answer_not_an_exception(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = rig.login()

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rig.store, "messages", broken)
    answer = rig.request("GET", "/v1/inbox", token=token)
    assert (answer.status, error_code(answer)) == (500, "INTERNAL_ERROR")
    assert b"disk on fire" not in answer.body


def test_health_needs_no_token_and_reports_an_unreachable_store(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = rig.request("GET", "/v1/health")
    assert answer.status == 200
    assert json.loads(answer.body) == {"status": "ok", "api_version": "v1"}

    def unreachable() -> None:
        raise OSError("gone")

    monkeypatch.setattr(rig.store, "ping", unreachable)
    assert error_code(rig.request("GET", "/v1/health")) == "HUB_UNAVAILABLE"


# -- passwords, tokens, offices -------------------------------------------------------------


def test_passwords_and_tokens_are_not_stored_in_clear(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite")
    rig = Rig(store)
    tokens = json.loads(
        rig.request(
            "POST",
            "/v1/login",
            body={"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD},
        ).body
    )
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (PASSWORD, tokens["access_token"], tokens["refresh_token"]):
        assert secret.encode() not in raw
    assert token_hash(tokens["access_token"]).encode() in raw  # kept, hashed
    office = SqliteStore(tmp_path / "hub.sqlite").office(CARE)
    assert office is not None and office.password_hash.startswith("scrypt$")


def test_a_wrong_password_or_user_is_refused_and_audited(rig: Rig) -> None:
    for user, password in ((f"user-{CARE}", "wrong password"), ("someone", PASSWORD)):
        answer = rig.request(
            "POST", "/v1/login", body={"office_no": CARE, "user_id": user, "password": password}
        )
        assert (answer.status, error_code(answer)) == (401, "LOGIN_FAILED")
    assert rig.store.audit_entries()[-1].action == "login_failed"


def test_a_disabled_office_has_its_tokens_refused_and_cannot_log_in(store: HubStore) -> None:
    rig = Rig(store)
    token = rig.login()
    refresh = json.loads(
        rig.request(
            "POST", "/v1/login",
            body={"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD},
        ).body
    )["refresh_token"]  # fmt: skip
    assert rig.request("GET", "/v1/inbox", token=token).status == 200
    assert rig.admin.disable_office(CARE) >= 2
    assert error_code(rig.request("GET", "/v1/inbox", token=token)) == "TOKEN_INVALID"
    refreshed = rig.request("POST", "/v1/token", body={"refresh_token": refresh})
    assert error_code(refreshed) == "REFRESH_TOKEN_INVALID"
    login = rig.request(
        "POST", "/v1/login",
        body={"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD},
    )  # fmt: skip
    assert error_code(login) == "LOGIN_FAILED"
    # Nobody can send to it either, and the directory no longer lists it.
    provider = rig.login(PROVIDER)
    answer = rig.request(
        "POST", "/v1/messages", token=provider, query={"to": CARE, "service_type": "11"},
        headers={"content-type": "application/pkcs7-mime", "idempotency-key": "k"}, body=b"x",
    )  # fmt: skip
    assert error_code(answer) == "RECIPIENT_NOT_REGISTERED"
    rig.admin.enable_office(CARE)
    assert rig.login()


def test_a_password_reset_revokes_tokens_and_the_old_password(store: HubStore) -> None:
    rig = Rig(store)
    token = rig.login()
    new = rig.admin.reset_password(CARE)
    assert len(new) >= 16 and new != PASSWORD
    assert error_code(rig.request("GET", "/v1/inbox", token=token)) == "TOKEN_INVALID"
    body = {"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD}
    assert error_code(rig.request("POST", "/v1/login", body=body)) == "LOGIN_FAILED"
    body["password"] = new
    assert rig.request("POST", "/v1/login", body=body).status == 200


def test_admin_refuses_what_it_cannot_do(store: HubStore) -> None:
    rig = Rig(store)
    with pytest.raises(HubAdminError, match="already registered"):
        rig.admin.add_office(CARE, [], "u", [rig.care.certificate])
    with pytest.raises(HubAdminError, match="not registered"):
        rig.admin.disable_office("1399999999")
    with pytest.raises(HubAdminError, match="cannot be read"):
        rig.admin.add_office("1399999999", [], "u", [b"not a certificate"])
    with pytest.raises(HubAdminError, match="last certificate"):
        rig.admin.remove_certificate(CARE, rig.care.certificate)
    generated = rig.admin.add_office("1399999999", ["11"], "u", [rig.care.certificate])
    assert len(generated) >= 16
    assert [o.office_no for o in rig.admin.list_offices()] == [CARE, PROVIDER, "1399999999"]


def test_certificate_rotation_keeps_both_then_the_new_one(store: HubStore) -> None:
    rig = Rig(store)
    renewed = pki().office(CARE)  # a new key and certificate for the same office
    rig.admin.add_certificate(CARE, renewed.certificate)
    (care,) = [o for o in rig.admin.list_offices() if o.office_no == CARE]
    assert care.certificates == (renewed.certificate, rig.care.certificate)  # newest first
    rig.admin.remove_certificate(CARE, rig.care.certificate)
    (care,) = [o for o in rig.admin.list_offices() if o.office_no == CARE]
    assert care.certificates == (renewed.certificate,)


def test_a_client_certificate_must_be_the_logged_in_offices(store: HubStore) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    rig = Rig(store)
    own = rig.care.certificate.public_bytes(Encoding.DER)
    other = rig.provider.certificate.public_bytes(Encoding.DER)
    token = rig.login(certificate=own)
    assert rig.request("GET", "/v1/inbox", token=token, certificate=own).status == 200
    answer = rig.request("GET", "/v1/inbox", token=token, certificate=other)
    assert (answer.status, error_code(answer)) == (403, "CERTIFICATE_NOT_THE_OFFICES")
    body = {"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD}
    refused = rig.request("POST", "/v1/login", body=body, certificate=other)
    assert error_code(refused) == "CERTIFICATE_NOT_THE_OFFICES"


# -- limits ---------------------------------------------------------------------------------


def test_the_rate_limit_is_per_office_and_per_window(store: HubStore) -> None:
    rig = Rig(store, rate_limit=3)
    care, provider = rig.login(), rig.login(PROVIDER)
    for _ in range(3):
        assert rig.request("GET", "/v1/inbox", token=care).status == 200
    limited = rig.request("GET", "/v1/inbox", token=care)
    assert (limited.status, error_code(limited)) == (429, "TOO_MANY_REQUESTS")
    assert 1 <= float(limited.headers["retry-after"]) <= 60
    assert rig.request("GET", "/v1/inbox", token=provider).status == 200  # another office
    rig.clock.advance(datetime.timedelta(minutes=1))
    assert rig.request("GET", "/v1/inbox", token=care).status == 200


def test_bodies_over_the_limits_are_refused_before_they_are_read() -> None:
    rig = Rig(MemoryStore(), max_json_size=100, max_envelope_size=1000)
    answer = rig.request("POST", "/v1/login", body=b" " * 101)
    assert (answer.status, error_code(answer)) == (413, "BODY_TOO_LARGE")
    token = rig.login()
    answer = rig.request(
        "POST", "/v1/messages", token=token, query={"to": PROVIDER, "service_type": "11"},
        headers={"content-type": "application/pkcs7-mime", "idempotency-key": "k"},
        body=b"x" * 1001,
    )  # fmt: skip
    assert (answer.status, error_code(answer)) == (413, "ENVELOPE_TOO_LARGE")
    assert rig.settings.max_body("send") == 1000 and rig.settings.max_body("login") == 100


# -- retention, stores ------------------------------------------------------------------------


def test_purge_expires_what_outlived_retention(store: HubStore) -> None:
    rig = Rig(store, retention=datetime.timedelta(days=1))
    token = rig.login()
    old = rig.send(token, b"old", "k1")
    rig.clock.advance(datetime.timedelta(hours=20))
    young = rig.send(rig.login(), b"young", "k2")
    report = rig.admin.purge(rig.clock.now() + datetime.timedelta(hours=5))
    assert (report.expired, report.contents_dropped) == (1, 1)
    assert rig.store.message(old["id"]).status == "expired"  # type: ignore[union-attr]
    assert rig.store.content(old["id"]) is None
    assert rig.store.content(young["id"]) == b"young"
    assert rig.admin.purge(rig.clock.now() + datetime.timedelta(hours=5)).expired == 0


def test_open_store_reads_the_operators_urls(tmp_path: Path) -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    store = open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert isinstance(store, SqliteStore) and (tmp_path / "a.sqlite").exists()
    store.close()
    with pytest.raises(HubAdminError, match="PostgreSQL"):
        open_store("postgresql://hub@db/hub")
    for url in ("sqlite://relative.db", "sqlite:///", "mysql://x", "hub.sqlite"):
        with pytest.raises(HubAdminError):
            open_store(url)


def test_admin_on_a_fresh_store_generates_a_password_that_logs_in() -> None:
    store = MemoryStore()
    admin = Admin(store, settings=None, password_cost=2**4)
    password = admin.add_office(CARE, [], "user", [pki().office(CARE).certificate])
    rig = Rig(store)
    body = {"office_no": CARE, "user_id": "user", "password": password}
    assert rig.request("POST", "/v1/login", body=body).status == 200


def test_the_error_code_table_in_the_docs_is_the_protocols() -> None:
    text = (Path(__file__).parents[2] / "docs/hub-protocol.md").read_text(encoding="utf-8")
    import re

    documented = {
        code: int(status)
        for code, status in re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", text, re.M)
    }
    assert documented == {code: entry.status for code, entry in ERROR_CODES.items()}
