"""The app's live side: one thread owns the Messenger's network work (the relay stream,
sends, read receipts), so a session's ratchet is never advanced from two threads; the
chain is polled beside it. The screen hears of it all as Events, on its own thread.

The relay stream (Messenger.watch) is given up after one failed connection so the app
can say "offline" at once, then retried with back-off for as long as the app runs; on
each connection, messages kept pending while the relay was down go out by themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

RETRY_SECONDS = (0.25, 0.5, 1.0, 2.0)  # back-off between reconnections, then the last one each time
CHAIN_POLL_SECONDS = 1.0  # a new block is seen within a second


@dataclass(frozen=True)
class Event:
    kind: str  # online | offline | message | flushed | block | news | balance
    text: str = ""
    message: Any = None
    data: dict[str, Any] = field(default_factory=dict)


class Live:
    def __init__(self, messenger: Any, tell: Callable[[Event], None], chain: Callable[[], Any] | None = None) -> None:
        """`tell` is called on this object's thread (the app wraps it in call_from_thread);
        `chain`: the chain's news, a ChainWatch (None: no chain to poll)."""
        self.m, self.tell, self.chain = messenger, tell, chain
        self.loop = asyncio.new_event_loop()
        self.online = False
        self._thread = threading.Thread(target=self._run, name="hongbao-app-live", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._tasks = [self.loop.create_task(self._relay())]
        if self.chain is not None:
            self._tasks.append(self.loop.create_task(self._chain()))
        with contextlib.suppress(RuntimeError):  # stopped
            self.loop.run_forever()

    def stop(self) -> None:
        async def cancel() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.loop.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(cancel(), self.loop)
            self._thread.join(timeout=5)

    def call(self, work: Callable[[Any], T]) -> concurrent.futures.Future[T]:
        """Run work(messenger) on the live thread, between stream events (never beside them)."""

        async def run() -> T:
            return work(self.m)

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def _connected(self, _after: int) -> None:
        self.online = True
        self.tell(Event("online", self.m.relay_url or ""))
        try:
            sent = self.m.flush_pending()
        except Exception as error:  # noqa: BLE001  a later connection tries again
            self.tell(Event("offline", f"pending messages not sent: {type(error).__name__}"))
            return
        if sent:
            self.tell(Event("flushed", f"{sent} pending message(s) sent", data={"count": sent}))

    async def _relay(self) -> None:
        from messaging.errors import MessagingError

        failures = 0
        while True:
            try:
                async for message, _counts in self.m.watch(on_connect=self._connected, max_failures=1):
                    failures = 0
                    self.tell(Event("message", message=message))
            except asyncio.CancelledError:
                raise
            except MessagingError as error:  # unreachable, refused, no relay set: say so, try again
                self._offline(str(error))
            except Exception as error:  # noqa: BLE001  never a library's message on screen: it might hold a secret
                self._offline(f"relay stream failed ({type(error).__name__})")
            failures += 1
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    def _offline(self, why: str) -> None:
        self.online = False
        self.tell(Event("offline", why))

    async def _chain(self) -> None:
        if self.chain is None:
            return
        watch = self.chain()
        while True:
            for event in await asyncio.to_thread(watch.poll):
                self.tell(event)
            await asyncio.sleep(CHAIN_POLL_SECONDS)


class ChainWatch:
    """New blocks, my balance, and the CLI's chain news (claims of my packets, deadlines,
    security alerts: cli.chat_cmd.ChainNews, cli.alerts.ChainAlerts) as Events."""

    def __init__(self, address: str, network_name: str | None, names: Callable[[], dict[str, str]]) -> None:
        from ..alerts import ChainAlerts
        from ..chat_cmd import ChainNews

        self.address, self.network_name, self.names = address, network_name, names
        self.news, self.alerts = ChainNews(address, network_name), ChainAlerts(address, network_name)
        self.chain: Any = None
        self.block = -1
        self.down = False

    def poll(self) -> list[Event]:
        from wallet import amounts
        from wallet.chain import Chain
        from wallet.errors import WalletError

        from ..context import network

        try:
            if self.chain is None:
                self.chain = Chain.connect(network(self.network_name), timeout=3)
            block = int(self.chain.rpc.call("eth_blockNumber"), 16)
            if block == self.block:
                return []
            self.block = block
            events = [Event("block", str(block), data={"block": block})]
            balance = amounts.eth(self.chain.balance(self.address))
            events.append(Event("balance", balance, data={"ETH": balance, "network": self.chain.network.name}))
            news = self.news.poll(self.names()) + self.alerts.poll()
            events.extend(Event("news", str(item.get("text", "")), data=item) for item in news)
        except WalletError as error:
            if self.down:
                return []
            self.down = True
            return [Event("news", f"chain not readable: {error}", data={"kind": "chain-down"})]
        self.down = False
        return events
