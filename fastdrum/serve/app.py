"""The web application of ``fastdrum serve`` (Starlette; needs the ``serve`` extra).

Routes
------
``GET /``
    The page; ``/static/...`` its modules and style sheet.
``GET /api/state``
    Voices, presets and limits (:meth:`Engine.describe`).
``POST /api/regenerate``
    ``{"voice": "openhat", "seed": 7, "temperature": 0.9, "epsilon": 0.01,
    "guidance": 0.5, "duration": 0.4}`` (all but ``voice`` optional;
    ``guidance`` above 0 only for a voice with a default negative voice) ->
    the clip as JSON (:meth:`Clip.to_json`), with the negative voice used.
``POST /api/pattern``
    A pattern document (the page's state, or a loaded file) -> the same,
    checked and canonical.
``POST /api/export/{kind}``
    ``wav``, ``flac``, ``midi``, ``kit`` (zip) or ``json``: a download.

Every error is JSON, ``{"error": message}``: 400 for a bad request, 403 for a
foreign Host or Origin (DNS rebinding, cross-site requests), 404/405, 413 for
a body over the cap, 415 for a body that is not JSON, 429 when the generation
queue is full, 503 while shutting down, 500 (without a traceback) otherwise.
"""

import asyncio
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import BusyError, ClosedError, FastDrumError, RequestError
from .engine import parse_json

__all__ = ["create_app", "MAX_BODY_BYTES", "MAX_CONNECTIONS", "loopback_hosts"]

#: Largest request body accepted (a pattern of ten voices by 32 steps is about 3 kB).
MAX_BODY_BYTES = 64 * 1024
#: Connections served at once; uvicorn answers more with a plain 503. Generation work is bounded
#: separately, and much lower, by the engine's pool (429 past it).
MAX_CONNECTIONS = 200

_LOG = logging.getLogger("fastdrum.serve")

#: Headers on every response: the page loads only its own files, never in a frame.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def loopback_hosts(port):
    """The Host header values of a server on loopback `port`.

    Examples
    --------
    >>> sorted(loopback_hosts(8000))
    ['127.0.0.1:8000', '[::1]:8000', 'localhost:8000']
    """
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


def _error(status, message, headers=None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _Guard:
    """ASGI middleware: refuse a Host or Origin that is not this server's, add the security headers.

    `hosts` is a set the caller may fill after binding (the port is known then).
    """

    def __init__(self, app, hosts):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").strip().lower()
        origin = headers.get("origin")
        if host not in self.hosts:
            return await _error(403, f"Host {host!r} is not this server's")(scope, receive, send)
        if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in self.hosts}:
            return await _error(403, f"Origin {origin!r} is not this server's")(
                scope, receive, send
            )

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.encode() not in have
                ]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        return await self.app(scope, receive, send_with_headers)


async def _body(request):
    """The request's JSON body, read up to :data:`MAX_BODY_BYTES` (413 past it, 415 if not JSON)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, f"the body must be application/json, got {kind or 'none'!r}")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


async def _run(engine, fn, *args):
    """``fn(*args)`` on the engine's pool, awaited."""
    return await asyncio.wrap_future(engine.submit(fn, *args))


def create_app(engine, *, hosts):
    """The Starlette application serving `engine`.

    Parameters
    ----------
    engine : fastdrum.serve.engine.Engine
    hosts : set of str
        Accepted Host header values (``host:port``); requests with another
        Host, or an Origin other than ``http://`` + one of them, get 403. The
        set is used as given, so it can be filled once the port is known.

    Returns
    -------
    starlette.applications.Starlette
    """
    from importlib.resources import files

    static = files("fastdrum.serve") / "static"

    async def index(request):
        return FileResponse(str(static / "index.html"), media_type="text/html; charset=utf-8")

    async def state(request):
        return JSONResponse(engine.describe())

    async def regenerate(request):
        body = await _body(request)
        engine.clip_spec(body)  # a bad request is refused before it takes a place in the queue
        clip = await _run(engine, engine.clip, body)
        return JSONResponse(clip.to_json())

    async def pattern(request):
        return JSONResponse(engine.pattern_json(await _body(request)))

    async def export(request):
        body = await _body(request)
        kind = request.path_params["kind"]
        engine.check_export(kind, body)  # refused before it takes a place in the queue
        filename, media, data = await _run(engine, engine.export, kind, body)
        return Response(
            data,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    async def http_error(request, exc):
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    async def bad_request(request, exc):
        return _error(400, " ".join(str(exc).split()) or type(exc).__name__)

    async def busy(request, exc):
        return _error(429, str(exc), {"retry-after": "1"})

    async def closed(request, exc):
        return _error(503, str(exc))

    async def internal(request, exc):
        _LOG.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (the server's log has the details)")

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/regenerate", regenerate, methods=["POST"]),
        Route("/api/pattern", pattern, methods=["POST"]),
        Route("/api/export/{kind}", export, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    handlers = {
        HTTPException: http_error,
        BusyError: busy,
        ClosedError: closed,
        RequestError: bad_request,
        FastDrumError: bad_request,
        Exception: internal,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.add_middleware(_Guard, hosts=hosts)
    return app
