"""`hongbao trade offer|list|accept|counter|decline|cancel|receipt`: peer-to-peer offers in a
chat, settled on Seaport 1.6. The work is in cli/services/offers.py; every transaction goes
through the same preview-simulate-confirm pipeline as `send` (cli/services/offer_flows.py)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path

import click

from .chat_cmd import account_options
from .context import network_option
from .defi_cmd import tx_inputs, tx_options
from .inert import inert
from .output import console, emit, table
from .wallet_cmd import index_option, password_file_option, wallet_option

ITEM_HELP = 'e.g. "100 TKN", "0.05 ETH" or "NFT 0xCOLLECTION#ID"; repeat for more items'


@contextlib.contextmanager
def _reading(network_name, wallet_name, index, password_file):
    """Offers with the chat open, for the commands that sign no transaction."""
    from .chat_cmd import account_key
    from .services.offer_flows import reading

    with reading(account_key(wallet_name, index, password_file), network_name) as offers:
        yield offers


@click.command("offer")
@click.argument("who")
@click.option("--give", "gives", multiple=True, required=True, help=f"What you give: {ITEM_HELP}.")
@click.option("--want", "wants", multiple=True, required=True, help=f"What you ask for: {ITEM_HELP}.")
@click.option("--expires", default="1d", show_default=True, help="How long it can be filled: 30m, 12h, 7d.")
@click.option("--note", default="", help="A line for them.")
@tx_options
def offer_command(who, gives, wants, expires, note, **opts):
    """Offer WHO a trade they alone can fill, e.g. `trade offer bob --give "100 TKN" --want "0.05 ETH"`.

    The Seaport order is shown decoded, then signed (EIP-712) after what it needs is done:
    ETH you give is wrapped as WETH (Seaport cannot take ETH from an account), and Seaport is
    approved exactly the amounts (or the one NFT) it gives. Then it goes to WHO in the chat.
    """
    from .services import offer_flows

    _sent(opts, offer_flows.make(who, list(gives), list(wants), expires, note, *tx_inputs(opts)))


def _sent(opts: dict, data: dict) -> None:
    emit(opts["as_json"], data, lambda: click.echo(data["order_hash"]))


@click.command("counter")
@click.argument("order_id")
@click.option("--give", "gives", multiple=True, help=f"What you give instead of what they asked: {ITEM_HELP}.")
@click.option("--want", "wants", multiple=True, help=f"What you ask for instead of what they gave: {ITEM_HELP}.")
@click.option("--expires", default="1d", show_default=True, help="How long your counter-offer can be filled.")
@click.option("--note", default="", help="A line for them.")
@tx_options
def counter(order_id, gives, wants, expires, note, **opts):
    """Answer offer ORDER_ID with one of your own (signed by you, naming theirs), e.g. `--want "120 TKN"`."""
    from .services import offer_flows

    _sent(opts, offer_flows.counter(order_id, list(gives), list(wants), expires, note, *tx_inputs(opts)))


@click.command("accept")
@click.argument("order_id")
@tx_options
def accept(order_id, **opts):
    """Fill offer ORDER_ID on chain (approving exactly what it asks of you first), and tell the offerer."""
    from .services import offer_flows

    data = offer_flows.accept(order_id, *tx_inputs(opts))
    if opts["as_json"]:
        emit(True, data)
    else:
        console(stderr=True).print(f"[green]✓ filled[/] offer {data['order_hash']} (checked: its OrderFulfilled event)")


@click.command("cancel")
@click.argument("order_id")
@tx_options
def cancel(order_id, **opts):
    """Cancel your offer ORDER_ID on Seaport (nobody can fill it afterwards), and tell the peer."""
    from .services import offer_flows

    data = offer_flows.cancel(order_id, *tx_inputs(opts))
    if opts["as_json"]:
        emit(True, data)
    elif data["cancelled"]:
        console(stderr=True).print(f"[green]✓ cancelled[/] offer {data['order_hash']} (checked: getOrderStatus)")


@click.command("decline")
@click.argument("order_id")
@network_option
@account_options
def decline(order_id, network_name, wallet_name, index, password_file, as_json):
    """Decline offer ORDER_ID (a message to the offerer; nothing on chain)."""
    with _reading(network_name, wallet_name, index, password_file) as offers:
        view = offers.decline(order_id)
    emit(
        as_json, {"order_hash": view.order_hash, "state": view.state}, lambda: click.echo(f"declined {view.order_hash}")
    )


def view_json(view) -> dict:
    return {
        "order_hash": view.order_hash,
        "direction": view.direction,
        "peer": view.peer,
        "state": view.state,
        "reason": view.reason,
        "checks": view.checks,
        "gives": [list(i) for i in view.offer.offer],
        "wants": [list(i) for i in view.offer.consideration],
        "end": view.offer.end,
        "note": view.offer.note,
        "replaces": view.offer.replaces,
        "countered_by": view.countered_by,
        "fill_tx": view.fill_tx,
        "cancel_tx": view.cancel_tx,
    }


@click.command("list")
@click.option("--no-fetch", is_flag=True, help="Only what is stored; do not ask the relay for new mail.")
@network_option
@account_options
def list_offers(no_fetch, network_name, wallet_name, index, password_file, as_json):
    """Offers sent and received (new mail fetched first), each checked against the chain:
    order status, counter, expiry, balances and approvals."""
    from .request_cmd import _labels

    with _reading(network_name, wallet_name, index, password_file) as offers:
        if not no_fetch:
            offers.messenger.receive()
        views = offers.views()
        labels = _labels(offers.messenger)
        rows = [_row(offers, v, labels) for v in views]
    emit(
        as_json,
        [view_json(v) for v in views],
        lambda: table("offers", ["id", "", "with", "you give", "you get", "state", "until"], rows),
    )


def _row(offers, view, labels: dict[str, str]) -> list[str]:
    """One offer as I see it: what I give and get, whichever side made it."""
    order = view.order
    sides = ["?", "?"]
    if order is not None:
        sides = [", ".join(offers.place.describe(i) for i in items) for items in (order.offer, order.consideration)]
        if view.direction == "received":
            sides.reverse()
    state = view.state + "".join(f"; {c}" for c in ([view.reason] if view.reason else []) + view.checks)
    until = datetime.fromtimestamp(view.offer.end).strftime("%Y-%m-%d %H:%M") if view.offer.end < 2**33 else "?"
    arrow = "→" if view.direction == "sent" else "←"
    return [view.order_hash[:12], arrow, inert(labels.get(view.peer, view.peer)), *sides, inert(state), until]


@click.command("receipt")
@click.argument("order_id")
@click.option(
    "--json",
    "json_file",
    is_flag=False,
    flag_value="-",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The whole receipt as JSON: on stdout, or written to FILE (`--json FILE`).",
)
@network_option
@wallet_option
@index_option
@password_file_option
def receipt(order_id, json_file, network_name, wallet_name, index, password_file):
    """The negotiation of ORDER_ID (signed offers, answers) and its settlement, checkable by anyone."""
    with _reading(network_name, wallet_name, index, password_file) as offers:
        data = offers.receipt(order_id)
    if json_file is not None and str(json_file) != "-":
        json_file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_file}", err=True)
    else:
        emit(json_file is not None, data, lambda: _receipt_summary(data))


def _receipt_summary(data: dict) -> None:
    """For people: who offered what to whom, who signed, how it settled (the JSON has the rest)."""
    rows = []
    for entry in data["negotiation"]:
        if entry["type"] == "offer":
            signed = "✓ signed by the offerer" if entry["signer"] == entry["from"] else "✗ NOT signed by the offerer"
            rows.append(
                [entry["order_hash"][:12], f"offer {entry['from']} → {entry['to']}: {entry['state']}, {signed}"]
            )
        else:
            tx = f" (tx {entry['tx_hash']})" if entry["tx_hash"] else ""
            rows.append([entry["order_hash"][:12], f"{entry['status']} by {entry['from']}{tx}"])
    settled = data["settlement"]
    if settled:
        rows.append(["settled", f"{settled['tx_hash']} in block {settled['block_number']} (OrderFulfilled checked)"])
    else:
        rows.append(["settled", "not on chain"])
    table(f"offer {data['order_hash']}", ["order", "what happened"], [[k, inert(v)] for k, v in rows])
    click.echo("the signed typed data and how to check it: `hongbao trade receipt ID --json [FILE]`", err=True)


COMMANDS: list[click.Command] = [offer_command, list_offers, accept, counter, decline, cancel, receipt]
