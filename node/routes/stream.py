"""WS /v1/stream?after=SEQ: the token's mailbox, live.

The token comes in the Authorization header (Bearer) or as ?token=. A refused connection
gets an HTTP 401/403 with the JSON error body (the WebSocket denial response), or, on a
server without that extension, a close with code 4401/4403 before accepting.

A mailbox may hold `streams_per_mailbox` streams at once and a client address
`streams_per_client`; one more is refused with 429 (code too_many_streams).

Once open, the relay sends every stored envelope after SEQ, then each new one as it is
committed, one JSON text frame each: {"seq", "v", "to", "id", "ttl", "ct"}. Batches this
process commits are handed over directly when the stream is caught up (node/push.py);
otherwise, and for news from other relays, the stream reads the database. A client
resumes with ?after= the last seq it saw: nothing is skipped or sent twice. When the
token expires, or is revoked by a new messaging key, the relay closes with 4401.
Messages from the client are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from .. import errors, logs
from ..auth import TokenClaims
from ..context import RelayContext
from ..deps import check_named
from ..errors import Invalid, RateLimited, RelayError, Unauthorized
from ..schemas import MAX_SEQ
from ..store import Delivery, StoredEnvelope

router = APIRouter(tags=["stream"])
log = logs.get("stream")
BATCH = 500
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


async def _refuse(websocket: WebSocket, error: RelayError) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            JSONResponse(errors.body(error.code, error.message), status_code=error.status, headers=error.headers)
        )
    else:
        await websocket.close(code=4000 + error.status if error.status in (401, 403) else 1008, reason=error.code)


def _bearer(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if token:
        return token
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _after(websocket: WebSocket) -> int:
    raw = websocket.query_params.get("after", "0")
    if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_SEQ):
        raise Invalid("after must be a seq (a non-negative integer)")
    return int(raw)


def _in_hand(deliveries: list[Delivery], after: int, stale: bool) -> tuple[list[StoredEnvelope], bool]:
    """The delivered envelopes a stream at `after` can send without reading, and whether
    it must read anyway (a delivery starts past what the stream has seen)."""
    stored: list[StoredEnvelope] = []
    if stale:
        return stored, True
    for delivery in deliveries:
        if delivery.before > after:
            return stored, True
        fresh = [item for item in delivery.stored if item.seq > after]
        if fresh:
            stored += fresh
            after = fresh[-1].seq
    return stored, False


def _poll(context: RelayContext, token: str, mailbox: str, after: int) -> list[StoredEnvelope]:
    """Re-check the token (expiry, key rotation), then read after the cursor: one thread hop."""
    now = context.clock()
    context.tokens.verify(token, now)
    return context.store.fetch(mailbox, after, BATCH, now)


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    context: RelayContext = websocket.app.state.relay
    token = _bearer(websocket)
    try:
        after = _after(websocket)
        claims: TokenClaims = await context.run(context.tokens.verify, token, context.clock())
        check_named(claims, websocket.query_params.get("address"), websocket.headers.get("x-hongbao-mailbox"))
    except RelayError as error:
        logs.event(log, logging.INFO, "stream refused", status=error.status, code=error.code)
        await _refuse(websocket, error)
        return
    client = websocket.client.host if websocket.client else "-"
    settings = context.settings
    crowded = context.streams.open(claims.mailbox, client, settings.streams_per_mailbox, settings.streams_per_client)
    if crowded is not None:  # file descriptors are finite: nobody holds them all
        logs.event(log, logging.INFO, "stream refused", status=429, code="too_many_streams")
        await _refuse(websocket, RateLimited(5, message=crowded, code="too_many_streams"))
        return
    try:
        await websocket.accept()
    except BaseException:
        context.streams.close(claims.mailbox, client)
        raise
    subscription = context.hub.subscribe(claims.mailbox)
    context.metrics.ws_connections.inc()
    closed = False

    async def watch_close() -> None:  # the client's frames are ignored; its close ends the stream
        nonlocal closed
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        closed = True
        subscription.wake(None)

    watcher = asyncio.create_task(watch_close())
    try:
        while not closed:
            stale, deliveries, since = subscription.take()
            stored, stale = _in_hand(deliveries, after, stale)
            more = False
            try:
                if stale:  # re-check the token (expiry, a new key) and read after the cursor
                    read = await context.run(_poll, context, token, claims.mailbox, stored[-1].seq if stored else after)
                    stored += read
                    more = len(read) == BATCH
                elif claims.expires_at <= context.clock():
                    raise Unauthorized("token expired; authenticate again")
            except Unauthorized as error:
                await websocket.close(code=CLOSE_UNAUTHORIZED, reason=error.message[:120])
                return
            for item in stored:
                await websocket.send_text(
                    json.dumps({"seq": item.seq, **item.envelope.to_json()}, separators=(",", ":"))
                )
                after = item.seq
            if stored:
                context.metrics.pushed.inc(len(stored))
                if since is not None:
                    context.metrics.push_latency.observe(time.perf_counter() - since)
            if more:
                subscription.wake()  # more stored: keep reading before waiting
                continue
            remaining_s = max((claims.expires_at - context.clock()) / 1000.0, 0.0)
            await subscription.wait(remaining_s + 0.001)  # at the token's expiry the loop closes the stream
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        watcher.cancel()
        context.hub.unsubscribe(subscription)
        context.streams.close(claims.mailbox, client)
        context.metrics.ws_connections.dec()
        if websocket.application_state == WebSocketState.CONNECTED and not closed:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await websocket.close()
