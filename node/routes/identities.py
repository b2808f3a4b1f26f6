"""PUT/GET /v1/identities/{address}: signed identity bundles, verified before storing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from messaging.errors import BundleInvalid, StaleBundle
from messaging.identity import Bundle, verify_bundle
from wallet.address import parse
from wallet.errors import InvalidAddress

from ..context import RelayContext
from ..deps import Relay
from ..errors import BadRequest, Conflict, Invalid, NotFound
from ..schemas import ADDRESS, BundleJson, PublishOut, errors

router = APIRouter(prefix="/v1/identities", tags=["identities"])


AddressPath = Annotated[str, Path(pattern=ADDRESS, description="0x + 40 hex digits (EIP-55 checked if mixed case)")]


def _address(text: str) -> str:
    try:
        return parse(text)
    except InvalidAddress as error:
        raise Invalid(str(error)) from None


def _publish(context: RelayContext, path_address: str, bundle: Bundle) -> str:
    if bundle.address != path_address:
        raise BadRequest(f"the bundle is for {bundle.address}, not {path_address}")
    try:
        verify_bundle(bundle)
        return context.store.publish_identity(bundle)
    except BundleInvalid as error:
        raise Invalid(str(error)) from None
    except StaleBundle as error:
        raise Conflict(str(error)) from None


@router.put(
    "/{address}",
    response_model=PublishOut,
    responses={201: {"model": PublishOut, "description": "Created"}, **errors(400, 409, 422)},
    summary="Publish an identity bundle (it must verify; one older than the stored one is refused)",
)
async def publish(address: AddressPath, bundle_json: BundleJson, context: Relay) -> JSONResponse:
    path_address = _address(address)
    try:
        bundle = Bundle.from_json(bundle_json.model_dump())
    except BundleInvalid as error:
        raise Invalid(str(error)) from None
    result = await context.run(_publish, context, path_address, bundle)
    if result == "updated":
        context.hub.notify([bundle.address])  # open streams re-check their tokens (a new key revokes them)
    body = {"address": bundle.address, "version": bundle.version, "result": result}
    return JSONResponse(body, status_code=201 if result == "created" else 200)


@router.get(
    "/{address}",
    response_model=BundleJson,
    responses=errors(404, 422),
    summary="An address's identity bundle (verify it yourself)",
)
async def get(address: AddressPath, context: Relay) -> JSONResponse:
    bundle = await context.run(context.store.get_identity, _address(address))
    if bundle is None:
        raise NotFound(f"no identity is published for {address}")
    return JSONResponse(bundle.to_json())
