"""What a running relay app holds: settings, clock, store, tokens, push hub, metrics, rate
limiter. One per app (`app.state.relay`); routes reach it through node.deps."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .auth import Tokens
from .clock import Clock, system_clock
from .db import make_engine
from .metrics import Metrics
from .push import Hub, PgListener, track_backend_pids
from .ratelimit import RateLimiter
from .settings import Settings
from .store import RelayStore

T = TypeVar("T")


class StreamCounts:
    """Open WebSocket streams per mailbox and per client address (this process's)."""

    def __init__(self) -> None:
        self.by_mailbox: dict[str, int] = {}
        self.by_client: dict[str, int] = {}

    def open(self, mailbox: str, client: str, per_mailbox: int, per_client: int) -> str | None:
        """Count a new stream in, or say why not."""
        if self.by_client.get(client, 0) >= per_client:
            return f"this client has {per_client} streams open already; close one first"
        if self.by_mailbox.get(mailbox, 0) >= per_mailbox:
            return f"this mailbox has {per_mailbox} streams open already; close one first"
        self.by_client[client] = self.by_client.get(client, 0) + 1
        self.by_mailbox[mailbox] = self.by_mailbox.get(mailbox, 0) + 1
        return None

    def close(self, mailbox: str, client: str) -> None:
        for counts, key in ((self.by_mailbox, mailbox), (self.by_client, client)):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)


DB_THREADS = 8


@dataclass
class RelayContext:
    settings: Settings
    clock: Clock
    store: RelayStore
    tokens: Tokens
    hub: Hub
    metrics: Metrics
    limiter: RateLimiter
    claim_limiter: RateLimiter  # one-time prekeys handed out per address (see routes/prekeys.py)
    request_budget: RateLimiter  # request-lane envelopes per client address (node/lanes.py)
    mailbox_request_budget: RateLimiter  # request-lane envelopes into each mailbox, from everyone
    listener: PgListener | None = None
    streams: StreamCounts = field(default_factory=lambda: StreamCounts())
    own_pids: set[int] = field(default_factory=set)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(DB_THREADS, thread_name_prefix="relay-db")
    )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking database work off the event loop: one hop per request. (Our own
        executor: measured at a third of anyio's threadpool hop on this machine.)"""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(function, *args))

    @classmethod
    def build(cls, settings: Settings, clock: Clock = system_clock) -> RelayContext:
        engine = make_engine(settings.db_url)
        own_pids = track_backend_pids(engine) if engine.dialect.name == "postgresql" else set()
        store = RelayStore(
            engine,
            clock,
            quota_messages=settings.mailbox_quota_messages,
            quota_bytes=settings.mailbox_quota_bytes,
            requests={
                "quota_messages": settings.request_quota_messages,
                "quota_bytes": settings.request_quota_bytes,
                "max_ttl_s": settings.request_max_ttl,
                "disk_cap": settings.request_disk_cap,
            },
        )
        hub = Hub()
        return cls(
            settings=settings,
            clock=clock,
            store=store,
            tokens=Tokens(store, settings.token_ttl),
            hub=hub,
            metrics=Metrics(),
            limiter=RateLimiter(settings.rate, settings.rate_burst, clock),
            claim_limiter=RateLimiter(  # keys are addresses anyone names: never forget a debt
                settings.one_time_claims_per_minute / 60.0,
                max(int(settings.one_time_claims_per_minute), 1),
                clock,
                forget=False,
            ),
            request_budget=RateLimiter(settings.request_rate, settings.request_burst, clock),
            mailbox_request_budget=RateLimiter(
                settings.request_mailbox_rate, settings.request_mailbox_burst, clock, forget=False
            ),
            own_pids=own_pids,
        )

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.engine.dispose()
