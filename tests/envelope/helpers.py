"""Envelopes made from hand-built payloads, for tests that need a signed but wrong payload;
a call recorder for checking which reading path an envelope took."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

from cryptography import x509

from careplan_link.envelope import OfficeIdentity, _cms


def envelope_of(
    payload: bytes,
    *,
    signer: OfficeIdentity,
    recipients: Sequence[x509.Certificate],
    signed_at: datetime.datetime,
) -> bytes:
    """Sign `payload` as `signer` (recipient list bound, as seal does) and encrypt it."""
    key = os.urandom(32)
    infos = _cms.recipient_infos(key, recipients, oaep=True)

    digest = hashlib.sha256(infos.dump()).digest()
    pieces = _cms.sign(payload, signer, signed_at=signed_at, recipients_digest=digest)
    return _cms.encrypt(pieces, key, infos, gcm=True)


def zip_of(entries: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def recording(function: Callable[..., Any], calls: list[object]) -> Callable[..., Any]:
    """`function`, appending its first argument to `calls` each time it is called."""

    def wrapper(*arguments: Any, **keywords: Any) -> Any:
        calls.append(arguments[0])
        return function(*arguments, **keywords)

    return wrapper
