"""`hongbao defi deploy`: Uniswap v2/v3, an Aave v3 market and a StakingRewards farm on the local chain."""

from __future__ import annotations

import click

from wallet.errors import WalletError

from .context import chain as connect
from .context import load_config, network_option
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
        result = {"network": net.name, "status": "existing", "contracts": recorded, "seconds": 0}
        emit(
            as_json,
            result,
            lambda: note("nothing to deploy: the recorded protocols are on chain (--force deploys new ones)"),
        )
        return
    on_chain = {k for k, a in recorded.items() if a and chain.code(a)}
    if not force and on_chain == set(recorded) - {"seaport"}:  # deployed before Seaport joined: add it alone
        d = protocol_deploy.Deployer(chain.rpc, localchain.DEV_ADDRESS)
        net.contracts["seaport"] = protocol_deploy.deploy_seaport(d)
        d.finish()
        config_mod.save(home(), config)
        result = {"network": net.name, "status": "added", "contracts": {"seaport": net.contracts["seaport"]}}
        emit(as_json, result, lambda: note(f"added Seaport 1.6 at {net.contracts['seaport']}"))
        return
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
    result = {
        "network": net.name,
        "status": "deployed",
        "contracts": out.contracts,
        "tokens": out.tokens,
        "transactions": out.transactions,
        "gas": out.gas,
        "seconds": round(out.seconds, 3),
    }

    def human() -> None:
        table(
            f"DeFi protocols on {net.name}",
            ["name", "address"],
            [[k, v] for k, v in {**out.contracts, **{f"token {s}": a for s, a in out.tokens.items()}}.items()],
        )
        note(f"{out.transactions} transactions, {out.gas:,} gas, {out.seconds:.2f} s")

    emit(as_json, result, human)
