"""DeFi workflows shared by the CLI (and later the app): what they share (assets, steps,
approvals, the recorded protocols), swap, stake and positions; lending is in ``lending``,
Uniswap liquidity in ``liquidity``.

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
    "AAVE_HEADROOM",
    "DEFAULT_MARGIN",
    "DEFAULT_SLIPPAGE",
    "IMPACT_WARNING",
    "SWAP_HEADROOM",
    "Approval",
    "Asset",
    "Protocols",
    "Step",
    "SwapPermit",
    "SwapPlan",
    "approval_for",
    "asset_balance",
    "inert",
    "market_assets",
    "parse_slippage",
    "permit_offer",
    "permitted_step",
    "plan_stake",
    "plan_swap",
    "positions",
    "protocols",
    "stake_status",
    "swap_payout",
    "swap_received",
    "units",
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


def asset_balance(p: Protocols, asset: Asset, owner: str) -> int:
    if asset.is_eth:
        from wallet.rpc import to_int

        return to_int(p.rpc.call("eth_getBalance", owner, "pending"))
    return erc20.balance_of(p.rpc, asset.address, owner)


def approval_for(p: Protocols, asset: Asset, owner: str, spender: str, amount: int) -> Approval | None:
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
    recipient: str = ""
    permit: SwapPermit | None = None  # to sign instead of the approval (v3, a token with EIP-2612)

    def json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
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
            "permit": self.permit.json() if self.permit else None,
        }


@dataclass(frozen=True)
class SwapPermit:
    """An EIP-2612 permit for exactly the swap's input, to the v3 router, until the swap's
    deadline: signed after its own confirmation, sent in the swap's multicall."""

    asset: Asset
    spender: str
    value: int
    nonce: int
    deadline: int
    typed: dict[str, Any]

    def rows(self) -> list[list[str]]:
        """What is signed, for the preview."""
        import datetime

        until = datetime.datetime.fromtimestamp(self.deadline, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return [
            ["sign", f"EIP-2612 permit for {self.asset.symbol} ({self.asset.address})"],
            ["spender", f"{self.spender} (the Uniswap v3 router, in the same transaction as the swap)"],
            ["value", f"{self.asset.fmt(self.value)} (exactly the swap's input: no allowance is left)"],
            ["nonce", str(self.nonce)],
            ["deadline", f"{self.deadline} ({until}, the swap's own deadline)"],
        ]

    def json(self) -> dict[str, Any]:
        return {"spender": self.spender, "value": str(self.value), "nonce": self.nonce, "deadline": self.deadline}


def permit_offer(p: Protocols, asset: Asset, owner: str, spender: str, value: int, deadline: int) -> SwapPermit | None:
    """A permit to sign for ``asset``, or None when the token has no EIP-2612 permit we can
    sign correctly: no ``nonces``/``DOMAIN_SEPARATOR``, or a domain other than (its name,
    version "1", this chain, the token), which it would refuse."""
    from contracts import token as binding
    from wallet.rpc import RpcError

    if asset.is_eth:
        return None
    try:
        name = binding.name(p.rpc, asset.address)
        nonce = binding.nonces(p.rpc, asset.address, owner)
        separator = binding.domain_separator(p.rpc, asset.address)
    except (RpcError, ValueError):
        return None
    if separator != binding.expected_domain_separator(asset.address, p.net.chain_id, name):
        return None
    typed = binding.permit_typed_data(asset.address, p.net.chain_id, name, owner, spender, value, nonce, deadline)
    return SwapPermit(asset, spender, value, nonce, deadline, typed)


def permitted_step(p: Protocols, plan: SwapPlan, signature: bytes) -> Step:
    """The plan's swap with its signed permit first in the v3 router's multicall."""
    from contracts import token as binding

    if plan.permit is None:
        raise WalletError("this swap has no permit to sign")
    v, r, s_ = binding.split_signature(signature)
    permit = uniswap.self_permit_data(plan.sell.address, plan.permit.value, plan.permit.deadline, v, r, s_)
    to, data, value, function = uniswap.swap_call(
        p.uniswap,
        plan.quote,
        plan.sell.address,
        plan.buy.address,
        plan.min_out,
        plan.recipient,
        plan.deadline,
        eth_in=plan.sell.is_eth,
        eth_out=plan.buy.is_eth,
        permit=permit,
    )
    args = {**plan.step.args, "permit": f"{plan.sell.fmt(plan.permit.value)} to the router (signed, EIP-2612)"}
    return Step(to, data, value, function, args, plan.step.summary, plan.step.headroom)


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
    recipient: str | None = None,
    use_permit: bool = True,
) -> SwapPlan:
    """The swap of ``amount_text`` ``sell_text`` for ``buy_text``; its output goes to
    ``recipient`` (the router's ``to``), by default ``owner``."""
    to_whom = recipient or owner
    sell, buy = p.asset(sell_text), p.asset(buy_text)
    if sell.address == buy.address:
        raise WalletError(f"{sell.symbol} -> {buy.symbol} is no swap: pick two different assets")
    amount_in = units(amount_text, sell)
    held = asset_balance(p, sell, owner)
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
        p.uniswap, quote, sell.address, buy.address, min_out, to_whom, deadline, eth_in=sell.is_eth, eth_out=buy.is_eth
    )
    warnings = []
    if quote.impact > IMPACT_WARNING:
        warnings.append(
            f"PRICE IMPACT {_percent(quote.impact)}: this trade moves the pool's price; you get {buy.fmt(quote.amount_out)} where the pool's price says {buy.fmt(quote.mid_out)}. Consider a smaller amount."
        )
    summary = (
        f"swap: {sell.fmt(amount_in)} -> ~{buy.fmt(quote.amount_out)} via {quote.route}; "
        f"at least {buy.fmt(min_out)} ({_percent(slippage)} slippage), price impact {_percent(quote.impact)}"
        + ("" if to_whom == owner else f"; paid to {to_whom}")
    )
    args = {
        "sell": sell.fmt(amount_in),
        "buy at least": buy.fmt(min_out),
        "route": quote.route,
        "recipient": to_whom,
        "deadline": str(deadline),
    }
    approval = approval_for(p, sell, owner, to, amount_in)
    permit = None
    if approval is not None and quote.venue == "v3" and use_permit:
        permit = permit_offer(p, sell, owner, to, amount_in, deadline)
        approval = None if permit is not None else approval
    if approval is not None and quote.venue == "v2":
        summary += f"; Uniswap v2's router takes no permit, so {sell.fmt(amount_in)} is approved to it first"
    step = Step(to, data, value, function, args, summary, SWAP_HEADROOM)
    return SwapPlan(
        sell, buy, amount_in, quote, found, min_out, slippage, deadline, step, approval, warnings, to_whom, permit
    )


def swap_received(plan: SwapPlan, receipt: dict) -> int:
    """What the mined swap paid its recipient (ETH out: the WETH the router unwrapped for them)."""
    return uniswap.received(receipt, plan.buy.address, plan.recipient, eth_out=plan.buy.is_eth, weth=plan.buy.address)


def swap_payout(p: Protocols, tx_hash: str, receipt: dict) -> Any:
    """What a mined swap paid whom (a ``swap_proof.SwapPayout``), proven from the chain exactly
    as the recipient's client checks a notice for it, so the notice and the check agree."""
    from wallet import swap_proof

    tx = p.rpc.call("eth_getTransactionByHash", tx_hash)
    routers = swap_proof.Routers(p.uniswap.weth, p.uniswap.v2_router, p.uniswap.v3_router)
    return swap_proof.payout(tx, receipt, routers)


def market_assets(p: Protocols) -> list[Asset]:
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
        held = asset_balance(p, stake_asset, owner)
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
        return [step], approval_for(p, stake_asset, owner, where, amount), info
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
        for asset in market_assets(p):
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
        for asset in market_assets(p):
            mine = aave.user_reserve(p.rpc, m, asset.address, owner)
            if mine.supplied:
                add("aave supplied", asset, mine.supplied, detail="collateral" if mine.collateral else "")
            if mine.variable_debt:
                add("aave debt", asset, mine.variable_debt, sign=-1, detail="variable")
            if mine.stable_debt:  # Aave 3.0 still has stable-rate debt where a reserve enables it
                add("aave debt", asset, mine.stable_debt, sign=-1, detail="stable")
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
                vault.preview_redeem(p.rpc, vault_address, shares),  # what redeeming them pays
                detail=f"ERC-4626 vault {vault_address}",
            )
    positions_address = p.net.contracts.get("uniswap_v3_positions")
    if positions_address:
        from contracts.protocols import deploy, liquidity

        for pos in liquidity.v3_positions(p.rpc, positions_address, owner):
            t0, t1 = p.asset_at(pos.token0), p.asset_at(pos.token1)
            full = (
                (pos.tick_lower, pos.tick_upper) == deploy.full_range(pos.fee)
                if pos.fee in deploy.TICK_SPACING
                else False
            )
            where = "full range" if full else f"ticks {pos.tick_lower}..{pos.tick_upper}"
            detail = f"v3 #{pos.token_id} {Decimal(pos.fee) / 10000}% {where}"
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
    """v2 LP shares held by ``owner`` in pairs of the configured tokens, as the underlying
    tokens the pair's burn would pay (``liquidity.v2_share``, as `pool list` shows them)."""
    from contracts.protocols import liquidity

    if not p.uniswap.v2_factory:
        return []
    assets = [Asset("WETH", p.uniswap.weth, 18)] + [
        Asset(inert(t.symbol), t.address, t.decimals) for t in p.net.tokens.values() if t.address != p.uniswap.weth
    ]
    for i, a in enumerate(assets):
        for b in assets[i + 1 :]:
            share = liquidity.v2_share(p.rpc, p.uniswap.v2_factory, a.address, b.address, owner)
            if share is None or not share.shares:
                continue
            first, second = (a, b) if int(a.address, 16) < int(b.address, 16) else (b, a)
            detail = f"v2 {first.symbol}/{second.symbol} shares"
            add("liquidity", first, share.amount0, detail=detail)
            add("liquidity", second, share.amount1, detail=detail)
    return []
