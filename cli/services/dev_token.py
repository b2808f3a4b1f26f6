"""The test ERC-20 (with EIP-2612 permit) on the local chain, for every front end: deployed
from anvil's dev account or a wallet's, and recorded on the network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .signing import wait

if TYPE_CHECKING:
    from .frontend import Frontend


def deploy_test_token(
    name: str,
    symbol: str,
    decimals: int,
    supply: str,
    frontend: Frontend,
    *,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
) -> dict[str, Any]:
    """Deploy TestToken minting `supply` whole tokens to the deployer (anvil's dev account, or
    `wallet_name`'s account `index`, unlocked through the front end) and add it to the network."""
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx
    from wallet import config as config_mod
    from wallet import erc20, localchain, transfers
    from wallet.amounts import parse_amount, to_units
    from wallet.home import home

    from ..context import chain as connect
    from ..context import history, load_config, nonce_lock_path, sending_account

    config = load_config()
    net = config.current(network_name)
    if not net.is_local:
        raise WalletError(f"the test token is for the local network only, not {net.name!r}")
    amount = parse_amount(supply)
    if amount.value is None:
        raise WalletError("--supply needs a number of tokens")
    units = to_units(amount.value, decimals, symbol)
    key: bytes | None = localchain.DEV_KEY
    sender = localchain.DEV_ADDRESS
    if wallet_name is not None:
        wallet, account = sending_account(wallet_name, index)
        sender, key = account.address, None
    chain = connect(network_name)
    draft = transfers.Draft(sender, None, 0, deployment_tx(load("TestToken"), name, symbol, decimals, units), "deploy")
    prepared = transfers.prepare(chain, draft)
    if key is None:
        key = frontend.unlock(wallet).private_key(index)
    record = transfers.send(chain, prepared, key, history(), lock_path=nonce_lock_path())
    receipt = wait(frontend, chain, record.hash, history(), 60)
    if not receipt.get("contractAddress"):
        raise WalletError(f"the deployment {record.hash} did not create a contract")
    found = erc20.read_token(chain.rpc, receipt["contractAddress"])
    net.tokens[found.symbol] = found
    config_mod.save(home(), config)
    return {
        "network": net.name,
        "symbol": found.symbol,
        "address": found.address,
        "decimals": found.decimals,
        "supply": str(units),
        "holder": sender,
        "hash": record.hash,
    }
