"""`hongbao contracts build|deploy|add`: compile the Solidity sources; put the local chain's contracts on it."""

from __future__ import annotations

import click

from contracts.protocols.keys import CONTRACT_KEYS as PROTOCOL_KEYS
from wallet.errors import WalletError

from .context import chain as connect
from .context import load_config, network_option
from .output import emit, json_option, note, table
from .services.local_contracts import RED_PACKET_KEY, VAULT_KEY


@click.group()
def contracts() -> None:
    """Contracts: build, deploy."""


@contracts.command()
@click.option(
    "--check", is_flag=True, help="Compile in memory and fail if contracts/artifacts/ differs (writes nothing)."
)
@click.pass_context
def build(ctx, check):
    """Compile contracts/src with the pinned solc (node contracts/build.mjs)."""
    from contracts import build as build_module

    status = build_module.run(check)
    if status != 0:
        ctx.exit(status)


@contracts.command()
@click.option("--force", is_flag=True, help="Deploy afresh even where the recorded contracts are still on chain.")
@network_option
@json_option
def deploy(force, network_name, as_json):
    """Deploy TestToken, TestVault (and RedPacket, once built) on the local chain; record them.

    They are sent from anvil's public dev account. Run it again and it only reports the
    recorded contracts that are still on chain (after `hongbao chain down` without state, or
    on a fresh anvil, it deploys again); --force always deploys new ones.
    """
    from .click_frontend import ClickFrontend
    from .services.local_contracts import deploy_test_contracts

    result = deploy_test_contracts(network_name, ClickFrontend(quiet=as_json), force=force)
    rows, notes = result["contracts"], result["notes"]

    def human() -> None:
        table(
            f"contracts on {result['network']}",
            ["contract", "address", "status"],
            [[r["contract"], r["address"], r["status"]] for r in rows],
        )
        for line in notes:
            note(line)
        if all(r["status"] == "existing" for r in rows):
            note("nothing to deploy: the recorded contracts are on chain (--force deploys new ones)")

    emit(as_json, result, human)


@contracts.command("add")
@click.argument("name", type=click.Choice([RED_PACKET_KEY, VAULT_KEY, *PROTOCOL_KEYS]))
@click.argument("address")
@network_option
@json_option
def add(name, address, network_name, as_json):
    """Record a contract someone else deployed (e.g. the network's RedPacket), after
    checking that code is there: packets from any other contract are never touched."""
    from wallet import address as addr
    from wallet import config as config_mod
    from wallet.home import home

    address = addr.parse(address)
    config = load_config()
    net = config.current(network_name)
    chain = connect(network_name)
    chain.verify()
    if not chain.code(address):
        raise WalletError(f"no contract at {address} on {net.name}: check the address and the network")
    net.contracts[name] = address
    config_mod.save(home(), config)
    emit(
        as_json,
        {"network": net.name, "name": name, "address": address},
        lambda: click.echo(f"{name} on {net.name} is now {address}"),
    )
