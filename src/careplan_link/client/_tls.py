"""The TLS client certificate: an ssl.SSLContext from an OfficeIdentity.

Python's ssl module loads a client key only from a file. The key is never written in the
clear: it goes to a temporary file (mkstemp: 0600, this user only) as a PKCS#8 PEM encrypted
(AES-256, PBKDF2) under a one-time random password that exists only in this process's memory,
is loaded with that password, and the file is removed at once, before any connection is made.
A crash between writing and removing leaves an encrypted key whose password died with the
process. Callers who want no file at all build their own `ssl.SSLContext` (for instance from a
key in a hardware token) and pass it as `ssl_context`.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from pathlib import Path
from typing import Protocol

__all__ = ["TLSIdentity", "client_ssl_context"]


class TLSIdentity(Protocol):
    """What the TLS set-up needs of an office's identity (an `OfficeIdentity` has it): the
    client knows nothing else of keys."""

    def private_key_pem(self, password: str) -> bytes:
        """The private key in PKCS#8 PEM, encrypted under `password`."""
        ...

    def certificate_pem(self) -> bytes:
        """The certificate, then any intermediates, in PEM."""
        ...


def client_ssl_context(identity: TLSIdentity, *, cafile: str | None = None) -> ssl.SSLContext:
    """A TLS 1.3 client context presenting `identity`'s certificate (and chain)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    password = secrets.token_urlsafe(32)
    # Encrypted before the file exists: no plaintext key is ever on disk, not even briefly.
    key_pem = identity.private_key_pem(password)
    descriptor, path = tempfile.mkstemp(prefix="careplan-link-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key_pem)
            file.write(identity.certificate_pem())  # with the chain
        context.load_cert_chain(path, password=password)
    finally:
        Path(path).unlink()
    return context
