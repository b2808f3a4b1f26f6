"""Uniswap liquidity over ``wallet.rpc.Rpc``: v2 pair shares and v3 position NFTs (read, add, remove).

What a position holds is what the protocol would pay out: for v2 the share of the pair's
reserves, for v3 ``NonfungiblePositionManager.decreaseLiquidity`` and ``collect`` run with
eth_call as the owner (principal, then fees owed), so no tick maths of ours is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

from wallet import address as addr
from wallet.rpc import Rpc

from . import abi

__all__ = [
    "MAX_UINT128",
    "V2Share",
    "V3Position",
    "v2_add_call",
    "v2_remove_call",
    "v2_share",
    "v3_mint_call",
    "v3_positions",
    "v3_remove_call",
]

MAX_UINT128 = 2**128 - 1
MINT = "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))"
DECREASE = "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))"
COLLECT = "collect((uint256,address,uint128,uint128))"


@dataclass(frozen=True)
class V2Share:
    pair: str
    token0: str
    token1: str
    shares: int
    total: int
    amount0: int  # the owner's part, as the pair's burn would pay it now
    amount1: int


@dataclass(frozen=True)
class V3Position:
    token_id: int
    token0: str
    token1: str
    fee: int
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int  # principal, as decreaseLiquidity would pay it now
    amount1: int
    fees0: int  # owed, as collect would pay it now (after the principal is taken out: fees only)
    fees1: int


def v2_share(rpc: Rpc, factory: str, token_a: str, token_b: str, owner: str) -> V2Share | None:
    pair = abi.read_one(rpc, factory, "getPair(address,address)(address)", token_a, token_b)
    if int(pair, 16) == 0:
        return None
    pair = addr.parse(pair)
    shares = int(abi.read_one(rpc, pair, "balanceOf(address)(uint256)", owner))
    total = int(abi.read_one(rpc, pair, "totalSupply()(uint256)"))
    token0, token1 = sorted([addr.parse(token_a), addr.parse(token_b)], key=lambda a: int(a, 16))
    if total == 0:
        return V2Share(pair, token0, token1, shares, total, 0, 0)
    # as the pair's burn pays: its token balances (not reserves: tokens sent to the pair without
    # a sync are paid out too), over the supply after the protocol fee it would mint first
    balance0 = int(abi.read_one(rpc, token0, "balanceOf(address)(uint256)", pair))
    balance1 = int(abi.read_one(rpc, token1, "balanceOf(address)(uint256)", pair))
    total += _v2_protocol_fee(rpc, factory, pair, total)
    return V2Share(pair, token0, token1, shares, total, shares * balance0 // total, shares * balance1 // total)


def _v2_protocol_fee(rpc: Rpc, factory: str, pair: str, total: int) -> int:
    """The shares UniswapV2Pair._mintFee would mint to ``feeTo`` before a burn (0 when the fee is off)."""
    from math import isqrt

    if int(abi.read_one(rpc, factory, "feeTo()(address)"), 16) == 0:
        return 0
    k_last = int(abi.read_one(rpc, pair, "kLast()(uint256)"))
    r0, r1, _ = abi.read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
    root_k, root_k_last = isqrt(int(r0) * int(r1)), isqrt(k_last)
    if k_last == 0 or root_k <= root_k_last:
        return 0
    return total * (root_k - root_k_last) // (root_k * 5 + root_k_last)


def v2_add_call(
    router: str,
    token_a: str,
    token_b: str,
    amount_a: int,
    amount_b: int,
    min_a: int,
    min_b: int,
    to: str,
    deadline: int,
    *,
    weth: str,
) -> tuple[bytes, int, str]:
    """(calldata, value, function): ETH (as ``weth``) on either side goes through addLiquidityETH."""
    if addr.parse(token_b) == addr.parse(weth):
        token_a, token_b, amount_a, amount_b, min_a, min_b = token_b, token_a, amount_b, amount_a, min_b, min_a
    if addr.parse(token_a) == addr.parse(weth):
        fn = "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
        return abi.data(fn, token_b, amount_b, min_b, min_a, to, deadline), amount_a, "addLiquidityETH"
    fn = "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)"
    return abi.data(fn, token_a, token_b, amount_a, amount_b, min_a, min_b, to, deadline), 0, "addLiquidity"


def v2_remove_call(
    share: V2Share, shares: int, min0: int, min1: int, to: str, deadline: int, *, weth: str
) -> tuple[bytes, str]:
    """(calldata, function) burning ``shares`` of the pair; a WETH side comes out as ETH."""
    if weth in (share.token0, share.token1):
        token, token_min, eth_min = (share.token1, min1, min0) if share.token0 == weth else (share.token0, min0, min1)
        fn = "removeLiquidityETH(address,uint256,uint256,uint256,address,uint256)"
        return abi.data(fn, token, shares, token_min, eth_min, to, deadline), "removeLiquidityETH"
    fn = "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)"
    return abi.data(fn, share.token0, share.token1, shares, min0, min1, to, deadline), "removeLiquidity"


def v3_mint_call(
    token0: str,
    token1: str,
    fee: int,
    tick_lower: int,
    tick_upper: int,
    amount0: int,
    amount1: int,
    min0: int,
    min1: int,
    to: str,
    deadline: int,
    eth_value: int = 0,
) -> bytes:
    """Mint a position NFT; with ETH sent along, the unused ETH is refunded in the same multicall."""
    mint = abi.data(MINT, (token0, token1, fee, tick_lower, tick_upper, amount0, amount1, min0, min1, to, deadline))
    if not eth_value:
        return mint
    return abi.data("multicall(bytes[])", [mint, abi.data("refundETH()")])


def v3_positions(rpc: Rpc, positions: str, owner: str) -> list[V3Position]:
    """Every position NFT ``owner`` holds, with what it would pay out now."""
    count = int(abi.read_one(rpc, positions, "balanceOf(address)(uint256)", owner))
    found = []
    for index in range(count):
        token_id = int(abi.read_one(rpc, positions, "tokenOfOwnerByIndex(address,uint256)(uint256)", owner, index))
        p = abi.read(
            rpc,
            positions,
            "positions(uint256)(uint96,address,address,address,uint24,int24,int24,uint128,uint256,uint256,uint128,uint128)",
            token_id,
        )
        liquidity = int(p[7])
        amount0 = amount1 = 0
        if liquidity:
            amount0, amount1 = abi.read(
                rpc, positions, DECREASE + "(uint256,uint256)", (token_id, liquidity, 0, 0, 2**64), sender=owner
            )
        fees0, fees1 = abi.read(
            rpc, positions, COLLECT + "(uint256,uint256)", (token_id, owner, MAX_UINT128, MAX_UINT128), sender=owner
        )
        found.append(
            V3Position(
                token_id,
                addr.parse(p[2]),
                addr.parse(p[3]),
                int(p[4]),
                int(p[5]),
                int(p[6]),
                liquidity,
                int(amount0),
                int(amount1),
                int(fees0),
                int(fees1),
            )
        )
    return found


def v3_remove_call(position: V3Position, min0: int, min1: int, to: str, deadline: int) -> bytes:
    """Take all the liquidity out and collect principal and fees to ``to``, in one multicall."""
    calls = []
    if position.liquidity:
        calls.append(abi.data(DECREASE, (position.token_id, position.liquidity, min0, min1, deadline)))
    calls.append(abi.data(COLLECT, (position.token_id, to, MAX_UINT128, MAX_UINT128)))
    return abi.data("multicall(bytes[])", calls)
