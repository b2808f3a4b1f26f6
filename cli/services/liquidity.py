"""Uniswap liquidity: plans to add to a v2 pair or mint a full-range v3 position, to take
either out again, and the list of what an account holds (``contracts.protocols.liquidity``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.protocols import uniswap
from wallet.errors import WalletError

from .defi import (
    DEFAULT_SLIPPAGE,
    SWAP_HEADROOM,
    Approval,
    Asset,
    Protocols,
    Step,
    approval_for,
    inert,
    units,
)

__all__ = ["plan_pool_add", "plan_pool_remove", "pool_list"]


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
    approvals = [
        x for x in (approval_for(p, a, owner, spender, amount_a), approval_for(p, b, owner, spender, amount_b)) if x
    ]
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
    approval = approval_for(p, lp, owner, p.uniswap.v2_router, shares)
    info = {"version": "v2", "pair": share.pair, "shares": str(shares), "amount0": str(out0), "amount1": str(out1)}
    step = Step(p.uniswap.v2_router, data, 0, function, args, summary, SWAP_HEADROOM)
    return [step], [approval] if approval else [], info


def pool_list(p: Protocols, owner: str) -> dict[str, Any]:
    from contracts.protocols import deploy, liquidity

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
                    "full_range": pos.fee in deploy.TICK_SPACING
                    and (pos.tick_lower, pos.tick_upper) == deploy.full_range(pos.fee),
                    "liquidity": str(pos.liquidity),
                    "amounts": [str(pos.amount0), str(pos.amount1)],
                    "amounts_formatted": [t0.fmt(pos.amount0), t1.fmt(pos.amount1)],
                    "fees_owed": [str(pos.fees0), str(pos.fees1)],
                    "fees_owed_formatted": [t0.fmt(pos.fees0), t1.fmt(pos.fees1)],
                }
            )
    return {"owner": owner, "v2": v2, "v3": v3}
