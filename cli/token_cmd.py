"""`hongbao token add|list`: ERC-20 tokens known on a network."""

from __future__ import annotations

from pathlib import Path

import click

from wallet import config as config_mod
from wallet.errors import WalletError
from wallet.home import home

from .context import chain as connect
from .context import load_config, network_option
from .output import emit, json_option, table


@click.group()
def token() -> None:
    """ERC-20 tokens: add, list, approve, allowances, revoke, permit."""


@token.command()
@click.argument("address")
@click.option("--yes", "-y", is_flag=True, help="Replace a token of the same symbol without asking.")
@network_option
@json_option
def add(address, yes, network_name, as_json):
    """Add a token by address; its symbol and decimals are read from the chain. A token
    with the same symbol is replaced only after a confirmation (or --yes)."""
    from wallet import erc20

    from . import secrets

    config = load_config()
    net = config.current(network_name)
    chain = connect(network_name)
    chain.verify()
    found = erc20.read_token(chain.rpc, address)
    same = [s for s, t in net.tokens.items() if s.lower() == found.symbol.lower() and t.address != found.address]
    if same:
        old = net.tokens[same[0]]
        if not yes and not secrets.interactive():
            raise WalletError(f"{same[0]} on {net.name} is already {old.address}: pass --yes to replace it")
        if not yes:
            click.echo(
                f"{same[0]} on {net.name} is {old.address}; {found.address} calls itself {found.symbol!r} too.",
                err=True,
            )
        if not yes and not click.confirm(f"Replace {same[0]} ({old.address}) with {found.address}?", err=True):
            raise WalletError(f"not replaced: {same[0]} still means {old.address}")
        for symbol in same:
            del net.tokens[symbol]
    net.tokens[found.symbol] = found
    config_mod.save(home(), config)
    emit(
        as_json,
        {"network": net.name, "symbol": found.symbol, "address": found.address, "decimals": found.decimals},
        lambda: click.echo(f"added {found.symbol} ({found.address}, {found.decimals} decimals) on {net.name}"),
    )


@token.command("list")
@network_option
@json_option
def list_(network_name, as_json):
    """Tokens configured on the network."""
    net = load_config().current(network_name)
    rows = [{"symbol": t.symbol, "address": t.address, "decimals": t.decimals} for t in net.tokens.values()]
    emit(
        as_json,
        rows,
        lambda: table(
            f"tokens on {net.name}",
            ["symbol", "address", "decimals"],
            [[r["symbol"], r["address"], r["decimals"]] for r in rows],
        ),
    )


@token.command("deploy-test")
@click.option("--name", default="Test Token", show_default=True)
@click.option("--symbol", default="TKN", show_default=True)
@click.option("--decimals", type=click.IntRange(0, 36), default=18, show_default=True)
@click.option(
    "--supply", default="1000000", show_default=True, help="Initial supply in whole tokens, minted to the deployer."
)
@click.option(
    "--wallet", "wallet_name", envvar="HONGBAO_WALLET", help="Deploy from this wallet (default: anvil's dev account)."
)
@click.option("--index", "-i", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
@network_option
@json_option
def deploy_test(name, symbol, decimals, supply, wallet_name, index, password_file, network_name, as_json):
    """Deploy the test ERC-20 (with EIP-2612 permit) on the local chain and add it here."""
    from .click_frontend import ClickFrontend
    from .services.dev_token import deploy_test_token

    frontend = ClickFrontend(password_file, quiet=as_json)
    data = deploy_test_token(
        name, symbol, decimals, supply, frontend, wallet_name=wallet_name, index=index, network_name=network_name
    )
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"deployed {data['symbol']} at {data['address']} ({supply} minted to {data['holder']}); added to {data['network']}"
        ),
    )
