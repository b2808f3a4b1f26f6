"""POST /v1/messages: store a batch of sealed envelopes (anyone may post to any mailbox:
the envelope hides its sender). The answer comes after the batch is committed.

An envelope with the recipient's delivery pass goes to their contact lane; any other to
their request lane, charged to the posting client's budget (node/lanes.py)."""

from __future__ import annotations

import binascii
import json
import logging
import time
from base64 import b64decode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from messaging.envelope import VERSION, Envelope
from wallet.address import parse
from wallet.errors import InvalidAddress

from .. import logs
from ..context import RelayContext
from ..deps import Relay
from ..errors import Invalid, RateLimited, TooLarge
from ..lanes import LANES, REQUEST
from ..schemas import EnvelopeIn, MessagesIn, MessagesOut, errors
from ..settings import Settings

router = APIRouter(prefix="/v1/messages", tags=["messages"])
log = logs.get("messages")


def _envelope(index: int, item: EnvelopeIn, settings: Settings) -> Envelope:
    where = f"envelopes[{index}]"
    if item.v != VERSION:
        raise Invalid(
            f"{where}: envelope version {item.v} is not supported (this relay stores version {VERSION})",
            code="unknown_version",
        )
    if not 0 < item.ttl <= settings.max_ttl:
        raise Invalid(f"{where}: ttl must be 1 to {settings.max_ttl} seconds")
    if len(item.ct) > (settings.max_envelope + 2) // 3 * 4:
        raise TooLarge(f"{where}: ciphertext over {settings.max_envelope} bytes")
    try:
        to = parse(item.to)
        ciphertext = b64decode(item.ct, validate=True)
    except InvalidAddress as error:
        raise Invalid(f"{where}: {error}") from None
    except (binascii.Error, ValueError):
        raise Invalid(f"{where}: ct is not standard base64") from None
    if len(ciphertext) > settings.max_envelope:
        raise TooLarge(f"{where}: ciphertext of {len(ciphertext)} bytes is over {settings.max_envelope}")
    return Envelope(to, bytes.fromhex(item.id), ciphertext, item.ttl, item.v)


@router.post(
    "",
    response_model=MessagesOut,
    responses=errors(400, 413, 422, 507),
    summary="Store envelopes; idempotent by message id (a repeat returns its seq with duplicate=true)",
)
async def post_messages(body: MessagesIn, context: Relay, request: Request) -> Response:
    settings = context.settings
    if not body.envelopes:
        raise Invalid("no envelopes")
    if len(body.envelopes) > settings.max_batch:
        raise TooLarge(f"{len(body.envelopes)} envelopes in one batch; at most {settings.max_batch}")
    batch = [_envelope(i, item, settings) for i, item in enumerate(body.envelopes)]
    passes = [bytes.fromhex(item.pass_) if item.pass_ else None for item in body.envelopes]
    client = request.client.host if request.client else "-"
    posted = await context.run(context.store.post_batch, batch, context.clock(), passes, _charger(context, client))
    committed = time.perf_counter()
    accepted = posted.accepted
    fresh = sum(1 for a in accepted if not a.duplicate)
    if fresh:
        context.hub.deliver(posted.deliveries, committed)
        context.metrics.accepted.inc(fresh)
    if fresh < len(accepted):
        context.metrics.duplicates.inc(len(accepted) - fresh)
    logs.event(log, logging.DEBUG, "envelopes posted", count=len(accepted), new=fresh)
    lanes = posted.lanes
    if fresh:
        requests = sum(1 for a in accepted if not a.duplicate and lanes.get(a.id) == REQUEST)
        if requests:
            context.metrics.request_lane.inc(requests)
        if fresh > requests:
            context.metrics.contact_lane.inc(fresh - requests)
    payload = {
        "accepted": [
            {"id": a.id, "seq": a.seq, "duplicate": a.duplicate, "lane": LANES[lanes.get(a.id, 1)]} for a in accepted
        ]
    }
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


def _charger(context: RelayContext, client: str):
    """The request lane's price, taken from this client's budget and from each recipient
    mailbox's, inside the batch's transaction once the lanes are known; RateLimited
    (nothing stored) when either is spent."""

    def charge(units: dict[str, int]) -> None:
        wait = context.request_budget.take_n(client, sum(units.values()))
        for mailbox, spent in sorted(units.items()):
            wait = wait or context.mailbox_request_budget.take_n(mailbox, spent)
        if wait:
            context.metrics.rate_limited.inc()
            raise RateLimited(wait)

    return charge
