"""The local chain's own contracts (`hongbao contracts deploy`): TestToken, TestVault and
RedPacket, sent from anvil's public dev account and recorded in the configuration; those
still on chain are reported, not deployed again (unless `force`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from wallet.errors import WalletError

from ..context import chain as connect
from ..context import history, load_config, nonce_lock_path
from .signing import wait

if TYPE_CHECKING:
    from .frontend import Frontend


class _TokenSpec(TypedDict):
    name: str
    symbol: str
    decimals: int
    supply: int


TOKEN: _TokenSpec = {"name": "Hongbao Test Token", "symbol": "TKN", "decimals": 18, "supply": 1_000_000}
VAULT = {"name": "Hongbao Vault", "symbol": "vTKN"}
# config key in [networks.<name>.contracts] -> artifact name
VAULT_KEY, RED_PACKET_KEY = "vault", "red_packet"


def _live(chain, address: str | None, artifact) -> bool:
    """`address` holds code of `artifact`'s size (immutables are filled in, not added)."""
    if not address:
        return False
    code = chain.code(address)
    return bool(code) and len(code) == len(artifact.deployed_bytecode)


def _deploy(chain, hist, data: bytes, what: str, frontend: Frontend) -> tuple[str, str]:
    """Send a contract creation from anvil's dev account; (address, tx hash)."""
    from wallet import address as addr
    from wallet import localchain, transfers
    from wallet.rpc import to_int

    prepared = transfers.prepare(chain, transfers.Draft(localchain.DEV_ADDRESS, None, 0, data, "deploy"))
    record = transfers.send(chain, prepared, localchain.DEV_KEY, hist, lock_path=nonce_lock_path())
    receipt = wait(frontend, chain, record.hash, hist, 60)
    if to_int(receipt.get("status")) != 1 or not receipt.get("contractAddress"):
        raise WalletError(f"deploying {what} failed (transaction {record.hash} reverted or created no contract)")
    return addr.parse(receipt["contractAddress"]), record.hash


def deploy_test_contracts(network_name: str | None, frontend: Frontend, *, force: bool = False) -> dict[str, Any]:
    """Deploy (or find) the test contracts on the local network and record them; the JSON of
    `contracts deploy` (each contract deployed or existing, and notes). The receipt waits are
    drawn by `frontend` (nothing is asked: anvil's dev key signs)."""
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
        token_address, tx_hash = _deploy(chain, hist, data, "TestToken", frontend)
        row("TestToken", token_address, tx_hash)
        vault_address, tx_hash = _deploy(
            chain,
            hist,
            vault_binding.deployment_data(token_address, VAULT["name"], VAULT["symbol"]),
            "TestVault",
            frontend,
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
            red_packet, tx_hash = _deploy(chain, hist, deployment_tx(artifact), "RedPacket", frontend)
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

    return result


def deploy_protocols(network_name: str | None, *, force: bool = False) -> dict[str, Any]:
    """`defi deploy`: WETH, Uniswap v2 + v3, an Aave v3 market, a StakingRewards farm and
    Seaport, seeded and recorded (status deployed); those recorded and on chain are kept
    (existing), Seaport alone added to a market deployed before it (added)."""
    from contracts.artifacts import load
    from contracts.protocols import deploy as protocol_deploy
    from contracts.protocols.npm import MissingPackageError
    from wallet import config as config_mod
    from wallet import erc20, localchain
    from wallet.config import Token
    from wallet.home import home

    config = load_config()
    net = config.current(network_name)
    if not net.is_local:
        raise WalletError(
            f"`defi deploy` is for the local network only, not {net.name!r}; on other networks record the real addresses with `hongbao contracts add NAME ADDRESS`"
        )
    chain = connect(network_name)
    chain.verify()
    recorded = {k: net.contracts.get(k) for k in protocol_deploy.CONTRACT_KEYS}
    if not force and all(recorded.values()) and all(chain.code(a) for a in recorded.values() if a):
        return {"network": net.name, "status": "existing", "contracts": recorded, "seconds": 0}
    on_chain = {k for k, a in recorded.items() if a and chain.code(a)}
    if not force and on_chain == set(recorded) - {"seaport"}:  # deployed before Seaport joined: add it alone
        d = protocol_deploy.Deployer(chain.rpc, localchain.DEV_ADDRESS)
        net.contracts["seaport"] = protocol_deploy.deploy_seaport(d)
        d.finish()
        config_mod.save(home(), config)
        return {"network": net.name, "status": "added", "contracts": {"seaport": net.contracts["seaport"]}}
    tkn = net.tokens.get("TKN")
    d = protocol_deploy.Deployer(chain.rpc, localchain.DEV_ADDRESS)
    if tkn is None or not chain.code(tkn.address):
        tkn_address = d.create(load("TestToken"), "Hongbao Test Token", "TKN", 18, 10**24)
        d.finish()
    else:
        tkn_address = tkn.address
    try:
        out = protocol_deploy.deploy_all(chain.rpc, localchain.DEV_ADDRESS, tkn_address)
    except MissingPackageError as error:
        raise WalletError(str(error)) from None
    net.contracts.update(out.contracts)
    for symbol, address in out.tokens.items():
        found = erc20.read_token(chain.rpc, address)
        net.tokens[symbol] = Token(symbol, found.address, found.decimals)
    config_mod.save(home(), config)
    return {
        "network": net.name,
        "status": "deployed",
        "contracts": out.contracts,
        "tokens": out.tokens,
        "transactions": out.transactions,
        "gas": out.gas,
        "seconds": round(out.seconds, 3),
    }
