"""One pure-ASGI middleware for every HTTP request (cheaper than BaseHTTPMiddleware):
per-client rate limit (429 + Retry-After), request body cap (413), request metrics by
route template and status, and a structured log line without query strings. WebSocket
upgrades take from the same per-client rate limit (429 as the denial response)."""

from __future__ import annotations

import json
import logging
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors, logs
from .context import RelayContext

EXEMPT = frozenset({"/healthz", "/metrics"})  # probes and scrapers are never rate limited
MESSAGES = "/v1/messages"
log = logs.get("http")


async def _send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(errors.body(errors.code_for(status), message)).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _deny_websocket(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, headers: dict[str, str]
) -> None:
    """Refuse an upgrade: an HTTP answer where the server can send one, else a close."""
    if (await receive())["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        payload = json.dumps(errors.body(errors.code_for(status), message)).encode()
        raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "websocket.http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "websocket.http.response.body", "body": payload})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": errors.code_for(status)})


class RelayMiddleware:
    def __init__(self, app: ASGIApp, context: RelayContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            client = scope["client"][0] if scope.get("client") else "-"
            wait = self.context.limiter.take(client)
            if wait:
                self.context.metrics.rate_limited.inc()
                await _deny_websocket(
                    scope,
                    receive,
                    send,
                    429,
                    f"too many requests from this client; retry in {wait} s",
                    {"Retry-After": str(wait)},
                )
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = self.context
        started = time.perf_counter()
        status = 500
        client = scope["client"][0] if scope.get("client") else "-"

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["path"] == MESSAGES and context.request_budget.owes(client):
                # this address spent its budget for strangers' mail: refused before its body
                # is read or parsed (the parsing, not the storing, is what a flood costs then)
                context.metrics.rate_limited.inc()
                await _send_error(
                    send_status,
                    429,
                    "this client's budget for message requests is spent; retry in 1 s",
                    {"Retry-After": "1"},
                )
                return
            if scope["path"] not in EXEMPT:
                wait = context.limiter.take(client)
                if wait:
                    context.metrics.rate_limited.inc()
                    await _send_error(
                        send_status,
                        429,
                        f"too many requests from this client; retry in {wait} s",
                        {"Retry-After": str(wait)},
                    )
                    return
            limit = context.settings.max_body
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > limit:
                    await _send_error(send_status, 413, f"request body over {limit} bytes")
                    return
            await self.app(scope, _capped(receive, limit), send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            context.metrics.requests.labels(scope["method"], template, str(status)).inc()
            context.metrics.request_seconds.labels(template).observe(elapsed)
            level = logging.DEBUG if status < 400 else logging.WARNING if status >= 500 else logging.INFO
            logs.event(
                log,
                level,
                "request",
                method=scope["method"],
                route=template,
                status=status,
                ms=round(elapsed * 1000, 3),
                client=client,
            )


def _capped(receive: Receive, limit: int) -> Receive:
    """Count a streamed (chunked) body too: 413 once it passes the cap."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body over {limit} bytes")
        return message

    return wrapped
