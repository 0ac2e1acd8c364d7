"""`TLSFiles`: the files a served hub's TLS needs (no web framework imported here, so the hub
package can name it without the `hub` extra)."""

from __future__ import annotations

from pathlib import Path

import attrs

__all__ = ["TLSFiles"]


@attrs.frozen
class TLSFiles:
    """The server's certificate and key (PEM files) and, to require client certificates at the
    TLS layer, the CA certificate(s) (PEM) that issue the offices' certificates."""

    certificate: Path
    key: Path
    client_ca: Path | None = None
