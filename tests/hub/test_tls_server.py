"""The served hub over TLS with client certificates required.

A client with no certificate, or with one from another CA, never completes the handshake: no
request of it reaches the hub. A certificate of the test CA that belongs to another office than
the login's is refused by the hub (403 CERTIFICATE_NOT_THE_OFFICES)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from careplan_link.client import Client, client_ssl_context
from careplan_link.envelope import OfficeIdentity
from careplan_link.errors import Forbidden
from careplan_link.hub._tls import TLSFiles
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

PROVIDER = "1370200022"


@pytest.fixture
def tls_files(hub_offices: HubOffices, tmp_path: Path) -> TLSFiles:
    """A server certificate for 127.0.0.1 from the offices' test CA, and that CA as client CA."""
    server = hub_offices.pki.office(
        "0000000000",
        extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH,),
        subject_alt_name=(x509.IPAddress(ipaddress.ip_address("127.0.0.1")),),
    )
    certificate, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    certificate.write_bytes(server.certificate_pem())
    key.write_bytes(server.private_key_pem())
    ca.write_bytes(hub_offices.pki.ca_certificate.public_bytes(Encoding.PEM))
    return TLSFiles(certificate, key, ca)


@pytest.fixture
def tls_hub(fake_hub: FakeHub, tls_files: TLSFiles) -> Iterator[str]:
    with fake_hub.serve(tls=tls_files, test_controls=False) as url:
        yield url


def _context(tls_files: TLSFiles, identity: OfficeIdentity | None) -> ssl.SSLContext:
    if identity is None:
        context = ssl.create_default_context(cafile=str(tls_files.client_ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return context
    return client_ssl_context(identity, cafile=str(tls_files.client_ca))


def _handshake_and_ask(url: str, context: ssl.SSLContext) -> bytes:
    """Connect, handshake and send a health request over a raw TLS socket; the answer's bytes.
    In TLS 1.3 the server judges the client's certificate after the client has finished its
    side of the handshake, so a refusal shows on the first read: the connection closes with
    no HTTP answer (b"") or with a TLS alert (SSLError)."""
    port = int(url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        return tls.recv(65536)


def _refused(url: str, context: ssl.SSLContext) -> bool:
    try:
        return _handshake_and_ask(url, context) == b""
    except (ssl.SSLError, ConnectionError):
        return True


def test_the_offices_own_certificate_is_let_through(
    fake_hub: FakeHub, hub_offices: HubOffices, tls_files: TLSFiles, tls_hub: str
) -> None:
    assert tls_hub.startswith("https://127.0.0.1:")
    assert b" 200 " in _handshake_and_ask(tls_hub, _context(tls_files, hub_offices.care))
    context = _context(tls_files, hub_offices.care)
    with Client(tls_hub, login=hub_offices.care_login, ssl_context=context) as care:
        sent = care.send(b"sealed", to=PROVIDER, service_type="11")
    assert fake_hub.message(sent.id).sender == hub_offices.care.office_no


def test_no_client_certificate_is_refused_at_the_handshake(
    fake_hub: FakeHub, tls_files: TLSFiles, tls_hub: str
) -> None:
    assert _refused(tls_hub, _context(tls_files, None))
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{tls_hub}/v1/health", verify=_context(tls_files, None))
    assert sum(fake_hub.requests.values()) == 0


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(
    fake_hub: FakeHub, hub_offices: HubOffices, tls_files: TLSFiles, tls_hub: str
) -> None:
    stranger = hub_offices.pki.foreign(hub_offices.care.office_no)
    assert _refused(tls_hub, _context(tls_files, stranger))
    assert sum(fake_hub.requests.values()) == 0


def test_another_offices_certificate_is_refused(
    fake_hub: FakeHub, hub_offices: HubOffices, tls_files: TLSFiles, tls_hub: str
) -> None:
    # The provider's certificate (same CA, valid) with the care office's login.
    context = _context(tls_files, hub_offices.provider)
    with (
        Client(tls_hub, login=hub_offices.care_login, ssl_context=context) as wrong,
        pytest.raises(Forbidden) as refused,
    ):
        wrong.send(b"sealed", to=PROVIDER, service_type="11")
    assert refused.value.code == "CERTIFICATE_NOT_THE_OFFICES"
    assert fake_hub.counts["send"] == 0
