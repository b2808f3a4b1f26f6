"""GET /healthz and /metrics. /metrics answers loopback clients, and others only with the
relay's `metrics_token` as a bearer token (403 otherwise): what it tells (routes, rates,
latencies) helps whoever plans to load the relay."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import logs
from ..deps import Relay
from ..errors import Forbidden
from ..metrics import CONTENT_TYPE
from ..schemas import HealthOut

router = APIRouter(tags=["ops"])
log = logs.get("ops")


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database does not answer"}},
)
async def healthz(context: Relay) -> JSONResponse:
    try:
        await context.run(context.store.ping)
    except Exception as error:  # noqa: BLE001 (report, never raise: this is what load balancers poll)
        logs.event(log, logging.ERROR, "health check failed", error=type(error).__name__)
        return JSONResponse({"ok": False, "db": "error"}, status_code=503)
    return JSONResponse({"ok": True, "db": "ok"})


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        403: {"description": "Not from loopback, and without the relay's metrics token"},
    },
)
async def metrics(context: Relay, request: Request) -> Response:
    if not _loopback(request.client.host if request.client else None):
        expected = context.settings.metrics_token
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if (
            not expected
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(given.strip().encode(), expected.encode())
        ):
            raise Forbidden("/metrics answers loopback clients, or a bearer token set as the relay's metrics_token")
    return Response(context.metrics.render(), media_type=CONTENT_TYPE)
