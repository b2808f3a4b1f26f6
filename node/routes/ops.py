"""GET /healthz and /metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import logs
from ..deps import Relay
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


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
async def metrics(context: Relay) -> Response:
    return Response(await context.run(context.metrics.render), media_type=CONTENT_TYPE)
