"""Shared set-up of the hub core tests: a hub on a store, two offices, raw requests."""

from __future__ import annotations

import json
from typing import Any

from careplan_link.hub import Admin, Hub, HubRequest, HubResponse, HubSettings, HubStore
from careplan_link.testing import FakePKI, VirtualClock

CARE = "1370100016"
PROVIDER = "1370200022"
PASSWORD = "correct horse battery"

_PKI: FakePKI | None = None


def pki() -> FakePKI:
    """One test CA for the module (key generation is slow)."""
    global _PKI
    if _PKI is None:
        _PKI = FakePKI()
    return _PKI


class Rig:
    """A Hub over `store`, with the care office and the provider registered by `Admin`."""

    def __init__(self, store: HubStore, **settings: Any) -> None:
        self.store = store
        self.clock = VirtualClock()
        settings.setdefault("password_cost", 2**4)
        settings.setdefault("rate_limit", None)
        self.settings = HubSettings(**settings)
        self.hub = Hub(store, self.clock.now, settings=self.settings)
        self.admin = Admin(store, self.clock.now, settings=self.settings)
        self.care = pki().office(CARE)
        self.provider = pki().office(PROVIDER)
        for identity in (self.care, self.provider):
            if store.office(identity.office_no) is None:
                self.admin.add_office(
                    identity.office_no, ["11"], f"user-{identity.office_no}",
                    [identity.certificate], password=PASSWORD,
                )  # fmt: skip

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: dict[str, str] | None = None,
        body: bytes | dict[str, Any] = b"",
        headers: dict[str, str] | None = None,
        certificate: bytes | None = None,
    ) -> HubResponse:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        return self.hub.handle(
            HubRequest(method, path, query or {}, all_headers, body, client_certificate=certificate)
        )

    def login(self, office_no: str = CARE, certificate: bytes | None = None) -> str:
        answer = self.request(
            "POST",
            "/v1/login",
            body={"office_no": office_no, "user_id": f"user-{office_no}", "password": PASSWORD},
            certificate=certificate,
        )
        assert answer.status == 200, answer.body
        token: str = json.loads(answer.body)["access_token"]
        return token

    def send(self, token: str, content: bytes, key: str, to: str = PROVIDER) -> dict[str, Any]:
        answer = self.request(
            "POST",
            "/v1/messages",
            token=token,
            query={"to": to, "service_type": "11"},
            headers={"Content-Type": "application/pkcs7-mime", "Idempotency-Key": key},
            body=content,
        )
        assert answer.status in (200, 201), answer.body
        message: dict[str, Any] = json.loads(answer.body)["message"]
        return message

    def receipt(self, token: str, message_id: str, receipt: str) -> HubResponse:
        return self.request(
            "POST",
            f"/v1/messages/{message_id}/receipts",
            token=token,
            body={"receipt": receipt, "reasons": ["VALIDATION_FAILED"]},
        )


def error_code(answer: HubResponse) -> str:
    code: str = json.loads(answer.body)["error"]["code"]
    return code
