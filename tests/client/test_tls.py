"""The TLS client certificate: presented in a real (in-memory) TLS 1.3 handshake, and the key's
temporary file gone before the context is returned."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from careplan_link.client import Client, Login, client_ssl_context
from careplan_link.testing.pytest_plugin import HubOffices


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> dict[str, object]:
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(client_in, client_out, server_hostname="hub.test")
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            # TLS 1.3: the server checks the client's certificate once it reads its Finished.
            server_side.write(b"")
            break
    assert client_side.version() == "TLSv1.3"
    certificate = server_side.getpeercert()
    assert certificate is not None
    return certificate


def test_the_identity_is_presented_as_the_client_certificate(
    hub_offices: HubOffices, tmp_path: Path
) -> None:
    context = client_ssl_context(hub_offices.care)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    # The test CA issues no server certificates: check only what the client presents.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    server_pem = tmp_path / "server.pem"
    server_pem.write_bytes(
        hub_offices.provider.private_key_pem() + hub_offices.provider.certificate_pem()
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(server_pem)
    server.verify_mode = ssl.CERT_REQUIRED
    ca = hub_offices.pki.ca_certificate.public_bytes(Encoding.PEM).decode()
    server.load_verify_locations(cadata=ca)
    peer = _handshake(context, server)
    subject = dict(item for part in peer["subject"] for item in part)  # type: ignore[attr-defined]
    assert "1370100016" in str(subject)


def test_the_key_file_is_removed_at_once(
    hub_offices: HubOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    original = tempfile.mkstemp

    def recording_mkstemp(*arguments: object, **keywords: object) -> tuple[int, str]:
        descriptor, path = original(*arguments, **keywords)  # type: ignore[call-overload]
        made.append(path)
        return descriptor, path

    monkeypatch.setattr(tempfile, "mkstemp", recording_mkstemp)
    with Client("https://hub.test", login=Login("1370100016", "u", "p"), identity=hub_offices.care):
        assert len(made) == 1 and not Path(made[0]).exists()
