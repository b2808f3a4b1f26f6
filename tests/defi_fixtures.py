"""The DeFi protocols on the worker's shared anvil, deployed once per worker.

`defi_state` deploys TKN + the protocols once (contracts/protocols/deploy.py), dumps the
chain's state (`anvil_dumpState`) and reverts the chain to where it was, so other tests still
see genesis. `defi` loads that state into the test's chain (~30 ms); the `anvil` fixture's
revert after the test takes it away again. A test module uses them with
`pytest_plugins = ("defi_fixtures",)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import quick_wallet

from wallet import config


@dataclass(frozen=True)
class DefiState:
    dump: str
    timestamp: int  # of the last block deployed
    contracts: dict[str, str]
    tokens: dict[str, str]
    deploy_seconds: float

    def record(self, home, node) -> None:
        """Point `home`'s local network at `node` and record the protocols there, as `defi deploy` does."""
        cfg = config.load(home)
        net = config.Network("local", node.url, 31337)
        net.contracts.update(self.contracts)
        decimals = {"USDX": 6}
        for symbol, address in self.tokens.items():
            net.tokens[symbol] = config.Token(symbol, address, decimals.get(symbol, 18))
        cfg.networks["local"] = net
        config.save(home, cfg)

    def person(self, cli, home, node, name: str = "me", eth: str = "20") -> str:
        """A wallet in `home` with `eth` ETH from the faucet, the protocols recorded; its address."""
        self.record(home, node)
        me = quick_wallet(home, name=name)
        cli("faucet", me, eth)
        return me


@pytest.fixture(scope="session")
def defi_state(shared_anvil) -> DefiState:
    from contracts.artifacts import load
    from contracts.protocols import deploy
    from wallet import localchain

    rpc = shared_anvil.rpc()
    before = rpc.call("evm_snapshot")
    try:
        d = deploy.Deployer(rpc, localchain.DEV_ADDRESS)
        tkn = d.create(load("TestToken"), "Hongbao Test Token", "TKN", 18, 10**24)
        d.finish()
        out = deploy.deploy_all(rpc, localchain.DEV_ADDRESS, tkn)
        dump = rpc.call("anvil_dumpState")
        timestamp = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    finally:
        assert rpc.call("evm_revert", before) is True
        rpc.close()
    return DefiState(dump, timestamp, out.contracts, out.tokens, out.seconds)


@pytest.fixture
def defi(anvil, defi_state) -> DefiState:
    """The protocols on this test's chain (gone again after it)."""
    rpc = anvil.rpc()
    assert rpc.call("anvil_loadState", defi_state.dump) is True
    # A block after the deployment's, so the chain's clock never reads earlier than the state
    # (Aave's interest maths underflows if it does): the clock after a revert is anvil's business.
    rpc.call("evm_mine", defi_state.timestamp + 1)
    rpc.close()
    return defi_state
