"""Deploy Uniswap v2/v3, an Aave v3 market, a StakingRewards farm and Seaport 1.6 on a local dev chain, and seed them.

Everything is sent from one account the node has unlocked (anvil's dev account) with
``eth_sendTransaction``: no keys are handled here. Contract addresses follow from the sender's
nonce (CREATE), so the transactions go out back to back, each with a fixed gas limit (no
estimates), and their receipts are checked in one batch at the end (``Deployer.finish``).

Prices (USD, as the Aave oracle's MockAggregators and the pools' seeded reserves say):
ETH 3,000, TKN 2, USDX 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak

from contracts.artifacts import Artifact
from contracts.deploy import deployment_tx
from wallet import address as addr
from wallet import rlp
from wallet.errors import WalletError
from wallet.rpc import Rpc, to_int

from . import abi, npm
from .keys import CONTRACT_KEYS

__all__ = [
    "CONTRACT_KEYS",
    "PRICES_USD",
    "Deployer",
    "Deployment",
    "create_address",
    "deploy_all",
    "deploy_seaport",
    "full_range",
    "sqrt_price_x96",
]

ETH = 10**18
RAY = 10**27
MAX = 2**256 - 1
PRICES_USD = {"WETH": 3000, "USDX": 1, "TKN": 2}
USDX_DECIMALS = 6
TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}
MAX_TICK = 887272
# Aave reserve risk parameters (basis points): LTV, liquidation threshold, liquidation bonus
RISK = {"WETH": (8000, 8250, 10500), "USDX": (7500, 8000, 10500), "TKN": (6500, 7500, 11000)}
RECEIPT_TIMEOUT_S = 30.0
# Each transaction's gas limit, set rather than estimated: an estimate runs against the mined
# state, and the previous transactions may still be pending (anvil mines asynchronously). Only
# the gas used is paid for; two fit in anvil's 30 M block.
TX_GAS = 15_000_000
REWARDS_USDX = 70_000  # paid to stakers over the farm's 7 days


class DeployError(WalletError):
    pass


def create_address(sender: str, nonce: int) -> str:
    """The address CREATE gives the contract that ``sender`` deploys at ``nonce``."""
    encoded = rlp.encode([bytes.fromhex(sender[2:]), nonce])
    return addr.to_checksum(keccak(encoded)[12:].hex())


def sqrt_price_x96(amount0: int, amount1: int) -> int:
    """Uniswap v3's sqrtPriceX96 for a pool whose price is ``amount1 / amount0`` (base units)."""
    from math import isqrt

    return isqrt((amount1 << 192) // amount0)


def full_range(fee: int) -> tuple[int, int]:
    spacing = TICK_SPACING[fee]
    top = MAX_TICK // spacing * spacing
    return -top, top


@dataclass
class Deployment:
    """What was deployed: contract keys -> addresses, token symbols -> addresses."""

    contracts: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    transactions: int = 0
    gas: int = 0
    seconds: float = 0.0


class Deployer:
    """Sends from ``sender`` (unlocked on the node), tracking its nonce; receipts checked at the end."""

    def __init__(self, rpc: Rpc, sender: str) -> None:
        self.rpc, self.sender = rpc, addr.parse(sender)
        self.nonce = to_int(rpc.call("eth_getTransactionCount", self.sender, "pending"))
        self.pending: list[tuple[str, str]] = []  # (what, hash)
        self.gas_used = 0
        self.sent = 0

    def send(self, to: str | None, data: bytes, what: str, value: int = 0) -> str:
        tx: dict[str, Any] = {"from": self.sender, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(TX_GAS)}
        if to is not None:
            tx["to"] = to
        try:
            tx_hash: str = self.rpc.call("eth_sendTransaction", tx)
        except WalletError as error:
            raise DeployError(f"deploying the protocols failed at {what}: {error}") from None
        self.nonce += 1
        self.sent += 1
        self.pending.append((what, tx_hash))
        return tx_hash

    def call(self, to: str, signature: str, *args: Any, value: int = 0) -> None:
        self.send(to, abi.data(signature, *args), signature.split("(")[0], value)

    def create(self, artifact: Artifact, *args: Any) -> str:
        where = create_address(self.sender, self.nonce)
        self.send(None, deployment_tx(artifact, *args), artifact.name)
        return where

    def finish(self) -> int:
        """Every receipt succeeded (else DeployError naming the step); the gas they used."""
        if not self.pending:
            return 0
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for _, h in self.pending])
        waited = time.monotonic()
        while any(receipt is None for receipt in receipts):  # the node may still be mining the last ones
            if time.monotonic() - waited > RECEIPT_TIMEOUT_S:
                raise DeployError("deploying the protocols timed out waiting for the node to mine (is automine on?)")
            time.sleep(0.005)
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for _, h in self.pending])
        gas = 0
        for (what, tx_hash), receipt in zip(self.pending, receipts, strict=True):
            if not receipt or to_int(receipt.get("status")) != 1:
                raise DeployError(f"deploying the protocols failed at {what} (transaction {tx_hash} reverted)")
            gas += to_int(receipt["gasUsed"])
        self.pending.clear()
        self.gas_used += gas
        return gas


def deploy_seaport(d: Deployer) -> str:
    """Seaport 1.6 and the conduit controller its constructor needs; its address. No conduit
    is opened: offers approve Seaport itself (conduit key 0)."""
    controller = d.create(npm.load("LocalConduitController"))
    return d.create(npm.load("Seaport"), controller)


def deploy_all(rpc: Rpc, sender: str, tkn: str, tkn_mintable: bool = True) -> Deployment:
    """WETH, Uniswap v2 + v3, Aave v3 (WETH, USDX, TKN), StakingRewards (stake TKN, earn USDX), seeded.

    ``tkn`` is the TestToken to list (the one `contracts deploy` made); the sender mints what
    it seeds with (TestToken's mint is open).
    """
    from contracts.artifacts import load as load_own

    started = time.perf_counter()
    out = Deployment()
    d = Deployer(rpc, sender)
    me = d.sender
    deadline = 2**32

    weth = d.create(npm.load("WETH9"))
    usdx = d.create(load_own("TestToken"), "Hongbao Test Dollar", "USDX", USDX_DECIMALS, 0)
    usd = 10**USDX_DECIMALS
    d.call(usdx, "mint(address,uint256)", me, 10_000_000 * usd)
    if tkn_mintable:
        d.call(tkn, "mint(address,uint256)", me, 1_000_000 * ETH)
    out.tokens.update(WETH=weth, USDX=usdx, TKN=tkn)

    # -- Uniswap v2 ------------------------------------------------------------------------
    v2_factory = d.create(npm.load("UniswapV2Factory"), me)
    v2_router = d.create(npm.load("UniswapV2Router02"), v2_factory, weth)
    for token in (tkn, usdx):
        d.call(token, "approve(address,uint256)", v2_router, MAX)
    add_eth = "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
    d.call(v2_router, add_eth, tkn, 150_000 * ETH, 0, 0, me, deadline, value=100 * ETH)
    d.call(v2_router, add_eth, usdx, 300_000 * usd, 0, 0, me, deadline, value=100 * ETH)

    # -- Uniswap v3 ------------------------------------------------------------------------
    v3_factory = d.create(npm.load("UniswapV3Factory"))
    positions = d.create(npm.load("NonfungiblePositionManager"), v3_factory, weth, "0x" + "00" * 20)
    v3_router = d.create(npm.load("SwapRouter"), v3_factory, weth)
    quoter = d.create(npm.load("QuoterV2"), v3_factory, weth)
    d.call(weth, "deposit()", value=400 * ETH)
    for token in (weth, tkn, usdx):
        d.call(token, "approve(address,uint256)", positions, MAX)
    for other, fee, eth_side, other_side in (
        (tkn, 3000, 50 * ETH, 75_000 * ETH),
        (tkn, 500, 20 * ETH, 30_000 * ETH),
        (usdx, 500, 50 * ETH, 150_000 * usd),
    ):
        (token0, amount0), (token1, amount1) = sorted(
            [(weth, eth_side), (other, other_side)], key=lambda pair: int(pair[0], 16)
        )
        d.call(
            positions,
            "createAndInitializePoolIfNecessary(address,address,uint24,uint160)",
            token0,
            token1,
            fee,
            sqrt_price_x96(amount0, amount1),
        )
        lower, upper = full_range(fee)
        d.call(
            positions,
            "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
            (token0, token1, fee, lower, upper, amount0, amount1, 0, 0, me, deadline),
        )

    # -- Aave v3 ---------------------------------------------------------------------------
    provider = d.create(npm.load("PoolAddressesProvider"), "Hongbao Local Market", me)
    d.call(provider, "setACLAdmin(address)", me)
    acl = d.create(npm.load("ACLManager"), provider)
    d.call(provider, "setACLManager(address)", acl)
    d.call(acl, "addPoolAdmin(address)", me)
    libraries: dict[str, str] = {}
    for library in (
        "SupplyLogic",
        "BorrowLogic",
        "LiquidationLogic",
        "EModeLogic",
        "BridgeLogic",
        "PoolLogic",
        "ConfiguratorLogic",
        "FlashLoanLogic",
    ):
        libraries[library] = d.create(npm.load(library, libraries))
    pool_impl = d.create(npm.load("Pool", libraries), provider)
    d.call(provider, "setPoolImpl(address)", pool_impl)
    configurator_impl = d.create(npm.load("PoolConfigurator", libraries))
    d.call(provider, "setPoolConfiguratorImpl(address)", configurator_impl)
    assets = {"WETH": weth, "USDX": usdx, "TKN": tkn}
    feeds = [d.create(npm.load("MockAggregator"), PRICES_USD[symbol] * 10**8) for symbol in assets]
    oracle = d.create(
        npm.load("AaveOracle"), provider, list(assets.values()), feeds, "0x" + "00" * 20, "0x" + "00" * 20, 10**8
    )
    d.call(provider, "setPriceOracle(address)", oracle)
    data_provider = d.create(npm.load("AaveProtocolDataProvider"), provider)
    d.call(provider, "setPoolDataProvider(address)", data_provider)
    d.finish()  # the provider made the Pool and Configurator proxies: read them
    pool = abi.read_one(rpc, provider, "getPool()(address)")
    configurator = abi.read_one(rpc, provider, "getPoolConfigurator()(address)")
    a_impl = d.create(npm.load("AToken"), pool)
    stable_impl = d.create(npm.load("StableDebtToken"), pool)
    variable_impl = d.create(npm.load("VariableDebtToken"), pool)
    strategy = d.create(
        npm.load("DefaultReserveInterestRateStrategy"),
        provider,
        RAY * 8 // 10,
        0,
        RAY * 4 // 100,
        RAY * 75 // 100,
        0,
        0,
        0,
        0,
        RAY * 2 // 10,
    )
    decimals = {"WETH": 18, "USDX": USDX_DECIMALS, "TKN": 18}
    inputs = [
        (
            a_impl,
            stable_impl,
            variable_impl,
            decimals[symbol],
            strategy,
            asset,
            me,  # treasury
            "0x" + "00" * 20,  # no incentives controller
            f"Aave Local {symbol}",
            f"aLoc{symbol}",
            f"Aave Local Variable Debt {symbol}",
            f"variableDebtLoc{symbol}",
            f"Aave Local Stable Debt {symbol}",
            f"stableDebtLoc{symbol}",
            b"",
        )
        for symbol, asset in assets.items()
    ]
    d.call(
        configurator,
        "initReserves((address,address,address,uint8,address,address,address,address,string,string,string,string,string,string,bytes)[])",
        inputs,
    )
    for symbol, asset in assets.items():
        ltv, threshold, bonus = RISK[symbol]
        d.call(
            configurator, "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, ltv, threshold, bonus
        )
        d.call(configurator, "setReserveBorrowing(address,bool)", asset, True)
        d.call(configurator, "setReserveFactor(address,uint256)", asset, 1000)
    for symbol, amount in (("WETH", 200 * ETH), ("USDX", 1_000_000 * usd), ("TKN", 200_000 * ETH)):
        d.call(assets[symbol], "approve(address,uint256)", pool, MAX)
        d.call(pool, "supply(address,uint256,address,uint16)", assets[symbol], amount, me, 0)
    # some borrowing, so the market has utilisation and its rates are not 0
    for symbol, amount in (("USDX", 400_000 * usd), ("WETH", 60 * ETH), ("TKN", 40_000 * ETH)):
        d.call(pool, "borrow(address,uint256,uint256,uint16,address)", assets[symbol], amount, 2, 0, me)

    seaport = deploy_seaport(d)

    # -- StakingRewards: stake TKN, earn USDX over 7 days ----------------------------------
    staking = d.create(npm.load("StakingRewards"), me, me, usdx, tkn)
    d.call(usdx, "transfer(address,uint256)", staking, REWARDS_USDX * usd)
    d.call(staking, "notifyRewardAmount(uint256)", REWARDS_USDX * usd)

    d.finish()
    out.gas = d.gas_used
    out.contracts.update(
        weth=weth,
        uniswap_v2_factory=v2_factory,
        uniswap_v2_router=v2_router,
        uniswap_v3_factory=v3_factory,
        uniswap_v3_positions=positions,
        uniswap_v3_router=v3_router,
        uniswap_v3_quoter=quoter,
        aave_addresses_provider=provider,
        staking_rewards=staking,
        seaport=seaport,
    )
    out.transactions = d.sent
    out.seconds = time.perf_counter() - started
    return out
