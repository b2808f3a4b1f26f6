"""Uniswap, Aave and StakingRewards on a real anvil, driven through the real `hongbao` entry point.

What the commands say is checked against the protocols' own calls (getAmountsOut, QuoterV2,
getUserAccountData, earned) and balances against the chain, to the wei. The protocols are
deployed once per worker (tests/defi_fixtures.py) and loaded into each test's chain.
"""

from __future__ import annotations

import json
from decimal import Decimal

from conftest import quick_wallet
from test_transfers import point_local_at

from contracts.protocols import aave, abi, staking
from wallet import config, erc20
from wallet.localchain import DEV_ADDRESS
from wallet.rpc import to_int

pytest_plugins = ("defi_fixtures",)  # the `defi` and `defi_state` fixtures
E18 = 10**18
USD = 10**6
W = ("--wallet", "me", "--yes")


def eth(rpc, who: str, block: str = "latest") -> int:
    return to_int(rpc.call("eth_getBalance", who, block))


def fees(rpc, who: str, since_block: int) -> int:
    """What `who` paid in fees in the blocks after `since_block`."""
    total = 0
    for number in range(since_block + 1, to_int(rpc.call("eth_blockNumber")) + 1):
        block = rpc.call("eth_getBlockByNumber", hex(number), True)
        for tx in block["transactions"]:
            if tx["from"].lower() == who.lower():
                receipt = rpc.call("eth_getTransactionReceipt", tx["hash"])
                total += to_int(receipt["gasUsed"]) * to_int(receipt["effectiveGasPrice"])
    return total


def head(rpc) -> int:
    return to_int(rpc.call("eth_blockNumber"))


def market(defi_state, rpc) -> aave.Market:
    return aave.market(rpc, defi_state.contracts["aave_addresses_provider"])


def test_defi_deploy_records_every_protocol_once_and_contracts_add_takes_their_names(cli, hongbao_home, anvil):
    point_local_at(hongbao_home, anvil)
    out = cli.json("defi", "deploy")
    assert out["status"] == "deployed" and out["seconds"] < 5, out["seconds"]  # (~0.3 s here; the target is 5)
    net = config.load(hongbao_home).current("local")
    rpc = anvil.rpc()
    for key in ("weth", "uniswap_v2_router", "uniswap_v3_quoter", "aave_addresses_provider", "staking_rewards"):
        assert net.contracts[key] == out["contracts"][key]
        assert rpc.call("eth_getCode", net.contracts[key], "latest") != "0x"
    assert {"WETH", "USDX", "TKN"} <= set(net.tokens) and net.tokens["USDX"].decimals == 6
    again = cli.json("defi", "deploy")
    assert again["status"] == "existing" and again["contracts"] == out["contracts"]
    # on another network, the same names are recorded by hand
    router = out["contracts"]["uniswap_v2_router"]
    del_cfg = config.load(hongbao_home)
    del del_cfg.networks["local"].contracts["uniswap_v2_router"]
    config.save(hongbao_home, del_cfg)
    cli("contracts", "add", "uniswap_v2_router", router)
    assert config.load(hongbao_home).current("local").contracts["uniswap_v2_router"] == router


def test_quotes_are_the_protocols_own_and_the_best_route_wins(cli, hongbao_home, anvil, defi):
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    c, t = defi.contracts, defi.tokens
    for amount in ("0.5", "10"):
        q = cli.json("swap", amount, "ETH", "TKN", "--quote-only", "--wallet", "me")
        units = int(Decimal(amount) * E18)
        v2 = abi.read_one(
            rpc, c["uniswap_v2_router"], "getAmountsOut(uint256,address[])(uint256[])", units, [t["WETH"], t["TKN"]]
        )[-1]
        v3 = {
            fee: abi.read(
                rpc,
                c["uniswap_v3_quoter"],
                "quoteExactInputSingle((address,address,uint256,uint24,uint160))(uint256,uint160,uint32,uint256)",
                (t["WETH"], t["TKN"], units, fee, 0),
            )[0]
            for fee in (500, 3000)
        }
        shown = {r["route"]: int(r["amount_out"]) for r in q["quotes"]}
        assert shown == {
            "Uniswap v2": v2,
            "Uniswap v3 0.05% pool": v3[500],
            "Uniswap v3 0.3% pool": v3[3000],
        }
        assert int(q["quote"]) == max(shown.values())
        assert int(q["min_received"]) == int(Decimal(q["quote"]) * Decimal("0.995"))
    assert me


def test_swap_eth_for_tkn_pays_the_quote_to_the_wei_and_token_back_by_permit_or_exact_approval(
    cli, hongbao_home, anvil, defi
):
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    tkn, router, v3 = defi.tokens["TKN"], defi.contracts["uniswap_v2_router"], defi.contracts["uniswap_v3_router"]
    quote = cli.json("swap", "1", "ETH", "TKN", "--via", "v2", "--quote-only", "--wallet", "me")
    start, block = eth(rpc, me), head(rpc)
    out = cli.json("swap", "1", "ETH", "TKN", "--via", "v2", *W)
    assert int(out["received"]) == int(quote["quote"]) == erc20.balance_of(rpc, tkn, me)
    assert eth(rpc, me) == start - E18 - fees(rpc, me, block)
    assert out["approve"] is None and out["permit"] is None  # ETH needs neither

    # back to ETH through v3: TKN has EIP-2612, so a permit for exactly 100 TKN rides in the
    # swap's own transaction (one transaction, no approval, no allowance left)
    quote = cli.json("swap", "100", "TKN", "ETH", "--via", "v3", "--quote-only", "--wallet", "me")
    assert quote["permit"]["value"] == str(100 * E18) and quote["permit"]["spender"] == v3
    start, block, held = eth(rpc, me), head(rpc), erc20.balance_of(rpc, tkn, me)
    nonce = to_int(rpc.call("eth_getTransactionCount", me, "latest"))
    out = cli.json("swap", "100", "TKN", "ETH", "--via", "v3", *W)
    assert out["approve"] is None and out["swap"]["call"]["function"] == (
        "multicall(selfPermit, exactInputSingle, unwrapWETH9)"
    )
    assert to_int(rpc.call("eth_getTransactionCount", me, "latest")) == nonce + 1
    assert erc20.allowance(rpc, tkn, me, v3) == 0
    assert abi.read_one(rpc, tkn, "nonces(address)(uint256)", me) == 1  # the permit was used
    assert int(out["received"]) == int(quote["quote"])
    assert eth(rpc, me) == start + int(quote["quote"]) - fees(rpc, me, block)
    assert erc20.balance_of(rpc, tkn, me) == held - 100 * E18

    # v2's router takes no permit: exactly 50 TKN are approved first, and all spent
    result = cli("swap", "50", "TKN", "ETH", "--via", "v2", "--wallet", "me", "--yes")
    assert "takes no permit" in " ".join(result.stderr.split())
    assert erc20.allowance(rpc, tkn, me, router) == 0
    assert erc20.balance_of(rpc, tkn, me) == held - 150 * E18


def test_a_swap_that_moves_the_price_over_5_percent_warns_loudly(cli, hongbao_home, anvil, defi):
    defi.person(cli, hongbao_home, anvil, eth="40")
    result = cli("swap", "30", "ETH", "TKN", *W)
    assert "PRICE IMPACT" in result.stderr
    assert "PRICE IMPACT" not in cli("swap", "0.1", "ETH", "TKN", "--quote-only", "--wallet", "me").stderr


def test_health_factors_are_aaves_and_a_borrow_below_the_margin_is_refused_with_the_number(
    cli, hongbao_home, anvil, defi
):
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    m = market(defi, rpc)
    cli.json("lend", "supply", "ETH", "5", *W)
    # $15,000 of WETH at an 82.5% threshold: borrowing $11,000 would leave 1.125 < 1.2
    error = cli("lend", "borrow", "USDX", "11000", *W, check=False)
    assert error.returncode == 1 and "1.1250" in error.stderr and "1.2" in error.stderr
    assert aave.account(rpc, m, me).debt == 0
    # planned 1.2375; what Aave says after the borrow is what `lend` and `lend status` say
    out = cli.json("lend", "borrow", "USDX", "10000", *W)
    acct = aave.account(rpc, m, me)
    assert out["health_factor_after"] == "1.2375"
    assert Decimal(out["health_factor"]) == (Decimal(acct.health_factor) / E18).quantize(Decimal("0.0001"))
    status = cli.json("lend", "status", "--wallet", "me")
    assert status["health_factor_raw"] == str(aave.account(rpc, m, me).health_factor)
    assert Decimal(status["liquidation_price_usd"]["WETH"]) == Decimal("2424.24")
    usdx = next(r for r in status["reserves"] if r["asset"] == "USDX")
    rates = aave.reserve(rpc, m, defi.tokens["USDX"])
    assert Decimal(usdx["borrow_apy"]) == aave.apy(rates.variable_borrow_rate).quantize(Decimal("0.000001")) > 0
    # --margin is the user's: 1.1 lets the next borrow through, --force goes under 1.2 but never under 1.0
    assert cli("lend", "borrow", "USDX", "500", "--margin", "1.1", *W).returncode == 0
    refused = cli("lend", "withdraw", "ETH", "2", "--force", *W, check=False)
    assert refused.returncode == 1 and "Aave refuses below 1.0" in refused.stderr


def test_stake_earned_is_the_contracts_and_claim_pays_it(cli, hongbao_home, anvil, defi):
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    farm, usdx, tkn = defi.contracts["staking_rewards"], defi.tokens["USDX"], defi.tokens["TKN"]
    cli.json("swap", "1", "ETH", "TKN", *W)
    cli.json("stake", "deposit", "1000", *W)
    assert staking.staked(rpc, farm, me) == 1000 * E18
    expected = _a_day_later(rpc, farm, me)
    status = cli.json("stake", "status", "--wallet", "me")
    assert int(status["earned"]) == staking.earned(rpc, farm, me) > 0
    cli.json("stake", "claim", *W)
    assert erc20.balance_of(rpc, usdx, me) == expected
    assert erc20.balance_of(rpc, tkn, me) > 0


def _a_day_later(rpc, farm: str, who: str) -> int:
    """Move the clock on a day; the next block comes 1 s after the latest; what `who` will have
    earned in it (the contract's `earned`)."""
    rpc.call("evm_increaseTime", 86400)
    rpc.call("evm_mine")
    when = to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"]) + 1
    expected = _earned_at(rpc, farm, who, when)
    rpc.call("evm_setNextBlockTimestamp", when)
    return expected


def _earned_at(rpc, farm: str, who: str, timestamp: int) -> int:
    """The contract's `earned(who)` in a block at `timestamp` (mined, read, then undone)."""
    snapshot = rpc.call("evm_snapshot")
    rpc.call("evm_mine", timestamp)
    value = staking.earned(rpc, farm, who)
    assert rpc.call("evm_revert", snapshot) is True
    return value


def test_swap_lend_stake_end_to_end_balances_to_the_wei(cli, hongbao_home, anvil, defi):
    """swap, supply, borrow, repay, withdraw, stake, claim and exit; every balance to the wei."""
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    m = market(defi, rpc)
    t = defi.tokens
    farm = defi.contracts["staking_rewards"]
    weth_reserve = aave.reserve(rpc, m, t["WETH"])
    start, block = eth(rpc, me), head(rpc)

    def balances() -> tuple[int, int]:
        return erc20.balance_of(rpc, t["TKN"], me), erc20.balance_of(rpc, t["USDX"], me)

    # swap 2 ETH for TKN at the quoted amount
    quote = int(cli.json("swap", "2", "ETH", "TKN", "--quote-only", "--wallet", "me")["quote"])
    cli.json("swap", "2", "ETH", "TKN", *W)
    assert balances() == (quote, 0)
    # supply 5 ETH (wrapped), borrow 4,000 USDX
    cli.json("lend", "supply", "ETH", "5", *W)
    assert erc20.balance_of(rpc, weth_reserve.a_token, me) == 5 * E18
    cli.json("lend", "borrow", "USDX", "4000", *W)
    assert balances() == (quote, 4000 * USD)
    assert aave.account(rpc, m, me).debt == 4000 * 10**8
    # repay 1,000, then swap for a little USDX to cover interest and repay the rest (`max`)
    cli.json("lend", "repay", "USDX", "1000", *W)
    assert balances() == (quote, 3000 * USD)
    usdx_quote = int(cli.json("swap", "0.01", "ETH", "USDX", "--quote-only", "--wallet", "me")["quote"])
    cli.json("swap", "0.01", "ETH", "USDX", *W)
    assert balances() == (quote, 3000 * USD + usdx_quote)
    owed = aave.user_reserve(rpc, m, t["USDX"], me).variable_debt
    mined = head(rpc)
    repaid = cli.json("lend", "repay", "USDX", "max", *W)
    debt_paid = _pulled(rpc, repaid["transactions"][-1]["hash"], t["USDX"], me)
    assert owed <= debt_paid <= owed + owed // 10**5
    assert balances() == (quote, 3000 * USD + usdx_quote - debt_paid)
    assert aave.user_reserve(rpc, m, t["USDX"], me).variable_debt == 0
    assert aave.account(rpc, m, me).debt == 0 and mined < head(rpc)
    # an hour later, withdraw everything: the aWETH (5 ETH plus interest) comes back as ETH
    rpc.call("evm_increaseTime", 3600)
    rpc.call("evm_mine")
    a_weth = erc20.balance_of(rpc, weth_reserve.a_token, me)
    cli.json("lend", "withdraw", "ETH", "max", *W)
    assert erc20.balance_of(rpc, weth_reserve.a_token, me) == 0
    assert a_weth > 5 * E18  # WETH earns interest: the market has borrowers
    assert erc20.balance_of(rpc, t["WETH"], me) >= 0  # what accrued after the plan read it stays WETH
    # stake 1,000 TKN, claim after a day, exit after another
    cli.json("stake", "deposit", "1000", *W)
    assert balances()[0] == quote - 1000 * E18
    usdx_before = balances()[1]
    first = _a_day_later(rpc, farm, me)
    cli.json("stake", "claim", *W)
    assert balances() == (quote - 1000 * E18, usdx_before + first)
    second = _a_day_later(rpc, farm, me)
    cli.json("stake", "exit", *W)
    assert balances() == (quote, usdx_before + first + second)
    assert staking.staked(rpc, farm, me) == 0 and staking.earned(rpc, farm, me) == 0
    # ETH: what went out (2 + 5 + 0.01), what came back (the withdrawn aWETH less what stayed WETH), fees
    assert eth(rpc, me) == start - 2 * E18 - 5 * E18 - E18 // 100 + (a_weth_out := _withdrawn(rpc, me)) - fees(
        rpc, me, block
    )
    assert a_weth_out == a_weth  # unwrapped: what the plan read
    positions = cli.json("positions", "--wallet", "me")
    kinds = {r["kind"] for r in positions["positions"]}
    assert kinds == {"wallet"}


def _pulled(rpc, tx_hash: str, token: str, sender: str) -> int:
    """The `token` moved out of `sender` in the transaction (Transfer logs)."""
    receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
    topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    return sum(
        int(log["data"], 16)
        for log in receipt["logs"]
        if log["address"].lower() == token.lower()
        and log["topics"][0] == topic
        and int(log["topics"][1], 16) == int(sender, 16)
    )


def _withdrawn(rpc, who: str) -> int:
    """ETH unwrapped for `who` by WETH.withdraw calls they sent (Withdrawal logs)."""
    topic = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"
    logs = rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]})
    return sum(int(log["data"], 16) for log in logs if int(log["topics"][1], 16) == int(who, 16))


def test_positions_value_everything_at_the_oracles_prices(cli, hongbao_home, anvil, defi):
    from contracts import vault
    from contracts.artifacts import load
    from contracts.protocols.deploy import Deployer
    from wallet import localchain

    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    d = Deployer(rpc, localchain.DEV_ADDRESS)  # a TestVault over TKN, recorded as `contracts deploy` does
    where = d.create(load("TestVault"), defi.tokens["TKN"], "V", "vTKN")
    d.finish()
    cfg = config.load(hongbao_home)
    cfg.networks["local"].contracts["vault"] = where
    config.save(hongbao_home, cfg)
    cli.json("lend", "supply", "ETH", "2", *W)
    cli.json("lend", "borrow", "USDX", "1500", *W)
    cli.json("swap", "0.1", "ETH", "TKN", *W)
    cli.json("vault", "deposit", "10", "--approve", *W)
    out = cli.json("positions", "--wallet", "me")
    rows = {(r["kind"], r["asset"]): r for r in out["positions"]}
    supplied = rows[("aave supplied", "WETH")]  # 2 WETH and the interest since (at $3,000, the oracle's price)
    assert 2 * E18 <= int(supplied["amount"]) < 2 * E18 + E18 // 1000
    assert Decimal(supplied["value_usd"]) == Decimal(int(supplied["amount"]) * 3000 * 10**8 // E18) / 10**8
    assert supplied["value_eth"] == str((Decimal(supplied["value_usd"]) / 3000).quantize(Decimal("0.000001")))
    assert 1500 * USD <= -int(rows[("aave debt", "USDX")]["amount"]) < 1500 * USD + USD // 100  # + interest
    assert rows[("wallet", "USDX")]["value_usd"] == "1500"
    assert rows[("vault", "TKN")]["amount"] == str(
        vault.preview_redeem(rpc, where, vault.balance_of(rpc, where, me))  # what redeeming pays
    )
    assert rows[("vault", "TKN")]["value_usd"] == "20"
    assert Decimal(out["total_usd"]) == sum(Decimal(r["value_usd"]) for r in out["positions"])
    assert json.dumps(out) and me


def test_without_recorded_protocols_the_commands_say_what_to_run(cli, hongbao_home, anvil):
    point_local_at(hongbao_home, anvil)
    quick_wallet(hongbao_home, name="me")
    result = cli("swap", "1", "ETH", "TKN", *W, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no DeFi protocols recorded on local: run `hongbao defi deploy` (local chain), or record them with `hongbao contracts add NAME ADDRESS`"
    ]


def test_a_swap_over_the_balance_is_refused_before_anything_but_can_be_quoted(cli, hongbao_home, anvil, defi):
    defi.person(cli, hongbao_home, anvil, eth="1")
    refused = cli("swap", "2", "ETH", "TKN", *W, check=False)
    assert refused.returncode == 1 and "insufficient ETH: swapping 2 ETH, have 1 ETH" in refused.stderr
    assert int(cli.json("swap", "2", "ETH", "TKN", "--quote-only", "--wallet", "me")["quote"]) > 0


def test_pool_add_list_remove_on_v2_and_v3_pays_what_the_protocol_says(cli, hongbao_home, anvil, defi):
    from contracts.protocols import liquidity

    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    c, t = defi.contracts, defi.tokens
    cli.json("swap", "3", "ETH", "TKN", *W)
    # v2: 1 ETH and the pair's price of TKN; shares are the pair's, each side worth what the reserves say
    added = cli.json("pool", "add", "1", "ETH", "TKN", *W)
    share = liquidity.v2_share(rpc, c["uniswap_v2_factory"], t["WETH"], t["TKN"], me)
    assert share is not None and share.shares > 0
    assert erc20.allowance(rpc, t["TKN"], me, c["uniswap_v2_router"]) == 0  # exactly what was taken
    listed = cli.json("pool", "list", "--wallet", "me")
    assert listed["v2"][0]["shares"] == str(share.shares)
    assert listed["v2"][0]["amounts"] == [str(share.amount0), str(share.amount1)]
    # v3: a full-range position NFT in the 0.05% pool; what it holds is what decreaseLiquidity would pay
    cli.json("pool", "add", "0.5", "ETH", "TKN", "--v3", "--fee", "500", *W)
    (pos,) = liquidity.v3_positions(rpc, c["uniswap_v3_positions"], me)
    assert pos.fee == 500 and pos.liquidity > 0 and (pos.tick_lower, pos.tick_upper) == (-887270, 887270)
    weth_side = pos.amount0 if pos.token0 == t["WETH"] else pos.amount1
    assert 5 * E18 // 10 - 10 <= weth_side <= 5 * E18 // 10  # (rounded down by the pool)
    # someone else trades through the pool: the position earns fees
    assert cli.json("swap", "0.01", "ETH", "TKN", "--via", "v3", *W)["route"] == "Uniswap v3 0.05% pool"
    listed = cli.json("pool", "list", "--wallet", "me")
    assert listed["v3"][0]["id"] == pos.token_id and any(int(f) > 0 for f in listed["v3"][0]["fees_owed"])
    # 7 TKN sent to the v2 pair with no sync: its burn pays them out pro rata (balances, not
    # reserves), and positions and `pool remove` both count them
    pair = liquidity.v2_share(rpc, c["uniswap_v2_factory"], t["WETH"], t["TKN"], me).pair
    gift = {"from": DEV_ADDRESS, "to": t["TKN"], "data": "0x" + erc20.transfer_data(pair, 7 * E18).hex()}
    rpc.call("eth_sendTransaction", gift)
    rpc.call("evm_mine")  # returns once a block exists: the transfer is mined
    share = liquidity.v2_share(rpc, c["uniswap_v2_factory"], t["WETH"], t["TKN"], me)
    rows = cli.json("positions", "--wallet", "me")["positions"]
    held = {(r["kind"], r["asset"]) for r in rows}
    assert ("liquidity", "WETH") in held and ("fees owed", "TKN") in held
    v2 = {r["asset"]: int(r["amount"]) for r in rows if r["detail"].startswith("v2 ")}
    tkn_side = share.amount1 if share.token0 == t["WETH"] else share.amount0
    r0, r1, _ = abi.read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
    reserve = r1 if share.token0 == t["WETH"] else r0
    assert v2["TKN"] == tkn_side > share.shares * reserve // share.total  # the gift's part counted
    # out again: v3 pays principal and fees in WETH and TKN; v2 burns every share for ETH and TKN
    (pos,) = liquidity.v3_positions(rpc, c["uniswap_v3_positions"], me)
    tkn_before, weth_before = erc20.balance_of(rpc, t["TKN"], me), erc20.balance_of(rpc, t["WETH"], me)
    cli.json("pool", "remove", "--id", str(pos.token_id), *W)
    tkn_out = pos.amount1 + pos.fees1 if pos.token1 == t["TKN"] else pos.amount0 + pos.fees0
    weth_out = pos.amount0 + pos.fees0 if pos.token0 == t["WETH"] else pos.amount1 + pos.fees1
    assert erc20.balance_of(rpc, t["TKN"], me) == tkn_before + tkn_out
    assert erc20.balance_of(rpc, t["WETH"], me) == weth_before + weth_out
    share = liquidity.v2_share(rpc, c["uniswap_v2_factory"], t["WETH"], t["TKN"], me)
    start, block, tkn_before = eth(rpc, me), head(rpc), erc20.balance_of(rpc, t["TKN"], me)
    cli.json("pool", "remove", "ETH", "TKN", *W)
    tkn_side, eth_side = (share.amount1, share.amount0) if share.token0 == t["WETH"] else (share.amount0, share.amount1)
    assert erc20.balance_of(rpc, t["TKN"], me) == tkn_before + tkn_side
    assert eth(rpc, me) == start + eth_side - fees(rpc, me, block)
    assert liquidity.v2_share(rpc, c["uniswap_v2_factory"], t["WETH"], t["TKN"], me).shares == 0
    assert added["version"] == "v2"


def test_borrowing_and_repaying_eth_wraps_and_unwraps(cli, hongbao_home, anvil, defi):
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    m = market(defi, rpc)
    cli.json("swap", "1", "ETH", "USDX", *W)
    cli.json("lend", "supply", "USDX", "2000", *W)
    start, block = eth(rpc, me), head(rpc)
    cli.json("lend", "borrow", "ETH", "0.2", *W)  # WETH from the pool, unwrapped
    assert eth(rpc, me) == start + 2 * E18 // 10 - fees(rpc, me, block)
    assert erc20.balance_of(rpc, defi.tokens["WETH"], me) == 0
    debt = aave.user_reserve(rpc, m, defi.tokens["WETH"], me).variable_debt
    assert debt >= 2 * E18 // 10
    wrapped = int(cli.json("lend", "repay", "ETH", "max", *W)["amount"])  # the debt + 1/100,000 for interest
    assert aave.user_reserve(rpc, m, defi.tokens["WETH"], me).variable_debt == 0
    # what is left is the margin less the interest of the seconds between the plan and its block
    assert debt + debt // 10**5 <= wrapped <= debt + debt // 10**4
    assert erc20.balance_of(rpc, defi.tokens["WETH"], me) <= wrapped - debt


def test_a_falling_health_factor_is_told_once_until_it_recovers(cli, hongbao_home, anvil, defi):
    """The oracle's ETH price drops (the MockAggregator's answer, slot 0, rewritten): the watch
    tells once; after the price comes back and falls again, it tells again."""
    from cli.defi_news import DefiNews
    from cli.services import defi as services
    from cli.services import lending

    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    cli.json("lend", "supply", "ETH", "5", *W)
    cli.json("lend", "borrow", "USDX", "10000", *W)  # health factor 1.2375 at $3,000
    net = config.load(hongbao_home).current("local")
    p = services.protocols(net, rpc)
    m = market(defi, rpc)
    feed = abi.read_one(rpc, m.oracle, "getSourceOfAsset(address)(address)", defi.tokens["WETH"])

    def eth_price(usd: int) -> None:
        rpc.call("anvil_setStorageAt", feed, "0x0", "0x" + (usd * 10**8).to_bytes(32, "big").hex())

    watch = lending.HealthWatch(Decimal("1.2"))
    news = DefiNews(me, None)  # what `chat watch` polls, with HONGBAO_HF_MARGIN unset: 1.2
    assert watch.poll(p, me) is None and news.poll() == []
    eth_price(2800)  # 5 x 2800 x 0.825 / 10000 = 1.155
    assert [e["kind"] for e in news.poll()] == ["health"] and news.poll() == []
    event = watch.poll(p, me)
    assert event is not None and event["health_factor"] == "1.1550"
    assert Decimal(event["health_factor"]) == (Decimal(aave.account(rpc, m, me).health_factor) / E18).quantize(
        Decimal("0.0001")
    )
    assert watch.poll(p, me) is None  # told once
    eth_price(3000)
    assert watch.poll(p, me) is None
    eth_price(2000)  # 0.825: liquidation territory
    again = watch.poll(p, me)
    assert again is not None and "may liquidate" in again["text"]


def test_mistakes_get_one_line_saying_what_to_do(cli, hongbao_home, anvil, defi):
    defi.person(cli, hongbao_home, anvil)
    pair = abi.read_one(  # an ERC-20 (the pair's LP token) that Aave does not list
        anvil.rpc(),
        defi.contracts["uniswap_v2_factory"],
        "getPair(address,address)(address)",
        defi.tokens["WETH"],
        defi.tokens["TKN"],
    )
    cases = {
        ("swap", "1", "ETH", "DOGE"): "DOGE",
        ("swap", "lots", "ETH", "TKN"): "amount",
        ("swap", "1", "ETH", "ETH"): "no swap",
        ("swap", "1", "ETH", "TKN", "--slippage", "60%"): "below 50%",
        ("lend", "withdraw", "USDX", "max"): "nothing to withdraw",
        ("lend", "repay", "USDX", "1"): "nothing to repay",
        ("lend", "borrow", "USDX", "1", "--margin", "0.9"): "below 1.0",
        ("stake", "claim"): "nothing to claim",
        ("pool", "remove", "ETH", "TKN"): "holds no Uniswap v2 ETH/TKN shares",
        ("lend", "supply", pair, "1"): "UNI-V2 is not listed on this Aave market",
        ("pool", "remove"): "give the pair",
    }
    for args, words in cases.items():
        result = cli(*args, *W, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert words in lines[0], (args, lines[0])
