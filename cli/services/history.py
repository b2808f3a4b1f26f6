"""The local history as data for every front end: amounts as exact JSON (decimal strings
in base units beside a `formatted` value), tokens' symbols learnt from the chain, and
`sync`: the incoming ETH, token and NFT transfers to my accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from ..context import chain as connect
from ..context import history, network

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
    from wallet import keyring, sync

    from ..wallets import store

    wallets = (
        [store().open(keyring.check_name(wallet_name))] if wallet_name else [store().open(n) for n in store().names()]
    )
    addresses = sorted({a.address for w in wallets for a in w.accounts})
    if not addresses:
        raise WalletError(
            "no accounts to sync: create a wallet (`hongbao wallet create`) or watch an address (`hongbao wallet import --watch ADDRESS`)"
        )
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
