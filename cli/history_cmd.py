"""`hongbao tx list`, `hongbao tx show HASH`, `hongbao sync`: the local history.

Imported by `cli.tx_cmd` at start-up, so SQLAlchemy and the sync code load inside the
commands, not here. JSON amounts are decimal strings in base units (JSON numbers lose
precision past 2**53 in most parsers), next to a `formatted` human value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from wallet import address as addr
from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from . import names
from .context import chain as connect
from .context import history, network, network_option
from .output import console, emit, json_option, note, table
from .services.history import activity_rows, incoming_json, money, money_text, when
from .wallet_cmd import WALLET_ENV


def sent_json(net, tx) -> dict[str, Any]:
    def wei(value: int | None) -> str | None:
        return None if value is None else str(value)

    data = {
        "hash": tx.hash,
        "from": tx.sender,
        "to": tx.to,
        "nonce": tx.nonce,
        "kind": tx.kind,
        "status": tx.status,
        "value": str(tx.value),
        "value_formatted": format_units(tx.value, ETH_DECIMALS),
        "data": tx.data,
        "gas_limit": tx.gas_limit,
        "max_fee_per_gas": wei(tx.max_fee_per_gas),
        "max_priority_fee_per_gas": wei(tx.max_priority_fee_per_gas),
        "gas_price": wei(tx.gas_price),
        "replaces": tx.replaces,
        "created_at": tx.created_at,
        "block": tx.block,
        "gas_used": tx.gas_used,
        "effective_gas_price": wei(tx.effective_gas_price),
    }
    if tx.token is not None:
        data["token"] = {"address": tx.token, **money(net, tx.token, tx.token_amount or 0)}
    return data


# -- tx list ------------------------------------------------------------------------------------


@click.command("list")
@click.option("--address", "address", help="Only this address's (or contact's) activity.")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=50,
    show_default=True,
    help="How many entries, newest first.",
)
@click.option("--all", "show_all", is_flag=True, help="Also dust from lookalike addresses (address poisoning).")
@network_option
@json_option
def tx_list(address, limit, show_all, network_name, as_json):
    """Your transactions and the transfers you received, newest first, from the local
    history (`hongbao sync` fills it), seen from your accounts: in, out, self (between
    your own accounts), swap, or call (nothing moved); times are block times. Dust from
    lookalike addresses (address poisoning) is hidden unless --all."""
    from .services.history import ACTIVITY_COLUMNS, activity

    who = names.address(address) if address else None
    listed = activity(network_name, who, limit, hide_poisoning=not show_all)

    def human() -> None:
        if not listed.rows:
            note(f"No activity on {listed.network} yet. Incoming transfers appear after [bold]hongbao sync[/].")
            return
        table(f"activity on {listed.network}", ACTIVITY_COLUMNS, listed.cells())
        if listed.more:
            note(f"{listed.more} older transaction(s) not shown (--limit)")

    emit(as_json, [{k: v for k, v in r.items() if k != "text"} for r in listed.rows], human)


# -- tx show ------------------------------------------------------------------------------------


@click.command("show")
@click.argument("tx_hash", metavar="HASH")
@network_option
@json_option
def tx_show(tx_hash, network_name, as_json):
    """A transaction: ours or a received transfer from the history, else from the RPC."""
    from wallet.rpc import RpcUnreachable
    from wallet.transfers import parse_tx_hash

    tx_hash = parse_tx_hash(tx_hash)
    net = network(network_name)
    log = history()
    sent = log.get_sent(net.chain_id, tx_hash)
    if sent is not None and sent.status == "pending":
        try:  # the user is following it: record the receipt if it was mined meanwhile
            sent = _refresh(network_name, log, sent)
        except RpcUnreachable as error:
            note(f"showing the local record: {error}")
    incoming = log.incoming_by_hash(net.chain_id, tx_hash)
    if sent is not None or incoming:
        rows, known = activity_rows(net, log, None, 1, tx_hash)
        seen = {k: v for k, v in rows[0].items() if k != "text"} if rows else None
        data = {
            "source": "history",
            "network": net.name,
            "hash": tx_hash,
            "sent": sent_json(net, sent) if sent else None,
            "incoming": [incoming_json(net, i) for i in incoming],
            "seen": seen,
        }
        emit(as_json, data, lambda: _show_local(net, sent, incoming, rows[0] if rows else None, known))
        return
    chain = connect(network_name)
    chain.verify()
    tx, receipt = chain.rpc.batch([("eth_getTransactionByHash", [tx_hash]), ("eth_getTransactionReceipt", [tx_hash])])
    if tx is None:
        raise WalletError(
            f"transaction {tx_hash} is in neither the local history nor on {net.name} ({net.rpc_url}); check the hash and the network"
        )
    data = {"source": "rpc", "network": net.name, **_chain_tx(net, tx, receipt)}
    emit(as_json, data, lambda: _show_chain(data))


def _refresh(network_name, log, sent):
    from wallet.transfers import record_receipt

    chain = connect(network_name)
    chain.verify()
    receipt = chain.rpc.call("eth_getTransactionReceipt", sent.hash)
    if receipt is None:
        return sent
    record_receipt(chain, log, sent.hash, receipt)
    return log.get_sent(sent.chain_id, sent.hash)


def _chain_tx(net, tx: dict, receipt: dict | None) -> dict[str, Any]:
    from wallet.rpc import to_int
    from wallet.sync import TRANSFER_TOPIC

    value = to_int(tx["value"])
    data: dict[str, Any] = {
        "hash": tx["hash"],
        "from": addr.to_checksum(tx["from"]),
        "to": addr.to_checksum(tx["to"]) if tx.get("to") else None,
        "nonce": to_int(tx["nonce"]),
        "value": str(value),
        "value_formatted": format_units(value, ETH_DECIMALS),
        "input": tx.get("input", "0x"),
        "block": to_int(tx["blockNumber"]) if tx.get("blockNumber") else None,
        "status": "pending",
        "gas_used": None,
        "effective_gas_price": None,
        "transfers": [],
    }
    if receipt is not None:
        data.update(
            status="confirmed" if to_int(receipt.get("status", "0x1")) == 1 else "failed",
            gas_used=to_int(receipt["gasUsed"]),
            effective_gas_price=str(to_int(receipt.get("effectiveGasPrice"))),
        )
        for entry in receipt.get("logs") or []:
            topics = entry.get("topics") or []
            if len(topics) == 3 and topics[0].lower() == TRANSFER_TOPIC and len(entry.get("data", "")) == 66:
                token = addr.to_checksum(entry["address"])
                data["transfers"].append(
                    {
                        "token": token,
                        "from": addr.to_checksum(topics[1][-40:]),
                        "to": addr.to_checksum(topics[2][-40:]),
                        **money(net, token, int(entry["data"], 16)),
                    }
                )
    return data


def _grid(rows: list[tuple[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, Text("" if value is None else str(value)))  # symbols and names are data, not markup
    console().print(grid)


def _show_local(net, sent, incoming, seen, known) -> None:
    if seen is not None:  # the account's view: what moved, with whom, at the block's time
        clock = "" if seen["clock"] == "block" else " (this device's clock: not mined yet)"
        _grid(
            [
                ("direction", seen["direction"]),
                ("moved", seen["text"] or "nothing"),
                ("counterparty", names.labelled(seen["counterparty"], known) or None),
                ("time", when(seen["timestamp"]) + clock),
            ]
        )
    if sent is not None:
        what = (
            money_text(money(net, sent.token, sent.token_amount or 0), sent.token)
            if sent.token
            else f"{format_units(sent.value, ETH_DECIMALS)} ETH"
        )
        fee = (
            sent.gas_used * sent.effective_gas_price
            if sent.gas_used is not None and sent.effective_gas_price is not None
            else None
        )
        _grid(
            [
                ("hash", sent.hash),
                ("status", sent.status),
                ("kind", sent.kind),
                ("from", names.labelled(sent.sender, known)),
                ("to", names.labelled(sent.to, known) or "(new contract)"),
                ("amount", what),
                ("nonce", sent.nonce),
                ("block", sent.block),
                ("fee", f"{format_units(fee, ETH_DECIMALS)} ETH" if fee is not None else None),
                ("replaces", sent.replaces),
                ("explorer", net.explorer_link(sent.hash)),
            ]
        )
    for item in incoming:
        _grid(
            [
                ("received", money_text(money(net, item.token, item.amount), item.token)),
                ("from", names.labelled(item.from_, known)),
                ("to", names.labelled(item.to, known)),
                ("block", f"{item.block} ({when(item.timestamp)})"),
                ("hash", item.hash),
            ]
        )


def _show_chain(data: dict[str, Any]) -> None:
    rows = [
        ("hash", data["hash"]),
        ("status", data["status"]),
        ("from", data["from"]),
        ("to", data["to"] or "(new contract)"),
        ("value", f"{data['value_formatted']} ETH"),
        ("nonce", data["nonce"]),
        ("block", data["block"]),
    ]
    rows += [
        ("token transfer", f"{money_text(t, t['token'])} from {t['from']} to {t['to']}") for t in data["transfers"]
    ]
    _grid(rows)
    note("(from the RPC: not a transaction of this wallet's history)")


# -- sync ---------------------------------------------------------------------------------------


@click.command("sync")
@click.option("--wallet", "wallet_name", envvar=WALLET_ENV, help="Only this wallet's accounts (default: every wallet).")
@click.option(
    "--from-block", type=click.IntRange(min=0), help="Rescan from this block (default: where the last sync stopped)."
)
@network_option
@json_option
def sync_command(wallet_name, from_block, network_name, as_json):
    """Find incoming ETH and token transfers to your accounts (watch-only ones too)."""
    from .services.history import sync_accounts

    with _progress() as progress:
        data, result = sync_accounts(wallet_name, from_block, network_name, progress=progress, say=note)
    net, found, addresses = network(network_name), data["found"], data["addresses"]
    known = {**{a: n for n, a in net.contracts.items()}, **names.known_names()}

    def human() -> None:
        span = f"blocks {result.from_block:,}..{result.to_block:,}" if result.blocks else "no new blocks"
        if result.nfts:
            note(f"{len(result.nfts)} NFT transfer(s) to you ({span}): see `hongbao nft list`")
        if not found:
            note(f"nothing new for {len(addresses)} address(es) ({span})")
            return
        several = len(addresses) > 1
        table(
            f"received on {net.name} ({span})",
            ["block", "amount", "from", *(["to"] if several else []), "hash"],
            [
                [
                    f["block"],
                    money_text(f, f["token"], short=True),
                    names.labelled(f["from"], known),
                    *([names.labelled(f["to"], known)] if several else []),
                    f["hash"],
                ]
                for f in found
            ],
        )

    emit(as_json, data, human)


class _progress:
    """A Rich progress bar on stderr when it is a terminal; else a no-op callback."""

    def __init__(self) -> None:
        out = console(stderr=True)
        self._bar = _bar(out) if out.is_terminal else None

    def __enter__(self) -> Callable[[int, int], None] | None:
        bar = self._bar
        if bar is None:
            return None
        bar.start()
        task = bar.add_task("syncing", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _bar(out):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeRemainingColumn(),
        console=out,
        transient=True,
    )
