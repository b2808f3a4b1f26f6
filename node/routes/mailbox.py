"""GET /v1/mailbox and POST /v1/mailbox/ack: the token's own mailbox, and only it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..context import RelayContext
from ..deps import Credentials, Creds, Relay, authorize
from ..schemas import MAX_SEQ, AckIn, AckOut, MailboxOut, errors

router = APIRouter(prefix="/v1/mailbox", tags=["mailbox"])


def _read(context: RelayContext, given: Credentials, after: int, limit: int) -> bytes:
    claims = authorize(context, given)
    stored = context.store.fetch(claims.mailbox, after, limit, context.clock())
    items = [{"seq": s.seq, **s.envelope.to_json()} for s in stored]
    return json.dumps({"envelopes": items, "next": stored[-1].seq if stored else after}, separators=(",", ":")).encode()


@router.get("", response_model=MailboxOut, responses=errors(401, 403, 422), summary="Envelopes after a cursor, by seq")
async def read(
    given: Creds,
    context: Relay,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="the last seq already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    body = await context.run(_read, context, given, after, min(limit, context.settings.fetch_limit))
    context.metrics.fetches.inc()
    return Response(body, media_type="application/json")


def _ack(context: RelayContext, given: Credentials, ids: list[str]) -> int:
    return context.store.ack(authorize(context, given).mailbox, ids)


@router.post(
    "/ack",
    response_model=AckOut,
    responses=errors(400, 401, 403, 422),
    summary="Delete envelopes of this mailbox by message id",
)
async def ack(body: AckIn, given: Creds, context: Relay) -> AckOut:
    deleted = await context.run(_ack, context, given, body.ids)
    context.metrics.acked.inc(deleted)
    return AckOut(deleted=deleted)
