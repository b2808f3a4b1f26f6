"""`hongbao positions`: tokens, Aave supply and debt, the farm, v2 LP shares, valued in ETH and USD."""

from __future__ import annotations

import click

from .context import network_option
from .defi_steps import reader
from .output import emit, json_option, table
from .wallet_cmd import index_option, wallet_option


@click.command()
@click.argument("address", required=False)
@wallet_option
@index_option
@network_option
@json_option
def positions(address, wallet_name, index, network_name, as_json):
    """Everything ADDRESS (default: your account) holds in the DeFi protocols, valued in ETH and
    in USD (USDX) at the Aave oracle's prices."""
    from .services import defi

    owner, net, protocols = reader(address, wallet_name, index, network_name)
    data = defi.positions(protocols, owner)

    def human() -> None:
        table(
            f"positions of {owner} on {net.name}",
            ["where", "asset", "amount", "ETH", "USD", ""],
            [
                [
                    r["kind"],
                    r["asset"],
                    r["amount_formatted"],
                    r["value_eth"] or "?",
                    r["value_usd"] or "?",
                    r["detail"],
                ]
                for r in data["positions"]
            ],
        )
        click.echo(f"total: {data['total_eth']} ETH, ${data['total_usd']}", err=True)

    emit(as_json, data, human)
