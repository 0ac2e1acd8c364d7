"""The hub's HTTP face: a thin Starlette application over `handle(HubRequest) -> HubResponse`.

Everything the hub decides lives in the transport-neutral core (health included); this module
only turns an ASGI request into a `HubRequest` and a `HubResponse` back into an answer. What it
adds is what only a server needs: the routes (one Starlette `Route` per entry of the protocol's
route table; anything else still reaches the core, which answers the protocol's 404), a limit on
request bodies (413 before the body is read whenever `Content-Length` says so, and while
streaming otherwise), the TLS client certificate handed to the core (`_server` puts it in the
scope), one structured log record per request (never a header, a query or a body: they carry
passwords, tokens and envelopes), faults that withhold the answer (a served FakeHub's), and —
only when asked for, and only to loopback clients — the test controls that drive a served
FakeHub's faults and virtual clock.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..protocol import ROUTES, error_body
from ._memory import MemoryStore
from ._messages import HubRequest, HubResponse
from ._sqlite import SqliteStore
from ._store import HubStore

__all__ = [
    "DEFAULT_MAX_BODY",
    "TEST_CONTROL_PREFIX",
    "TestControls",
    "build_app",
    "runs_inline",
]

log = logging.getLogger("careplan_link.hub")

DEFAULT_MAX_BODY = 64 * 1024 * 1024
"""Largest request body the served hub reads (64 MiB): a month of one office's files sealed is
a few MiB; anything far larger is a mistake or an attack on the server's memory."""

TEST_CONTROL_PREFIX = "/_test"

Handler = Callable[[HubRequest], HubResponse]

_THREADED = frozenset({"login"})
"""Operations an `inline` application still runs in a worker thread: a login verifies a
password hash (scrypt, tens of milliseconds), which must not stall the other requests."""


class TestControls(Protocol):
    """What the test-control endpoint drives: a FakeHub."""

    def inject(
        self,
        kind: Any,
        *,
        rate: float = 1.0,
        operations: Any = None,
        times: int | None = None,
        **options: float,
    ) -> Any: ...

    def clear_faults(self) -> None: ...

    def reset(self) -> None: ...

    @property
    def clock(self) -> Any: ...


_READS = frozenset({"download", "message", "audit", "office", "health"})
"""Operations that read the store and write only their audit entry (a bookkeeping commit, no
fsync): what a SQLite server calls on its event loop while no write of its own is under way."""

Inline = Callable[[str], bool]
"""Whether to call the hub for an operation on the event loop, asked when it arrives."""


def runs_inline(store: HubStore) -> bool | Inline:
    """What a one-process server of `store` calls on its event loop (`build_app(inline=…)`)
    rather than in a worker thread: everything but a login with the memory store, whose calls
    never wait; with SQLite, a read (`_READS`) that arrives while no write of this process is
    under way (`SqliteStore.writing`); nothing with PostgreSQL (round trips to the database).

    Why: the hop to a worker thread and back, with its thread's own connection, costs more CPU
    than a read itself (measured on SQLite: a download 1.6 ms of the server's CPU in threads,
    1.1 ms inline). Writes a client waits for (sends, receipts, withdrawals) stay in threads:
    each waits for its commit's fsync, and the group commit needs the others to reach the
    store meanwhile (inline, sends were 2.8–4.1× the trivial route, against 1.7–1.8× in
    threads). A read that finds a write under way goes to a thread too, rather than wait on
    the loop for the write lock during that write's fsync. What can still hold the loop: a
    write of another process (the admin commands) holding SQLite's lock for its transaction,
    a WAL checkpoint run by a read's commit, and a read that finds its message past retention
    (it expires it: a durable commit)."""
    if isinstance(store, MemoryStore):
        return True
    if isinstance(store, SqliteStore):
        writing = store.writing

        def sqlite_inline(operation: str) -> bool:
            return operation in _READS and not writing()

        return sqlite_inline
    return False


def _json(status: int, document: object) -> Response:
    return Response(json.dumps(document), status, media_type="application/json")


def _refusal(status: int, code: str, message: str) -> Response:
    return Response(error_body(code, message), status, media_type="application/json")


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(
    handler: Handler,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    controls: TestControls | None = None,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    inline: bool | Inline = False,
) -> Starlette:
    """The ASGI application serving `handler` (a `Hub.handle` or `FakeHub.handle`).

    `handler` runs in a worker thread (it may hash a password or wait on its store), so it must
    be safe to call from several threads. `inline`: call it on the event loop instead, except
    for a login (the password hash takes tens of milliseconds) — True for every operation (a
    store that never waits on anything), or a function of the operation asked per request
    (see `runs_inline`): where the hop to a thread and back costs more than the call itself.
    `controls`: serve the test-control endpoint (the caller makes sure that only a loopback
    listener gets one). `background`: coroutines run for the application's lifetime (the
    periodic purge), cancelled at shutdown.
    """

    async def hub_endpoint(request: Request) -> Response:
        started = time.perf_counter()
        scope = request.scope
        route = scope.get("route")
        operation = getattr(route, "name", None) or "unknown"
        client = scope.get("client")
        remote = str(client[0]) if client else None
        record: dict[str, object] = {
            "event": "request",
            "operation": operation,
            "method": request.method,
            "route": getattr(route, "path", None),
            "client": remote,
        }
        try:
            try:
                body = await _read_body(request, max_body)
            except _TooLarge:
                record["status"] = 413
                code = "ENVELOPE_TOO_LARGE" if operation == "send" else "BODY_TOO_LARGE"
                return _refusal(413, code, f"a request body is at most {max_body} bytes")
            # Straight from the scope, with the results Starlette's `request.url.path`,
            # `query_params` and `headers` give: each of those builds an object per request.
            hub_request = HubRequest(
                method=request.method,
                path=_path(scope),
                query=dict(
                    parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                ),
                headers={
                    name.decode("latin-1"): value.decode("latin-1")
                    for name, value in scope["headers"]
                },
                body=body,
                client_certificate=_client_certificate(scope),
                remote=remote,
            )
            record["bytes_in"] = len(body)
            try:
                if operation not in _THREADED and (
                    inline(operation) if callable(inline) else inline
                ):
                    answer = handler(hub_request)
                else:
                    answer = await anyio.to_thread.run_sync(handler, hub_request)
            except Exception as error:
                # The core never raises for what a client sends; if it does all the same, the
                # client gets the protocol's 500 and the log the error (not the request).
                record["error"] = repr(error)
                record["status"] = 500
                return _refusal(500, "INTERNAL_ERROR", "the hub failed; nothing was changed")
            if answer.delay > 0:
                record["delay"] = answer.delay
                await _hold(request, answer.delay)
            if not answer.answers:
                # A served FakeHub's fault: the client sees no answer (a timeout or a dropped
                # connection). The answer below goes nowhere; it only ends the request.
                record["status"] = None
                record["fault"] = "no_answer"
                await _abort(request)
                return Response(status_code=500)
            record["status"] = answer.status
            record["bytes_out"] = len(answer.body)
            if answer.status >= 400 or (answer.status == 200 and b'"error"' in answer.body[:16]):
                record["code"] = _error_code(answer.body)
            return Response(answer.body, answer.status, headers=dict(answer.headers))
        finally:
            if log.isEnabledFor(logging.INFO):
                record["ms"] = round((time.perf_counter() - started) * 1000, 2)
                log.info("request", extra={"event": record})

    routes: list[BaseRoute] = [
        Route(route.template, hub_endpoint, methods=[route.method], name=route.operation)
        for route in ROUTES
    ]
    if controls is not None:
        routes += _control_routes(controls)
    # Anything else still goes to the hub, which answers the protocol's own 404 document (a
    # client reading the error body gets NO_SUCH_ENDPOINT, not Starlette's plain text).
    routes.append(
        Route(
            "/{anything:path}",
            hub_endpoint,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            name="unknown",
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            for job in background:
                tasks.start_soon(job)
            yield
            tasks.cancel_scope.cancel()

    return Starlette(routes=routes, lifespan=lifespan)


def _path(scope: Mapping[str, Any]) -> str:
    """The path as Starlette's `request.url.path` gives it (the characters that would end a
    path stay escaped), without building the URL."""
    path: str = scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _error_code(body: bytes) -> str | None:
    try:
        document = json.loads(body)
        code = document["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _client_certificate(scope: Mapping[str, Any]) -> bytes | None:
    """The DER of the TLS client certificate, from the ASGI TLS extension (`_server` fills
    it in)."""
    tls = (scope.get("extensions") or {}).get("tls")
    chain = tls.get("client_cert_chain") if isinstance(tls, Mapping) else None
    return ssl.PEM_cert_to_DER_cert(str(chain[0])) if chain else None


async def _hold(request: Request, delay: float) -> None:
    """Wait `delay` seconds (`inf`: for ever) or until the client goes away."""
    deadline = time.monotonic() + delay if math.isfinite(delay) else math.inf
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await anyio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


async def _abort(request: Request) -> None:
    abort = (request.scope.get("extensions") or {}).get("careplan_link.abort")
    if callable(abort):
        abort()
        await anyio.sleep(0)  # let the server notice the closed connection first


def _control_routes(controls: TestControls) -> list[BaseRoute]:
    """`/_test/faults` (POST a fault rule, DELETE them all), `/_test/clock` (GET the virtual
    time, POST `{"advance": seconds}`), `/_test/reset` (POST). A request from any address but
    loopback gets the hub's 404, as if the endpoint did not exist."""

    def loopback_only(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if not _is_loopback(request.client.host if request.client else None):
                return _refusal(404, "NO_SUCH_ENDPOINT", f"{request.method} {request.url.path}")
            return await endpoint(request)

        return guarded

    async def document(request: Request) -> dict[str, Any] | Response:
        try:
            parsed = json.loads(await _read_body(request, 64 * 1024) or b"{}")
        except (ValueError, _TooLarge):
            return _refusal(400, "BAD_JSON", "the body is not a small JSON object")
        if not isinstance(parsed, dict):
            return _refusal(400, "BAD_JSON", "the body is not a JSON object")
        return parsed

    async def add_fault(request: Request) -> Response:
        parsed = await document(request)
        if isinstance(parsed, Response):
            return parsed
        kind = parsed.pop("kind", None)
        operations = parsed.pop("operations", None)
        try:
            options = {name: float(value) for name, value in parsed.items()}
            rate = options.pop("rate", 1.0)
            times = options.pop("times", None)
            if "status" in options:
                options["status"] = int(options["status"])
            fault = controls.inject(
                kind,
                rate=rate,
                operations=operations,
                times=None if times is None else int(times),
                **options,
            )
        except (TypeError, ValueError) as error:
            return _refusal(400, "BAD_JSON", f"not a fault rule: {error}")
        return _json(201, {"fault": repr(fault)})

    async def clear_faults(request: Request) -> Response:
        controls.clear_faults()
        return Response(status_code=204)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            parsed = await document(request)
            if isinstance(parsed, Response):
                return parsed
            try:
                controls.clock.advance(float(parsed.get("advance", 0)))
            except (TypeError, ValueError) as error:
                return _refusal(400, "BAD_JSON", f"not a clock move: {error}")
        return _json(200, {"now": controls.clock.now().isoformat()})

    async def reset(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(controls.reset)
        except Exception as error:  # a store that cannot be cleared
            return _refusal(500, "INTERNAL_ERROR", f"the hub cannot be reset: {error}")
        return Response(status_code=204)

    prefix = TEST_CONTROL_PREFIX
    return [
        Route(f"{prefix}/faults", loopback_only(add_fault), methods=["POST"]),
        Route(f"{prefix}/faults", loopback_only(clear_faults), methods=["DELETE"]),
        Route(f"{prefix}/clock", loopback_only(clock), methods=["GET", "POST"]),
        Route(f"{prefix}/reset", loopback_only(reset), methods=["POST"]),
    ]
