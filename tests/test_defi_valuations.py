"""What `positions` and `pool list` say a v2 share is worth, against what the pair's own burn pays."""

from __future__ import annotations

from test_swap_notice import dev_send, manual_mining  # noqa: F401  (the fixture)

from contracts.protocols import abi, liquidity
from wallet import erc20
from wallet.localchain import DEV_ADDRESS

pytest_plugins = ("defi_fixtures",)
E18 = 10**18
CAROL = "0x" + "c0" * 20
BURN_TOPIC = "0xdccd412f0b1252819cb1fd330b93224ca42612892bb3f4f789976e6d81936496"  # Burn(sender, a0, a1, to)


def test_a_v2_share_is_what_the_burn_pays_with_the_protocol_fee_on(defi, manual_mining):  # noqa: F811
    rpc = manual_mining
    c, t = defi.contracts, defi.tokens
    factory, weth, tkn = c["uniswap_v2_factory"], t["WETH"], t["TKN"]
    assert int(abi.read_one(rpc, factory, "feeToSetter()(address)"), 16) == int(DEV_ADDRESS, 16)
    dev_send(rpc, factory, abi.data("setFeeTo(address)", CAROL))
    pair = liquidity.v2_share(rpc, factory, weth, tkn, DEV_ADDRESS).pair
    # a mint with the fee on records kLast; swaps then grow k: a burn mints Carol 1/6 of the growth first
    r0, r1, _ = abi.read(rpc, pair, "getReserves()(uint112,uint112,uint32)")
    weth_reserve, tkn_reserve = (r0, r1) if int(weth, 16) < int(tkn, 16) else (r1, r0)
    dev_send(rpc, weth, abi.data("deposit()"), E18)
    dev_send(rpc, weth, abi.data("transfer(address,uint256)", pair, E18))
    dev_send(rpc, tkn, abi.data("transfer(address,uint256)", pair, E18 * tkn_reserve // weth_reserve + 1))
    dev_send(rpc, pair, abi.data("mint(address)", DEV_ADDRESS))
    assert abi.read_one(rpc, pair, "kLast()(uint256)") > 0
    swap = "swapExactETHForTokens(uint256,address[],address,uint256)"
    dev_send(rpc, c["uniswap_v2_router"], abi.data(swap, 0, [weth, tkn], DEV_ADDRESS, 2**40), 5 * E18)

    share = liquidity.v2_share(rpc, factory, weth, tkn, DEV_ADDRESS)
    dev_send(rpc, pair, abi.data("transfer(address,uint256)", pair, share.shares))
    burned = dev_send(rpc, pair, abi.data("burn(address)", DEV_ADDRESS))
    (log,) = [g for g in rpc.call("eth_getTransactionReceipt", burned)["logs"] if g["topics"][0] == BURN_TOPIC]
    paid = int(log["data"][2:66], 16), int(log["data"][66:130], 16)
    assert paid == (share.amount0, share.amount1)
    assert erc20.balance_of(rpc, pair, CAROL) > 0  # the protocol fee was minted: the case was exercised
