"""`hongbao stake deposit|withdraw|claim|exit|status`: the StakingRewards farm."""

from __future__ import annotations

import click

from .context import network_option
from .defi_cmd import _finish, _say, tx_inputs, tx_options
from .output import emit, json_option, table
from .wallet_cmd import index_option, wallet_option


@click.group()
def stake() -> None:
    """The staking farm (Synthetix StakingRewards): deposit, withdraw, claim, exit, status."""


def _run(action: str, amount: str | None, opts: dict) -> None:
    from .services import defi_actions

    data = defi_actions.stake(action, amount, *tx_inputs(opts))
    after = data["after"]
    if not opts["as_json"]:
        _say(
            f"{action}: done; staked {after['staked_formatted']} {after['stake_token']}, earned {after['earned_formatted']} {after['reward_token']}"
        )
    _finish(opts, data)


@stake.command()
@click.argument("amount")
@tx_options
def deposit(amount, **opts):
    """Stake AMOUNT of the farm's staking token (approves exactly AMOUNT first if needed)."""
    _run("deposit", amount, opts)


@stake.command()
@click.argument("amount")
@tx_options
def withdraw(amount, **opts):
    """Unstake AMOUNT (or `max`); rewards stay claimable."""
    _run("withdraw", amount, opts)


@stake.command()
@tx_options
def claim(**opts):
    """Claim the rewards earned so far."""
    _run("claim", None, opts)


@stake.command("exit")
@tx_options
def exit_command(**opts):
    """Unstake everything and claim the rewards, in one transaction."""
    _run("exit", None, opts)


@stake.command()
@click.argument("address", required=False)
@wallet_option
@index_option
@network_option
@json_option
def status(address, wallet_name, index, network_name, as_json):
    """The farm's reward rate, your stake and what you have earned (the contract's `earned`)."""
    from .services import defi
    from .services.defi_actions import reader

    owner, net, protocols = reader(address, wallet_name, index, network_name)
    data = defi.stake_status(protocols, owner)
    emit(
        as_json,
        data,
        lambda: table(
            f"farm {data['farm']} on {net.name}",
            ["", ""],
            [
                ["stake", data["stake_token"]],
                ["rewards", f"{data['reward_rate_per_day_formatted']} {data['reward_token']}/day to all stakers"],
                ["your stake", f"{data['staked_formatted']} {data['stake_token']}"],
                ["your rate", f"{data['my_rate_per_day_formatted']} {data['reward_token']}/day"],
                ["earned", f"{data['earned_formatted']} {data['reward_token']}"],
            ],
        ),
    )
