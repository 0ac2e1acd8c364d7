"""The TLS client certificate: an ssl.SSLContext from an OfficeIdentity.

Python's ssl module loads a client key only from a file. The key is written, unencrypted, to
a temporary file that only this user can read (mkstemp creates it 0600), loaded, and removed
at once, before any connection is made; the key stays in the SSLContext's memory only. Callers
who cannot accept that brief file build their own `ssl.SSLContext` (for instance from a key in
a hardware token) and pass it as `ssl_context`.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from ..envelope import OfficeIdentity

__all__ = ["client_ssl_context"]


def client_ssl_context(identity: OfficeIdentity, *, cafile: str | None = None) -> ssl.SSLContext:
    """A TLS 1.3 client context presenting `identity`'s certificate (and chain)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    descriptor, path = tempfile.mkstemp(prefix="careplan-link-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(identity.private_key_pem())
            file.write(identity.certificate_pem())  # with the chain
        context.load_cert_chain(path)
    finally:
        Path(path).unlink()
    return context
