"""The worker's web port: a small hardened HTTP server of its own (aiohttp's low-level server;
Faust's web server, with its ``/``, ``/router/`` and table views, is off). It serves only what
``routes`` name: ``/livez``, ``/readyz``, ``/metrics`` and ``POST /v1/precheck``.

Anyone who reaches the port can send it anything, so:

- a connection must deliver a whole request head within ``timeout_s`` of opening, or of its
  last answer, else it is closed: idle, half-open and slow-header clients cost nothing for long;
- a request body must arrive within ``timeout_s`` (408) and within ``max_body_bytes`` (413);
- at most ``max_connections`` are open at once, kept below the open-files limit: one more
  closes the oldest connection that is not being answered, so idle clients cannot lock out a
  real request (nor make accept() fail with "too many open files");
- header lines, fields and count are bounded (400);
- every error answer is JSON, every bad request a 4xx; nothing from a request is logged (no
  access log; failures by type only), and ``sunlight_http_responses_total`` counts answers.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from stream.worker.metrics import Metrics

log = logging.getLogger("sunlight.web")

Handler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]

#: Longest request line or header field, and most header fields, a request may have.
MAX_LINE_BYTES = 8190
MAX_HEADERS = 64
#: Open files kept for everything but the web port (Kafka clients, logs, state).
RESERVED_FILES = 128
#: Connections taken from the kernel's queue per turn of the event loop (asyncio accepts this
#: many before any of them is counted): part of the open files the port may hold.
ACCEPT_BATCH = 32


class BodyError(Exception):
    """A request body too large (413) or too slow (408)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, code: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = code
    return web.json_response(body, status=status)


async def read_body(request: BaseRequest, max_bytes: int, timeout_s: float) -> bytes:
    """The request body, or BodyError: over ``max_bytes`` (413, checked before reading when
    the length is declared) or not all there within ``timeout_s`` (408)."""
    too_large = BodyError(413, f"request body is over {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise BodyError(408, f"request body not received within {timeout_s:g} s") from None
    return b"".join(chunks)


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered to fit the process's open-files limit with room for the rest."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - RESERVED_FILES - ACCEPT_BATCH, soft // 2))


class _Connection(RequestHandler):
    """One client connection: JSON for the errors aiohttp answers itself, and no logging of
    what the client sent."""

    busy = False  # answering a request now (never closed to make room)

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # an answer is under way: nothing to add
            raise ConnectionError("response already started")
        server = self._manager
        if isinstance(server, _Server):
            server.count("other", status)
        response = error(status, "bad request" if status < 500 else "internal error")
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        log.warning("web: a connection failed (%s)", type(exc).__name__ if exc else "error")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        if isinstance(server, _Server):
            server.opened(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        server = self._manager
        super().connection_lost(exc)
        if isinstance(server, _Server):
            server.live.pop(self, None)


class _Server(Server):
    def __init__(self, handler: Handler, *, max_connections: int, metrics: Metrics,
                 **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.max_connections = max_connections
        self.metrics = metrics
        #: open connections, oldest first
        self.live: dict[_Connection, None] = {}

    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)

    def opened(self, connection: _Connection) -> None:
        self.live[connection] = None
        if len(self.live) <= self.max_connections:
            return
        victim = next((c for c in self.live if not c.busy and c is not connection), connection)
        self.live.pop(victim, None)
        victim.force_close()
        self.metrics.http_connections_closed.inc()

    def count(self, route: str, status: int) -> None:
        self.metrics.http_responses.labels(route, str(status)).inc()


class WebServer:
    """Serves ``routes`` (path -> method -> handler) on ``host:port``."""

    def __init__(self, routes: Mapping[str, Mapping[str, Handler]], *, host: str, port: int,
                 timeout_s: float, max_connections: int, metrics: Metrics) -> None:
        self.routes = routes
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self.max_connections = connection_cap(max_connections)
        self.metrics = metrics
        self._listener: asyncio.AbstractServer | None = None
        self._server: _Server | None = None

    async def serve(self) -> None:
        """Serve until cancelled."""
        loop = asyncio.get_running_loop()
        self._server = _Server(
            self._handle, max_connections=self.max_connections, metrics=self.metrics,
            loop=loop, access_log=None, keepalive_timeout=self.timeout_s,
            lingering_time=0.0, max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS)
        self._listener = await loop.create_server(self._server, self.host, self.port,
                                                  reuse_address=True,
                                                  backlog=ACCEPT_BATCH)
        log.info("web port %s:%s: at most %d connections, %g s to send a request",
                 self.host, self.port, self.max_connections, self.timeout_s)
        try:
            await asyncio.Event().wait()
        finally:
            self._listener.close()
            self._server.pre_shutdown()

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        methods = self.routes.get(request.path)
        route = request.path if methods is not None else "other"
        assert self._server is not None
        if methods is None:
            response: web.StreamResponse = error(404, "not found")
        elif (handler := methods.get(request.method)) is None:
            response = error(405, "method not allowed")
            response.headers["Allow"] = ", ".join(methods)
        else:
            connection = request.protocol
            if isinstance(connection, _Connection):
                connection.busy = True
            try:
                response = await handler(request)
            except BodyError as exc:
                response = error(exc.status, exc.message,
                                 "oversized" if exc.status == 413 else "timeout")
                response.force_close()  # the rest of the body is not read
            except Exception as exc:  # a bug of ours: logged by type only (no request data)
                log.error("web: %s %s failed: %s", request.method, route, type(exc).__name__)
                response = error(500, "internal error")
            finally:
                if isinstance(connection, _Connection):
                    connection.busy = False
        self._server.count(route, response.status)
        return response
