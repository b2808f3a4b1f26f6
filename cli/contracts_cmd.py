"""`hongbao contracts build|deploy|add`: compile the Solidity sources; put the local chain's contracts on it."""

from __future__ import annotations

from typing import TypedDict

import click

from contracts.protocols.keys import CONTRACT_KEYS as PROTOCOL_KEYS
from wallet.errors import WalletError

from .context import chain as connect
from .context import history, load_config, network_option, nonce_lock_path
from .output import emit, json_option, note, table


class _TokenSpec(TypedDict):
    name: str
    symbol: str
    decimals: int
    supply: int


TOKEN: _TokenSpec = {"name": "Hongbao Test Token", "symbol": "TKN", "decimals": 18, "supply": 1_000_000}
VAULT = {"name": "Hongbao Vault", "symbol": "vTKN"}
# config key in [networks.<name>.contracts] -> artifact name
VAULT_KEY, RED_PACKET_KEY = "vault", "red_packet"


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


def _live(chain, address: str | None, artifact) -> bool:
    """`address` holds code of `artifact`'s size (immutables are filled in, not added)."""
    if not address:
        return False
    code = chain.code(address)
    return bool(code) and len(code) == len(artifact.deployed_bytecode)


def _deploy(chain, hist, data: bytes, what: str, quiet: bool) -> tuple[str, str]:
    """Send a contract creation from anvil's dev account; (address, tx hash)."""
    from wallet import address as addr
    from wallet import localchain, transfers
    from wallet.rpc import to_int

    from .txview import wait_with_progress

    prepared = transfers.prepare(chain, transfers.Draft(localchain.DEV_ADDRESS, None, 0, data, "deploy"))
    record = transfers.send(chain, prepared, localchain.DEV_KEY, hist, lock_path=nonce_lock_path())
    receipt = wait_with_progress(chain, record.hash, hist, 60, quiet)
    if to_int(receipt.get("status")) != 1 or not receipt.get("contractAddress"):
        raise WalletError(f"deploying {what} failed (transaction {record.hash} reverted or created no contract)")
    return addr.parse(receipt["contractAddress"]), record.hash


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
    from contracts import token as token_binding
    from contracts import vault as vault_binding
    from contracts.artifacts import available, load
    from contracts.deploy import deployment_tx
    from wallet import config as config_mod
    from wallet import erc20, localchain
    from wallet.home import home

    config = load_config()
    net = config.current(network_name)
    if not net.is_local:
        raise WalletError(
            f"`contracts deploy` is for the local network only, not {net.name!r} (it deploys test contracts from anvil's public dev key)"
        )
    before = net.to_toml()
    chain = connect(network_name)
    chain.verify()
    hist = history()
    rows: list[dict] = []
    notes: list[str] = []

    def row(name: str, address: str, tx_hash: str | None) -> None:
        rows.append(
            {"contract": name, "address": address, "status": "deployed" if tx_hash else "existing", "hash": tx_hash}
        )

    # TestToken + TestVault: the vault records its token (asset()), so a live vault means both are there.
    token_artifact, vault_artifact = load("TestToken"), load("TestVault")
    configured_vault = net.contracts.get(VAULT_KEY)
    existing: tuple[str, str] | None = None  # (token, vault), both live
    if not force and configured_vault is not None and _live(chain, configured_vault, vault_artifact):
        candidate = vault_binding.asset(chain.rpc, configured_vault)
        if _live(chain, candidate, token_artifact):
            existing = (candidate, configured_vault)
    if existing is None:
        data = token_binding.deployment_data(
            TOKEN["name"], TOKEN["symbol"], TOKEN["decimals"], TOKEN["supply"] * 10 ** TOKEN["decimals"]
        )
        token_address, tx_hash = _deploy(chain, hist, data, "TestToken", as_json)
        row("TestToken", token_address, tx_hash)
        vault_address, tx_hash = _deploy(
            chain,
            hist,
            vault_binding.deployment_data(token_address, VAULT["name"], VAULT["symbol"]),
            "TestVault",
            as_json,
        )
        row("TestVault", vault_address, tx_hash)
    else:
        token_address, vault_address = existing
        row("TestToken", token_address, None)
        row("TestVault", vault_address, None)
    found = erc20.read_token(chain.rpc, token_address)
    previous = net.tokens.get(found.symbol)
    if previous is not None and previous.address != found.address:
        notes.append(f"token {found.symbol} on {net.name} now points at {found.address} (was {previous.address})")
    net.tokens[found.symbol] = found
    net.contracts[VAULT_KEY] = vault_address
    if net.to_toml() != before:  # record what exists before going on
        config_mod.save(home(), config)

    red_packet = net.contracts.get(RED_PACKET_KEY)
    if "RedPacket" not in available():
        notes.append(
            "RedPacket skipped: contracts/artifacts/RedPacket.json does not exist yet (add contracts/src/RedPacket.sol, then `hongbao contracts build`)"
        )
        red_packet = None
    else:
        artifact = load("RedPacket")
        if not force and red_packet is not None and _live(chain, red_packet, artifact):
            row("RedPacket", red_packet, None)
        elif artifact.constructor_inputs:
            notes.append(
                f"RedPacket skipped: its constructor takes {len(artifact.constructor_inputs)} argument(s); `contracts deploy` expects none"
            )
            red_packet = None
        else:
            red_packet, tx_hash = _deploy(chain, hist, deployment_tx(artifact), "RedPacket", as_json)
            row("RedPacket", red_packet, tx_hash)
            net.contracts[RED_PACKET_KEY] = red_packet
    if net.to_toml() != before:
        config_mod.save(home(), config)

    result = {
        "network": net.name,
        "deployer": localchain.DEV_ADDRESS,
        "token": {"symbol": found.symbol, "address": found.address, "decimals": found.decimals},
        "vault": vault_address,
        "red_packet": red_packet,
        "contracts": rows,
        "notes": notes,
    }

    def human() -> None:
        table(
            f"contracts on {net.name}",
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
