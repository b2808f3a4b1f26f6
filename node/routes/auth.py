"""POST /v1/auth/challenge and /v1/auth/token: prove you hold a mailbox's messaging key."""

from __future__ import annotations

from fastapi import APIRouter

from wallet.address import parse
from wallet.errors import InvalidAddress

from ..context import RelayContext
from ..deps import Relay
from ..errors import Invalid, NotFound
from ..schemas import ChallengeIn, ChallengeOut, TokenIn, TokenOut, errors

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def _challenge(context: RelayContext, mailbox: str) -> tuple[str, int]:
    if context.store.identity_key(mailbox) is None:
        raise NotFound(f"no identity is published for {mailbox}; publish one first (PUT /v1/identities/{mailbox})")
    now, ttl = context.clock(), context.settings.challenge_ttl
    return context.store.new_challenge(mailbox, now, ttl), now + ttl * 1000


def _address(text: str) -> str:
    try:
        return parse(text)
    except InvalidAddress as error:
        raise Invalid(str(error)) from None


@router.post(
    "/challenge",
    response_model=ChallengeOut,
    responses=errors(400, 404, 422),
    summary="A one-time nonce to sign with the mailbox's Ed25519 key",
)
async def challenge(request: ChallengeIn, context: Relay) -> ChallengeOut:
    nonce, expires_at = await context.run(_challenge, context, _address(request.address))
    return ChallengeOut(nonce=nonce, expires_at=expires_at)


@router.post(
    "/token", response_model=TokenOut, responses=errors(400, 401, 422), summary="A bearer token for a signed challenge"
)
async def token(request: TokenIn, context: Relay) -> TokenOut:
    value, expires_at = await context.run(
        context.tokens.exchange, _address(request.address), request.nonce, request.signature, context.clock()
    )
    return TokenOut(token=value, expires_at=expires_at)
