"""Notices for a swap's output (wallet/swap_proof.py): hostile ones refused, checked in-process
against real mined transactions on anvil with the protocols loaded (tests/defi_fixtures.py);
and which tokens get a permit for a swap. The end-to-end `swap --to bob --notify` through a
real relay is in tests/test_payment_notice.py (its module's relay)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.protocols import abi
from wallet import abi as wallet_abi
from wallet import address as addr
from wallet import erc20, payments, swap_proof
from wallet.localchain import DEV_ADDRESS
from wallet.rpc import to_int

pytest_plugins = ("defi_fixtures",)
E18 = 10**18
CAROL = "0x" + "c0" * 20
V2_ETH_IN = "swapExactETHForTokens(uint256,address[],address,uint256)"


def routers(defi) -> swap_proof.Routers:
    return swap_proof.Routers.from_contracts(defi.contracts)


def dev_send(rpc, to: str, data: bytes, value: int = 0) -> str:
    """A transaction from anvil's unlocked dev account (gas given: a revert still mines),
    mined by `evm_mine`, which returns once the block exists (see `manual_mining`)."""
    call = {"from": DEV_ADDRESS, "to": to, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(400_000)}
    tx_hash = rpc.call("eth_sendTransaction", call)
    rpc.call("evm_mine")
    return tx_hash


@pytest.fixture
def manual_mining(anvil):
    """Automine off for this test (a send returns before its block exists), on again after."""
    rpc = anvil.rpc()
    rpc.call("evm_setAutomine", False)
    try:
        yield rpc
    finally:
        rpc.call("evm_setAutomine", True)
        rpc.close()


def verdict(rpc, tx_hash: str, to: str, amount: int, token: str | None, defi, payer: str = DEV_ADDRESS):
    return payments.verify(rpc, tx_hash, to, amount, token, payer=payer, routers=routers(defi))


def test_hostile_swap_notices_are_refused(defi, manual_mining):
    """A swap to a third party, a reverted swap, a sweep of someone's tokens left in the
    router, and stray WETH in the router counted as the sender's payment."""
    rpc = manual_mining
    c, t = defi.contracts, defi.tokens
    v2, v3, weth, tkn = c["uniswap_v2_router"], c["uniswap_v3_router"], t["WETH"], t["TKN"]
    deadline = 2**40
    bob = "0x" + "b0" * 20

    to_carol = dev_send(rpc, v2, abi.data(V2_ETH_IN, 0, [weth, tkn], CAROL, deadline), E18 // 10)
    paid = erc20.balance_of(rpc, tkn, CAROL)
    assert verdict(rpc, to_carol, CAROL, paid, tkn, defi).ok
    third = verdict(rpc, to_carol, bob, paid, tkn, defi)
    assert not third.ok and "not to you" in third.reason

    failed = dev_send(rpc, v2, abi.data(V2_ETH_IN, 10**30, [weth, tkn], bob, deadline), E18 // 10)
    assert to_int(rpc.call("eth_getTransactionReceipt", failed)["status"]) == 0
    assert "failed" in verdict(rpc, failed, bob, 0, tkn, defi).reason

    # someone's TKN left in the v3 router; the dev sweeps it to Bob: not a swap payout
    dev_send(rpc, tkn, abi.data("transfer(address,uint256)", v3, 5 * E18))
    sweep = dev_send(rpc, v3, abi.data("sweepToken(address,uint256,address)", tkn, 0, bob))
    assert erc20.balance_of(rpc, tkn, bob) == 5 * E18
    swept = verdict(rpc, sweep, bob, 5 * E18, tkn, defi)
    assert not swept.ok and "not a swap payout" in swept.reason

    # WETH left in the v3 router, then a TKN -> ETH swap unwrapping to Bob: only the swap's
    # own WETH counts as paid by the sender, not what the router held before
    dev_send(rpc, weth, abi.data("deposit()"), E18)
    dev_send(rpc, weth, abi.data("transfer(address,uint256)", v3, E18))
    dev_send(rpc, tkn, abi.data("approve(address,uint256)", v3, 100 * E18))
    single = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
    calls = [
        abi.data(single, (tkn, weth, 3000, v3, deadline, 100 * E18, 0, 0)),
        abi.data("unwrapWETH9(uint256,address)", 0, bob),
    ]
    before = to_int(rpc.call("eth_getBalance", bob, "latest"))
    swap = dev_send(rpc, v3, abi.data("multicall(bytes[])", calls))
    got = to_int(rpc.call("eth_getBalance", bob, "latest")) - before
    assert got > E18  # the stray WETH went to Bob too...
    out = swap_proof.payout(
        rpc.call("eth_getTransactionByHash", swap), rpc.call("eth_getTransactionReceipt", swap), routers(defi)
    )
    assert out.recipient == addr.parse(bob) and out.token is None and out.amount == got - E18
    assert not verdict(rpc, swap, bob, got, None, defi).ok  # ...but only the swap's output is Alice's payment
    assert verdict(rpc, swap, bob, got - E18, None, defi).ok


ROUTERS = swap_proof.Routers("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20)
SELECTORS = [
    wallet_abi.selector(s)
    for s in (
        V2_ETH_IN,
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        "multicall(bytes[])",
        "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    )
]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([ROUTERS.v2, ROUTERS.v3]), st.sampled_from(SELECTORS), st.binary(max_size=400))
def test_any_calldata_to_a_router_proves_a_payout_or_is_not_provable(router, selector, tail):
    tx = {"to": router, "from": DEV_ADDRESS, "input": "0x" + (selector + tail).hex()}
    try:
        out = swap_proof.payout(tx, {"status": "0x1", "logs": []}, ROUTERS)
    except swap_proof.NotProvable:
        return
    assert out.amount == 0  # no logs: nothing paid, whatever the calldata says


@pytest.mark.parametrize("to", [None, "", "0x" + "44" * 20])
def test_a_transaction_to_no_recorded_router_is_not_provable(to):
    with pytest.raises(swap_proof.NotProvable):
        swap_proof.payout({"to": to, "input": "0x"}, {"logs": []}, ROUTERS)


def test_a_permit_is_offered_only_where_the_token_signs_under_our_domain(anvil, defi):
    """TKN: yes; WETH9 (no `nonces`): no; a token whose `name()` no longer matches its
    DOMAIN_SEPARATOR (a permit we signed would be refused): no, it gets an exact approval."""
    from cli.services import defi as service
    from contracts import token as binding
    from wallet import config

    net = config.Network("local", anvil.url, 31337)
    net.contracts.update(defi.contracts)
    rpc = anvil.rpc()
    p = service.protocols(net, rpc)
    v3, tkn, weth = defi.contracts["uniswap_v3_router"], defi.tokens["TKN"], defi.tokens["WETH"]
    offer = service.permit_offer(p, p.asset(tkn), DEV_ADDRESS, v3, 5, 2**40)
    assert offer is not None and offer.typed["domain"]["verifyingContract"] == addr.parse(tkn)
    assert offer.typed["message"]["value"] == 5 and offer.typed["message"]["spender"] == addr.parse(v3)
    assert service.permit_offer(p, p.asset(weth), DEV_ADDRESS, v3, 5, 2**40) is None
    assert service.permit_offer(p, p.asset("ETH"), DEV_ADDRESS, v3, 5, 2**40) is None
    slot = "0x" + "00" * 31 + "03"  # OpenZeppelin ERC20's _name (a short string: bytes, then 2 x length)
    assert rpc.call("eth_getStorageAt", tkn, slot, "latest").endswith("24")  # "Hongbao Test Token"
    rpc.call("anvil_setStorageAt", tkn, slot, "0x" + b"Evil".hex().ljust(62, "0") + "08")
    assert binding.name(rpc, tkn) == "Evil"
    assert service.permit_offer(p, p.asset(tkn), DEV_ADDRESS, v3, 5, 2**40) is None
    rpc.close()


@pytest.mark.parametrize("path", [[], [CAROL]])
def test_a_v2_swap_without_a_path_is_not_provable(path):
    tx = {"to": ROUTERS.v2, "input": "0x" + abi.data(V2_ETH_IN, 0, path, CAROL, 1).hex()}
    with pytest.raises(swap_proof.NotProvable):
        swap_proof.payout(tx, {"logs": []}, ROUTERS)
