"""`hongbao network add|list|use`: the networks in config.toml."""

from __future__ import annotations

import click

from wallet import config as config_mod
from wallet.errors import WalletError
from wallet.home import home

from .context import load_config
from .output import emit, json_option, table


def _json(net: config_mod.Network, current: str) -> dict:
    return {
        "name": net.name,
        "rpc_url": net.rpc_url,
        "chain_id": net.chain_id,
        "explorer": net.explorer,
        "current": net.name == current,
        "contracts": net.contracts,
        "tokens": {s: t.to_toml() for s, t in net.tokens.items()},
    }


@click.group()
def network() -> None:
    """Networks: add, list, use."""


@network.command()
@click.argument("name")
@click.option("--rpc", "rpc_url", required=True, help="JSON-RPC URL (http:// or https://).")
@click.option("--chain-id", type=click.IntRange(min=1), help="Expected chain id (read from the RPC if omitted).")
@click.option("--explorer", default="", help="Transaction link template, e.g. https://etherscan.io/tx/{tx}.")
@click.option("--use", "use_it", is_flag=True, help="Make it the current network.")
@json_option
def add(name, rpc_url, chain_id, explorer, use_it, as_json):
    """Add or update a network. Its chain id is checked against the RPC when it answers."""
    from wallet.rpc import Rpc, RpcUnreachable, to_int

    if explorer and "{tx}" not in explorer:
        raise WalletError("--explorer must contain {tx}, e.g. https://etherscan.io/tx/{tx}")
    actual: int | None
    try:
        with Rpc(rpc_url, timeout=10) as rpc:
            actual = to_int(rpc.call("eth_chainId"))
    except RpcUnreachable:
        if chain_id is None:
            raise WalletError(f"cannot reach {rpc_url} to read its chain id; pass --chain-id") from None
        actual = None
    if chain_id is not None and actual is not None and actual != chain_id:
        raise WalletError(f"the RPC at {rpc_url} reports chain id {actual}, not {chain_id}; check the URL")
    resolved = chain_id if chain_id is not None else actual
    if resolved is None:  # not reached: an unreachable RPC without --chain-id is refused above
        raise WalletError(f"cannot read the chain id of {rpc_url}; pass --chain-id")
    config = load_config()
    previous = config.networks.get(name)
    config.networks[name] = config_mod.Network(
        name,
        rpc_url,
        resolved,
        explorer,
        previous.contracts if previous else {},
        previous.tokens if previous else {},
    )
    if use_it:
        config.network = name
    config_mod.save(home(), config)
    emit(
        as_json,
        _json(config.networks[name], config.network),
        lambda: click.echo(
            f"network {name}: {rpc_url} (chain id {chain_id or actual})" + (" [current]" if use_it else "")
        ),
    )


@network.command("list")
@json_option
def list_(as_json):
    """The configured networks."""
    config = load_config()
    rows = [_json(n, config.network) for n in config.networks.values()]
    emit(
        as_json,
        rows,
        lambda: table(
            None,
            ["", "name", "chain id", "rpc", "tokens"],
            [
                ["*" if r["current"] else "", r["name"], r["chain_id"], r["rpc_url"], ", ".join(r["tokens"])]
                for r in rows
            ],
        ),
    )


@network.command()
@click.argument("name")
@json_option
def use(name, as_json):
    """Make NAME the network commands use by default."""
    config = load_config()
    config.current(name)  # must exist
    config.network = name
    config_mod.save(home(), config)
    emit(as_json, {"network": name}, lambda: click.echo(f"now using network {name}"))
