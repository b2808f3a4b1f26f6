"""`hongbao trade` subcommands for shared trades (see cli/trade_cmd.py):

    hongbao trade share TX --to GROUP [--note ...]     hongbao trade cards [GROUP]
    hongbao trade follow CARD [--amount A | --percent P] [--max-slippage 1%]
    hongbao trade limits [ASSET --per-trade A --daily A | ASSET --off]
    hongbao trade autofollow MEMBER --cap "0.1 ETH" | --off
    hongbao trade board GROUP

The work is in cli/services/social_trades.py and following.py (a follow, through `swap`'s
pipeline; `Autofollow`, which runs inside `chat watch`).
"""

from __future__ import annotations

import contextlib

import click

from wallet.errors import WalletError

from .chat_cmd import account_options, messenger
from .context import network_option
from .defi_cmd import _finish, _say, tx_inputs, tx_options
from .inert import markup
from .output import console, emit, table


def _limits():
    from .services.following import limits

    return limits()


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
    from .services import following

    frontend, tx = tx_inputs(opts)
    data = following.follow(card_id, frontend, tx, amount=amount, percent=percent, max_slippage=max_slippage)
    received = data.pop("received_formatted")
    if not opts["as_json"]:
        _say(f"received {received}")
    _finish(opts, data)


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


COMMANDS: list[click.Command] = [share, list_cards, follow, limits, autofollow, board]
