"""Uniswap v2 and v3 over ``wallet.rpc.Rpc``: quotes from the protocol's own contracts, routes, swap calldata.

Quotes are what the contracts say: v2 ``Router02.getAmountsOut``, v3 ``QuoterV2.quoteExactInputSingle``
(a non-view function, run with eth_call). Price impact compares the quote with the pool's mid
price (v2 reserves, v3 ``slot0``) after the pool fee, so a fee is not counted as impact.

ETH is spoken of as WETH here; ``swap_call`` wraps ETH in (``value``) or unwraps it out as each
router does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wallet import address as addr
from wallet.errors import WalletError
from wallet.rpc import Rpc, is_revert

from . import abi

__all__ = [
    "FEE_TIERS",
    "V2_FEE_PPM",
    "Addresses",
    "Quote",
    "best",
    "min_received",
    "quote_v2",
    "quote_v3",
    "quotes",
    "received",
    "self_permit_data",
    "swap_call",
]

FEE_TIERS = (500, 3000, 10000)  # v3-core 1.0.1's factory enables these (hundredths of a bip)
V2_FEE_PPM = 3000
ZERO = "0x" + "00" * 20
Q192 = 2**192
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
WITHDRAWAL_TOPIC = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"  # WETH9 Withdrawal


@dataclass(frozen=True)
class Addresses:
    weth: str
    v2_factory: str | None = None
    v2_router: str | None = None
    v3_factory: str | None = None
    v3_router: str | None = None
    v3_quoter: str | None = None


@dataclass(frozen=True)
class Quote:
    venue: str  # "v2" | "v3"
    fee: int  # parts per million (v2: 3000)
    amount_in: int
    amount_out: int
    mid_out: int  # at the pool's mid price after its fee, before any impact
    gas_estimate: int = 0  # QuoterV2's estimate (v3 only)

    @property
    def route(self) -> str:
        return "Uniswap v2" if self.venue == "v2" else f"Uniswap v3 {Decimal(self.fee) / 10000}% pool"

    @property
    def impact(self) -> Decimal:
        """Price impact as a fraction (0.012 = 1.2%)."""
        if self.mid_out <= 0:
            return Decimal(1)
        return max(Decimal(0), 1 - Decimal(self.amount_out) / Decimal(self.mid_out))


def quote_v2(rpc: Rpc, where: Addresses, token_in: str, token_out: str, amount_in: int) -> Quote | None:
    """The v2 router's getAmountsOut for a direct pair; None when there is no pair or no liquidity."""
    if not where.v2_router or not where.v2_factory:
        return None
    pair = abi.read_one(rpc, where.v2_factory, "getPair(address,address)(address)", token_in, token_out)
    if int(pair, 16) == 0:
        return None
    reserve0, reserve1, _ = abi.read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
    in_is_0 = int(token_in, 16) < int(token_out, 16)
    reserve_in, reserve_out = (reserve0, reserve1) if in_is_0 else (reserve1, reserve0)
    if reserve_in == 0 or reserve_out == 0:
        return None
    try:
        amounts = abi.read_one(
            rpc, where.v2_router, "getAmountsOut(uint256,address[])(uint256[])", amount_in, [token_in, token_out]
        )
    except WalletError as error:
        if is_revert(error):
            return None
        raise
    mid = amount_in * reserve_out * (10**6 - V2_FEE_PPM) // (reserve_in * 10**6)
    return Quote("v2", V2_FEE_PPM, amount_in, int(amounts[-1]), mid)


def pool_v3(rpc: Rpc, factory: str, token_a: str, token_b: str, fee: int) -> str | None:
    pool = abi.read_one(rpc, factory, "getPool(address,address,uint24)(address)", token_a, token_b, fee)
    return None if int(pool, 16) == 0 else addr.parse(pool)


def quote_v3(rpc: Rpc, where: Addresses, token_in: str, token_out: str, amount_in: int, fee: int) -> Quote | None:
    """QuoterV2.quoteExactInputSingle in the ``fee`` pool; None when there is no such pool or it cannot fill."""
    if not where.v3_quoter or not where.v3_factory:
        return None
    pool = pool_v3(rpc, where.v3_factory, token_in, token_out, fee)
    if pool is None or abi.read_one(rpc, pool, "liquidity()(uint128)") == 0:
        return None
    sqrt_price = abi.read(rpc, pool, "slot0()(uint160,int24,uint16,uint16,uint16,uint8,bool)")[0]
    try:
        out, _, _, gas = abi.read(
            rpc,
            where.v3_quoter,
            "quoteExactInputSingle((address,address,uint256,uint24,uint160))(uint256,uint160,uint32,uint256)",
            (token_in, token_out, amount_in, fee, 0),
        )
    except WalletError as error:
        if is_revert(error):
            return None
        raise
    if int(token_in, 16) < int(token_out, 16):
        mid = amount_in * sqrt_price * sqrt_price // Q192
    else:
        mid = amount_in * Q192 // (sqrt_price * sqrt_price)
    mid = mid * (10**6 - fee) // 10**6
    return Quote("v3", fee, amount_in, int(out), mid, int(gas))


def quotes(rpc: Rpc, where: Addresses, token_in: str, token_out: str, amount_in: int, via: str = "best") -> list[Quote]:
    """Every venue's quote (v2, then each v3 fee tier), best first."""
    found: list[Quote] = []
    if via in ("v2", "best"):
        q = quote_v2(rpc, where, token_in, token_out, amount_in)
        if q is not None:
            found.append(q)
    if via in ("v3", "best"):
        for fee in FEE_TIERS:
            q = quote_v3(rpc, where, token_in, token_out, amount_in, fee)
            if q is not None:
                found.append(q)
    return sorted(found, key=lambda q: -q.amount_out)


def best(found: list[Quote]) -> Quote | None:
    return found[0] if found else None


def min_received(amount_out: int, slippage: Decimal) -> int:
    """The least the swap may pay out: the quote less ``slippage`` (a fraction), rounded down."""
    if not 0 <= slippage < 1:
        raise ValueError("slippage must be a fraction in [0, 1)")
    kept, whole = (1 - slippage).as_integer_ratio()  # exact: Decimal's 28 digits would round big amounts
    return amount_out * kept // whole


def swap_call(
    where: Addresses,
    quote: Quote,
    token_in: str,
    token_out: str,
    min_out: int,
    recipient: str,
    deadline: int,
    *,
    eth_in: bool = False,
    eth_out: bool = False,
    permit: bytes | None = None,
) -> tuple[str, bytes, int, str]:
    """(router, calldata, value, function name) swapping exactly ``quote.amount_in``.

    ``permit`` (v3 only: ``self_permit_data``) goes first in the router's multicall, so the
    permit and the swap are one transaction and no allowance is left behind (the swap
    spends exactly what the permit allows)."""
    amount = quote.amount_in
    value = amount if eth_in else 0
    path = [token_in, token_out]
    if quote.venue == "v2":
        if permit is not None:
            raise WalletError("Uniswap v2's router takes no permit for its input: approve it instead")
        if where.v2_router is None:
            raise WalletError("no Uniswap v2 router recorded")
        if eth_in:
            fn = "swapExactETHForTokens(uint256,address[],address,uint256)"
            return where.v2_router, abi.data(fn, min_out, path, recipient, deadline), value, "swapExactETHForTokens"
        name = "swapExactTokensForETH" if eth_out else "swapExactTokensForTokens"
        fn = f"{name}(uint256,uint256,address[],address,uint256)"
        return where.v2_router, abi.data(fn, amount, min_out, path, recipient, deadline), 0, name
    if where.v3_router is None:
        raise WalletError("no Uniswap v3 router recorded")
    single = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
    first = [permit] if permit is not None else []
    names = ["selfPermit"] if permit is not None else []
    if not eth_out:
        params = (token_in, token_out, quote.fee, recipient, deadline, amount, min_out, 0)
        if not first:
            return where.v3_router, abi.data(single, params), value, "exactInputSingle"
        calls = [*first, abi.data(single, params)]
        names.append("exactInputSingle")
    else:  # the router keeps the WETH, then unwraps at least min_out to the recipient
        params = (token_in, token_out, quote.fee, where.v3_router, deadline, amount, min_out, 0)
        calls = [*first, abi.data(single, params), abi.data("unwrapWETH9(uint256,address)", min_out, recipient)]
        names += ["exactInputSingle", "unwrapWETH9"]
    return where.v3_router, abi.data("multicall(bytes[])", calls), value, f"multicall({', '.join(names)})"


def self_permit_data(token: str, value: int, deadline: int, v: int, r: bytes, s: bytes) -> bytes:
    """SwapRouter's ``selfPermit``: the token's EIP-2612 permit from the caller to the router."""
    return abi.data("selfPermit(address,uint256,uint256,uint8,bytes32,bytes32)", token, value, deadline, v, r, s)


def received(receipt: dict[str, Any], token_out: str, recipient: str, *, eth_out: bool = False, weth: str = "") -> int:
    """What the swap in ``receipt`` paid ``recipient``: Transfer logs of ``token_out`` to them,
    or for ETH out, the WETH the router unwrapped (WETH9 Withdrawal logs)."""
    total = 0
    for log in receipt.get("logs", []):
        topics = [t.lower() for t in log.get("topics", [])]
        if not topics:
            continue
        where = addr.parse(log["address"])
        data = int(log.get("data") or "0x0", 16)
        if eth_out:
            if where == addr.parse(weth) and topics[0] == WITHDRAWAL_TOPIC:
                total += data
        elif (
            where == addr.parse(token_out)
            and topics[0] == TRANSFER_TOPIC
            and len(topics) == 3
            and int(topics[2], 16) == int(recipient, 16)
        ):
            total += data
    return total
