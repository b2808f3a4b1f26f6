"""`hongbao defi deploy`: Uniswap v2/v3, an Aave v3 market and a StakingRewards farm on the local chain."""

from __future__ import annotations

import click

from .context import network_option
from .output import emit, json_option, note, table


@click.group()
def defi() -> None:
    """Real DeFi protocols on the local chain: deploy."""


@defi.command()
@click.option("--force", is_flag=True, help="Deploy afresh even where the recorded protocols are still on chain.")
@network_option
@json_option
def deploy(force, network_name, as_json):
    """Deploy WETH, Uniswap v2 + v3, an Aave v3 market (ETH, USDX, TKN), a StakingRewards farm and Seaport 1.6; seed them; record them.

    Local network only (sent from anvil's public dev account). The contracts come from the npm
    packages pinned in package.json (`npm ci`). TKN is the recorded TestToken (deployed if
    missing). Prices: ETH $3,000, TKN $2, USDX $1.
    """
    from .services.local_contracts import deploy_protocols

    result = deploy_protocols(network_name, force=force)
    emit(as_json, result, lambda: _show(result))


def _show(result: dict) -> None:
    if result["status"] == "existing":
        note("nothing to deploy: the recorded protocols are on chain (--force deploys new ones)")
    elif result["status"] == "added":
        note(f"added Seaport 1.6 at {result['contracts']['seaport']}")
    else:
        tokens = {f"token {s}": a for s, a in result["tokens"].items()}
        table(
            f"DeFi protocols on {result['network']}",
            ["name", "address"],
            [[k, v] for k, v in {**result["contracts"], **tokens}.items()],
        )
        note(f"{result['transactions']} transactions, {result['gas']:,} gas, {result['seconds']:.2f} s")
