"""The DeFi protocol helpers that need no chain: addresses, pool prices, slippage, health factors, linking."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.services import defi
from contracts.protocols import aave, deploy, npm, uniswap
from wallet.errors import WalletError


def test_create_address_is_what_anvil_gives_the_dev_accounts_first_contracts():
    dev = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert deploy.create_address(dev, 0) == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert deploy.create_address(dev, 1) == "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def test_sqrt_price_of_equal_amounts_is_one_and_full_range_fits_the_tick_spacing():
    assert deploy.sqrt_price_x96(10**18, 10**18) == 2**96
    assert deploy.sqrt_price_x96(1, 4) == 2 * 2**96
    for fee, spacing in deploy.TICK_SPACING.items():
        lower, upper = deploy.full_range(fee)
        assert lower == -upper and upper % spacing == 0 and upper <= deploy.MAX_TICK < upper + spacing


@settings(max_examples=50)
@given(st.integers(0, 10**30), st.decimals(min_value=0, max_value=Decimal("0.49"), places=4))
def test_min_received_never_exceeds_the_quote_and_loses_at_most_the_slippage(out, slippage):
    least = uniswap.min_received(out, slippage)
    exact = Fraction(out) * (1 - Fraction(slippage))  # Decimal arithmetic would round at 28 digits
    assert least <= out and least == math.floor(exact)


@pytest.mark.parametrize(("text", "value"), [("0.5%", "0.005"), ("1%", "0.01"), ("0.003", "0.003"), ("0%", "0")])
def test_slippage_reads_percentages_and_fractions(text, value):
    assert defi.parse_slippage(text) == Decimal(value)


@pytest.mark.parametrize("text", ["50%", "-1%", "abc", "0.5"])
def test_slippage_outside_0_to_50_percent_is_refused(text):
    with pytest.raises(WalletError):
        defi.parse_slippage(text)


def test_price_impact_is_the_shortfall_from_the_mid_price_after_the_fee():
    q = uniswap.Quote("v2", 3000, 10**18, 990, 1000)
    assert q.impact == Decimal("0.01")
    assert uniswap.Quote("v2", 3000, 1, 1001, 1000).impact == 0  # never negative


ACCOUNT = aave.Account(
    collateral=15_000 * 10**8,
    debt=10_000 * 10**8,
    available=0,
    liquidation_threshold=8250,
    ltv=8000,
    health_factor=12375 * 10**14,
)


def test_health_after_a_borrow_or_a_withdrawal_follows_aaves_formula():
    # (15000 x 0.825) / 11000
    assert aave.health_after(ACCOUNT, extra_debt=1_000 * 10**8) == 15_000 * 8250 * 10**18 // (11_000 * 10_000)
    # withdrawing $3,000 of an 82.5% asset: (12000 x 0.825) / 10000 = 0.99
    assert aave.health_after(ACCOUNT, removed_collateral=3_000 * 10**8, removed_threshold=8250) == 99 * 10**16
    assert aave.health_after(aave.Account(1, 0, 0, 8000, 8000, aave.NO_DEBT_HF)) is None


def test_liquidation_price_is_where_the_health_factor_reaches_one():
    # 5 WETH at $3000 (threshold 82.5%) against $10,000 of USDX debt: 10000 / (5 x 0.825)
    prices = aave.liquidation_prices(ACCOUNT, [("WETH", 15_000 * 10**8, 0, 8250, 3000 * 10**8)])
    assert abs(prices["WETH"] / 10**8 - Decimal(10_000) / Decimal("4.125")) < Decimal("0.000001")


def test_apy_compounds_the_rate_per_second():
    assert aave.apy(0) == 0
    assert abs(aave.apy(aave.RAY // 10) - (Decimal(1).exp() ** Decimal("0.1") - 1)) < Decimal("0.000001")


def test_link_puts_each_library_address_where_the_artifact_says():
    code = "60" * 4 + "__$" + "ab" * 17 + "$__" + "00"
    linked = npm.link(code, (("Lib", (4,)),), {"Lib": "0x" + "11" * 20}, "X")
    assert linked == "60" * 4 + "11" * 20 + "00"
    with pytest.raises(ValueError, match="needs library Lib"):
        npm.link(code, (("Lib", (4,)),), {}, "X")


def test_pool_artifacts_come_linked_and_whole_from_node_modules():
    libraries = {name: "0x" + f"{i + 1:02x}" * 20 for i, name in enumerate(npm.libraries("Pool"))}
    assert sorted(libraries) == sorted(
        ["BorrowLogic", "BridgeLogic", "EModeLogic", "FlashLoanLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic"]
    )
    pool = npm.load("Pool", libraries)
    assert b"__$" not in pool.bytecode and all(bytes.fromhex(a[2:]) in pool.bytecode for a in libraries.values())


def test_a_missing_package_says_to_run_npm_ci(monkeypatch, tmp_path):
    monkeypatch.setenv(npm.NODE_MODULES_ENV, str(tmp_path))
    npm._read.cache_clear()
    try:
        with pytest.raises(npm.MissingPackageError, match="npm ci"):
            npm.load("UniswapV2Factory")
    finally:
        npm._read.cache_clear()


def test_contracts_add_knows_every_name_defi_deploy_records():
    from cli.contracts_cmd import PROTOCOL_KEYS

    assert tuple(PROTOCOL_KEYS) == deploy.CONTRACT_KEYS


def test_a_tokens_symbol_is_shown_inert():
    assert defi.inert("TKN") == "TKN"
    assert defi.inert("\x1b[31mUSDC\x1b[0m") == "[31mUSDC[0m"  # the escape bytes are gone
    assert defi.inert("US\u202eDC\u200b") == "USDC"  # bidi override, zero-width space
    assert defi.inert("\n\t") == "?"
    assert defi.inert("X" * 100) == "X" * 32 + "…"


class _EstimatingRpc:
    """An RPC that estimates every call at `estimate` gas."""

    def __init__(self, estimate=100_000):
        self.estimate = estimate

    def call(self, method, *params):
        assert method == "eth_estimateGas" and params[1] == "pending"
        return hex(self.estimate)


def test_a_swap_gets_gas_headroom_for_the_pools_oracle_write_but_a_chosen_gas_wins():
    """A swap estimated in a block with the pair's last timestamp skips its price accumulators
    (two 0 -> non-zero writes); mined a second later it needs them: 20% was not enough."""
    from cli.services.sender import step_gas

    owner = "0x" + "11" * 20
    step = defi.Step("0x" + "22" * 20, b"\x01", 0, "swap", {}, "swap", defi.SWAP_HEADROOM)
    plain = defi.Step("0x" + "22" * 20, b"\x01", 0, "swap", {}, "swap")
    rpc = _EstimatingRpc()
    assert step_gas(rpc, owner, step, None) == 120_000 + defi.SWAP_HEADROOM
    assert step_gas(rpc, owner, plain, None) is None  # the plain estimate (prepare's own)
    assert defi.SWAP_HEADROOM >= 2 * 20_000
    assert step_gas(rpc, owner, step, 500_000) == 500_000
