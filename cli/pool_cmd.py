"""`hongbao pool add|remove|list`: liquidity on Uniswap v2 (pair shares) and v3 (position NFTs)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click

from wallet.errors import WalletError

from .context import network_option
from .defi_cmd import _finish, _say, tx_inputs, tx_options
from .output import emit, json_option, table
from .wallet_cmd import index_option, wallet_option

slippage_option = click.option("--slippage", default="0.5%", show_default=True, help="The least each side may pay.")


@click.group()
def pool() -> None:
    """Uniswap liquidity: add, remove, list (v2 pair shares, v3 position NFTs)."""


@pool.command()
@click.argument("amount")
@click.argument("a")
@click.argument("b")
@click.option("--v3", "use_v3", is_flag=True, help="A Uniswap v3 position (full range) instead of v2 shares.")
@click.option(
    "--fee", type=click.Choice(["500", "3000", "10000"]), default="3000", show_default=True, help="v3 fee tier."
)
@slippage_option
@tx_options
def add(amount, a, b, use_v3, fee, slippage, **opts):
    """Add AMOUNT of A and what the pool's price asks of B, e.g. `pool add 1 ETH TKN [--v3 --fee 500]`.

    Each token is approved exactly (a transaction each, previewed); ETH goes in as is.
    """
    from .services import defi_actions

    version = "v3" if use_v3 else "v2"
    data = defi_actions.pool_add(amount, a, b, *tx_inputs(opts), version=version, fee=int(fee), slippage=slippage)
    if not opts["as_json"]:
        _say("added; `hongbao pool list` shows your liquidity")
    _finish(opts, data)


@pool.command()
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--percent", "percent_text", default="100", show_default=True, help="How much of a v2 position.")
@click.option("--id", "token_id", type=int, help="A v3 position NFT (all its liquidity and fees).")
@slippage_option
@tx_options
def remove(a, b, percent_text, token_id, slippage, **opts):
    """Take liquidity out: a v2 pair (`pool remove ETH TKN [--percent 50]`) or a v3 position (`--id N`)."""
    from .services import defi_actions

    try:
        percent = Decimal(percent_text.rstrip("%"))
    except InvalidOperation:
        raise WalletError(f"--percent {percent_text!r} is not a number") from None
    frontend, tx = tx_inputs(opts)
    data = defi_actions.pool_remove(a, b, frontend, tx, percent=percent, token_id=token_id, slippage=slippage)
    if not opts["as_json"]:
        _say("removed")
    _finish(opts, data)


@pool.command("list")
@click.argument("address", required=False)
@wallet_option
@index_option
@network_option
@json_option
def list_command(address, wallet_name, index, network_name, as_json):
    """Your v2 pair shares and v3 positions: amounts they would pay out now, range, fees owed."""
    from .services import liquidity
    from .services.defi_actions import reader

    owner, net, protocols = reader(address, wallet_name, index, network_name)
    data = liquidity.pool_list(protocols, owner)

    def human() -> None:
        rows = [
            ["v2", "/".join(r["tokens"]), " + ".join(r["amounts_formatted"]), f"{r['share_of_pool']} of the pool", ""]
            for r in data["v2"]
        ]
        rows += [
            [
                f"v3 #{r['id']}",
                f"{'/'.join(r['tokens'])} {Decimal(r['fee']) / 10000}%",
                " + ".join(r["amounts_formatted"]),
                "full range" if r["full_range"] else f"ticks {r['ticks'][0]}..{r['ticks'][1]}",
                "fees " + " + ".join(r["fees_owed_formatted"]),
            ]
            for r in data["v3"]
        ]
        if not rows:
            _say(f"{owner} holds no Uniswap liquidity on {net.name}")
            return
        table(f"liquidity of {owner} on {net.name}", ["", "pool", "would pay out", "", ""], rows)

    emit(as_json, data, human)
