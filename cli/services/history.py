"""The local history as data for every front end: amounts as exact JSON (decimal strings
in base units beside a `formatted` value), tokens' symbols learnt from the chain, the
activity list (`tx list` and the app's history screen: rows, names, the columns' texts),
and `sync`: the incoming ETH, token and NFT transfers to my accounts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from ..context import chain as connect
from ..context import history, network

ZERO = "0x" + "00" * 20  # the `from` of a mint
# Where an address never synced starts on a non-local network: about a day of blocks.
# Scanning from genesis over a public RPC would take days; --from-block goes further back.
DEFAULT_LOOKBACK = 7_200


def money(net, token: str | None, amount: int, reported: dict[str, tuple[str, int]] | None = None) -> dict[str, Any]:
    """{amount, symbol, formatted}: exact. A token not in config.toml is shown with what its
    contract reported (`reported`: the history's cache), marked `listed: false`."""
    if token is None:
        return {"amount": str(amount), "symbol": "ETH", "formatted": format_units(amount, ETH_DECIMALS)}
    known = next((t for t in net.tokens.values() if t.address == token), None)
    if known is not None:
        return {"amount": str(amount), "symbol": known.symbol, "formatted": format_units(amount, known.decimals)}
    if reported and token in reported:
        symbol, decimals = reported[token]
        return {"amount": str(amount), "symbol": symbol, "formatted": format_units(amount, decimals), "listed": False}
    return {"amount": str(amount), "symbol": None, "formatted": None}


def learn_tokens(net, log, tokens) -> dict[str, tuple[str, int]]:
    """The history's cache of tokens' symbols and decimals, completed from the chain for
    tokens neither configured nor cached (best effort: offline, they show in base units)."""
    from wallet import erc20
    from wallet.rpc import RpcUnreachable

    reported = log.tokens(net.chain_id)
    configured = {t.address for t in net.tokens.values()}
    missing = sorted({t for t in tokens if t and t not in configured and t not in reported})
    if not missing:
        return reported
    try:
        chain = connect(net.name)
        for token in missing:
            try:
                found = erc20.read_token(chain.rpc, token)
            except WalletError:
                continue
            log.record_token(net.chain_id, token, found.symbol, found.decimals)
            reported[token] = (found.symbol, found.decimals)
    except (RpcUnreachable, WalletError):
        pass
    return reported


def money_text(value: dict[str, Any], token: str | None, *, short: bool = False) -> str:
    """`money(...)` in words: "1.5 ETH", "3 FOO (unlisted 0x1234…abcd)", or base units."""
    if value["formatted"] is None and token is not None:  # a token of unknown decimals: raw base units
        shown = f"{token[:6]}…{token[-4:]}" if short else token
        return f"{value['amount']} base units of token {shown}"
    if value.get("listed") is False and token is not None:  # its symbol is the contract's say, not ours
        return f"{value['formatted']} {value['symbol']} (unlisted {token[:6]}…{token[-4:]})"
    return f"{value['formatted']} {value['symbol']}"


def moved_text(net, moves: list[dict[str, Any]], reported) -> str:
    """ "+10 ETH", "-5 TKN, +0.1 ETH": what came in and went out, signed."""
    parts = []
    for m in moves:
        sign = {"in": "+", "out": "-"}.get(m["direction"], "")
        what = f" ({m['what']})" if m["what"] != "transfer" else ""
        parts.append(sign + money_text(money(net, m["token"], m["amount"], reported), m["token"], short=True) + what)
    return ", ".join(parts)


def when(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def activity_rows(net, log, who: str | None, limit: int, tx_hash: str | None = None, *, hide_poisoning=False):
    """The history's entries (newest first) as `tx list` and `tx show` show them, seen from
    `who` (default: every account on this device), and the names they use (address -> name)."""
    from contracts.history_events import decoders, method_names

    from .. import names
    from ..wallets import addresses

    mine = {who} if who else set(addresses(required=False))
    items = log.activity(net.chain_id, who, limit, mine=mine, decoders=decoders(net.contracts), hash=tx_hash)
    if hide_poisoning:  # dust and zero-value bait from lookalike addresses: see cli/security.py
        from .security import without_poisoning

        decimals: dict[str | None, int] = {t.address: t.decimals for t in net.tokens.values()}
        decimals[None] = 18
        items = without_poisoning(items, log, net.chain_id, decimals)
    reported = learn_tokens(net, log, [m["token"] for i in items for m in i["moves"]])
    known = {ZERO: "minted", **{a: n for n, a in net.contracts.items()}, **names.known_names()}
    methods = method_names()
    if net.is_local:
        from wallet.localchain import DEV_ADDRESS

        known.setdefault(DEV_ADDRESS, "local faucet")
    rows = []
    for item in items:
        value = money(net, item["token"], item["amount"], reported)
        moves = [{**m, **money(net, m["token"], m["amount"], reported)} for m in item["moves"]]
        rows.append(
            {
                **item,
                "method": methods.get(item["method"] or "", item["method"]),
                **value,
                "moves": moves,
                "counterparty_name": known.get(item["counterparty"]) if item["counterparty"] else None,
                "from_name": known.get(item["from"]),
                "to_name": known.get(item["to"]) if item["to"] else None,
                "fee": None if item["fee"] is None else str(item["fee"]),
                "text": moved_text(net, item["moves"], reported),
            }
        )
    return rows, known


ACTIVITY_COLUMNS = ["time", "direction", "what", "moved", "counterparty", "status", "hash"]


def activity_cells(row: dict[str, Any], known: dict[str, str]) -> list[str]:
    """One `activity_rows` row in words, column by column (ACTIVITY_COLUMNS). Names and token
    symbols are others' strings: the front end draws them inert."""
    from .. import names

    return [
        when(row["timestamp"]) + ("" if row["clock"] == "block" else " (sent)"),
        row["direction"],
        row["method"] or ("red packet" if any(m["what"] != "transfer" for m in row["moves"]) else row["kind"]),
        row["text"] or "nothing",
        names.labelled(row["counterparty"], known) or "(new contract)",
        row["status"],
        row["hash"],
    ]


@dataclass(frozen=True)
class Activity:
    network: str
    rows: list[dict[str, Any]]  # newest first (activity_rows)
    known: dict[str, str]  # address -> name
    more: int  # older transactions left out by the limit

    def cells(self) -> list[list[str]]:
        return [activity_cells(row, self.known) for row in self.rows]


def activity(
    network_name: str | None, who: str | None = None, limit: int = 50, *, hide_poisoning: bool = True
) -> Activity:
    """`tx list`: the newest `limit` entries of the local history on the network, seen from
    `who` (default: every account on this device), lookalike dust hidden unless told, and how
    many older transactions the limit left out."""
    net, log = network(network_name), history()
    rows, known = activity_rows(net, log, who, limit, hide_poisoning=hide_poisoning)
    total = log.activity_count(net.chain_id, who)
    return Activity(net.name, rows, known, max(0, total - limit))


def incoming_json(net, item, reported: dict[str, tuple[str, int]] | None = None) -> dict[str, Any]:
    return {
        "hash": item.hash,
        "log_index": item.log_index,
        "block": item.block,
        "from": item.from_,
        "to": item.to,
        "token": item.token,
        **money(net, item.token, item.amount, reported),
        "timestamp": item.timestamp,
    }


def sync_accounts(
    wallet_name: str | None,
    from_block: int | None,
    network_name: str | None,
    *,
    progress: Callable[..., Any] | None = None,
    say: Callable[[str], None] = lambda _text: None,
) -> tuple[dict[str, Any], Any]:
    """`sync`: scan for transfers to the accounts of `wallet_name` (every wallet by default,
    watch-only ones too) from where the last sync stopped (or `from_block`); the JSON, and
    wallet.sync's result."""
    from contracts import history_events
    from wallet import sync

    from ..wallets import addresses as of_wallet

    addresses = of_wallet(wallet_name)
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    log = history()
    lookback = None if net.is_local else DEFAULT_LOOKBACK
    if (
        lookback is not None
        and from_block is None
        and any(log.get_cursor(net.chain_id, sync.cursor_key(a)) is None for a in addresses)
    ):
        say(f"first sync on {net.name}: looking back {lookback:,} blocks; pass --from-block N to look further")
    result = sync.sync(
        chain.rpc,
        log,
        net.chain_id,
        addresses,
        start_block=from_block,
        progress=progress,
        lookback=lookback,
        events=history_events.events(net.contracts),
    )
    reported = learn_tokens(net, log, [i.token for i in result.found])
    found = [incoming_json(net, i, reported) for i in result.found]
    data = {
        "network": net.name,
        "chain_id": net.chain_id,
        "from_block": result.from_block,
        "to_block": result.to_block,
        "blocks": result.blocks,
        "addresses": addresses,
        "found": found,
        "nfts": [
            {"collection": n.contract, "id": str(n.token_id), "from": n.from_, "to": n.to, "block": n.block}
            for n in result.nfts
        ],
    }
    return data, result
