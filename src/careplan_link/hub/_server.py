"""Serving the hub with uvicorn in-process: TLS and the client certificate, shutdown, purge.

How the peer certificate reaches the application: uvicorn does not pass the TLS client
certificate to ASGI applications. asyncio calls a protocol's `connection_made` only once the TLS
handshake is complete, so the certificate is known there. `PeerCertificateProtocol` is uvicorn's
own h11 protocol with one addition: in `connection_made` it reads
`transport.get_extra_info("ssl_object").getpeercert(binary_form=True)` and wraps the application
for this connection so that every request's scope carries `extensions["tls"]` in the shape of
the ASGI TLS extension (`client_cert_chain`: the leaf certificate as PEM; `tls_version`), plus
`extensions["careplan_link.abort"]`, which closes the connection without an answer (what a
served FakeHub's `drop` and `lost_response` faults need). It is handed to uvicorn as
`Config(http=PeerCertificateProtocol)`; nothing of uvicorn is patched.

With `TLSFiles.client_ca`, the server requires a client certificate issued by that CA at the TLS
layer (`ssl.CERT_REQUIRED`): a client without one never completes the handshake, so no request
of it reaches the hub. The ASGI face hands the certificate to the core as
`HubRequest.client_certificate`, and the core refuses (403 `CERTIFICATE_NOT_THE_OFFICES`) a
login, or any call with a token, whose office has not registered that certificate: another
office's certificate, issued by the same CA, gets no further than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import math
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Mapping
from types import FrameType, TracebackType
from typing import Any

import anyio
import anyio.to_thread
import attrs
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._tls import TLSFiles

__all__ = [
    "PeerCertificateProtocol",
    "ServerThread",
    "TLSFiles",
    "bind",
    "every",
    "json_log_handler",
    "serve_forever",
    "serve_workers",
]

log = logging.getLogger("careplan_link.hub")


class PeerCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol that puts the TLS peer certificate into each request's scope (see
    the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extensions: dict[str, object] = {"careplan_link.abort": transport.abort}
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            der = ssl_object.getpeercert(binary_form=True)
            extensions["tls"] = {
                "server_cert": None,
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": ssl_object.version(),
                "cipher_suite": None,
            }
        application = self.app

        async def with_connection_extensions(scope: Any, receive: Any, send: Any) -> None:
            # A new dict per request: the scope is the request's own, the extensions are ours.
            scope["extensions"] = {**(scope.get("extensions") or {}), **extensions}
            await application(scope, receive, send)

        self.app = with_connection_extensions


def every(
    seconds: float, job: Callable[[], object], name: str
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background task for `build_app(background=...)`: `job` in a worker thread every
    `seconds`; a failure is logged and the task goes on (a purge that fails once must not stop
    the server, nor stop purging)."""

    async def loop() -> None:
        while True:
            await anyio.sleep(seconds)
            try:
                result = await anyio.to_thread.run_sync(job)
            except Exception as error:
                log.error(name, extra={"event": {"event": name, "error": repr(error)}})
            else:
                log.info(name, extra={"event": {"event": name, "result": _plain(result)}})

    return loop


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if attrs.has(type(value)):
        names = [field.name for field in attrs.fields(type(value))]  # type: ignore[arg-type]
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: a free one, read back with getsockname).

    Made with `IPPROTO_TCP` named: asyncio sets TCP_NODELAY only on accepted sockets whose
    protocol says TCP, and without it every answer written in two pieces (headers, body)
    waits for the client's delayed ACK (some 40 ms a request)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class _Config(uvicorn.Config):
    """uvicorn's configuration, with TLS 1.3 as the least version of every context it loads
    (in this process, or in each worker process of `serve_workers`, which loads its own)."""

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            # The hub speaks TLS 1.3 only, as the official hub and our client do.
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_3


def _config(
    app: Any, tls: TLSFiles | None, *, graceful: float, workers: int | None = None
) -> _Config:
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"ssl_certfile": str(tls.certificate), "ssl_keyfile": str(tls.key)}
        if tls.client_ca is not None:
            options["ssl_ca_certs"] = str(tls.client_ca)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    if workers is not None:
        options.update(workers=workers, factory=True)
    config = _Config(
        app,
        http=PeerCertificateProtocol,
        ws="none",
        lifespan="on",
        access_log=False,  # its lines carry the query string; ours carry no secrets
        log_config=None,  # leave the process's logging as the caller set it up
        server_header=False,
        timeout_graceful_shutdown=math.ceil(graceful),
        **options,
    )
    if workers is None:
        config.load()
    return config


class _Server(uvicorn.Server):
    """uvicorn's server, except that a signal ends `serve_forever` normally (exit status 0)
    instead of being raised again once the graceful shutdown is done."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        log.info("shutdown", extra={"event": {"event": "shutdown", "signal": sig}})
        super().handle_exit(sig, frame)


def serve_forever(
    app: Any, sock: socket.socket, tls: TLSFiles | None = None, *, graceful: float = 10.0
) -> None:
    """Serve `app` on `sock` until SIGTERM or SIGINT, then finish the requests in progress (at
    most `graceful` seconds) and return."""
    server = _Server(_config(app, tls, graceful=graceful))
    server.run(sockets=[sock])


def serve_workers(
    factory: str, sock: socket.socket, tls: TLSFiles | None = None, *, workers: int,
    graceful: float = 10.0,
) -> None:  # fmt: skip
    """Serve with `workers` processes sharing `sock` (uvicorn's supervisor): each imports
    `factory` ("module:function") and serves the application it returns; SIGTERM or SIGINT
    stops them all (each finishing its requests in progress), and a worker that dies is
    replaced. The processes share nothing but the store they open."""
    from uvicorn.supervisors import Multiprocess

    config = _config(factory, tls, graceful=graceful, workers=workers)
    Multiprocess(config, sockets=[sock]).run()


class ServerThread:
    """`app` served on a loopback port by uvicorn in a daemon thread; a context manager that
    yields itself once the server accepts connections, and stops it on exit (at most
    `timeout` seconds to start or to stop, then it gives up)."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TLSFiles | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        scheme = "https" if tls is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{self.port}"
        self.timeout = timeout
        self._server = _Server(_config(app, tls, graceful=min(timeout, 5.0)))
        self._thread = threading.Thread(
            target=self._run, name=f"careplan-link hub {self.url}", daemon=True
        )
        self._failure: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as error:  # reported by start(); SystemExit from uvicorn too
            self._failure = error

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the hub server did not start: {self._failure!r}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(self.timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(self.timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        document: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if isinstance(event, Mapping):
            document.update(event)
        else:
            document["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # The exception's type and text, not its traceback: locals of a failed request
            # could hold a password.
            document["error"] = repr(record.exc_info[1])
        return json.dumps(document, ensure_ascii=False, default=str)


def json_log_handler(stream: Any = None) -> logging.Handler:
    """A handler writing one JSON object per line (the served hub's structured log)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter())
    return handler
