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

from .chat_cmd import account_options, messenger
from .context import network_option
from .defi_cmd import _finish, _say, tx_inputs, tx_options
from .inert import inert, markup
from .output import console, emit, table


@contextlib.contextmanager
def _chatting(network_name, wallet_name, index, password_file):
    """(Messenger, Protocols) of the account on the network."""
    from .services.following import protocols_of

    p = protocols_of(network_name)
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
    from .services.following import set_limits

    result, rows = set_limits(asset, per_trade, daily, off, network_name=network_name)

    def human() -> None:
        table("following caps", ["asset", "per trade", "daily", "spent (24 h)"], rows)
        for member, rule in sorted(result["autofollow"].items()):
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
    from .click_frontend import ClickFrontend
    from .services.following import set_autofollow

    data, said = set_autofollow(
        member,
        cap,
        ClickFrontend(password_file),
        off=off,
        max_slippage=max_slippage,
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
    )
    emit(as_json, data, lambda: click.echo(said))


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
        found = service.board(m, p, group)
    data = {
        "trades": [r.json() for r in found.rows],
        "members": found.members(),
        "unverified": [_card_json(v) for v in found.unverified],
    }

    def human() -> None:
        from rich.text import Text

        table(f"shared trades in {group}", service.BOARD_COLUMNS, found.cells())
        for line in found.totals_lines():
            console().print(Text(inert(line)))
        for line in found.unverified_lines():
            console().print(Text(inert(line), style="yellow"))

    emit(as_json, data, human)


COMMANDS: list[click.Command] = [share, list_cards, follow, limits, autofollow, board]
