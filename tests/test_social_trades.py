"""Shared trades (issue 17): the `trade` card's parsing of hostile input, the chain check of
cards (true swaps on both Uniswaps verify; wrong amounts, someone else's transaction, a
failed one do not), following within caps against a real anvil and a real relay, and the
board's figures against the protocols' own quotes."""

from __future__ import annotations

import json

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


# -- the chain check: real swaps on a real anvil ---------------------------------------------

W = ("--wallet", "me", "--yes")


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


def test_true_swaps_verify_and_forged_cards_say_why_not(cli, hongbao_home, anvil, defi):
    from cli.services.social_trades import check_card
    from contracts import trade_check

    me = defi.person(cli, hongbao_home, anvil)
    other = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    tkn, usdx = defi.tokens["TKN"], defi.tokens["USDX"]
    p = _protocols(hongbao_home, anvil)
    swaps = [  # every way in and out of both routers
        (cli.json("swap", "1", "ETH", "TKN", "--via", "v2", *W), None, tkn),
        (cli.json("swap", "100", "TKN", "ETH", "--via", "v3", *W), tkn, None),
        (cli.json("swap", "0.5", "ETH", "TKN", "--via", "v3", *W), None, tkn),
        (cli.json("swap", "50", "TKN", "ETH", "--via", "v2", *W), tkn, None),
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
    card = payloads.TradeCard(31337, failed, str(ETH), "5", None, tkn)
    assert "failed" in check_card(p, card, dev).reason
    plain = p.rpc.call("eth_sendTransaction", {"from": dev, "to": me, "value": hex(ETH)})
    assert "no Uniswap router" in check_card(p, payloads.TradeCard(31337, plain, str(ETH), "5", None, tkn), dev).reason
    assert "no such transaction" in check_card(p, payloads.TradeCard(31337, TX, "1", "5", None, tkn), dev).reason


def _pair(p, token: str) -> str:
    from contracts.protocols import abi

    return abi.read_one(p.rpc, p.uniswap.v2_factory, "getPair(address,address)(address)", p.uniswap.weth, token)
