"""The TLS client key at rest (client/_tls.py): never written to disk in the clear, not even for
a moment, and a crash half-way leaves nothing that reveals it."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from careplan_link.client import client_ssl_context
from conftest import Offices


def _plain_forms(offices: Offices) -> list[bytes]:
    """Every unencrypted form of the care office's key someone could find in a file."""
    key = offices.care.private_key
    forms = [
        key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        for fmt in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        )
    ]
    forms += [
        key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        for fmt in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        )
    ]
    return forms


def _assert_no_plain_key(data: bytes, offices: Offices) -> None:
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in data
    assert b"BEGIN PRIVATE KEY" not in data and b"BEGIN RSA PRIVATE KEY" not in data
    for form in _plain_forms(offices):
        assert form not in data
    with pytest.raises((TypeError, ValueError)):  # unreadable without the one-time password
        serialization.load_pem_private_key(data, None)


def test_the_key_file_is_encrypted_while_it_exists_and_removed_after(
    offices: Offices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[bytes] = []
    load = ssl.SSLContext.load_cert_chain

    def spying(self: ssl.SSLContext, certfile: str, *args: object, **kwargs: object) -> None:
        seen.append(Path(certfile).read_bytes())  # the only moment the file exists
        load(self, certfile, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spying)
    context = client_ssl_context(offices.care)
    assert isinstance(context, ssl.SSLContext)
    assert len(seen) == 1
    _assert_no_plain_key(seen[0], offices)
    assert list(tmp_path.iterdir()) == []


_CRASHING = textwrap.dedent(
    """
    import os, signal, ssl, sys
    from careplan_link.testing import FakePKI
    from careplan_link.client import client_ssl_context

    identity = FakePKI().office("1370100016")
    sys.stdout.buffer.write(identity.private_key_pem())
    sys.stdout.flush()

    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # the machine dies between writing and removing

    ssl.SSLContext.load_cert_chain = crash
    client_ssl_context(identity)
    """
)


def test_a_crash_half_way_leaves_no_plaintext_key(tmp_path: Path) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING],
        env={**os.environ, "TMPDIR": str(spool)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    key = serialization.load_pem_private_key(crashed.stdout, None)
    left = list(spool.iterdir())
    assert len(left) == 1  # the crash did leave the file behind ...
    data = left[0].read_bytes()
    # ... but only encrypted, under a password that died with the process.
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in data
    assert b"BEGIN PRIVATE KEY" not in data and b"BEGIN RSA PRIVATE KEY" not in data
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        for encoding in (serialization.Encoding.PEM, serialization.Encoding.DER):
            plain = key.private_bytes(encoding, fmt, serialization.NoEncryption())
            assert plain not in data
    with pytest.raises((TypeError, ValueError)):
        serialization.load_pem_private_key(data, None)
