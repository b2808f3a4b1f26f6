"""PUT /v1/mailbox/passes: the mailbox's delivery passes (node/lanes.py), with its own token.

The body carries SHA-256 hashes only: the passes themselves travel from the owner to their
contacts inside the encrypted chat, and come to the relay only with each envelope."""

from __future__ import annotations

from fastapi import APIRouter

from ..context import RelayContext
from ..deps import Credentials, Creds, Relay, authorize
from ..errors import Invalid
from ..schemas import PassesIn, PassesOut, errors

router = APIRouter(prefix="/v1/mailbox", tags=["mailbox"])


def _put(context: RelayContext, given: Credentials, hashes: list[str]) -> int:
    claims = authorize(context, given)
    limit = context.settings.max_passes
    if len(set(hashes)) > limit:
        raise Invalid(f"at most {limit} delivery passes per mailbox; nothing was changed", code="too_many_passes")
    return context.store.set_passes(claims.mailbox, hashes, context.clock())


@router.put(
    "/passes",
    response_model=PassesOut,
    responses=errors(401, 403, 422),
    summary="Replace the mailbox's delivery passes (hashes): envelopes presenting one go to its contact lane",
)
async def put_passes(body: PassesIn, given: Creds, context: Relay) -> PassesOut:
    return PassesOut(passes=await context.run(_put, context, given, body.passes))
