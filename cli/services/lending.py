"""Lending on Aave v3: plans for supply, withdraw, borrow and repay (with the health-factor
margin), the account's status, and the alert when the health factor falls below the margin.

Numbers come from the protocol (``contracts.protocols.aave``); sending is the caller's
preview-simulate-confirm pipeline (see ``cli.services.defi``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts.protocols import aave
from wallet.amounts import format_units
from wallet.errors import WalletError

from .defi import (
    AAVE_HEADROOM,
    DEFAULT_MARGIN,
    WAD,
    Approval,
    Asset,
    Protocols,
    Step,
    approval_for,
    asset_balance,
    market_assets,
    units,
)

__all__ = ["HealthWatch", "LendPlan", "health_decimal", "health_text", "hf_words", "lend_status", "plan_lend"]


# -- lend -------------------------------------------------------------------------------------


@dataclass
class LendPlan:
    action: str
    asset: Asset
    amount: int
    steps: list[Step]
    approval: Approval | None
    health_before: int | None
    health_after: int | None
    warnings: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "asset": self.asset.symbol,
            "amount": str(self.amount),
            "health_factor_before": health_text(self.health_before),
            "health_factor_after": health_text(self.health_after),
        }


def health_decimal(value: int | None) -> Decimal | None:
    if value is None or value >= aave.NO_DEBT_HF // 2:
        return None
    return Decimal(value) / WAD


def health_text(value: int | None) -> str | None:
    hf = health_decimal(value)
    return None if hf is None else str(hf.quantize(Decimal("0.0001")))


def hf_words(value: int | None) -> str:
    text = health_text(value)
    return "no debt" if text is None else text


def plan_lend(
    p: Protocols, owner: str, action: str, asset_text: str, amount_text: str, *, margin: Decimal, force: bool
) -> LendPlan:
    m = p.market()
    asset = p.asset(asset_text)
    reserve_asset = asset.address  # WETH for ETH
    if not aave.is_listed(p.rpc, m, reserve_asset):
        raise WalletError(f"{asset.symbol} is not listed on this Aave market (`hongbao lend status` lists what is)")
    acct = aave.account(p.rpc, m, owner)
    mine = aave.user_reserve(p.rpc, m, reserve_asset, owner)
    steps: list[Step] = []
    wrap = unwrap = False
    max_amount = amount_text.strip().lower() == "max"
    if max_amount and action in ("withdraw", "repay"):
        amount = mine.supplied if action == "withdraw" else mine.variable_debt
        if amount == 0:
            raise WalletError(
                f"nothing to {action}: {owner} has no {asset.symbol} {'supplied' if action == 'withdraw' else 'debt'} on Aave"
            )
    else:
        amount = units(amount_text, asset)
    onchain_amount = amount
    after: int | None = acct.health_factor
    price = aave.price(p.rpc, m, reserve_asset)
    value_base = amount * price // 10**asset.decimals
    reserve = aave.reserve(p.rpc, m, reserve_asset)
    warnings: list[str] = []
    if action == "supply":
        held = asset_balance(p, asset, owner)
        if amount > held:
            raise WalletError(f"insufficient {asset.symbol}: supplying {asset.fmt(amount)}, have {asset.fmt(held)}")
        if asset.is_eth:
            wrap = True
    elif action == "borrow":
        if not reserve.borrowing_enabled:
            raise WalletError(f"{asset.symbol} cannot be borrowed on this market")
        after = aave.health_after(acct, extra_debt=value_base)
        unwrap = asset.is_eth
    elif action == "withdraw":
        if amount > mine.supplied and not max_amount:
            raise WalletError(f"you can withdraw at most {asset.fmt(mine.supplied)} (asked {asset.fmt(amount)})")
        if mine.collateral:
            after = aave.health_after(
                acct, removed_collateral=value_base, removed_threshold=reserve.liquidation_threshold
            )
        if max_amount:
            onchain_amount = 2**256 - 1
        unwrap = asset.is_eth
    elif action == "repay":
        if mine.variable_debt == 0:
            raise WalletError(f"nothing to repay: {owner} owes no {asset.symbol} on Aave")
        if amount > mine.variable_debt:
            raise WalletError(f"you owe {asset.fmt(mine.variable_debt)}; repay at most that (or `max`)")
        if max_amount:
            onchain_amount = 2**256 - 1
            # interest accrues each second: approve (and hold) a little more than the debt shown
            amount = mine.variable_debt + max(1, mine.variable_debt // 10**5)
        held = asset_balance(p, asset, owner)
        if amount > held:
            raise WalletError(
                f"insufficient {asset.symbol}: repaying needs {asset.fmt(amount)}, have {asset.fmt(held)}"
            )
        wrap = asset.is_eth
        debt = acct.debt - min(acct.debt, value_base)
        after = None if debt == 0 else acct.collateral * acct.liquidation_threshold * WAD // (debt * 10_000)
    else:
        raise WalletError(f"unknown action {action!r}: supply, withdraw, borrow or repay")
    if action in ("borrow", "withdraw") and after is not None:
        hf = Decimal(after) / WAD
        if hf < margin:
            text = f"this {action} would take your health factor from {hf_words(acct.health_factor)} to {hf.quantize(Decimal('0.0001'))}, below the safety margin {margin}"
            if hf < 1 or not force:
                raise WalletError(
                    text
                    + ("; Aave refuses below 1.0" if hf < 1 else "; --force does it anyway, or borrow/withdraw less")
                )
            warnings.append(text + " (--force)")
    label = asset.fmt(amount)
    if wrap:
        steps.append(
            Step(
                asset.address,
                _weth_deposit(),
                amount,
                "deposit",
                {"wrap": label},
                f"wrap: {label} -> WETH (Aave lends WETH)",
            )
        )
    data = {
        "supply": lambda: aave.supply_data(reserve_asset, amount, owner),
        "withdraw": lambda: aave.withdraw_data(reserve_asset, onchain_amount, owner),
        "borrow": lambda: aave.borrow_data(reserve_asset, amount, owner),
        "repay": lambda: aave.repay_data(reserve_asset, onchain_amount, owner),
    }[action]()
    what = "all" if onchain_amount != amount or max_amount else label
    args = {"asset": "WETH" if asset.is_eth else asset.symbol, "amount": what, "on behalf of": owner}
    steps.append(
        Step(
            m.pool,
            data,
            0,
            action,
            args,
            f"{action}: {what} on Aave; health factor {hf_words(acct.health_factor)} -> {hf_words(after)}",
            AAVE_HEADROOM,
        )
    )
    if unwrap:
        steps.append(
            Step(
                asset.address, _weth_withdraw(amount), 0, "withdraw", {"unwrap": label}, f"unwrap: {label} WETH -> ETH"
            )
        )
    approval = None
    if action in ("supply", "repay"):
        pulled = Asset("WETH", asset.address, 18) if asset.is_eth else asset  # the pool takes WETH
        approval = approval_for(p, pulled, owner, m.pool, amount)
    return LendPlan(action, asset, amount, steps, approval, acct.health_factor, after, warnings)


def _weth_deposit() -> bytes:
    from contracts.protocols import abi

    return abi.data("deposit()")


def _weth_withdraw(amount: int) -> bytes:
    from contracts.protocols import abi

    return abi.data("withdraw(uint256)", amount)


def lend_status(p: Protocols, owner: str, margin: Decimal) -> dict[str, Any]:
    m = p.market()
    acct = aave.account(p.rpc, m, owner)
    reserves = []
    holdings = []
    for asset in market_assets(p):
        r = aave.reserve(p.rpc, m, asset.address)
        mine = aave.user_reserve(p.rpc, m, asset.address, owner)
        price = aave.price(p.rpc, m, asset.address)
        supplied_value = mine.supplied * price // 10**asset.decimals
        debt_value = mine.variable_debt * price // 10**asset.decimals
        if mine.collateral:
            holdings.append((asset.symbol, supplied_value, debt_value, r.liquidation_threshold, price))
        reserves.append(
            {
                "asset": asset.symbol,
                "address": asset.address,
                "price_usd": str(Decimal(price) / 10**8),
                "supply_apy": str(aave.apy(r.liquidity_rate).quantize(Decimal("0.000001"))),
                "borrow_apy": str(aave.apy(r.variable_borrow_rate).quantize(Decimal("0.000001"))),
                "supplied": str(mine.supplied),
                "supplied_formatted": format_units(mine.supplied, asset.decimals),
                "debt": str(mine.variable_debt),
                "debt_formatted": format_units(mine.variable_debt, asset.decimals),
                "collateral": mine.collateral,
                "ltv_bps": r.ltv,
                "liquidation_threshold_bps": r.liquidation_threshold,
            }
        )
    liquidation = aave.liquidation_prices(acct, holdings)
    hf = health_decimal(acct.health_factor)
    return {
        "owner": owner,
        "collateral_usd": str(Decimal(acct.collateral) / 10**8),
        "debt_usd": str(Decimal(acct.debt) / 10**8),
        "available_to_borrow_usd": str(Decimal(acct.available) / 10**8),
        "health_factor": health_text(acct.health_factor),
        "health_factor_raw": str(acct.health_factor),
        "margin": str(margin),
        "below_margin": hf is not None and hf < margin,
        "liquidation_price_usd": {k: str((v / 10**8).quantize(Decimal("0.01"))) for k, v in liquidation.items()},
        "reserves": reserves,
    }


# -- health alerts (for `chat watch` and other long runs) ---------------------------------------


class HealthWatch:
    """Tells once when an account's Aave health factor falls below the margin, and again only
    after it has recovered above it in between."""

    def __init__(self, margin: Decimal = DEFAULT_MARGIN) -> None:
        self.margin = margin
        self.below = False

    def poll(self, p: Protocols, owner: str) -> dict[str, Any] | None:
        """An event (kind "health") when the health factor has just gone below the margin."""
        if p.aave_provider is None:
            return None
        hf = health_decimal(aave.account(p.rpc, p.market(), owner).health_factor)
        if hf is None or hf >= self.margin:
            self.below = False
            return None
        if self.below:
            return None
        self.below = True
        shown = hf.quantize(Decimal("0.0001"))
        return {
            "kind": "health",
            "owner": owner,
            "health_factor": str(shown),
            "margin": str(self.margin),
            "text": f"Aave health factor {shown} is below your margin {self.margin}"
            + (" and Aave may liquidate now" if hf < 1 else "")
            + ": repay or supply more (`hongbao lend status`)",
        }
