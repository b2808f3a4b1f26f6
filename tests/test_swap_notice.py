"""`hongbao swap ... --to bob --notify`: a swap's output paid to someone, with a payment notice
their client proves from the chain (wallet/swap_proof.py), and notices that lie refused.

Real anvil with the protocols loaded (tests/defi_fixtures.py), a real relay (module-scoped).
The hostile notices are checked in-process against real mined transactions (`chat show`
calls the same `payments.verify`; tests/test_payment_notice.py shows it refusing in the chat).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chat_cli import people, relay  # noqa: F401  (the module-scoped relay fixture)

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
    """A transaction from anvil's unlocked dev account (gas given: a revert still mines)."""
    call = {"from": DEV_ADDRESS, "to": to, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(400_000)}
    return rpc.call("eth_sendTransaction", call)


def verdict(rpc, tx_hash: str, to: str, amount: int, token: str | None, defi, payer: str = DEV_ADDRESS):
    return payments.verify(rpc, tx_hash, to, amount, token, payer=payer, routers=routers(defi))


def incoming(person, sender) -> list[dict]:
    return [m for m in person.json("chat", "show", sender.address)["messages"] if m["direction"] == "in"]


def test_swap_outputs_to_a_contact_with_notices_checked_on_each_side(cli, tmp_path, relay, anvil, defi):  # noqa: F811
    alice, bob = people(cli, tmp_path, relay, "alice", "bob")
    for person in (alice, bob):
        defi.record(person.home, anvil)
    alice("faucet", alice.address, "3")
    alice("faucet", bob.address, "1")
    alice("contacts", "add", bob.address, "--name", "bob")
    rpc = anvil.rpc()
    tkn = defi.tokens["TKN"]

    # token out, Uniswap v2: the pair pays Bob, Alice's client proves the amount for the notice
    sent = alice.json("swap", "1", "ETH", "TKN", "--via", "v2", "--to", "bob", "--notify", "--note", "lunch", "--yes")
    assert sent["notified"] is True and sent["recipient"] == bob.address
    assert erc20.balance_of(rpc, tkn, bob.address) == int(sent["received"]) == int(sent["quote"]) > 0
    assert erc20.balance_of(rpc, tkn, alice.address) == 0

    # ETH out, Uniswap v3 (multicall: swap to the router, unwrap to Alice): Bob pays Alice back
    half = str(int(sent["received"]) // 2 / E18)
    before = to_int(rpc.call("eth_getBalance", alice.address, "latest"))
    back = bob.json("swap", half, "TKN", "ETH", "--via", "v3", "--to", alice.address, "--notify", "--yes")
    assert back["swap"]["call"]["function"].startswith("multicall(")
    assert to_int(rpc.call("eth_getBalance", alice.address, "latest")) - before == int(back["received"]) > 0

    bob.json("chat", "inbox")
    (notice,) = incoming(bob, alice)
    assert notice["payload"]["amount"] == sent["received"] and notice["payload"]["token"] == tkn
    assert notice["payment_check"] == "✓ swap output confirmed on chain (Uniswap v2)"
    alice.json("chat", "inbox")
    (notice,) = incoming(alice, bob)
    assert notice["payload"].get("token") is None and notice["payload"]["amount"] == back["received"]
    assert notice["payment_check"] == "✓ swap output confirmed on chain (Uniswap v3)"

    # notices that lie about Alice's swap, checked in-process against it
    h = sent["swap"]["hash"]
    assert verdict(rpc, h, bob.address, int(sent["received"]), tkn, defi, payer=alice.address).ok
    stolen = verdict(rpc, h, bob.address, int(sent["received"]), tkn, defi, payer=CAROL)  # Carol names it as hers
    assert not stolen.ok and "not by the notice's sender" in stolen.reason
    inflated = verdict(rpc, h, bob.address, int(sent["received"]) + 1, tkn, defi, payer=alice.address)
    assert not inflated.ok and "not " + str(int(sent["received"]) + 1) in inflated.reason
    as_eth = verdict(rpc, h, bob.address, int(sent["received"]), None, defi, payer=alice.address)
    assert not as_eth.ok and "not what the notice names" in as_eth.reason
    to_alice = verdict(rpc, h, alice.address, int(sent["received"]), tkn, defi, payer=alice.address)
    assert not to_alice.ok and "not to you" in to_alice.reason
    # without the routers recorded, a swap is no transfer from its sender: not confirmed either
    assert not payments.verify(rpc, h, bob.address, int(sent["received"]), tkn, payer=alice.address).ok
    rpc.close()


def test_hostile_swap_notices_are_refused(anvil, defi):
    """A swap to a third party, a reverted swap, a sweep of someone's tokens left in the
    router, and stray WETH in the router counted as the sender's payment."""
    rpc = anvil.rpc()
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
    rpc.close()


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


@settings(max_examples=150, deadline=None)
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
