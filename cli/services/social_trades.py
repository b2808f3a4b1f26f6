"""Shared trades a group can follow (issue 17): share one of my swaps as a `trade` card,
check members' cards against the chain, follow one within my own limits, and a board of
each member's verified trades valued at the protocol's current quote.

- A card is only a claim (messaging.payloads.TradeCard). It shows as a trade once
  contracts.trade_check has matched it with the transaction: mined, succeeded, sent by the
  card's sender to a Uniswap router, exactly the pair and amounts in its token flows.
- Following is a swap of my own through the same plan as `hongbao swap` (services.defi),
  refused without a cap for the asset sold (per trade and per 24 h, stored in my home), over
  those caps, or when the current quote is worse than the card's price by more than my
  maximum. The swap's minimum out is never below the card's price less that maximum.
- The board's entry amounts are the chain's (a verified card's amounts are the
  transaction's) and its value now is the protocols' own quote for selling back.

Plain inputs and results; sending goes through the caller's preview-confirm pipeline.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from contracts import trade_check
from contracts.protocols import abi, uniswap
from messaging import payloads
from messaging.chat import Messenger, SentMessage
from messaging.errors import PayloadError
from messaging.store import GROUP_PREFIX, StoredMessage
from wallet import address as addr
from wallet import atomic
from wallet.amounts import format_units
from wallet.errors import WalletError

from . import defi

LIMITS_FILE = "trade_limits.json"
DAY_MS = 86_400_000
DEFAULT_MAX_SLIPPAGE = Decimal("0.01")
MAX_FOLLOWED = 1000  # trades I followed, remembered so a card shared again is not followed twice automatically


class TradeError(WalletError):
    pass


# -- checking cards ------------------------------------------------------------------------


@dataclass(frozen=True)
class CardView:
    message_id: str
    conversation: str
    sender: str
    timestamp_ms: int
    card: payloads.TradeCard
    verdict: trade_check.Verdict
    sell: defi.Asset | None = None  # read from the chain once verified
    buy: defi.Asset | None = None
    block_time: int | None = None  # of the swap's block (the chain's clock, not the card's)

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def price(self) -> Decimal | None:
        """How much `buy` one `sell` bought, in whole units."""
        if self.sell is None or self.buy is None:
            return None
        return _price(int(self.card.amount_in), self.sell, int(self.card.amount_out), self.buy)

    def summary(self) -> str:
        if self.sell is None or self.buy is None:
            return f"NOT A VERIFIED TRADE ({self.verdict.reason})"
        return f"{self.sell.fmt(int(self.card.amount_in))} -> {self.buy.fmt(int(self.card.amount_out))}"


def _price(amount_in: int, sell: defi.Asset, amount_out: int, buy: defi.Asset) -> Decimal:
    return (Decimal(amount_out) / 10**buy.decimals) / (Decimal(amount_in) / 10**sell.decimals)


def pair_pools(p: defi.Protocols, token_a: str, token_b: str) -> list[str]:
    """Every Uniswap pool of the pair the factories know (v2 pair, v3 pools of each fee tier)."""
    found = []
    if p.uniswap.v2_factory:
        pair = abi.read_one(p.rpc, p.uniswap.v2_factory, "getPair(address,address)(address)", token_a, token_b)
        if int(pair, 16):
            found.append(addr.parse(pair))
    if p.uniswap.v3_factory:
        for fee in uniswap.FEE_TIERS:
            pool = uniswap.pool_v3(p.rpc, p.uniswap.v3_factory, token_a, token_b, fee)
            if pool is not None:
                found.append(pool)
    return found


def _side(p: defi.Protocols, token: str | None) -> str:
    return p.uniswap.weth if token is None else addr.parse(token)


def check_card(p: defi.Protocols, card: payloads.TradeCard, sender: str) -> trade_check.Verdict:
    """The chain's verdict on `sender`'s card (on `p`'s network only)."""
    if card.chain_id != p.net.chain_id:
        return trade_check.Verdict(False, f"not checked: the card is for chain id {card.chain_id}, not {p.net.name}")
    rpc = p.rpc
    tx = rpc.call("eth_getTransactionByHash", card.tx_hash)
    receipt = rpc.call("eth_getTransactionReceipt", card.tx_hash) if tx else None
    routers = [r for r in (p.uniswap.v2_router, p.uniswap.v3_router) if r]
    claim = trade_check.Claim(sender, card.sell, card.buy, int(card.amount_in), int(card.amount_out))
    pools = pair_pools(p, _side(p, card.sell), _side(p, card.buy)) if tx and receipt else []
    return trade_check.check_swap(claim, tx, receipt, routers=routers, pools=pools, weth=p.uniswap.weth)


def view_card(p: defi.Protocols, message: StoredMessage) -> CardView:
    card = message.payload
    if not isinstance(card, payloads.TradeCard):
        raise TradeError(f"message {message.id} is not a trade card")
    return _view(p, CardView(message.id, message.conversation, message.sender, message.timestamp_ms, card, _UNCHECKED))


_UNCHECKED = trade_check.Verdict(False, "not checked")


def _view(p: defi.Protocols, unchecked: CardView) -> CardView:
    card = unchecked.card
    try:
        verdict = check_card(p, card, unchecked.sender)
        if not verdict.ok:
            return dataclasses.replace(unchecked, verdict=verdict)
        sell, buy = _asset(p, card.sell), _asset(p, card.buy)  # a token's symbol() may fail or lie
        receipt = p.rpc.call("eth_getTransactionReceipt", card.tx_hash)
        block = p.rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)
        when = int(block["timestamp"], 16)
    except (WalletError, KeyError, TypeError, ValueError) as error:
        return dataclasses.replace(unchecked, verdict=trade_check.Verdict(False, f"not checked: {error}"))
    return dataclasses.replace(unchecked, verdict=verdict, sell=sell, buy=buy, block_time=when)


def _asset(p: defi.Protocols, token: str | None) -> defi.Asset:
    """ETH, one of my tokens, or a token I never added, marked as such: anyone can make a
    token called TKN and a Uniswap pair for it, so its symbol alone proves nothing."""
    if token is None:
        return p.asset("ETH")
    asset = p.asset_at(token)
    if is_mine(p, token):
        return asset
    return dataclasses.replace(asset, symbol=f"{asset.symbol}?({addr.parse(token)[:10]}…, not one of your tokens)")


def is_mine(p: defi.Protocols, token: str | None) -> bool:
    return token is None or any(int(t.address, 16) == int(token, 16) for t in p.net.tokens.values())


def cards(messenger: Messenger, p: defi.Protocols, conversation: str | None = None) -> list[CardView]:
    """Every trade card (mine and the members'), oldest first, each checked against the chain."""
    found = messenger.store.messages_of_types(payloads.TradeCard.TYPE)
    if conversation is not None:
        found = [m for m in found if m.conversation == conversation]
    return [view_card(p, m) for m in found if isinstance(m.payload, payloads.TradeCard)]


def find_card(messenger: Messenger, p: defi.Protocols, wanted: str) -> CardView:
    """A card by its message id (or a unique prefix of at least 8 digits)."""
    text = wanted.strip().lower()
    if len(text) < 8:
        raise TradeError(f"{wanted[:40]!r}: give the card's id (at least 8 digits), see `hongbao trade cards`")
    found = [m for m in messenger.store.messages_of_types(payloads.TradeCard.TYPE) if m.id.startswith(text)]
    if not found:
        raise TradeError(f"no trade card {wanted[:40]!r}: see `hongbao trade cards`")
    if len(found) > 1:
        raise TradeError(f"{len(found)} cards start with {text!r}: give more of the id")
    return view_card(p, found[0])


# -- sharing -------------------------------------------------------------------------------


def share(
    messenger: Messenger, p: defi.Protocols, tx_hash: str, to: str, note: str = ""
) -> tuple[CardView, SentMessage]:
    """A card about my swap `tx_hash`, its amounts read from the chain and checked exactly as
    the members will check it, sent to `to` (a group)."""
    text = tx_hash.strip().lower()
    tx = p.rpc.call("eth_getTransactionByHash", text) if len(text) == 66 else None
    if not tx:
        raise TradeError(f"no transaction {tx_hash[:80]!r} on {p.net.name}: give the hash of one of your swaps")
    receipt = p.rpc.call("eth_getTransactionReceipt", text)
    if not receipt:
        raise TradeError(f"{text} is not mined yet: share it once it is")
    swap = trade_check.read_swap(tx, receipt, messenger.address, p.uniswap.weth)
    if swap is None:
        raise TradeError(
            f"{text} is not a swap of yours on {p.net.name} (nothing sold and bought by {messenger.address})"
        )
    card = payloads.TradeCard(
        p.net.chain_id, text, str(swap.amount_in), str(swap.amount_out), swap.sell, swap.buy, note
    )
    verdict = check_card(p, card, messenger.address)
    if not verdict.ok:
        raise TradeError(f"cannot share {text}: {verdict.reason}")
    target = messenger.resolve(to)
    if target.kind == "group":  # the card names its group, as the chat does for its own types
        card = dataclasses.replace(card, group_id=target.conversation[len(GROUP_PREFIX) :])
    try:
        card.validate()
    except PayloadError as error:
        raise TradeError(f"cannot send that card: {error}") from None
    sent = messenger.send(target.conversation, card)
    return view_card(p, sent.stored), sent


# -- my limits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cap:
    per_trade: int
    daily: int


def asset_key(chain_id: int, token: str | None) -> str:
    return f"{chain_id}:{'ETH' if token is None else addr.parse(token)}"


class Limits:
    """My caps for following (per asset sold: per trade and per 24 h), what I spent following
    in the last 24 h, and whom I follow automatically. One JSON file in my home, 0600,
    replaced atomically."""

    def __init__(self, home: Path, now_ms: Callable[[], int]) -> None:
        self.path = Path(home) / LIMITS_FILE
        self.now_ms = now_ms

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as error:
            raise TradeError(f"{self.path} cannot be read ({error}): fix or remove it") from None
        if not isinstance(data, dict):
            raise TradeError(f"{self.path} is not a limits file: fix or remove it")
        return {
            "caps": data.get("caps", {}),
            "autofollow": data.get("autofollow", {}),
            "spent": data.get("spent", []),
            "followed": data.get("followed", []),
        }

    def _save(self, data: dict[str, Any]) -> None:
        since = self.now_ms() - DAY_MS
        data["spent"] = [s for s in data["spent"] if s["at_ms"] > since]
        atomic.write_bytes(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))

    def cap(self, key: str) -> Cap | None:
        found = self.load()["caps"].get(key)
        return None if found is None else Cap(int(found["per_trade"]), int(found["daily"]))

    def set_cap(self, key: str, cap: Cap | None) -> None:
        data = self.load()
        if cap is None:
            data["caps"].pop(key, None)
        else:
            if cap.per_trade <= 0 or cap.daily < cap.per_trade:
                raise TradeError("a cap is more than 0 per trade, and the daily cap at least the per-trade cap")
            data["caps"][key] = {"per_trade": str(cap.per_trade), "daily": str(cap.daily)}
        self._save(data)

    def spent(self, key: str) -> int:
        since = self.now_ms() - DAY_MS
        return sum(int(s["units"]) for s in self.load()["spent"] if s["key"] == key and s["at_ms"] > since)

    def record(self, key: str, units: int, tx_hash: str, card_tx: str) -> None:
        """A follow sent: counted against the daily cap; its card's trade is followed (once)."""
        data = self.load()
        data["spent"].append({"key": key, "units": str(units), "at_ms": self.now_ms(), "tx": tx_hash})
        data["followed"] = [*data["followed"], card_tx.lower()][-MAX_FOLLOWED:]
        self._save(data)

    def followed(self, card_tx: str) -> bool:
        return card_tx.lower() in self.load()["followed"]

    def allow(self, key: str, units: int, shown: Callable[[int], str], symbol: str) -> Cap:
        """The cap for `key` if `units` fits it; TradeError with the numbers if not."""
        cap = self.cap(key)
        if cap is None:
            raise TradeError(
                f"no cap set for following trades that sell {symbol}: set one first with "
                f"`hongbao trade limits {symbol} --per-trade AMOUNT --daily AMOUNT`"
            )
        if units > cap.per_trade:
            raise TradeError(f"{shown(units)} is over your per-trade cap of {shown(cap.per_trade)}")
        spent = self.spent(key)
        if spent + units > cap.daily:
            raise TradeError(
                f"{shown(units)} would take today's following to {shown(spent + units)}, over your daily cap of "
                f"{shown(cap.daily)} ({shown(spent)} spent in the last 24 h)"
            )
        return cap

    def autofollow(self) -> dict[str, dict[str, Any]]:
        return dict(self.load()["autofollow"])

    def set_autofollow(
        self, member: str, key: str | None = None, cap: int | None = None, max_slippage: Decimal = DEFAULT_MAX_SLIPPAGE
    ) -> None:
        data = self.load()
        member = addr.parse(member)
        if key is None or cap is None:
            data["autofollow"].pop(member, None)
        else:
            if cap <= 0:
                raise TradeError("an autofollow cap is more than 0")
            data["autofollow"][member] = {"key": key, "cap": str(cap), "max_slippage": str(max_slippage)}
        self._save(data)


# -- following -----------------------------------------------------------------------------


@dataclass
class FollowPlan:
    view: CardView
    swap: defi.SwapPlan
    key: str  # the limits' asset key
    bound: int  # the least the swap may pay out: the card's price less my maximum
    cap: Cap
    spent: int  # in the last 24 h, before this one

    def json(self) -> dict[str, Any]:
        return {
            "card": self.view.message_id,
            "leader": self.view.sender,
            "card_price": str(self.view.price()),
            "min_received_at_card_price": str(self.bound),
            "per_trade_cap": str(self.cap.per_trade),
            "daily_cap": str(self.cap.daily),
            "spent_24h": str(self.spent),
            **self.swap.json(),
        }


def follow_units(view: CardView, sell: defi.Asset, amount_text: str | None, percent: str | None) -> int:
    """What I sell: AMOUNT of the card's sold asset, PERCENT of the card's amount, or the card's amount."""
    if amount_text is not None and percent is not None:
        raise TradeError("give --amount or --percent, not both")
    if amount_text is not None:
        return defi.units(amount_text, sell)
    whole = int(view.card.amount_in)
    if percent is None:
        return whole
    try:
        fraction = Decimal(percent.strip().removesuffix("%")) / 100
    except ArithmeticError:
        raise TradeError(f"--percent {percent[:20]!r}: write a number, e.g. 10") from None
    if not Decimal(0) < fraction <= 1:
        raise TradeError(f"--percent {percent[:20]!r} must be above 0 and at most 100")
    units = int(Decimal(whole) * fraction)
    if units == 0:
        raise TradeError(f"{percent}% of the card's amount rounds to nothing")
    return units


def plan_follow(
    p: defi.Protocols,
    limits: Limits,
    view: CardView,
    owner: str,
    *,
    amount_text: str | None = None,
    percent: str | None = None,
    max_slippage: Decimal = DEFAULT_MAX_SLIPPAGE,
    deadline_s: int = 1200,
) -> FollowPlan:
    """The swap repeating `view`'s trade from `owner`, or TradeError saying which limit it breaks."""
    if not view.ok or view.sell is None or view.buy is None:
        raise TradeError(f"card {view.message_id} is not a verified trade ({view.verdict.reason}): nothing to follow")
    if view.sender == addr.parse(owner):
        raise TradeError("that card is your own trade")
    for token in (view.card.sell, view.card.buy):
        if not is_mine(p, token):
            raise TradeError(
                f"the card trades {token}, which is not one of your tokens: if you trust it, "
                f"add it with `hongbao token add {token}`, then follow"
            )
    sell, buy = view.sell, view.buy
    units = follow_units(view, sell, amount_text, percent)
    key = asset_key(p.net.chain_id, view.card.sell)
    cap = limits.allow(key, units, sell.fmt, sell.symbol)
    spent = limits.spent(key)
    kept, whole = (1 - max_slippage).as_integer_ratio()
    bound = units * int(view.card.amount_out) * kept // (int(view.card.amount_in) * whole)
    found = uniswap.best(uniswap.quotes(p.rpc, p.uniswap, sell.address, buy.address, units))
    if found is None:
        raise TradeError(f"no route from {sell.symbol} to {buy.symbol} now: nothing followed")
    if found.amount_out < bound:
        now = _price(units, sell, found.amount_out, buy)
        raise TradeError(
            f"the price moved: the card got {view.price():.8g} {buy.symbol} per {sell.symbol}, now {now:.8g}; "
            f"that is more than your maximum of {max_slippage * 100:.2f}% worse (--max-slippage)"
        )
    slippage = min(
        max_slippage, (Decimal(found.amount_out - bound) / found.amount_out).quantize(Decimal("1e-18"), ROUND_FLOOR)
    )
    swap = defi.plan_swap(
        p,
        owner,
        format_units(units, sell.decimals),
        "ETH" if sell.is_eth else sell.address,
        "ETH" if buy.is_eth else buy.address,
        slippage=slippage,
        deadline_s=deadline_s,
    )
    if swap.min_out < bound:  # the price moved between the two quotes
        raise TradeError("the price moved while planning the swap: nothing followed, try again")
    return FollowPlan(view, swap, key, bound, cap, spent)


def record_follow(limits: Limits, plan: FollowPlan, tx_hash: str) -> None:
    limits.record(plan.key, plan.swap.amount_in, tx_hash, plan.view.card.tx_hash)


def autofollow_amount(limits: Limits, view: CardView) -> int | None:
    """What I sell following `view` automatically: the card's amount up to the member's
    autofollow cap, or None if I do not follow its sender (or not in this asset)."""
    rule = limits.autofollow().get(view.sender)
    if rule is None or not view.ok or rule.get("key") != asset_key(view.card.chain_id, view.card.sell):
        return None
    return min(int(view.card.amount_in), int(rule["cap"]))


# -- the board -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    view: CardView
    value_now: int | None  # what selling the bought amount back pays now (in the sold asset), by the protocols' quote

    @property
    def pnl(self) -> int | None:
        return None if self.value_now is None else self.value_now - int(self.view.card.amount_in)

    def json(self) -> dict[str, Any]:
        v = self.view
        sell, buy = v.sell or defi.Asset("?", "", 0), v.buy or defi.Asset("?", "", 0)  # (rows are verified cards)
        return {
            "card": v.message_id,
            "member": v.sender,
            "tx_hash": v.card.tx_hash,
            "time": v.block_time,
            "sell": sell.symbol,
            "buy": buy.symbol,
            "amount_in": v.card.amount_in,
            "amount_out": v.card.amount_out,
            "price": str(v.price()),
            "value_now": None if self.value_now is None else str(self.value_now),
            "value_now_formatted": None if self.value_now is None else sell.fmt(self.value_now),
            "pnl": None if self.pnl is None else str(self.pnl),
            "pnl_formatted": None if self.pnl is None else sell.fmt(self.pnl),
        }


def totals(rows: list[BoardRow]) -> list[dict[str, Any]]:
    """Each member's trades summed per asset sold: what went in, what it is worth now, the P&L
    (rows without a quote now are counted apart, never as 0)."""
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        sell = row.view.sell
        if sell is None:
            continue
        entry = sums.setdefault(
            (row.view.sender, sell.address),
            {"member": row.view.sender, "asset": sell, "trades": 0, "in": 0, "now": 0, "unquoted": 0},
        )
        entry["trades"] += 1
        if row.value_now is None:
            entry["unquoted"] += 1
        else:
            entry["in"] += int(row.view.card.amount_in)
            entry["now"] += row.value_now
    return [
        {
            "member": e["member"],
            "asset": e["asset"].symbol,
            "trades": e["trades"],
            "invested": str(e["in"]),
            "value_now": str(e["now"]),
            "pnl": str(e["now"] - e["in"]),
            "pnl_formatted": e["asset"].fmt(e["now"] - e["in"]),
            "without_quote": e["unquoted"],
        }
        for e in sums.values()
    ]


BOARD_COLUMNS = ["member", "trade", "price", "value now", "P&L", "note"]


@dataclass(frozen=True)
class Board:
    """`trade board`: a group's verified trades valued now and the cards that did not verify,
    each newest first; `known`: address -> name (my contacts', "me")."""

    rows: list[BoardRow]
    unverified: list[CardView]
    known: dict[str, str]

    def members(self) -> list[dict[str, Any]]:
        return totals(self.rows)

    def cells(self) -> list[list[str]]:
        """Each trade in words, column by column (BOARD_COLUMNS); names and notes are others'
        strings: the front end draws them inert."""
        from .. import names

        cells = []
        for row in self.rows:
            data = row.json()
            cells.append(
                [
                    names.labelled(row.view.sender, self.known),
                    row.view.summary(),
                    f"{row.view.price():.8g}",
                    data["value_now_formatted"] or "no quote",
                    data["pnl_formatted"] or "?",
                    row.view.card.note,
                ]
            )
        return cells

    def totals_lines(self) -> list[str]:
        """Each member's sums per asset sold, a line each."""
        from .. import names

        return [
            f"{names.labelled(t['member'], self.known)}: {t['trades']} trade(s) selling {t['asset']}, "
            f"P&L now {t['pnl_formatted']}"
            for t in self.members()
        ]

    def unverified_lines(self) -> list[str]:
        from .. import names

        return [
            f"not a verified trade: card {v.message_id} from {names.labelled(v.sender, self.known)}: {v.verdict.reason}"
            for v in self.unverified
        ]


def board(messenger: Messenger, p: defi.Protocols, group: str) -> Board:
    """Each verified trade shared in `group` valued now (the protocols' quote for selling back
    what it bought), and the cards that did not verify; newest first."""
    from .chat import names_of

    target = messenger.resolve(group)
    if target.kind != "group":
        raise TradeError(f"{group[:40]!r} is not a group: the board is a group's")
    views = cards(messenger, p, target.conversation)[::-1]
    rows = []
    for view in views:
        if not view.ok or view.sell is None or view.buy is None:
            continue
        back = uniswap.best(
            uniswap.quotes(p.rpc, p.uniswap, view.buy.address, view.sell.address, int(view.card.amount_out))
        )
        rows.append(BoardRow(view, None if back is None else back.amount_out))
    return Board(rows, [v for v in views if not v.ok], names_of(messenger))


def chat_check(message: Any) -> str:
    """A trade card in the chat: "✓ swap on chain: ..." or "✗ NOT A VERIFIED TRADE: why"."""
    from wallet.rpc import Rpc

    from ..context import load_config
    from . import defi

    chain_id = message.payload.chain_id
    net = next((n for n in load_config().networks.values() if n.chain_id == chain_id), None)
    if net is None:
        return f"✗ NOT A VERIFIED TRADE: not checked, no network with chain id {chain_id} is configured"
    try:
        with Rpc(net.rpc_url, timeout=5) as rpc:
            view = view_card(defi.protocols(net, rpc), message)
    except WalletError as error:
        return f"✗ NOT A VERIFIED TRADE: not checked ({error})"
    if not view.ok:
        return f"✗ NOT A VERIFIED TRADE: {view.verdict.reason}"
    return (
        f"✓ swap on chain: {view.summary()} (price {view.price():.8g}; follow: hongbao trade follow {view.message_id})"
    )
