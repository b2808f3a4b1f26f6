"""Waking WebSocket streams when mail arrives.

`Hub` is per process (asyncio); each stream subscribes to its mailbox. Two kinds of news
reach a subscription:

- a delivery (`Hub.deliver`): a batch this process just committed, with the mailbox's
  newest seq before it. A stream whose cursor is at or past that seq sends the batch as
  it is, without reading the database; any other stream reads instead. Per mailbox, seqs
  commit in order (store.py), so this skips nothing.
- a wake-up (`Hub.notify`): something changed that is not in hand (another relay's
  batch, a new identity bundle, a reconnect): the stream re-checks its token and reads
  the mailbox after its cursor. A missed or extra wake-up costs a read, nothing more.

With PostgreSQL every batch (and bundle update) also sends `NOTIFY hongbao_mail,
'<mailbox>'` at commit, and `PgListener` keeps one LISTEN connection per process feeding
the hub, so an envelope posted to relay A is pushed by relay B. Notifications from this
process's own connections are skipped: the hub heard of those directly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from . import logs
from .batch import NOTIFY_CHANNEL
from .store import Delivery

log = logs.get("push")
MAX_HELD = 64  # deliveries a slow stream may hold before it falls back to reading


class Subscription:
    __slots__ = ("_deliveries", "_event", "_since", "_stale", "mailbox")

    def __init__(self, mailbox: str) -> None:
        self.mailbox = mailbox
        self._event = asyncio.Event()
        self._since: float | None = None
        self._stale = True  # start by reading the database
        self._deliveries: list[Delivery] = []

    def _mark(self, at: float | None) -> None:
        if self._since is None and at is not None:
            self._since = at
        self._event.set()

    def wake(self, at: float | None = None) -> None:
        """News not in hand: the stream must re-check and read."""
        self._stale = True
        self._deliveries.clear()
        self._mark(at)

    def offer(self, delivery: Delivery, at: float) -> None:
        if not self._stale:
            if len(self._deliveries) < MAX_HELD:
                self._deliveries.append(delivery)
            else:
                self._stale = True
                self._deliveries.clear()
        self._mark(at)

    def take(self) -> tuple[bool, list[Delivery], float | None]:
        """What arrived since the last take, and when the first of it did (perf_counter,
        for the push latency): (must read the database, deliveries in commit order, since).
        Taking clears the wake-up first, so nothing that arrives later is lost."""
        self._event.clear()
        taken = (self._stale, self._deliveries, self._since)
        self._stale, self._deliveries, self._since = False, [], None
        return taken

    async def wait(self, timeout: float | None) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except TimeoutError:
            return False


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def subscribe(self, mailbox: str) -> Subscription:
        subscription = Subscription(mailbox)
        self._subscribers.setdefault(mailbox, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.mailbox)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.mailbox]

    def deliver(self, deliveries: Iterable[Delivery], at: float | None = None) -> None:
        at = time.perf_counter() if at is None else at
        for delivery in deliveries:
            for subscription in self._subscribers.get(delivery.mailbox, ()):
                subscription.offer(delivery, at)

    def notify(self, mailboxes: Iterable[str], at: float | None = None) -> None:
        at = time.perf_counter() if at is None else at
        for mailbox in mailboxes:
            for subscription in self._subscribers.get(mailbox, ()):
                subscription.wake(at)

    def wake_all(self) -> None:
        """After notifications may have been lost (the listener reconnected)."""
        at = time.perf_counter()
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.wake(at)

    def __len__(self) -> int:
        return sum(len(s) for s in self._subscribers.values())


def track_backend_pids(engine: Engine) -> set[int]:
    """The PostgreSQL backend pids of this process's pooled connections (kept current)."""
    pids: set[int] = set()

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        pid = dbapi_connection.info.backend_pid
        record.info["backend_pid"] = pid
        pids.add(pid)

    @event.listens_for(engine, "close")
    def _close(dbapi_connection: Any, record: Any) -> None:
        pids.discard(record.info.get("backend_pid"))

    return pids


class PgListener:
    RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)

    def __init__(
        self, db_url: str, hub: Hub, own_pids: set[int], on_state: Callable[[bool], None] = lambda _up: None
    ) -> None:
        self.conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.hub = hub
        self.own_pids = own_pids
        self.on_state = on_state
        self.listening = False

    async def run(self) -> None:
        import psycopg

        failures = 0
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening = True
                    self.on_state(True)
                    if failures:
                        logs.event(log, logging.INFO, "listener reconnected")
                    failures = 0
                    self.hub.wake_all()  # whatever was notified while we were away
                    async for notification in connection.notifies():
                        if notification.pid not in self.own_pids:
                            self.hub.notify((notification.payload,))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 (the database went away: retry; streams keep their cursors)
                self.listening = False
                self.on_state(False)
                logs.event(log, logging.WARNING, "listener disconnected", error=type(error).__name__)
                await asyncio.sleep(self.RETRY_S[min(failures, len(self.RETRY_S) - 1)])
                failures += 1
