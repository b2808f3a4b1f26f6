"""The background task deleting expired envelopes and challenges every sweep_interval."""

from __future__ import annotations

import asyncio
import logging

from . import logs
from .context import RelayContext

log = logs.get("sweeper")


async def sweep_once(context: RelayContext) -> int:
    swept = await context.run(context.store.sweep, context.clock())
    context.metrics.swept.inc(swept)
    if swept:
        logs.event(log, logging.INFO, "expired envelopes swept", count=swept)
    return swept


async def run(context: RelayContext, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await sweep_once(context)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database hiccuped: try again next interval
            log.exception("sweep failed")
