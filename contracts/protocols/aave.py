"""Aave v3 over ``wallet.rpc.Rpc``: the market's addresses, account data, reserves, APYs, calldata.

Everything is read from the protocol: ``Pool.getUserAccountData`` (collateral, debt and health
factor in the oracle's base currency, USD with 8 decimals here), the data provider's reserve and
user data, and the Aave oracle's prices. Projections (``health_after``) use the same numbers
Aave's own validation uses: collateral x liquidation threshold / debt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, getcontext

from wallet import address as addr
from wallet.rpc import Rpc

from . import abi

__all__ = [
    "VARIABLE",
    "Account",
    "Market",
    "Reserve",
    "UserReserve",
    "account",
    "apy",
    "borrow_data",
    "health_after",
    "is_listed",
    "liquidation_prices",
    "market",
    "price",
    "repay_data",
    "reserve",
    "supply_data",
    "user_reserve",
    "withdraw_data",
]

VARIABLE = 2  # interestRateMode: variable
RAY = 10**27
WAD = 10**18
SECONDS_PER_YEAR = 365 * 24 * 3600
NO_DEBT_HF = 2**256 - 1  # what getUserAccountData returns as the health factor without debt


@dataclass(frozen=True)
class Market:
    provider: str
    pool: str
    oracle: str
    data_provider: str


@dataclass(frozen=True)
class Account:
    collateral: int  # base currency units (USD x 1e8 here)
    debt: int
    available: int
    liquidation_threshold: int  # weighted, basis points
    ltv: int
    health_factor: int  # 1e18 = 1.0; NO_DEBT_HF without debt

    @property
    def has_debt(self) -> bool:
        return self.debt > 0


@dataclass(frozen=True)
class Reserve:
    asset: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    collateral_enabled: bool
    borrowing_enabled: bool
    liquidity_rate: int  # ray, APR
    variable_borrow_rate: int  # ray, APR
    a_token: str
    variable_debt_token: str
    total_supplied: int
    total_variable_debt: int


@dataclass(frozen=True)
class UserReserve:
    supplied: int  # aToken balance
    variable_debt: int
    stable_debt: int
    collateral: bool


def market(rpc: Rpc, provider: str) -> Market:
    pool = abi.read_one(rpc, provider, "getPool()(address)")
    oracle = abi.read_one(rpc, provider, "getPriceOracle()(address)")
    data_provider = abi.read_one(rpc, provider, "getPoolDataProvider()(address)")
    return Market(addr.parse(provider), addr.parse(pool), addr.parse(oracle), addr.parse(data_provider))


def account(rpc: Rpc, m: Market, user: str) -> Account:
    values = abi.read(rpc, m.pool, "getUserAccountData(address)(uint256,uint256,uint256,uint256,uint256,uint256)", user)
    return Account(*(int(v) for v in values))


def price(rpc: Rpc, m: Market, asset: str) -> int:
    """The oracle's price of one whole ``asset`` in the base currency (USD x 1e8)."""
    return int(abi.read_one(rpc, m.oracle, "getAssetPrice(address)(uint256)", asset))


def reserve(rpc: Rpc, m: Market, asset: str) -> Reserve:
    config = abi.read(
        rpc,
        m.data_provider,
        "getReserveConfigurationData(address)(uint256,uint256,uint256,uint256,uint256,bool,bool,bool,bool,bool)",
        asset,
    )
    data = abi.read(
        rpc,
        m.data_provider,
        "getReserveData(address)(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint40)",
        asset,
    )
    tokens = abi.read(rpc, m.data_provider, "getReserveTokensAddresses(address)(address,address,address)", asset)
    return Reserve(
        asset=asset,
        decimals=int(config[0]),
        ltv=int(config[1]),
        liquidation_threshold=int(config[2]),
        collateral_enabled=bool(config[5]),
        borrowing_enabled=bool(config[6]),
        liquidity_rate=int(data[5]),
        variable_borrow_rate=int(data[6]),
        a_token=addr.parse(tokens[0]),
        variable_debt_token=addr.parse(tokens[2]),
        total_supplied=int(data[2]),
        total_variable_debt=int(data[4]),
    )


def is_listed(rpc: Rpc, m: Market, asset: str) -> bool:
    """The market has a reserve for ``asset`` (its aToken exists)."""
    tokens = abi.read(rpc, m.data_provider, "getReserveTokensAddresses(address)(address,address,address)", asset)
    return int(tokens[0], 16) != 0


def user_reserve(rpc: Rpc, m: Market, asset: str, user: str) -> UserReserve:
    data = abi.read(
        rpc,
        m.data_provider,
        "getUserReserveData(address,address)(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint40,bool)",
        asset,
        user,
    )
    return UserReserve(int(data[0]), int(data[2]), int(data[1]), bool(data[8]))


def apy(rate_ray: int) -> Decimal:
    """Aave's per-second compounding of an APR in ray: (1 + r/year)^year - 1."""
    getcontext().prec = 40
    per_second = Decimal(rate_ray) / Decimal(RAY) / SECONDS_PER_YEAR
    return (1 + per_second) ** SECONDS_PER_YEAR - 1


def health_after(
    acct: Account, *, extra_debt: int = 0, removed_collateral: int = 0, removed_threshold: int = 0
) -> int | None:
    """The health factor (1e18 = 1.0) after borrowing ``extra_debt`` or withdrawing collateral worth
    ``removed_collateral`` (base units) whose liquidation threshold is ``removed_threshold`` (bps);
    None when there would be no debt."""
    debt = acct.debt + extra_debt
    if debt <= 0:
        return None
    weighted = acct.collateral * acct.liquidation_threshold - removed_collateral * removed_threshold
    return max(0, weighted) * WAD // (debt * 10_000)


def liquidation_prices(acct: Account, holdings: list[tuple[str, int, int, int, int]]) -> dict[str, Decimal]:
    """For each collateral asset (symbol, supplied value, debt value, threshold bps, price), the
    price at which the health factor reaches 1 with every other price unchanged."""
    out: dict[str, Decimal] = {}
    if acct.debt == 0:
        return out
    for symbol, supplied_value, debt_value, threshold, unit_price in holdings:
        if supplied_value == 0 or unit_price == 0:
            continue
        others = acct.collateral * acct.liquidation_threshold - supplied_value * threshold
        other_debt = acct.debt - debt_value
        # (others + s*k*t) / 1e4 = other_debt + d*k, with k = new price / price
        denominator = Decimal(supplied_value * threshold) / 10_000 - debt_value
        if denominator <= 0:
            continue
        k = (Decimal(other_debt) - Decimal(others) / 10_000) / denominator
        if k > 0:
            out[symbol] = k * unit_price
    return out


def supply_data(asset: str, amount: int, on_behalf: str) -> bytes:
    return abi.data("supply(address,uint256,address,uint16)", asset, amount, on_behalf, 0)


def withdraw_data(asset: str, amount: int, to: str) -> bytes:
    return abi.data("withdraw(address,uint256,address)", asset, amount, to)


def borrow_data(asset: str, amount: int, on_behalf: str) -> bytes:
    return abi.data("borrow(address,uint256,uint256,uint16,address)", asset, amount, VARIABLE, 0, on_behalf)


def repay_data(asset: str, amount: int, on_behalf: str) -> bytes:
    return abi.data("repay(address,uint256,uint256,address)", asset, amount, VARIABLE, on_behalf)
