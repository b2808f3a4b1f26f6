"""X3DH prekeys (messaging/prekeys.py): PUT and GET /v1/prekeys/{address} with that
mailbox's own token; POST /v1/prekeys/{address}/claim by anyone (rate limited per client,
as every route). The relay checks every signature against the mailbox's current identity
key before storing, so it never hands out junk; clients verify again all the same.

Claims are public, so anyone could empty someone's one-time prekeys in a second and make
every later session start from the signed prekey alone. Per address, at most
`one_time_claims_per_minute` claims (that many in a burst) get a one-time prekey; the rest
get a bundle without one (a valid X3DH, as when they ran out), so a drainer spends at most
that many keys a minute while the owner tops up on every receive."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from messaging.prekeys import PrekeyBundle, PrekeyBundleInvalid, parse_upload

from ..context import RelayContext
from ..deps import Credentials, Relay, authorize, bearer, check_named
from ..errors import Invalid, NotFound
from ..prekey_store import PrekeyStatus
from ..schemas import PrekeyBundleOut, PrekeyStatusOut, PrekeyUploadIn, errors
from .identities import AddressPath, _address

router = APIRouter(prefix="/v1/prekeys", tags=["prekeys"])


async def _token(auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Credentials:
    """The bearer token alone: the path names the mailbox (deps.Creds' ?address= would
    clash with it)."""
    return Credentials(auth.credentials if auth else None, ())


Token = Annotated[Credentials, Depends(_token)]


def _owner(context: RelayContext, given: Credentials, address: str) -> bytes:
    """The mailbox's identity key, once the token proves it is the caller's (401 / 403)."""
    claims = authorize(context, given)
    check_named(claims, address)  # a token of another mailbox may not fill this one
    return claims.ed25519  # the current identity key: the token was checked against it just now


def _status_json(status: PrekeyStatus) -> JSONResponse:
    return JSONResponse(
        {"one_time": status.one_time, "signed_prekey": status.signed.to_json() if status.signed else None}
    )


def _put(context: RelayContext, given: Credentials, address: str, upload: dict) -> PrekeyStatus:
    identity_key = _owner(context, given, address)
    try:
        signed, one_time = parse_upload(upload, identity_key)
    except PrekeyBundleInvalid as error:
        raise Invalid(str(error)) from None
    # the store re-checks the key under a lock: a re-published identity may have won the race
    return context.store.prekeys.put(
        address, identity_key, signed, one_time, context.clock(), replace=upload.get("replace_one_time") is True
    )


@router.put(
    "/{address}",
    response_model=PrekeyStatusOut,
    responses=errors(400, 401, 403, 404, 409, 422),
    summary="Upload prekeys signed by the mailbox's identity key (replaces the signed prekey, adds one-time prekeys)",
)
async def put(address: AddressPath, body: PrekeyUploadIn, given: Token, context: Relay) -> JSONResponse:
    status = await context.run(_put, context, given, _address(address), body.model_dump())
    return _status_json(status)


def _get(context: RelayContext, given: Credentials, address: str) -> PrekeyStatus:
    _owner(context, given, address)
    return context.store.prekeys.status(address)


@router.get(
    "/{address}",
    response_model=PrekeyStatusOut,
    responses=errors(401, 403, 422),
    summary="How many one-time prekeys are left, and the signed prekey",
)
async def get(address: AddressPath, given: Token, context: Relay) -> JSONResponse:
    return _status_json(await context.run(_get, context, given, _address(address)))


@router.post(
    "/{address}/claim",
    response_model=PrekeyBundleOut,
    responses=errors(404, 422),
    summary="Take a prekey bundle to start a session: one one-time prekey (null once they ran out) is handed out once",
)
async def claim(address: AddressPath, context: Relay) -> JSONResponse:
    wanted = _address(address)
    one_time = context.claim_limiter.take(wanted) == 0
    claimed = await context.run(functools.partial(context.store.prekeys.claim, wanted, one_time=one_time))
    if claimed is None:
        raise NotFound(f"no prekeys are published for {wanted}")
    context.metrics.prekey_claims.labels("one_time" if claimed.one_time else "exhausted").inc()
    return JSONResponse(PrekeyBundle(wanted, claimed.identity_key, claimed.signed, claimed.one_time).to_json())
