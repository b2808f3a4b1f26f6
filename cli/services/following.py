"""Following a shared trade card (cli/services/social_trades.py) with a swap of my own, for
every front end: by hand (`follow`, each transaction confirmed) or automatically
(`Autofollow`, while a watch runs: `trade autofollow` was the consent, within its caps)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .frontend import Preview
from .sender import Sender, TxOptions

if TYPE_CHECKING:
    from messaging.store import StoredMessage
    from wallet.keyring import UnlockedWallet, Wallet

    from .frontend import Frontend
    from .signing import Sent
    from .social_trades import FollowPlan, Limits


def limits() -> Limits:
    """My caps and autofollow rules (one file in my home)."""
    from wallet.home import home

    from .social_trades import Limits

    return Limits(home(), lambda: time.time_ns() // 1_000_000)


def follow(
    card_id: str,
    frontend: Frontend,
    opts: TxOptions,
    *,
    amount: str | None = None,
    percent: str | None = None,
    max_slippage: str = "1%",
) -> dict[str, Any]:
    """Repeat trade card CARD_ID's swap from my account, within my caps (`trade limits`):
    the wallet is unlocked first (the card is in the chat), what is planned is reported as
    progress, then the approval and the swap are each confirmed. The plan's JSON, what the
    swap paid ("received") and the transactions."""
    from . import defi
    from . import social_trades as service
    from .chat import open_messenger

    sender = Sender(frontend, opts)
    p = defi.protocols(sender.net, sender.chain.rpc)
    with open_messenger(opts.wallet_name, opts.index, frontend, sender.key()) as m:
        view = service.find_card(m, p, card_id)
    store = limits()
    plan = service.plan_follow(
        p,
        store,
        view,
        sender.owner,
        amount_text=amount,
        percent=percent,
        max_slippage=defi.parse_slippage(max_slippage),
    )
    frontend.progress(
        f"following {view.sender}'s {view.summary()} (card price {view.price():.8g}); "
        f"at least {plan.swap.buy.fmt(plan.bound)} at that price less {max_slippage}; "
        f"{plan.swap.sell.fmt(plan.spent)} of {plan.swap.sell.fmt(plan.cap.daily)} spent today"
    )
    done, approved = _swap(sender, store, plan)
    got = defi.swap_received(plan.swap, done[-1].receipt or {})
    return {
        **plan.json(),
        "received": str(got),
        "received_formatted": plan.swap.buy.fmt(got),
        "approve": approved,
        "swap": done[-1].json(),
    }


def _swap(sender: Sender, store: Limits, plan: FollowPlan) -> tuple[list[Sent], dict[str, Any] | None]:
    """The follow's approval and swap; counted against my caps once sent."""
    from . import social_trades as service

    done, approved = sender.run_steps([plan.swap.step], plan.swap.approval, plan.swap.warnings)
    service.record_follow(store, plan, done[-1].record.hash)
    return done, approved


class Consented:
    """The front end of an automatic follow: `trade autofollow` was the consent, so previews
    pass unseen, except one with a dangerous finding (a lookalike...), which is refused."""

    def confirm(self, preview: Preview) -> None:
        for finding in preview.findings:
            if finding.confirm:
                raise WalletError(f"refused: {finding.message.split(':')[0]}")

    def password(self, label: str) -> str:
        raise WalletError("an automatic follow asks for no password")

    def progress(self, text: str) -> None:
        pass

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        raise WalletError("an automatic follow signs with the watch's key only")


class Autofollow:
    """The `trade autofollow` side of a watch (`chat watch`, the app): a verified trade card
    from a member I follow automatically is followed with the watch's `key`, in that member's
    asset, up to the member's cap and within `trade limits` (refused without caps, as
    `follow` is). Nothing else trades. `frontend`: how its transactions are confirmed
    (default `Consented`)."""

    def __init__(
        self,
        key: bytes,
        wallet_name: str | None,
        index: int,
        network_name: str | None,
        frontend: Frontend | None = None,
    ) -> None:
        self.key = key
        self.opts = TxOptions(wallet_name, index, network_name)
        self.frontend: Frontend = frontend or Consented()

    def __call__(self, message: StoredMessage) -> list[dict[str, Any]]:
        """Events ({"kind": "autofollow", "text": ..., "followed": bool, ...}) about following
        this message's card, if it is one to follow."""
        from messaging import payloads
        from wallet.amounts import format_units

        from . import defi
        from . import social_trades as service

        if message.direction != "in" or not isinstance(message.payload, payloads.TradeCard):
            return []
        store = limits()
        rule = store.autofollow().get(message.sender)
        if rule is None:
            return []
        try:
            sender = Sender(self.frontend, self.opts, key=self.key)
            p = defi.protocols(sender.net, sender.chain.rpc)
            view = service.view_card(p, message)
            if store.followed(view.card.tx_hash):
                raise WalletError(f"you followed this trade already (tx {view.card.tx_hash})")
            units = service.autofollow_amount(store, view)
            if units is None or view.sell is None:
                raise WalletError(f"not a verified trade in the asset you follow them in ({view.verdict.reason})")
            plan = service.plan_follow(
                p,
                store,
                view,
                sender.owner,
                amount_text=format_units(units, view.sell.decimals),
                max_slippage=Decimal(rule.get("max_slippage", "0.01")),
            )
            done, _ = _swap(sender, store, plan)
        except WalletError as error:
            text = f"did not follow {message.sender}'s trade card {message.id}: {error}"
            return [{"kind": "autofollow", "card": message.id, "followed": False, "text": text}]
        got = defi.swap_received(plan.swap, done[-1].receipt or {})
        text = (
            f"followed {message.sender}'s trade: sold {plan.swap.sell.fmt(plan.swap.amount_in)}, "
            f"received {plan.swap.buy.fmt(got)} (tx {done[-1].record.hash})"
        )
        return [
            {
                "kind": "autofollow",
                "card": message.id,
                "followed": True,
                "hash": done[-1].record.hash,
                "received": str(got),
                "text": text,
            }
        ]


def protocols_of(network_name: str | None) -> Any:
    """The DeFi protocols recorded on the network (its chain id checked)."""
    from ..context import chain as connect
    from ..context import network
    from . import defi

    chain = connect(network_name)
    chain.verify()
    return defi.protocols(network(network_name), chain.rpc)


def set_limits(
    asset: str | None,
    per_trade: str | None = None,
    daily: str | None = None,
    off: bool = False,
    *,
    network_name: str | None = None,
) -> tuple[dict[str, Any], list[list[str]]]:
    """Set ASSET's caps for following (`per_trade` and `daily`, or `off`), or with no ASSET
    only read them: (my caps, autofollow rules and their file; a row per cap for people:
    asset key, per trade, daily, spent in 24 h)."""
    from . import defi
    from . import social_trades as service

    store = limits()
    p = protocols_of(network_name)
    if asset is not None:
        chosen = p.asset(asset)
        key = service.asset_key(p.net.chain_id, None if chosen.is_eth else chosen.address)
        if off:
            store.set_cap(key, None)
        elif per_trade is None or daily is None:
            raise WalletError("give both --per-trade and --daily (or --off)")
        else:
            store.set_cap(key, service.Cap(defi.units(per_trade, chosen), defi.units(daily, chosen)))
    elif per_trade or daily or off:
        raise WalletError("name the ASSET the caps are for, e.g. `trade limits ETH --per-trade 0.5 --daily 2`")
    data = store.load()
    rows = []
    for key, cap in sorted(data["caps"].items()):
        chain_id, sold = key.split(":", 1)
        shown = p.asset(sold) if int(chain_id) == p.net.chain_id else None
        fmt = shown.fmt if shown else str
        rows.append([key, fmt(int(cap["per_trade"])), fmt(int(cap["daily"])), fmt(store.spent(key))])
    return {"caps": data["caps"], "autofollow": data["autofollow"], "file": str(store.path)}, rows


def set_autofollow(
    member: str,
    cap: str | None,
    frontend: Frontend,
    *,
    off: bool = False,
    max_slippage: str = "1%",
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Follow MEMBER (a contact, never a group) automatically up to `cap` ("0.1 ETH") a trade,
    within `trade limits` (refused without them), or stop (`off`). (result, a line for people)."""
    from wallet.amounts import parse_amount

    from . import defi
    from . import social_trades as service
    from .chat import open_messenger

    if off == (cap is not None):
        raise WalletError('give --cap "AMOUNT ASSET" (e.g. --cap "0.1 ETH") or --off')
    p = protocols_of(network_name)
    with open_messenger(wallet_name, index, frontend) as m:
        target = m.resolve(member)
    if target.kind != "direct":
        raise WalletError(f"{member[:40]!r} is a group: autofollow one member")
    store = limits()
    if off or cap is None:
        store.set_autofollow(target.conversation)
        return {"member": target.conversation, "autofollow": None}, "autofollow off"
    unit = parse_amount(cap).unit
    if not unit:
        raise WalletError('say the asset with the cap, e.g. --cap "0.1 ETH"')
    chosen = p.asset(unit)
    key = service.asset_key(p.net.chain_id, None if chosen.is_eth else chosen.address)
    if store.cap(key) is None:
        raise WalletError(
            f"set your caps for {chosen.symbol} first: `hongbao trade limits {chosen.symbol} --per-trade A --daily A`"
        )
    units = defi.units(cap, chosen)
    slippage = defi.parse_slippage(max_slippage)
    store.set_autofollow(target.conversation, key, units, slippage)
    rule = {"key": key, "cap": str(units), "max_slippage": str(slippage)}
    return {"member": target.conversation, "autofollow": rule}, (
        f"following {target.conversation} automatically, up to {chosen.fmt(units)} a trade"
    )
