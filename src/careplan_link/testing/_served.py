"""`FakeHub.serve()`: the same FakeHub on a real loopback port, for clients that are not httpx.

    hub = FakeHub()
    login = hub.register_office(identity)
    with hub.serve() as url:               # e.g. "http://127.0.0.1:50123"
        subprocess.run(["my-vendor-client", "--hub", url, ...], check=True, timeout=60)
    print(hub.message(message_id).status)  # the state is the in-process hub's

uvicorn runs the hub's ASGI application (`careplan_link.hub._asgi`) in a daemon thread, as
moto's `ThreadedMotoServer` does: `serve()` returns once the port accepts connections and stops
the server when the block ends (each within `timeout` seconds). The hub object stays in this
process, so a test may still advance `hub.clock`, `inject` faults and read `hub.message()`
directly; programs in other processes drive the same through the test-control endpoint
(`/_test/faults`, `/_test/clock`, `/_test/reset`, docs/hub-operations.md), served to loopback
clients only. Faults that withhold an answer are real on a socket: `timeout` holds the
connection until the client gives up, `drop` and `lost_response` close it, `slow` waits its
`delay` in real seconds. Serving needs the `[hub]` extra (starlette, uvicorn).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hub._tls import TLSFiles
    from ._hub import FakeHub

__all__ = ["serve"]


@contextlib.contextmanager
def serve(
    hub: FakeHub,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TLSFiles | None = None,
    test_controls: bool = True,
    max_body: int | None = None,
    timeout: float = 10.0,
) -> Iterator[str]:
    """Serve `hub` on `host:port` (a loopback address; port 0: a free one) and yield its base
    URL. `tls`: serve HTTPS (and require client certificates when it names a client CA).
    `test_controls`: serve `/_test/…` (loopback clients only)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"FakeHub.serve() binds a loopback address only, not {host!r} / "
            "FakeHub.serve() はループバックアドレスにのみ接続を受け付けます"
        )
    try:
        from ..hub._asgi import DEFAULT_MAX_BODY, build_app
        from ..hub._server import ServerThread
    except ImportError as error:
        raise ImportError(
            f"FakeHub.serve() needs the [hub] extra ({error.name} is missing): "
            'pip install "careplan-link[hub]" / '
            "FakeHub.serve() には [hub] の追加パッケージが必要です",
            name=error.name,
        ) from None
    app = build_app(
        hub.handle,
        max_body=max_body or DEFAULT_MAX_BODY,
        controls=hub if test_controls else None,
    )
    with ServerThread(app, host=host, port=port, tls=tls, timeout=timeout) as server:
        yield server.url
