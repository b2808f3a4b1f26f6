"""`hongbao trade` subcommands for shared trades (see cli/trade_cmd.py):

    hongbao trade share TX --to GROUP [--note ...]     hongbao trade cards [GROUP]
    hongbao trade follow CARD [--amount A | --percent P] [--max-slippage 1%]
    hongbao trade limits [ASSET --per-trade A --daily A | ASSET --off]
    hongbao trade autofollow MEMBER --cap "0.1 ETH" | --off
    hongbao trade board GROUP

The work is in cli/services/social_trades.py; a follow is sent through `swap`'s pipeline
(cli/defi_steps.run_steps). Autofollow runs inside `chat watch` (`Autofollow`).
"""

from __future__ import annotations

import contextlib
import time

import click

from wallet.errors import WalletError

from .chat_cmd import account_options, messenger
from .context import network_option
from .defi_cmd import Session, _finish, _say, tx_options
from .inert import markup
from .output import console, emit, table


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _limits():
    from wallet.home import home

    from .services.social_trades import Limits

    return Limits(home(), _now_ms)


def _protocols(network_name):
    from .context import chain as connect
    from .context import network
    from .services import defi

    chain = connect(network_name)
    chain.verify()
    return defi.protocols(network(network_name), chain.rpc)


@contextlib.contextmanager
def _chatting(network_name, wallet_name, index, password_file):
    """(Messenger, Protocols) of the account on the network."""
    p = _protocols(network_name)
    with messenger(wallet_name, index, password_file) as m:
        yield m, p


def _fetch(m) -> None:
    """New mail first; with the relay down, what is stored is shown (and said so)."""
    from messaging.client import RelayUnreachable

    from .output import note

    try:
        m.receive()
    except RelayUnreachable as error:
        note(f"[yellow]showing stored cards only: {markup(error)}[/]")


def _card_json(view) -> dict:
    return {
        "id": view.message_id,
        "conversation": view.conversation,
        "sender": view.sender,
        "verified": view.ok,
        "check": view.verdict.reason,
        "tx_hash": view.card.tx_hash,
        "note": view.card.note,
        "trade": view.summary(),
        "price": None if view.price() is None else str(view.price()),
        "time": view.block_time,
        # what the card claims; counted only when "verified"
        "claimed": {k: getattr(view.card, k) for k in ("sell", "buy", "amount_in", "amount_out")},
    }


@click.command("share")
@click.argument("tx_hash")
@click.option("--to", "to", required=True, metavar="GROUP", help="The group (or contact) to show it to.")
@click.option("--note", default="", help="A line about it (shown to them).")
@network_option
@account_options
def share(tx_hash, to, note, network_name, wallet_name, index, password_file, as_json):
    """Share my swap TX_HASH as a trade card; every member checks it against the chain."""
    from .services import social_trades as service

    with _chatting(network_name, wallet_name, index, password_file) as (m, p):
        view, sent = service.share(m, p, tx_hash, to, note)
    data = {**_card_json(view), "message_id": sent.message_id, "state": sent.state}
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"shared {view.summary()} (price {view.price():.8g}); members see it checked against the chain"
        ),
    )


@click.command("cards")
@click.argument("group", required=False)
@click.option("--fetch/--no-fetch", default=True, help="Fetch new mail from the relay first.")
@network_option
@account_options
def list_cards(group, fetch, network_name, wallet_name, index, password_file, as_json):
    """Trade cards shared with me (and mine), each checked against the chain."""
    from .services import social_trades as service

    with _chatting(network_name, wallet_name, index, password_file) as (m, p):
        if fetch:
            _fetch(m)
        where = m.resolve(group).conversation if group else None
        views = service.cards(m, p, where)
    rows = [
        [
            v.message_id,
            v.sender,
            ("✓ " if v.ok else "✗ ") + v.summary(),
            f"{v.price():.8g}" if v.ok else "",
            v.card.note,
        ]
        for v in views
    ]
    emit(
        as_json,
        [_card_json(v) for v in views],
        lambda: table("trade cards", ["card", "member", "trade", "price", "note"], rows),
    )


@click.command("follow")
@click.argument("card_id")
@click.option("--amount", help="How much of the card's sold asset to sell, e.g. \"0.1 ETH\" (default: the card's).")
@click.option("--percent", help="Or this percentage of the card's amount, e.g. 10.")
@click.option(
    "--max-slippage", default="1%", show_default=True, help="Refuse if the price is this much worse than the card's."
)
@tx_options
def follow(card_id, amount, percent, max_slippage, **opts):
    """Repeat trade card CARD_ID's swap from my account, within my caps (`trade limits`)."""
    from .services import defi
    from .services import social_trades as service

    session = Session(opts)
    p = defi.protocols(session.net, session.chain.rpc)
    with messenger(opts["wallet_name"], opts["index"], opts["password_file"], session.key()) as m:
        view = service.find_card(m, p, card_id)
    limits = _limits()
    plan = service.plan_follow(
        p,
        limits,
        view,
        session.owner,
        amount_text=amount,
        percent=percent,
        max_slippage=defi.parse_slippage(max_slippage),
    )
    if not session.as_json:
        console(stderr=True).print(
            f"following {markup(view.sender)}'s {markup(view.summary())} (card price {view.price():.8g}); "
            f"at least {markup(plan.swap.buy.fmt(plan.bound))} at that price less {markup(max_slippage)}; "
            f"{markup(plan.swap.sell.fmt(plan.spent))} of {markup(plan.swap.sell.fmt(plan.cap.daily))} spent today"
        )
    done, approved = _run(session, plan)
    got = defi.swap_received(plan.swap, done[-1].receipt or {})
    if not session.as_json:
        _say(f"received {plan.swap.buy.fmt(got)}")
    _finish(session, {**plan.json(), "received": str(got), "approve": approved, "swap": done[-1].json()})


def _run(session, plan):
    """The follow's approval and swap through `swap`'s pipeline; counted against my caps once sent."""
    from .defi_steps import run_steps
    from .services import social_trades as service

    done, approved = run_steps(session, [plan.swap.step], plan.swap.approval, plan.swap.warnings)
    service.record_follow(_limits(), plan, done[-1].record.hash)
    return done, approved


@click.command("limits")
@click.argument("asset", required=False)
@click.option("--per-trade", help="The most one follow may sell, e.g. 0.5.")
@click.option("--daily", help="The most all follows may sell in 24 hours.")
@click.option("--off", is_flag=True, help="Remove the cap: no more following trades that sell ASSET.")
@network_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def limits(asset, per_trade, daily, off, network_name, as_json):
    """Show my caps for following trades, or set ASSET's: `trade limits ETH --per-trade 0.5 --daily 2`."""
    from .services import defi
    from .services import social_trades as service

    store = _limits()
    p = _protocols(network_name)
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
    result = {"caps": data["caps"], "autofollow": data["autofollow"], "file": str(store.path)}

    def human() -> None:
        table("following caps", ["asset", "per trade", "daily", "spent (24 h)"], rows)
        for member, rule in sorted(data["autofollow"].items()):
            console().print(
                f"autofollow {member}: up to {markup(rule['cap'])} base units of {markup(rule['key'])} a trade"
            )

    emit(as_json, result, human)


@click.command("autofollow")
@click.argument("member")
@click.option("--cap", help='The most one automatic follow sells, e.g. "0.1 ETH" (also within `trade limits`).')
@click.option("--off", is_flag=True, help="Stop following MEMBER automatically.")
@click.option("--max-slippage", default="1%", show_default=True, help="Skip a card whose price moved more than this.")
@network_option
@account_options
def autofollow(member, cap, off, max_slippage, network_name, wallet_name, index, password_file, as_json):
    """Follow MEMBER's verified trade cards automatically while `chat watch` runs, within caps."""
    from wallet.amounts import parse_amount

    from .services import defi
    from .services import social_trades as service

    if off == (cap is not None):
        raise WalletError('give --cap "AMOUNT ASSET" (e.g. --cap "0.1 ETH") or --off')
    with _chatting(network_name, wallet_name, index, password_file) as (m, p):
        target = m.resolve(member)
    if target.kind != "direct":
        raise WalletError(f"{member[:40]!r} is a group: autofollow one member")
    store = _limits()
    if off:
        store.set_autofollow(target.conversation)
        return emit(as_json, {"member": target.conversation, "autofollow": None}, lambda: click.echo("autofollow off"))
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
    data = {"member": target.conversation, "autofollow": {"key": key, "cap": str(units), "max_slippage": str(slippage)}}
    emit(
        as_json,
        data,
        lambda: click.echo(f"following {target.conversation} automatically, up to {chosen.fmt(units)} a trade"),
    )


@click.command("board")
@click.argument("group")
@network_option
@account_options
def board(group, network_name, wallet_name, index, password_file, as_json):
    """Each member's verified shared trades in GROUP and their profit or loss now (the
    protocols' current quote for selling back what they bought)."""
    from .services import social_trades as service

    with _chatting(network_name, wallet_name, index, password_file) as (m, p):
        _fetch(m)
        rows, unverified = service.board(m, p, group)
    members = service.totals(rows)
    data = {"trades": [r.json() for r in rows], "members": members, "unverified": [_card_json(v) for v in unverified]}

    def human() -> None:
        table(
            f"shared trades in {group}",
            ["member", "trade", "price", "value now", "P&L"],
            [
                [
                    r.view.sender,
                    r.view.summary(),
                    f"{r.view.price():.8g}",
                    r.json()["value_now_formatted"] or "no quote",
                    r.json()["pnl_formatted"] or "?",
                ]
                for r in rows
            ],
        )
        for t in members:
            console().print(
                f"{t['member']}: {t['trades']} trade(s) selling {markup(t['asset'])}, P&L now {markup(t['pnl_formatted'])}"
            )
        for v in unverified:
            console().print(
                f"[yellow]not a verified trade: card {v.message_id} from {markup(v.sender)}: {markup(v.verdict.reason)}[/]"
            )

    emit(as_json, data, human)


class Autofollow:
    """The `trade autofollow` side of `chat watch`: a verified trade card from a member I
    follow automatically is followed with the watch's key, in that member's asset, up to the
    member's cap and within `trade limits` (refused without caps, as `trade follow` is).
    Nothing else trades: no confirmation is asked because `trade autofollow` was the consent."""

    def __init__(self, key: bytes, wallet_name, index: int, network_name, as_json: bool) -> None:
        self.opts = {
            "wallet_name": wallet_name,
            "index": index,
            "network_name": network_name,
            "speed": "normal",
            "max_fee": None,
            "tip": None,
            "gas": None,
            "no_wait": False,
            "yes": True,
            "timeout": 120,
            "password_file": None,
            "as_json": as_json,
        }
        self.key = key

    def __call__(self, message) -> list[dict]:
        """Events (for `watch` to show) about following this message's card, if it is one to follow."""
        from decimal import Decimal

        from messaging import payloads
        from wallet.amounts import format_units

        from .services import defi
        from .services import social_trades as service

        if message.direction != "in" or not isinstance(message.payload, payloads.TradeCard):
            return []
        limits = _limits()
        rule = limits.autofollow().get(message.sender)
        if rule is None:
            return []
        try:
            session = Session(dict(self.opts))
            session._key = self.key  # the watch's key: unlocked once when the watch started
            p = defi.protocols(session.net, session.chain.rpc)
            view = service.view_card(p, message)
            if limits.followed(view.card.tx_hash):
                raise WalletError(f"you followed this trade already (tx {view.card.tx_hash})")
            units = service.autofollow_amount(limits, view)
            if units is None or view.sell is None:
                raise WalletError(f"not a verified trade in the asset you follow them in ({view.verdict.reason})")
            plan = service.plan_follow(
                p,
                limits,
                view,
                session.owner,
                amount_text=format_units(units, view.sell.decimals),
                max_slippage=Decimal(rule.get("max_slippage", "0.01")),
            )
            done, _ = _run(session, plan)
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


COMMANDS: list[click.Command] = [share, list_cards, follow, limits, autofollow, board]
