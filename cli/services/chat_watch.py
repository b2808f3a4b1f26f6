"""What `chat watch` does, one step at a time, for any front end: new messages (and the
claims sent to me for my red packets, submitted as they arrive), claims of the packets I
created and their deadlines, the Aave health factor, the account's alerts.

Every event is a plain dict with a "kind" (claim, expiring, expired, claim_request,
health, alert...) and a "text" for people (plain text, never markup).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .chat import names_of
from .messages import Shown, view

if TYPE_CHECKING:
    from messaging.chat import Messenger
    from wallet.chain import Chain
    from wallet.config import Token

CHAIN_POLL_SECONDS = 1.0  # how often a front end should call `Watch.chain_on_new_block`


def _packet_name(kept: Any) -> str:
    return f"“{kept.greeting}”" if kept.greeting else kept.packet_id[:10] + "..."


def claim_event(news: Any, names: dict[str, str], amount: str) -> dict[str, Any]:
    k = news.kept
    return {
        "kind": "claim",
        "packet_id": k.packet_id,
        "greeting": k.greeting,
        "recipient": news.recipient,
        "recipient_name": names.get(news.recipient),
        "amount": str(news.amount),
        "formatted": amount,
        "claimed": news.claimed,
        "shares": news.shares,
        "tx": news.tx_hash,
        "block": news.block,
        "text": f"🧧 {names.get(news.recipient) or news.recipient} claimed {amount} from your packet {_packet_name(k)} "
        f"({news.claimed} of {news.shares} claimed)",
    }


def deadline_event(news: Any, left: str) -> dict[str, Any]:
    from contracts import flows

    s, k = news.state, news.kept
    shares = f"{s.shares_left} share{'s' if s.shares_left != 1 else ''} left"
    if news.kind == "expiring":
        text = (
            f"⏳ your packet {_packet_name(k)} expires in {flows.describe_wait(news.seconds_left)}; {shares}: "
            f"`hongbao packet refund {k.packet_id[:10]}` after expiry"
        )
    else:
        text = f"⌛ your packet {_packet_name(k)} has expired with {left} left ({shares}): refund it now: `hongbao packet refund {k.packet_id[:10]}`"
    return {
        "kind": news.kind,
        "packet_id": k.packet_id,
        "greeting": k.greeting,
        "expiry": s.expiry,
        "seconds_left": news.seconds_left,
        "shares_left": s.shares_left,
        "shares": s.shares,
        "remaining": str(s.remaining),
        "deposit": str(s.deposit),
        "formatted": left,
        "text": text,
    }


def _quiet(_text: str) -> None:
    pass


class ChainNews:
    """The chain side of `watch`: claims of my packets (each told once, see
    contracts.packet_watch.PacketWatch) and deadlines (told once per run and kind).
    `warn(text)` is told once per outage when the chain cannot be read."""

    def __init__(self, address: str, network_name: str | None, warn: Callable[[str], None] = _quiet) -> None:
        from contracts import packet_keeper, packet_watch
        from wallet.home import home

        self.address, self.network_name, self.warn = address, network_name, warn
        self.watch = packet_watch.PacketWatch(packet_keeper.Keeper(home()), address)
        self.chain: Chain | None = None
        self.told: set[tuple[str, str]] = set()
        self.tokens: dict[str | None, Token | None] = {}
        self.failing = False

    def _amount(self, chain: Chain, units: int, token: str | None) -> str:
        from contracts import flows

        if token not in self.tokens:
            self.tokens[token] = flows.token_of(chain, token)
        return flows.format_amount(units, self.tokens[token])

    def poll(self, names: dict[str, str]) -> list[dict[str, Any]]:
        """Events since the last poll; a chain that cannot be read is warned about once per outage."""
        from contracts import flows, packet_watch

        from ..context import chain as connect

        try:
            if self.chain is None:
                chain = connect(self.network_name)
                if not packet_watch.my_packets(self.watch.keeper, chain.network.chain_id, self.address):
                    return []
                chain.verify()
                self.chain = chain
            chain = self.chain
            claims, due = self.watch.poll(chain)
            events = [claim_event(c, names, self._amount(chain, c.amount, c.kept.token)) for c in claims]
            for news in due:
                if (news.kept.packet_id, news.kind) not in self.told:
                    self.told.add((news.kept.packet_id, news.kind))
                    left = self._amount(chain, news.state.remaining, news.state.token)
                    if news.state.deposit:
                        left += f" + {flows.format_amount(news.state.deposit, None)} gas deposit"
                    events.append(deadline_event(news, left))
        except WalletError as error:
            if not self.failing:
                self.warn(f"could not check your red packets on chain: {error}")
            self.failing = True
            return []
        self.failing = False
        return events


@dataclass
class Step:
    """What one step brought: new messages (oldest first), then events (dicts, see above)."""

    messages: list[Shown] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0  # envelopes that could not be opened (discarded)


class Watch:
    """`chat watch` for messenger `m` (its account key `key`, to submit claims sent to me).

    A front end calls `fetch()` for what the relay holds (at start, or on a push), or feeds
    each message of `Messenger.watch()` to `arrived`, and calls `chain()` every
    CHAIN_POLL_SECONDS. `warn(text)`: the chain could not be read (told once per outage)."""

    def __init__(
        self, m: Messenger, key: bytes, network_name: str | None, warn: Callable[[str], None] = _quiet
    ) -> None:
        from wallet.new_blocks import NewBlocks

        from ..alerts import ChainAlerts
        from ..context import chain as connect
        from ..defi_news import DefiNews

        self.m, self.key, self.network_name = m, key, network_name
        self.names = names_of(m)
        self.news = ChainNews(m.address, network_name, warn)
        self.defi = DefiNews(m.address, network_name)  # the Aave health factor against the margin
        self.alerts = ChainAlerts(m.address, network_name)  # unsigned sends, approvals, thresholds
        self.blocks = NewBlocks(lambda: connect(network_name))

    def served(self) -> list[dict[str, Any]]:
        """Submit the claim requests sent to me not handled yet (events: claim_request)."""
        from . import packets

        return packets.serve_pending(self.m, self.key, self.network_name, self.names)

    def fetch(self) -> Step:
        """One pass over the relay: new messages, then the claims among them submitted."""
        received = self.m.receive()
        shown = [view(self.m, [message])[0] for message in received]
        return Step(shown, self.served(), received.failures)

    def arrived(self, message: Any) -> Step:
        """One message from the live stream (`Messenger.watch()`), with its checks; a claim
        request among them is submitted at once (the stream's store is not shared)."""
        from . import packets

        if message.sender not in self.names:
            self.names.update(names_of(self.m))
        (shown,) = view(self.m, [message])
        return Step([shown], self.served() if packets.is_claim_request(message) else [])

    def chain(self) -> list[dict[str, Any]]:
        """Claims of my packets, deadlines, the health factor, alerts since the last call."""
        return self.news.poll(self.names) + self.defi.poll() + self.alerts.poll()

    def chain_on_new_block(self) -> list[dict[str, Any]]:
        """`chain()` when a block was mined since the last look (one eth_blockNumber), else
        nothing: all it tells comes from the chain (deadlines in chain time), so a front end
        may look every second and see a claim within one. A chain that cannot be read goes
        to `chain()`, which warns once per outage."""
        try:
            if self.blocks.look() is None:
                return []
        except WalletError:
            pass  # chain() reads it too, and warns
        return self.chain()
