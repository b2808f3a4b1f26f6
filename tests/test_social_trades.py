"""Shared trades (issue 17): the `trade` card's parsing of hostile input, the chain check of
cards (true swaps on both Uniswaps verify; wrong amounts, someone else's transaction, a
failed one do not), following within caps against a real anvil and a real relay, and the
board's figures against the protocols' own quotes."""

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_chat_cli import _messenger, people, relay  # noqa: F401  (the module-scoped relay fixture)

from messaging import payloads
from messaging.errors import PayloadError

pytest_plugins = ("defi_fixtures",)

ETH = 10**18
TX = "0x" + "ab" * 32
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
WITHDRAWAL_TOPIC = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"
GAS = 400_000  # a swap's gas, given: an estimate in the pending block misses a v3 pool's oracle write in a new one


# -- the card ------------------------------------------------------------------------------


def _card_json(**changes) -> bytes:
    body = {"type": "trade", "v": 1, "chain_id": 31337, "tx_hash": TX, "amount_in": "5", "amount_out": "7"}
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_a_card_round_trips_and_hostile_fields_are_refused():
    card = payloads.TradeCard(31337, TX, "5", "7", None, TOKEN, "🚀 note")
    assert payloads.decode(payloads.encode(card)) == card
    assert payloads.decode(_card_json(sell=TOKEN)).buy is None  # tokens for ETH
    hostile = [
        {},  # ETH for ETH
        {"sell": TOKEN, "buy": TOKEN.lower()},  # a token for itself
        {"buy": TOKEN, "amount_in": "0"},
        {"buy": TOKEN, "amount_out": "-1"},
        {"buy": TOKEN, "amount_in": 5},
        {"buy": TOKEN, "amount_in": "1" * 79},
        {"buy": TOKEN, "amount_out": "７"},  # a fullwidth digit
        {"buy": "0x1234"},
        {"buy": TOKEN, "tx_hash": "0x" + "AB" * 31},
        {"buy": TOKEN, "chain_id": True},
        {"buy": TOKEN, "note": "x" * 513},
        {"buy": TOKEN, "group_id": "zz"},
        {"buy": TOKEN, "price": "1000"},  # no field may state a price: it comes from the chain
        {"buy": TOKEN, "amount_in": ...},
    ]
    for changes in hostile:
        with pytest.raises(PayloadError):
            payloads.decode(_card_json(**changes))


_json = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.sampled_from([TOKEN, TX, "5", "0"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a shared, busy machine
@given(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(("chain_id", "tx_hash", "amount_in", "amount_out", "sell", "buy", "note", "x"), _json),
    )
)
def test_any_card_json_is_a_valid_card_or_one_payload_error(fields):
    try:
        card = payloads.decode(json.dumps({"type": "trade", "v": 1, **fields}).encode())
    except PayloadError:
        return
    assert isinstance(card, payloads.TradeCard)
    assert int(card.amount_in) > 0 and int(card.amount_out) > 0 and card.sell != card.buy
    assert payloads.decode(payloads.encode(card)) == card


_hexish = st.one_of(
    st.sampled_from(["0x", "0x0", "0xzz", "", "0x" + "00" * 12 + "11" * 20]), st.text(max_size=8), st.integers()
)
_log = st.fixed_dictionaries(
    {},
    optional={
        "address": _hexish,
        "topics": st.lists(st.one_of(_hexish, st.sampled_from([TRANSFER_TOPIC, WITHDRAWAL_TOPIC])), max_size=4),
        "data": _hexish,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries({}, optional={"from": _hexish, "to": _hexish, "value": _hexish, "input": _hexish}),
    st.fixed_dictionaries({}, optional={"status": _hexish, "logs": st.lists(_log, max_size=4)}),
)
def test_a_malformed_transaction_or_receipt_backs_nothing_and_raises_nothing(tx, receipt):
    from contracts import trade_check

    who = "0x" + "11" * 20
    claim = trade_check.Claim(who, None, TOKEN, 1, 1)
    verdict = trade_check.check_swap(claim, tx, receipt, routers=[who], pools=[who], weth=TOKEN)
    assert verdict.ok is False or receipt.get("status") in (1, "0x1")
    trade_check.read_swap(tx, receipt, who, TOKEN)  # None or a Swap, never an exception


# -- the chain check: real swaps on a real anvil ---------------------------------------------


def _protocols(home, anvil):
    from cli.services import defi as service
    from wallet import config

    return service.protocols(config.load(home).networks["local"], anvil.rpc())


def _card(swapped: dict, sell: str | None, buy: str | None, **changes) -> payloads.TradeCard:
    fields = {
        "chain_id": 31337,
        "tx_hash": swapped["swap"]["hash"],
        "amount_in": swapped["amount_in"],
        "amount_out": swapped["received"],
        "sell": sell,
        "buy": buy,
        **changes,
    }
    return payloads.TradeCard(**fields)


def _swap(p, me: str, amount: int, sell: str | None, buy: str | None, via: str) -> dict:
    """`me` (an account anvil unlocks) swaps on `via` at its quote, as `hongbao swap` would send it."""
    from contracts.protocols import abi, uniswap

    weth = p.uniswap.weth
    quote = uniswap.quotes(p.rpc, p.uniswap, sell or weth, buy or weth, amount, via)[0]
    to, data, value, _ = uniswap.swap_call(
        p.uniswap, quote, sell or weth, buy or weth, quote.amount_out, me, 2**40, eth_in=not sell, eth_out=not buy
    )
    if sell:
        approve = abi.data("approve(address,uint256)", to, amount)
        _mined(p.rpc, p.rpc.call("eth_sendTransaction", {"from": me, "to": sell, "data": "0x" + approve.hex()}))
    call = {"from": me, "to": to, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(GAS)}
    sent = p.rpc.call("eth_sendTransaction", call)
    receipt = _mined(p.rpc, sent)
    got = uniswap.received(receipt, buy or weth, me, eth_out=not buy, weth=weth)
    assert receipt["status"] == "0x1" and got == quote.amount_out
    return {"swap": {"hash": sent}, "amount_in": str(amount), "received": str(got)}


def test_true_swaps_verify_and_forged_cards_say_why_not(hongbao_home, anvil, defi):
    from cli.services.social_trades import check_card
    from contracts import trade_check

    me, other = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    tkn, usdx = defi.tokens["TKN"], defi.tokens["USDX"]
    defi.record(hongbao_home, anvil)
    p = _protocols(hongbao_home, anvil)
    swaps = [  # every way in and out of both routers
        (_swap(p, me, ETH, None, tkn, "v2"), None, tkn),
        (_swap(p, me, 100 * ETH, tkn, None, "v3"), tkn, None),
        (_swap(p, me, ETH // 2, None, tkn, "v3"), None, tkn),
        (_swap(p, me, 50 * ETH, tkn, None, "v2"), tkn, None),
    ]
    for swapped, sell, buy in swaps:
        tx = p.rpc.call("eth_getTransactionByHash", swapped["swap"]["hash"])
        receipt = p.rpc.call("eth_getTransactionReceipt", swapped["swap"]["hash"])
        read = trade_check.read_swap(tx, receipt, me, p.uniswap.weth)  # what `trade share` would claim
        assert (read.sell, read.buy, read.amount_in, read.amount_out) == (
            sell,
            buy,
            int(swapped["amount_in"]),
            int(swapped["received"]),
        )
        assert check_card(p, _card(swapped, sell, buy), me).ok
        forged = {
            "more out": (_card(swapped, sell, buy, amount_out=str(int(swapped["received"]) + 1)), me, "not "),
            "less in": (_card(swapped, sell, buy, amount_in=str(int(swapped["amount_in"]) - 1)), me, "not "),
            "other pair": (_card(swapped, sell and usdx, buy and usdx), me, ""),
            "someone else's": (_card(swapped, sell, buy), other, "not by the card's sender"),
        }
        for what, (card, sender, says) in forged.items():
            verdict = check_card(p, card, sender)
            assert not verdict.ok and says in verdict.reason, (what, verdict)

    # a token I never added shows as such, whatever its symbol, and is not followed
    from cli.services import social_trades

    assert social_trades._asset(p, tkn).symbol == "TKN"
    del p.net.tokens["TKN"]
    assert social_trades._asset(p, tkn).symbol.startswith("TKN?(") and "not one of your tokens" in str(
        social_trades._asset(p, tkn).symbol
    )
    card = _card(swaps[0][0], None, tkn)
    view = social_trades.CardView("ab" * 16, "group:" + "cd" * 16, me, 0, card, trade_check.Verdict(True, ""))
    view = dataclasses_replace(view, sell=social_trades._asset(p, None), buy=social_trades._asset(p, tkn))
    with pytest.raises(social_trades.TradeError, match="not one of your tokens: if you trust it"):
        social_trades.plan_follow(p, social_trades.Limits(hongbao_home, lambda: 0), view, other)

    # ETH out to someone else: the same logs, but the calldata names another recipient
    tx = p.rpc.call("eth_getTransactionByHash", swaps[3][0]["swap"]["hash"])
    receipt = p.rpc.call("eth_getTransactionReceipt", tx["hash"])
    claim = trade_check.Claim(me, tkn, None, int(swaps[3][0]["amount_in"]), int(swaps[3][0]["received"]))
    where = {"routers": [p.uniswap.v2_router, p.uniswap.v3_router], "weth": p.uniswap.weth}
    pools = [p.uniswap.v2_factory and _pair(p, tkn)]
    assert trade_check.check_swap(claim, tx, receipt, pools=pools, **where).ok
    redirected = {**tx, "input": tx["input"].replace(me[2:].lower(), other[2:].lower())}
    assert "goes to " + other in trade_check.check_swap(claim, redirected, receipt, pools=pools, **where).reason

    # a failed swap and a plain transfer are no trades, whatever the card says
    from contracts.protocols import abi
    from wallet.localchain import DEV_ADDRESS as dev

    call = abi.data(
        "swapExactETHForTokens(uint256,address[],address,uint256)", 2**255, [p.uniswap.weth, tkn], dev, 2**40
    )
    failed = p.rpc.call(
        "eth_sendTransaction",
        {"from": dev, "to": p.uniswap.v2_router, "data": "0x" + call.hex(), "value": hex(ETH), "gas": hex(300_000)},
    )
    assert _mined(p.rpc, failed)["status"] == "0x0"
    card = payloads.TradeCard(31337, failed, str(ETH), "5", None, tkn)
    assert "failed" in check_card(p, card, dev).reason
    plain = p.rpc.call("eth_sendTransaction", {"from": dev, "to": me, "value": hex(ETH)})
    _mined(p.rpc, plain)
    assert "no Uniswap router" in check_card(p, payloads.TradeCard(31337, plain, str(ETH), "5", None, tkn), dev).reason
    assert "no such transaction" in check_card(p, payloads.TradeCard(31337, TX, "1", "5", None, tkn), dev).reason


def _mined(rpc, tx_hash: str) -> dict:
    """The receipt of a transaction sent with eth_sendTransaction (anvil may answer before it mines)."""
    import time

    deadline = time.monotonic() + 10
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return receipt


def _pair(p, token: str) -> str:
    from contracts.protocols import abi

    return abi.read_one(p.rpc, p.uniswap.v2_factory, "getPair(address,address)(address)", p.uniswap.weth, token)


# -- end to end: real anvil, real relay ------------------------------------------------------


def _group_card(m, group_id: str, card: payloads.TradeCard):
    import dataclasses

    return m.send("group:" + group_id, dataclasses.replace(card, group_id=group_id))


def test_a_member_follows_a_shared_swap_within_caps_and_the_board_matches_the_chain(
    cli,
    tmp_path,
    relay,  # noqa: F811
    anvil,
    defi,
):
    from contracts.protocols import uniswap
    from wallet import erc20

    alice, bob, mallory = people(cli, tmp_path, relay, "alice", "bob", "mallory")
    for person in (alice, bob, mallory):
        defi.record(person.home, anvil)
    for person in (alice, bob):
        alice("faucet", person.address, "20")
    group = alice.json("group", "create", "club", bob.address, mallory.address)
    group_id = group["conversation"].removeprefix("group:")
    swapped = alice.json("swap", "1", "ETH", "TKN", "--via", "v2", "--yes")
    shared = alice.json("trade", "share", swapped["swap"]["hash"], "--to", "club", "--note", "🚀 to the moon")
    assert shared["verified"] is True and shared["claimed"]["amount_out"] == swapped["received"]

    mallory.json("chat", "inbox")  # she has the group now; she claims Alice's swap as hers, and inflates one
    tkn = defi.tokens["TKN"]
    claimed = payloads.TradeCard(31337, swapped["swap"]["hash"], str(ETH), swapped["received"], None, tkn)
    with _messenger(mallory) as m:
        _group_card(m, group_id, claimed)
        _group_card(
            m,
            group_id,
            dataclasses_replace(claimed, amount_out=str(10 * int(swapped["received"])), note="\x1b[2J\u202e x[/]"),
        )
    seen = bob.json("trade", "cards")
    (card,) = [c for c in seen if c["sender"] == alice.address]
    assert card["verified"] is True and card["note"] == "🚀 to the moon" and card["tx_hash"] == shared["tx_hash"]
    forged = [c for c in seen if c["sender"] == mallory.address]
    listed = " ".join(bob("trade", "cards", "--no-fetch").stdout.split())
    assert "✓ 1 ETH -> " in listed and "✗ NOT A VERIFIED TRADE" in listed
    assert "\x1b" not in listed and "\u202e" not in listed and "\\x1b[2J" in listed  # Mallory's note, inert
    assert len(forged) == 2 and not any(c["verified"] for c in forged)
    assert all("not by the card's sender" in c["check"] for c in forged)
    shown = bob.json("chat", "show", group["conversation"])["messages"]
    in_chat = {m["sender"]: m["trade_check"] for m in shown if m["type"] == "trade"}
    assert in_chat[alice.address].startswith("✓ swap on chain: 1 ETH -> ")
    assert in_chat[mallory.address].startswith("✗ NOT A VERIFIED TRADE: ")

    # following: never without caps, within them, and never at a price worse than the card's less my max
    rpc = anvil.rpc()
    assert "no cap set" in bob.fails("trade", "follow", card["id"], "--percent", "50", "--yes")
    bob("trade", "limits", "ETH", "--per-trade", "0.5", "--daily", "0.8")
    assert stat.S_IMODE((bob.home / "trade_limits.json").stat().st_mode) == 0o600
    followed = bob.json("trade", "follow", card["id"], "--percent", "50", "--yes")
    assert followed["amount_in"] == str(ETH // 2) and followed["leader"] == alice.address
    assert int(followed["received"]) == erc20.balance_of(rpc, tkn, bob.address) >= int(followed["min_received"])
    card_price_bound = ETH // 2 * int(swapped["received"]) * 99 // (ETH * 100)  # the card's price less 1%
    assert int(followed["min_received"]) >= card_price_bound == int(followed["min_received_at_card_price"])
    limits = json.loads((bob.home / "trade_limits.json").read_text())
    assert limits["caps"] == {"31337:ETH": {"per_trade": str(ETH // 2), "daily": str(8 * ETH // 10)}}
    assert [s["tx"] for s in limits["spent"]] == [followed["swap"]["hash"]]

    # the other refusals, in-process (the same service the command calls)
    from cli.services import social_trades

    p = _protocols(bob.home, anvil)
    mine = social_trades.Limits(bob.home, lambda: _now_ms())
    with _messenger(bob) as m:
        view, fake = (social_trades.find_card(m, p, c["id"]) for c in (card, forged[0]))

    def refused(view, **options) -> str:
        with pytest.raises(social_trades.TradeError) as error:
            social_trades.plan_follow(p, mine, view, bob.address, **options)
        return str(error.value)

    assert "not a verified trade" in refused(fake)
    assert "over your per-trade cap of 0.5 ETH" in refused(view, amount_text="1 ETH")
    assert "over your daily cap of 0.8 ETH (0.5 ETH spent" in refused(view, percent="50")
    _buy_tkn_everywhere(rpc, defi)  # TKN dearer now in every pool: a follow gets fewer per ETH
    mine.set_cap("31337:ETH", social_trades.Cap(ETH // 2, 5 * ETH))
    moved = refused(view, percent="10")
    assert "the price moved" in moved and "more than your maximum of 1.00% worse" in moved

    # the board: Alice's trade valued at the protocols' quote now; Mallory's claims apart, inert
    board = bob.json("trade", "board", group["conversation"])
    (row,) = board["trades"]
    back = uniswap.best(uniswap.quotes(p.rpc, p.uniswap, tkn, p.uniswap.weth, int(swapped["received"])))
    assert (row["member"], row["amount_in"], row["amount_out"]) == (alice.address, str(ETH), swapped["received"])
    assert row["value_now"] == str(back.amount_out) and row["pnl"] == str(back.amount_out - ETH)
    assert {c["sender"] for c in board["unverified"]} == {mallory.address}
    assert board["members"] == [
        {
            "member": alice.address,
            "asset": "ETH",
            "trades": 1,
            "invested": str(ETH),
            "value_now": str(back.amount_out),
            "pnl": row["pnl"],
            "pnl_formatted": row["pnl_formatted"],
            "without_quote": 0,
        }
    ]

    # autofollow: inside Bob's `chat watch`, Alice's next card is followed up to her cap; never without caps
    assert "set your caps for TKN first" in bob.fails("trade", "autofollow", alice.address, "--cap", "10 TKN")
    bob("trade", "autofollow", alice.address, "--cap", "0.2 ETH")
    again = alice.json("swap", "1", "ETH", "TKN", "--yes")
    alice("trade", "share", again["swap"]["hash"], "--to", "club")
    alice("trade", "share", again["swap"]["hash"], "--to", "club")  # the same trade twice: followed once
    with _messenger(mallory) as m:  # a forged card from someone Bob does not follow: nothing happens
        _group_card(m, group_id, claimed)
    held = erc20.balance_of(rpc, tkn, bob.address)
    events = [json.loads(line) for line in bob("chat", "watch", "--once", "--json").stdout.splitlines()]
    followed, again_card = [e for e in events if e["kind"] == "autofollow"]
    assert followed["followed"] is True, followed
    assert again_card["followed"] is False and "followed this trade already" in again_card["text"]
    assert erc20.balance_of(rpc, tkn, bob.address) - held == int(followed["received"]) > 0
    assert rpc.call("eth_getTransactionByHash", followed["hash"])["value"] == hex(2 * ETH // 10)


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def _buy_tkn_everywhere(rpc, defi) -> None:
    """The dev account buys TKN for ETH in the v2 pair and both v3 pools (~10% of each's ETH)."""
    from contracts.protocols import abi
    from wallet.localchain import DEV_ADDRESS as dev

    c, weth, tkn = defi.contracts, defi.tokens["WETH"], defi.tokens["TKN"]
    v2 = abi.data("swapExactETHForTokens(uint256,address[],address,uint256)", 0, [weth, tkn], dev, 2**40)
    single = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
    for to, data, eth in (
        (c["uniswap_v2_router"], v2, 10),
        (c["uniswap_v3_router"], abi.data(single, (weth, tkn, 3000, dev, 2**40, 5 * ETH, 0, 0)), 5),
        (c["uniswap_v3_router"], abi.data(single, (weth, tkn, 500, dev, 2**40, 2 * ETH, 0, 0)), 2),
    ):
        sent = rpc.call(
            "eth_sendTransaction", {"from": dev, "to": to, "data": "0x" + data.hex(), "value": hex(eth * ETH)}
        )
        assert _mined(rpc, sent)["status"] == "0x1"


def dataclasses_replace(card, **changes):
    import dataclasses

    return dataclasses.replace(card, **changes)
