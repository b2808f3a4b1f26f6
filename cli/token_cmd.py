"""`hongbao token add|list`: ERC-20 tokens known on a network."""

from __future__ import annotations

import click

from wallet import config as config_mod
from wallet.home import home

from .context import chain as connect
from .context import load_config, network_option
from .output import emit, json_option, table


@click.group()
def token() -> None:
    """ERC-20 tokens: add, list."""


@token.command()
@click.argument("address")
@network_option
@json_option
def add(address, network_name, as_json):
    """Add a token by address; its symbol and decimals are read from the chain."""
    from wallet import erc20

    config = load_config()
    net = config.current(network_name)
    chain = connect(network_name)
    chain.verify()
    found = erc20.read_token(chain.rpc, address)
    net.tokens[found.symbol] = found
    config_mod.save(home(), config)
    emit(as_json, {"network": net.name, "symbol": found.symbol, "address": found.address, "decimals": found.decimals}, lambda: click.echo(f"added {found.symbol} ({found.address}, {found.decimals} decimals) on {net.name}"))


@token.command("list")
@network_option
@json_option
def list_(network_name, as_json):
    """Tokens configured on the network."""
    net = load_config().current(network_name)
    rows = [{"symbol": t.symbol, "address": t.address, "decimals": t.decimals} for t in net.tokens.values()]
    emit(as_json, rows, lambda: table(f"tokens on {net.name}", ["symbol", "address", "decimals"], [[r["symbol"], r["address"], r["decimals"]] for r in rows]))
