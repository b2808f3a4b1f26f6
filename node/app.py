"""`create_app(settings, clock=...)`: the relay's FastAPI app.

Routers per resource live in node/routes/; every error is {"error": {"code", "message"}}
with its status. The lifespan runs the sweeper and, on PostgreSQL, the LISTEN connection
that lets relays sharing a database push each other's mail. The schema must already be
migrated (node.db.migrate; `hongbao node start` does it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import errors, logs, sweeper
from .clock import Clock, system_clock
from .context import RelayContext
from .errors import RelayError
from .middleware import RelayMiddleware
from .push import PgListener
from .routes import auth, identities, mailbox, messages, ops, passes, prekeys, stream
from .settings import Settings

log = logs.get("app")
API_DESCRIPTION = """Stores and forwards sealed envelopes for Hongbao mailboxes (addresses).

Anyone may publish a verifiable identity bundle, post envelopes and claim prekeys;
reading, acknowledging and streaming a mailbox, and uploading its prekeys, need a bearer
token proving its messaging key, which serves that mailbox only. Errors are
`{"error": {"code": ..., "message": ...}}`."""


def create_app(settings: Settings, *, clock: Clock = system_clock) -> FastAPI:
    context = RelayContext.build(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks = []
        if settings.sweep_interval > 0:
            tasks.append(asyncio.create_task(sweeper.run(context, settings.sweep_interval)))
        if context.store.postgres:
            context.listener = PgListener(settings.db_url, context.hub, context.own_pids, context.metrics.listening.set)
            tasks.append(asyncio.create_task(context.listener.run()))
        logs.event(log, logging.INFO, "relay started", db=context.store.engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            context.close()
            logs.event(log, logging.INFO, "relay stopped")

    app = FastAPI(title="Hongbao relay", version="1", description=API_DESCRIPTION, lifespan=lifespan)
    app.state.relay = context
    routers = [module.router for module in (identities, prekeys, messages, mailbox, passes, auth, stream, ops)]
    for router in routers:
        app.include_router(router)
    app.add_middleware(RelayMiddleware, context=context)
    _install_error_handlers(
        app, [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    )
    return app


def _json(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    return JSONResponse(errors.body(code, message, **extra), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI, api_routes: list[APIRoute]) -> None:
    @app.exception_handler(RelayError)
    async def relay_error(_request: Request, error: RelayError) -> JSONResponse:
        return _json(error.status, error.code, error.message, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:5]:  # location and reason only: never echo the input
            if item.get("type") == "json_invalid":
                problems.append("the body is not valid JSON")
                continue
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
        return _json(422, "invalid", "; ".join(problems) or "malformed request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "request refused"
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:  # every method of the path, not just the first route's
            path = request.scope["path"]
            methods = {m for route in api_routes if route.path_regex.match(path) for m in route.methods or ()}
            headers["Allow"] = ", ".join(sorted(methods))
        return _json(error.status_code, errors.code_for(error.status_code), message, headers)

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", "unmatched")
        logs.event(log, logging.WARNING, "database unavailable", route=route, error=type(error).__name__)
        return _json(503, "unavailable", "the relay's database is unavailable; retry shortly", {"Retry-After": "1"})

    for kind in _unavailable():  # the database is down, locked or out of connections: try again
        app.add_exception_handler(kind, unavailable)

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", "unmatched")
        logs.event(log, logging.ERROR, "internal error", route=route, error=type(error).__name__)
        return _json(500, "internal", "internal error; it was logged")


def _unavailable() -> tuple[type[Exception], ...]:
    """Database errors that are about the database's state, not the request (the batch
    path uses the drivers directly, so their own classes count too)."""
    import sqlite3

    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    kinds: list[type[Exception]] = [OperationalError, PoolTimeout, sqlite3.OperationalError]
    with contextlib.suppress(ImportError):
        import psycopg

        kinds.append(psycopg.OperationalError)
    return tuple(kinds)
