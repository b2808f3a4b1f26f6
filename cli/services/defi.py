"""DeFi workflows shared by the CLI (and later the app): swap, lend, stake, positions.

Each ``plan_*`` reads the chain and returns what would be sent (``Step``s: a contract, calldata,
ETH value, a label for the preview) plus the approvals it needs and the numbers a person should
see (quotes, health factors, rewards); refusals are ``WalletError``s with the number that broke
the rule. Sending goes through the caller's preview-simulate-confirm pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.protocols import aave, staking, uniswap
from wallet import erc20
from wallet.amounts import format_units, parse_amount, to_units
from wallet.config import ConfigError, Network, Token
from wallet.errors import WalletError

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SLIPPAGE",
    "IMPACT_WARNING",
    "Asset",
    "LendPlan",
    "Protocols",
    "Step",
    "SwapPlan",
    "lend_status",
    "parse_slippage",
    "plan_lend",
    "plan_stake",
    "plan_swap",
    "positions",
    "protocols",
    "stake_status",
]

DEFAULT_SLIPPAGE = Decimal("0.005")
IMPACT_WARNING = Decimal("0.05")
DEFAULT_MARGIN = Decimal("1.2")
WAD = 10**18


def inert(text: str, limit: int = 32) -> str:
    """A token's symbol (a string from a contract: hostile) as shown: no control or format
    characters (escape sequences, bidi overrides), at most ``limit`` characters."""
    import unicodedata

    kept = "".join(c for c in text if unicodedata.category(c)[0] not in ("C", "Z") or c == " ").strip()
    return (kept[:limit] + "…" if len(kept) > limit else kept) or "?"


@dataclass(frozen=True)
class Asset:
    symbol: str
    address: str  # WETH's for ETH
    decimals: int
    is_eth: bool = False

    @property
    def token(self) -> Token:
        return Token(self.symbol, self.address, self.decimals)

    def fmt(self, units: int) -> str:
        return f"{format_units(units, self.decimals)} {self.symbol}"


@dataclass(frozen=True)
class Step:
    to: str
    data: bytes
    value: int
    function: str
    args: dict[str, str]
    summary: str
    headroom: int = 0
    """Gas to add over the estimate: what the step may cost more in a block with a new
    timestamp than in the pending block it was estimated in (a Uniswap pool writes its price
    oracle once per timestamp, Aave accrues interest)."""


SWAP_HEADROOM = 60_000  # v2: two price accumulators written 0 -> non-zero (2 x 20,000); v3: an oracle slot
AAVE_HEADROOM = 30_000


@dataclass(frozen=True)
class Approval:
    asset: Asset
    spender: str
    amount: int


@dataclass
class Protocols:
    net: Network
    rpc: Any
    uniswap: uniswap.Addresses
    aave_provider: str | None
    staking: str | None
    _market: aave.Market | None = None

    def market(self) -> aave.Market:
        if self.aave_provider is None:
            raise WalletError(
                f"no Aave market recorded on {self.net.name}: run `hongbao defi deploy` (local) or `hongbao contracts add aave_addresses_provider ADDRESS`"
            )
        if self._market is None:
            self._market = aave.market(self.rpc, self.aave_provider)
        return self._market

    def farm(self) -> str:
        if self.staking is None:
            raise WalletError(
                f"no staking farm recorded on {self.net.name}: run `hongbao defi deploy` (local) or `hongbao contracts add staking_rewards ADDRESS`"
            )
        return self.staking

    def asset(self, text: str) -> Asset:
        """ETH (as WETH), a configured token symbol, or a token address."""
        wanted = text.strip()
        if wanted.upper() == "ETH":
            return Asset("ETH", self.uniswap.weth, 18, is_eth=True)
        try:
            tok = self.net.token(wanted)
        except ConfigError:
            if not wanted.lower().startswith("0x"):
                raise
            tok = erc20.read_token(self.rpc, wanted)
        return Asset(inert(tok.symbol), tok.address, tok.decimals)

    def asset_at(self, address: str) -> Asset:
        for tok in self.net.tokens.values():
            if int(tok.address, 16) == int(address, 16):
                return Asset(inert(tok.symbol), tok.address, tok.decimals)
        tok = erc20.read_token(self.rpc, address)
        return Asset(inert(tok.symbol), tok.address, tok.decimals)


def protocols(net: Network, rpc: Any) -> Protocols:
    c = net.contracts
    weth = c.get("weth") or (net.tokens["WETH"].address if "WETH" in net.tokens else None)
    if weth is None:
        raise WalletError(
            f"no DeFi protocols recorded on {net.name}: run `hongbao defi deploy` (local chain), or record them with `hongbao contracts add NAME ADDRESS`"
        )
    where = uniswap.Addresses(
        weth,
        c.get("uniswap_v2_factory"),
        c.get("uniswap_v2_router"),
        c.get("uniswap_v3_factory"),
        c.get("uniswap_v3_router"),
        c.get("uniswap_v3_quoter"),
    )
    return Protocols(net, rpc, where, c.get("aave_addresses_provider"), c.get("staking_rewards"))


def units(text: str, asset: Asset) -> int:
    amount = parse_amount(text)
    if amount.value is None:
        raise WalletError(f"give an amount of {asset.symbol} (not 'max')")
    if amount.unit and amount.unit.upper() != asset.symbol.upper():
        raise WalletError(f"the amount says {amount.unit} but the asset is {asset.symbol}")
    result = to_units(amount.value, asset.decimals, asset.symbol)
    if result == 0:
        raise WalletError(f"the amount is 0 {asset.symbol}: give more than nothing")
    return result


def parse_slippage(text: str) -> Decimal:
    """`0.5%` or `0.005` -> 0.005; refused outside [0, 50%)."""
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise WalletError(f"--slippage {text!r}: write it as a percentage, e.g. 0.5%") from None
    if not Decimal(0) <= value < Decimal("0.5"):
        raise WalletError(f"--slippage {text!r} must be at least 0% and below 50%")
    return value


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal('0.01'))}%"


def _balance(p: Protocols, asset: Asset, owner: str) -> int:
    if asset.is_eth:
        from wallet.rpc import to_int

        return to_int(p.rpc.call("eth_getBalance", owner, "pending"))
    return erc20.balance_of(p.rpc, asset.address, owner)


def _approval(p: Protocols, asset: Asset, owner: str, spender: str, amount: int) -> Approval | None:
    if asset.is_eth:
        return None
    if erc20.allowance(p.rpc, asset.address, owner, spender) >= amount:
        return None
    return Approval(asset, spender, amount)


# -- swap ------------------------------------------------------------------------------------


@dataclass
class SwapPlan:
    sell: Asset
    buy: Asset
    amount_in: int
    quote: uniswap.Quote
    quotes: list[uniswap.Quote]
    min_out: int
    slippage: Decimal
    deadline: int
    step: Step
    approval: Approval | None
    warnings: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "sell": self.sell.symbol,
            "buy": self.buy.symbol,
            "amount_in": str(self.amount_in),
            "route": self.quote.route,
            "venue": self.quote.venue,
            "fee": self.quote.fee,
            "quote": str(self.quote.amount_out),
            "min_received": str(self.min_out),
            "slippage": str(self.slippage),
            "price_impact": str(self.quote.impact),
            "deadline": self.deadline,
            "quotes": [{"route": q.route, "amount_out": str(q.amount_out)} for q in self.quotes],
        }


def plan_swap(
    p: Protocols,
    owner: str,
    amount_text: str,
    sell_text: str,
    buy_text: str,
    *,
    slippage: Decimal = DEFAULT_SLIPPAGE,
    via: str = "best",
    deadline_s: int = 1200,
    quote_only: bool = False,
) -> SwapPlan:
    sell, buy = p.asset(sell_text), p.asset(buy_text)
    if sell.address == buy.address:
        raise WalletError(f"{sell.symbol} -> {buy.symbol} is no swap: pick two different assets")
    amount_in = units(amount_text, sell)
    held = _balance(p, sell, owner)
    if amount_in > held and not quote_only:
        raise WalletError(f"insufficient {sell.symbol}: swapping {sell.fmt(amount_in)}, have {sell.fmt(held)}")
    found = uniswap.quotes(p.rpc, p.uniswap, sell.address, buy.address, amount_in, via)
    quote = uniswap.best(found)
    if quote is None:
        where = {"v2": "Uniswap v2", "v3": "any Uniswap v3 pool"}.get(via, "Uniswap v2 or v3")
        raise WalletError(
            f"no route from {sell.symbol} to {buy.symbol} on {where} with liquidity for {sell.fmt(amount_in)}"
        )
    min_out = uniswap.min_received(quote.amount_out, slippage)
    block = p.rpc.call("eth_getBlockByNumber", "latest", False)
    deadline = int(block["timestamp"], 16) + deadline_s
    to, data, value, function = uniswap.swap_call(
        p.uniswap, quote, sell.address, buy.address, min_out, owner, deadline, eth_in=sell.is_eth, eth_out=buy.is_eth
    )
    warnings = []
    if quote.impact > IMPACT_WARNING:
        warnings.append(
            f"PRICE IMPACT {_percent(quote.impact)}: this trade moves the pool's price; you get {buy.fmt(quote.amount_out)} where the pool's price says {buy.fmt(quote.mid_out)}. Consider a smaller amount."
        )
    summary = (
        f"swap: {sell.fmt(amount_in)} -> ~{buy.fmt(quote.amount_out)} via {quote.route}; "
        f"at least {buy.fmt(min_out)} ({_percent(slippage)} slippage), price impact {_percent(quote.impact)}"
    )
    args = {
        "sell": sell.fmt(amount_in),
        "buy at least": buy.fmt(min_out),
        "route": quote.route,
        "recipient": owner,
        "deadline": str(deadline),
    }
    step = Step(to, data, value, function, args, summary, SWAP_HEADROOM)
    approval = _approval(p, sell, owner, to, amount_in)
    return SwapPlan(sell, buy, amount_in, quote, found, min_out, slippage, deadline, step, approval, warnings)


def swap_received(plan: SwapPlan, receipt: dict, owner: str) -> int:
    """What the mined swap paid ``owner`` (ETH out: the WETH the router unwrapped for them)."""
    return uniswap.received(receipt, plan.buy.address, owner, eth_out=plan.buy.is_eth, weth=plan.buy.address)


# -- lend ------------------------------------------------------------------------------------


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
            "health_factor_before": _hf_text(self.health_before),
            "health_factor_after": _hf_text(self.health_after),
        }


def _hf(value: int | None) -> Decimal | None:
    if value is None or value >= aave.NO_DEBT_HF // 2:
        return None
    return Decimal(value) / WAD


def _hf_text(value: int | None) -> str | None:
    hf = _hf(value)
    return None if hf is None else str(hf.quantize(Decimal("0.0001")))


def hf_words(value: int | None) -> str:
    text = _hf_text(value)
    return "no debt" if text is None else text


def plan_lend(
    p: Protocols, owner: str, action: str, asset_text: str, amount_text: str, *, margin: Decimal, force: bool
) -> LendPlan:
    m = p.market()
    asset = p.asset(asset_text)
    reserve_asset = asset.address  # WETH for ETH
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
        held = _balance(p, asset, owner)
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
        held = _balance(p, asset, owner)
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
        approval = _approval(p, pulled, owner, m.pool, amount)
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
    for asset in _market_assets(p):
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
    hf = _hf(acct.health_factor)
    return {
        "owner": owner,
        "collateral_usd": str(Decimal(acct.collateral) / 10**8),
        "debt_usd": str(Decimal(acct.debt) / 10**8),
        "available_to_borrow_usd": str(Decimal(acct.available) / 10**8),
        "health_factor": _hf_text(acct.health_factor),
        "health_factor_raw": str(acct.health_factor),
        "margin": str(margin),
        "below_margin": hf is not None and hf < margin,
        "liquidation_price_usd": {k: str((v / 10**8).quantize(Decimal("0.01"))) for k, v in liquidation.items()},
        "reserves": reserves,
    }


def _market_assets(p: Protocols) -> list[Asset]:
    from contracts.protocols import abi

    m = p.market()
    listed = abi.read_one(p.rpc, m.data_provider, "getAllReservesTokens()((string,address)[])")
    return [p.asset_at(address) for _, address in listed]


# -- stake -----------------------------------------------------------------------------------


def plan_stake(
    p: Protocols, owner: str, action: str, amount_text: str | None
) -> tuple[list[Step], Approval | None, dict[str, Any]]:
    where = p.farm()
    farm = staking.farm(p.rpc, where)
    stake_asset = p.asset_at(farm.staking_token)
    reward_asset = p.asset_at(farm.rewards_token)
    mine = staking.staked(p.rpc, where, owner)
    earned = staking.earned(p.rpc, where, owner)
    info = {
        "farm": where,
        "staked": str(mine),
        "earned": str(earned),
        "stake_token": stake_asset.symbol,
        "reward_token": reward_asset.symbol,
    }
    if action == "claim":
        if earned == 0:
            raise WalletError(f"nothing to claim: {owner} has earned no {reward_asset.symbol} yet")
        return (
            [
                Step(
                    where,
                    staking.claim_data(),
                    0,
                    "getReward",
                    {},
                    f"claim: ~{reward_asset.fmt(earned)} from the farm {where}",
                )
            ],
            None,
            info,
        )
    if action == "exit":
        if mine == 0 and earned == 0:
            raise WalletError(f"nothing to exit: {owner} has nothing staked or earned in the farm")
        summary = f"exit: withdraw {stake_asset.fmt(mine)} and claim ~{reward_asset.fmt(earned)} from the farm {where}"
        return [Step(where, staking.exit_data(), 0, "exit", {}, summary)], None, info
    if amount_text is None:
        raise WalletError(f"`stake {action}` needs an AMOUNT")
    if action == "withdraw" and amount_text.strip().lower() == "max":
        amount = mine
        if amount == 0:
            raise WalletError(f"nothing to withdraw: {owner} has nothing staked in the farm")
    else:
        amount = units(amount_text, stake_asset)
    info["amount"] = str(amount)
    if action == "deposit":
        held = _balance(p, stake_asset, owner)
        if amount > held:
            raise WalletError(
                f"insufficient {stake_asset.symbol}: staking {stake_asset.fmt(amount)}, have {stake_asset.fmt(held)}"
            )
        step = Step(
            where,
            staking.stake_data(amount),
            0,
            "stake",
            {"amount": stake_asset.fmt(amount)},
            f"stake: {stake_asset.fmt(amount)} in the farm {where}",
        )
        return [step], _approval(p, stake_asset, owner, where, amount), info
    if action == "withdraw":
        if amount > mine:
            raise WalletError(f"you have {stake_asset.fmt(mine)} staked; withdraw at most that")
        step = Step(
            where,
            staking.withdraw_data(amount),
            0,
            "withdraw",
            {"amount": stake_asset.fmt(amount)},
            f"unstake: {stake_asset.fmt(amount)} from the farm {where}",
        )
        return [step], None, info
    raise WalletError(f"unknown action {action!r}: deposit, withdraw, claim or exit")


def stake_status(p: Protocols, owner: str) -> dict[str, Any]:
    where = p.farm()
    farm = staking.farm(p.rpc, where)
    stake_asset = p.asset_at(farm.staking_token)
    reward_asset = p.asset_at(farm.rewards_token)
    mine = staking.staked(p.rpc, where, owner)
    earned = staking.earned(p.rpc, where, owner)
    share = Decimal(mine) / Decimal(farm.total_staked) if farm.total_staked else Decimal(0)
    return {
        "farm": where,
        "owner": owner,
        "stake_token": stake_asset.symbol,
        "reward_token": reward_asset.symbol,
        "reward_rate_per_second": str(farm.reward_rate),
        "reward_rate_per_day_formatted": format_units(farm.reward_rate * 86400, reward_asset.decimals),
        "period_finish": farm.period_finish,
        "total_staked": str(farm.total_staked),
        "staked": str(mine),
        "staked_formatted": format_units(mine, stake_asset.decimals),
        "earned": str(earned),
        "earned_formatted": format_units(earned, reward_asset.decimals),
        "my_rate_per_day_formatted": format_units(int(farm.reward_rate * 86400 * share), reward_asset.decimals),
    }


# -- positions -------------------------------------------------------------------------------


def positions(p: Protocols, owner: str) -> dict[str, Any]:
    """Everything ``owner`` holds in the protocols, valued in ETH and USDX at the Aave oracle's prices."""
    from wallet.rpc import to_int

    rows: list[dict[str, Any]] = []
    prices: dict[str, int] = {}  # token address (lower) -> USD x 1e8
    m = p.market() if p.aave_provider else None
    if m is not None:
        for asset in _market_assets(p):
            prices[asset.address.lower()] = aave.price(p.rpc, m, asset.address)
    eth_usd = prices.get(p.uniswap.weth.lower(), 0)

    def add(kind: str, asset: Asset, amount: int, sign: int = 1, detail: str = "") -> None:
        usd = prices.get(asset.address.lower())
        value = None if usd is None else sign * amount * usd // 10**asset.decimals
        rows.append(
            {
                "kind": kind,
                "asset": asset.symbol,
                "amount": str(sign * amount),
                "amount_formatted": ("-" if sign < 0 else "") + format_units(amount, asset.decimals),
                "value_usd": None if value is None else str(Decimal(value) / 10**8),
                "value_eth": None
                if value is None or not eth_usd
                else str((Decimal(value) / eth_usd).quantize(Decimal("0.000001"))),
                "detail": detail,
            }
        )

    eth = to_int(p.rpc.call("eth_getBalance", owner, "latest"))
    add("wallet", Asset("ETH", p.uniswap.weth, 18, True), eth)
    for tok in p.net.tokens.values():
        held = erc20.balance_of(p.rpc, tok.address, owner)
        if held:
            add("wallet", Asset(inert(tok.symbol), tok.address, tok.decimals), held)
    if m is not None:
        for asset in _market_assets(p):
            mine = aave.user_reserve(p.rpc, m, asset.address, owner)
            if mine.supplied:
                add("aave supplied", asset, mine.supplied, detail="collateral" if mine.collateral else "")
            if mine.variable_debt:
                add("aave debt", asset, mine.variable_debt, sign=-1, detail="variable")
    if p.staking:
        farm = staking.farm(p.rpc, p.staking)
        stake = staking.staked(p.rpc, p.staking, owner)
        earned = staking.earned(p.rpc, p.staking, owner)
        if stake:
            add("staked", p.asset_at(farm.staking_token), stake)
        if earned:
            add("rewards", p.asset_at(farm.rewards_token), earned, detail="claimable")
    rows.extend(_v2_shares(p, owner, add))
    vault_address = p.net.contracts.get("vault")
    if vault_address and p.rpc.call("eth_getCode", vault_address, "latest") not in (None, "0x"):
        from contracts import vault

        shares = vault.balance_of(p.rpc, vault_address, owner)
        if shares:
            add(
                "vault",
                p.asset_at(vault.asset(p.rpc, vault_address)),
                vault.convert_to_assets(p.rpc, vault_address, shares),
                detail=f"ERC-4626 vault {vault_address}",
            )
    positions_address = p.net.contracts.get("uniswap_v3_positions")
    if positions_address:
        from contracts.protocols import liquidity

        for pos in liquidity.v3_positions(p.rpc, positions_address, owner):
            t0, t1 = p.asset_at(pos.token0), p.asset_at(pos.token1)
            detail = f"Uniswap v3 #{pos.token_id} {t0.symbol}/{t1.symbol} {Decimal(pos.fee) / 10000}% ticks [{pos.tick_lower}, {pos.tick_upper}]"
            add("liquidity", t0, pos.amount0, detail=detail)
            add("liquidity", t1, pos.amount1, detail=detail)
            if pos.fees0 or pos.fees1:
                add("fees owed", t0, pos.fees0, detail=detail)
                add("fees owed", t1, pos.fees1, detail=detail)
    total_usd = sum((Decimal(r["value_usd"]) for r in rows if r["value_usd"] is not None), Decimal(0))
    return {
        "owner": owner,
        "network": p.net.name,
        "positions": rows,
        "total_usd": str(total_usd),
        "total_eth": str((total_usd * 10**8 / eth_usd).quantize(Decimal("0.000001"))) if eth_usd else None,
        "prices_from": "Aave oracle" if m is not None else None,
    }


def _v2_shares(p: Protocols, owner: str, add: Any) -> list[dict[str, Any]]:
    """v2 LP shares held by ``owner`` in pairs of the configured tokens, as their underlying tokens."""
    from contracts.protocols import abi

    if not p.uniswap.v2_factory:
        return []
    assets = [Asset("WETH", p.uniswap.weth, 18)] + [
        Asset(inert(t.symbol), t.address, t.decimals) for t in p.net.tokens.values() if t.address != p.uniswap.weth
    ]
    for i, a in enumerate(assets):
        for b in assets[i + 1 :]:
            pair = abi.read_one(p.rpc, p.uniswap.v2_factory, "getPair(address,address)(address)", a.address, b.address)
            if int(pair, 16) == 0:
                continue
            shares = erc20.balance_of(p.rpc, pair, owner)
            if not shares:
                continue
            supply = int(abi.read_one(p.rpc, pair, "totalSupply()(uint256)"))
            r0, r1, _ = abi.read(p.rpc, pair, "getReserves()(uint112,uint112,uint32)")
            first, second = (a, b) if int(a.address, 16) < int(b.address, 16) else (b, a)
            detail = f"Uniswap v2 {first.symbol}/{second.symbol} LP"
            add("liquidity", first, r0 * shares // supply, detail=detail)
            add("liquidity", second, r1 * shares // supply, detail=detail)
    return []


# -- pool (liquidity) ------------------------------------------------------------------------


def _pair_assets(p: Protocols, a_text: str, b_text: str) -> tuple[Asset, Asset]:
    a, b = p.asset(a_text), p.asset(b_text)
    if a.address == b.address:
        raise WalletError(f"{a.symbol}/{b.symbol} is no pair: pick two different assets")
    return a, b


def _deadline(p: Protocols, seconds: int = 1200) -> int:
    return int(p.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16) + seconds


def _less(amount: int, slippage: Decimal) -> int:
    return uniswap.min_received(amount, slippage)


def plan_pool_add(
    p: Protocols,
    owner: str,
    amount_text: str,
    a_text: str,
    b_text: str,
    *,
    version: str = "v2",
    fee: int = 3000,
    slippage: Decimal = DEFAULT_SLIPPAGE,
) -> tuple[list[Step], list[Approval], dict[str, Any]]:
    """Add AMOUNT of A and what the pool's price says of B, full range for v3."""
    from contracts.protocols import deploy, liquidity

    a, b = _pair_assets(p, a_text, b_text)
    amount_a = units(amount_text, a)
    deadline = _deadline(p)
    if version == "v2":
        router, factory = p.uniswap.v2_router, p.uniswap.v2_factory
        if not router or not factory:
            raise WalletError(f"no Uniswap v2 recorded on {p.net.name}")
        share = liquidity.v2_share(p.rpc, factory, a.address, b.address, owner)
        if share is None:
            raise WalletError(f"there is no Uniswap v2 {a.symbol}/{b.symbol} pair to add to")
        pair_total = abi_reserves(p, share.pair)
        r_a, r_b = pair_total if int(a.address, 16) < int(b.address, 16) else pair_total[::-1]
        if r_a == 0:
            raise WalletError(f"the {a.symbol}/{b.symbol} pair is empty: its first deposit sets the price")
        amount_b = amount_a * r_b // r_a
        spender = router
        data, value, function = liquidity.v2_add_call(
            router,
            a.address,
            b.address,
            amount_a,
            amount_b,
            _less(amount_a, slippage),
            _less(amount_b, slippage),
            owner,
            deadline,
            weth=p.uniswap.weth,
        )
        where = "Uniswap v2"
    else:
        positions_address = p.net.contracts.get("uniswap_v3_positions")
        if not positions_address or not p.uniswap.v3_factory:
            raise WalletError(f"no Uniswap v3 position manager recorded on {p.net.name}")
        pool = uniswap.pool_v3(p.rpc, p.uniswap.v3_factory, a.address, b.address, fee)
        if pool is None:
            raise WalletError(f"there is no Uniswap v3 {a.symbol}/{b.symbol} pool at the {Decimal(fee) / 10000}% fee")
        from contracts.protocols import abi

        sqrt_price = int(abi.read(p.rpc, pool, "slot0()(uint160,int24,uint16,uint16,uint16,uint8,bool)")[0])
        a_is_0 = int(a.address, 16) < int(b.address, 16)
        if a_is_0:
            amount_b = -(-amount_a * sqrt_price * sqrt_price // uniswap.Q192)
        else:
            amount_b = -(-amount_a * uniswap.Q192 // (sqrt_price * sqrt_price))
        amount_b += amount_b // 1000 + 1  # a little room: the A side sets the liquidity
        amount0, amount1 = (amount_a, amount_b) if a_is_0 else (amount_b, amount_a)
        token0, token1 = (a, b) if a_is_0 else (b, a)
        lower, upper = deploy.full_range(fee)
        value = amount_a if a.is_eth else amount_b if b.is_eth else 0
        data = liquidity.v3_mint_call(
            token0.address,
            token1.address,
            fee,
            lower,
            upper,
            amount0,
            amount1,
            _less(amount0, slippage) if token0 is a else 0,
            _less(amount1, slippage) if token1 is a else 0,
            owner,
            deadline,
            value,
        )
        spender, function = positions_address, "mint" if not value else "multicall(mint, refundETH)"
        where = f"Uniswap v3 {Decimal(fee) / 10000}% pool, full range"
    summary = f"add liquidity: {a.fmt(amount_a)} + up to {b.fmt(amount_b)} to {where}"
    args = {"add": a.fmt(amount_a), "and up to": b.fmt(amount_b), "pool": where, "to": owner}
    step = Step(spender, data, value, function, args, summary, SWAP_HEADROOM)
    approvals = [x for x in (_approval(p, a, owner, spender, amount_a), _approval(p, b, owner, spender, amount_b)) if x]
    info = {"version": version, "a": a.symbol, "b": b.symbol, "amount_a": str(amount_a), "amount_b_max": str(amount_b)}
    return [step], approvals, info


def abi_reserves(p: Protocols, pair: str) -> tuple[int, int]:
    from contracts.protocols import abi

    r0, r1, _ = abi.read(p.rpc, pair, "getReserves()(uint112,uint112,uint32)")
    return int(r0), int(r1)


def plan_pool_remove(
    p: Protocols,
    owner: str,
    a_text: str | None,
    b_text: str | None,
    *,
    percent: Decimal = Decimal(100),
    token_id: int | None = None,
    slippage: Decimal = DEFAULT_SLIPPAGE,
) -> tuple[list[Step], list[Approval], dict[str, Any]]:
    from contracts.protocols import liquidity

    deadline = _deadline(p)
    if token_id is not None:
        positions_address = p.net.contracts.get("uniswap_v3_positions")
        if not positions_address:
            raise WalletError(f"no Uniswap v3 position manager recorded on {p.net.name}")
        mine = {x.token_id: x for x in liquidity.v3_positions(p.rpc, positions_address, owner)}
        if token_id not in mine:
            raise WalletError(f"{owner} holds no Uniswap v3 position #{token_id} (see `hongbao pool list`)")
        pos = mine[token_id]
        t0, t1 = p.asset_at(pos.token0), p.asset_at(pos.token1)
        data = liquidity.v3_remove_call(
            pos, _less(pos.amount0, slippage), _less(pos.amount1, slippage), owner, deadline
        )
        summary = (
            f"remove liquidity: Uniswap v3 position #{token_id}: ~{t0.fmt(pos.amount0)} + ~{t1.fmt(pos.amount1)}, "
            f"fees {t0.fmt(pos.fees0)} + {t1.fmt(pos.fees1)}"
        )
        args = {"position": f"#{token_id}", "liquidity": "all", "collect to": owner}
        info = {"version": "v3", "token_id": token_id, "amount0": str(pos.amount0), "amount1": str(pos.amount1)}
        step = Step(positions_address, data, 0, "multicall(decreaseLiquidity, collect)", args, summary, SWAP_HEADROOM)
        return [step], [], info
    if a_text is None or b_text is None:
        raise WalletError("give the pair (`pool remove ETH TKN`) or a v3 position (`pool remove --id N`)")
    a, b = _pair_assets(p, a_text, b_text)
    if not p.uniswap.v2_factory or not p.uniswap.v2_router:
        raise WalletError(f"no Uniswap v2 recorded on {p.net.name}")
    share = liquidity.v2_share(p.rpc, p.uniswap.v2_factory, a.address, b.address, owner)
    if share is None or share.shares == 0:
        raise WalletError(f"{owner} holds no Uniswap v2 {a.symbol}/{b.symbol} shares")
    if not Decimal(0) < percent <= 100:
        raise WalletError(f"{percent}% is not a part of a position: give more than 0 and at most 100")
    shares = int(Decimal(share.shares) * percent / 100)
    out0, out1 = share.amount0 * shares // share.shares, share.amount1 * shares // share.shares
    data, function = liquidity.v2_remove_call(
        share, shares, _less(out0, slippage), _less(out1, slippage), owner, deadline, weth=p.uniswap.weth
    )
    t0, t1 = p.asset_at(share.token0), p.asset_at(share.token1)
    if p.uniswap.weth in (share.token0, share.token1):
        t0, t1 = [Asset("ETH", x.address, 18, True) if x.address == p.uniswap.weth else x for x in (t0, t1)]
    summary = f"remove liquidity: {percent}% of your Uniswap v2 {t0.symbol}/{t1.symbol} shares: ~{t0.fmt(out0)} + ~{t1.fmt(out1)}"
    lp = Asset("UNI-V2", share.pair, 18)
    args = {"shares": lp.fmt(shares), "pair": f"{t0.symbol}/{t1.symbol}", "to": owner}
    approval = _approval(p, lp, owner, p.uniswap.v2_router, shares)
    info = {"version": "v2", "pair": share.pair, "shares": str(shares), "amount0": str(out0), "amount1": str(out1)}
    step = Step(p.uniswap.v2_router, data, 0, function, args, summary, SWAP_HEADROOM)
    return [step], [approval] if approval else [], info


def pool_list(p: Protocols, owner: str) -> dict[str, Any]:
    from contracts.protocols import liquidity

    v2 = []
    if p.uniswap.v2_factory:
        assets = [Asset("WETH", p.uniswap.weth, 18)] + [
            Asset(inert(t.symbol), t.address, t.decimals) for t in p.net.tokens.values() if t.address != p.uniswap.weth
        ]
        for i, x in enumerate(assets):
            for y in assets[i + 1 :]:
                share = liquidity.v2_share(p.rpc, p.uniswap.v2_factory, x.address, y.address, owner)
                if share is None or share.shares == 0:
                    continue
                t0, t1 = p.asset_at(share.token0), p.asset_at(share.token1)
                v2.append(
                    {
                        "pair": share.pair,
                        "tokens": [t0.symbol, t1.symbol],
                        "shares": str(share.shares),
                        "share_of_pool": str((Decimal(share.shares) / share.total).quantize(Decimal("0.000001"))),
                        "amounts": [str(share.amount0), str(share.amount1)],
                        "amounts_formatted": [t0.fmt(share.amount0), t1.fmt(share.amount1)],
                    }
                )
    v3 = []
    positions_address = p.net.contracts.get("uniswap_v3_positions")
    if positions_address:
        for pos in liquidity.v3_positions(p.rpc, positions_address, owner):
            t0, t1 = p.asset_at(pos.token0), p.asset_at(pos.token1)
            v3.append(
                {
                    "id": pos.token_id,
                    "tokens": [t0.symbol, t1.symbol],
                    "fee": pos.fee,
                    "ticks": [pos.tick_lower, pos.tick_upper],
                    "liquidity": str(pos.liquidity),
                    "amounts": [str(pos.amount0), str(pos.amount1)],
                    "amounts_formatted": [t0.fmt(pos.amount0), t1.fmt(pos.amount1)],
                    "fees_owed": [str(pos.fees0), str(pos.fees1)],
                    "fees_owed_formatted": [t0.fmt(pos.fees0), t1.fmt(pos.fees1)],
                }
            )
    return {"owner": owner, "v2": v2, "v3": v3}


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
        hf = _hf(aave.account(p.rpc, p.market(), owner).health_factor)
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
