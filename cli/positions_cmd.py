"""`hongbao positions`: tokens, Aave supply and debt, the farm, v2 LP shares, valued in ETH and USD."""

from __future__ import annotations

import click

from .context import network_option
from .output import emit, json_option, table
from .services.defi_actions import reader
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
                    _short(r["amount_formatted"]),
                    r["value_eth"] or "?",
                    _usd(r["value_usd"]),
                    r["detail"],
                ]
                for r in data["positions"]
            ],
        )
        click.echo(f"total: {data['total_eth']} ETH, {_usd(data['total_usd'])}", err=True)

    emit(as_json, data, human)


def _short(amount: str) -> str:
    """At most 6 decimals for people (--json has every digit)."""
    from decimal import ROUND_DOWN, Decimal

    value = Decimal(amount)
    cut = value.quantize(Decimal("0.000001"), ROUND_DOWN)
    return amount if value == cut else f"~{cut}"


def _usd(value: str | None) -> str:
    from decimal import Decimal

    if value is None:
        return "?"
    amount = Decimal(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"
