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
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from wallet.chain import Chain

T = TypeVar("T")

RETRY_SECONDS = (0.25, 0.5, 1.0, 2.0)  # back-off between reconnections, then the last one each time
CHAIN_POLL_SECONDS = 1.0  # a new block is seen within a second


@dataclass(frozen=True)
class Event:
    kind: str  # online | offline | message | check | flushed | block | news | balance
    text: str = ""
    message: Any = None
    data: dict[str, Any] = field(default_factory=dict)


class Live:
    def __init__(
        self,
        messenger: Any,
        tell: Callable[[Event], None],
        watch: Any = None,
        chain: Callable[[], Any] | None = None,
        follow: Callable[[Any], list[dict[str, Any]]] | None = None,
    ) -> None:
        """`tell` is called on this object's thread (the app posts a message to itself);
        `watch`: services.chat_watch.Watch, which also submits the claims sent to me as
        they arrive; `chain()` makes the chain's poller (ChainWatch; None: no chain);
        `follow(message)`: `trade autofollow` (services.following.Autofollow), run beside
        the stream (a swap must not hold it up), its events told as news."""
        self.m, self.tell, self.watch, self.chain, self.follow = messenger, tell, watch, chain, follow
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
                    self._arrived(message)
            except asyncio.CancelledError:
                raise
            except MessagingError as error:  # unreachable, refused, no relay set: say so, try again
                self._offline(str(error))
            except Exception as error:  # noqa: BLE001  never a library's message on screen: it might hold a secret
                self._offline(f"relay stream failed ({type(error).__name__})")
            failures += 1
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    def _arrived(self, message: Any) -> None:
        from wallet.errors import WalletError

        self.tell(Event("message", message=message))
        if self.follow is not None:
            self.loop.run_in_executor(None, self.follow, message).add_done_callback(self._followed)
        if self.watch is None:
            return
        try:
            step = self.watch.arrived(message)  # a claim request for my packet: submitted now
        except WalletError as error:
            self.tell(Event("news", f"could not handle a message: {error}"))
            return
        for shown in step.messages:
            check = shown.payment_check or shown.packet_check
            if check is not None:
                self.tell(Event("check", check, data={"id": message.id}))
        for item in step.events:
            self.tell(Event("news", str(item.get("text", "")), data=item))

    def _followed(self, done: asyncio.Future[list[dict[str, Any]]]) -> None:
        error = done.exception()
        if error is not None:  # the type only: a library's message might hold a secret
            self.tell(Event("news", f"automatic follow failed ({type(error).__name__})"))
            return
        for item in done.result():
            self.tell(Event("news", str(item.get("text", "")), data=item))

    def _offline(self, why: str) -> None:
        self.online = False
        self.tell(Event("offline", why))

    async def _chain(self) -> None:
        if self.chain is None:
            return
        watch = self.chain()
        while True:
            try:
                events = await asyncio.to_thread(watch.poll)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  the type only: a library's message might hold a secret
                events = [Event("news", f"chain check failed ({type(error).__name__}); retrying")]
            for event in events:
                self.tell(event)
            await asyncio.sleep(CHAIN_POLL_SECONDS)


class ChainWatch:
    """New blocks and my balance as Events; on each new block, the CLI's chain news (claims
    of my packets, deadlines, the health factor, security alerts: services.chat_watch.Watch)."""

    def __init__(self, watch: Any, network_name: str | None) -> None:
        from wallet.new_blocks import NewBlocks

        self.watch, self.network_name = watch, network_name
        self.blocks = NewBlocks(self._connect)
        self.down = False

    def _connect(self) -> Chain:
        from wallet.chain import Chain

        from ..context import network

        return Chain.connect(network(self.network_name), timeout=3)

    def poll(self) -> list[Event]:
        from wallet.errors import WalletError

        from ..services.balances import balances

        try:
            block = self.blocks.look()
            if block is None:
                return []
            chain = self.blocks.chain
            assert chain is not None  # noqa: S101  (the look went through it)
            events = [Event("block", str(block), data={"block": block})]
            held = balances(self.watch.m.address, self.network_name)  # ETH and the configured tokens
            text = " · ".join(f"{row['formatted']} {row['symbol']}" for row in held["balances"])
            events.append(Event("balance", text, data=held))
            events.extend(self._positions(chain))
            news = self.watch.chain()
            events.extend(Event("news", str(item.get("text", "")), data=item) for item in news)
        except WalletError as error:
            self.blocks.forget()  # a new connection (`hongbao network use` meanwhile?); this block's reads again
            if self.down:
                return []
            self.down = True
            return [Event("news", f"chain not readable: {error}", data={"kind": "chain-down"})]
        self.down = False
        return events

    def _positions(self, chain: Chain) -> list[Event]:
        """What I hold in the DeFi protocols (`hongbao positions`), when they are recorded."""
        from wallet.errors import WalletError

        from ..services import defi

        try:
            data = defi.positions(defi.protocols(chain.network, chain.rpc), self.watch.m.address)
        except WalletError:  # none recorded on this network: nothing to show
            return []
        return [Event("positions", str(data.get("total_eth", "")), data=data)]
