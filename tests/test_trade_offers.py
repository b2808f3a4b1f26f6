"""Peer-to-peer offers in a chat (issue 17), through the real `hongbao` command, a real relay
and Seaport 1.6 on a real anvil: an NFT for ETH and TKN for ETH (with a counter-offer), both
sides seeing the fill checked against the chain; a third party cannot fill; cancelled,
expired and declined offers are refused; hostile offer payloads are refused or shown invalid;
the receipt is checked the way a third party would, without our code."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chat_cli import _messenger, people, relay  # noqa: F401  (the module-scoped relay fixture)

from contracts.deploy import deployment_tx
from contracts.protocols import abi, npm, seaport
from messaging import payloads
from messaging.errors import PayloadError
from wallet import address as addr
from wallet import localchain
from wallet.rpc import RpcError, to_int

pytest_plugins = ("defi_fixtures",)
E18 = 10**18
Y = ("--yes",)


def _send(rpc, to: str | None, data: bytes) -> dict:
    from types import SimpleNamespace

    from wallet.transfers import wait_for_receipt

    tx = {"from": localchain.DEV_ADDRESS, "data": "0x" + data.hex()}
    if to:
        tx["to"] = to
    receipt = wait_for_receipt(SimpleNamespace(rpc=rpc), rpc.call("eth_sendTransaction", tx), timeout=10)
    assert to_int(receipt["status"]) == 1
    return receipt


def _traders(cli, tmp_path, relay, anvil, defi, *names):  # noqa: F811
    folks = people(cli, tmp_path, relay, *names)
    with anvil.rpc() as rpc:
        for person in folks:
            defi.record(person.home, anvil)
            rpc.call("anvil_setBalance", person.address, hex(10 * E18))
    return folks


def _eth(rpc, who: str) -> int:
    return to_int(rpc.call("eth_getBalance", who, "latest"))


@contextlib.contextmanager
def _service(person, anvil):
    """The person's offers in this process, after fetching their mail (what `chat inbox` does)."""
    from cli.services.offers import Offers, venue
    from wallet import config

    net = config.load(person.home).networks["local"]
    with _messenger(person) as m, anvil.rpc() as rpc:
        m.receive()
        yield Offers(m.address, venue(net, rpc), m)


def _offers(person, anvil) -> dict[str, dict]:
    from cli.trade_offer_cmd import view_json

    with _service(person, anvil) as offers:
        return {v.order_hash: view_json(v) for v in offers.views()}


def _refused(person, anvil, order_id: str) -> str:
    from cli.services.offers import OfferError

    with _service(person, anvil) as offers, pytest.raises(OfferError) as refused:
        offers.accept_steps(offers.acceptable(order_id))
    return str(refused.value)


def test_an_nft_for_eth_only_the_peer_fills_hostile_offers_are_invalid_and_the_receipt_checks_out(
    cli,
    tmp_path,
    relay,  # noqa: F811
    anvil,
    defi,
):
    alice, bob, carol = _traders(cli, tmp_path, relay, anvil, defi, "alice", "bob", "carol")
    where = defi.contracts["seaport"]
    with anvil.rpc() as rpc:
        nft = addr.parse(_send(rpc, None, deployment_tx(npm.load("TestERC721")))["contractAddress"])
        _send(rpc, nft, abi.data("mint(address,uint256)", alice.address, 7))
    alice("contacts", "add", bob.address, "--name", "bob")
    made = alice.json("trade", "offer", "bob", "--give", f"NFT {nft}#7", "--want", "0.5 ETH", "--note", "gm", *Y)
    oid = made["order_hash"]
    assert made["to"] == bob.address and [s["call"]["function"] for s in made["steps"]] == ["approve"]
    hostile = _hostile_offers(carol, bob, defi)  # and Carol sends Bob offers that do not check out

    seen = _offers(bob, anvil)
    assert seen[oid]["direction"] == "received" and seen[oid]["state"] == "open" and seen[oid]["checks"] == []
    assert seen[oid]["peer"] == alice.address
    for why, payload in hostile.items():
        view = seen[payload.order_hash]
        if why == "loud":
            assert view["state"] == "open" and "holds none" in view["checks"][0]
        elif why == "no token there":  # a token that cannot be read breaks nothing else
            assert view["state"] == "open" and "cannot be read on chain" in view["checks"][0]
        else:
            assert view["state"] == "invalid" and why in view["reason"], why
    assert "invalid" in _refused(bob, anvil, hostile["signed by"].order_hash)
    shown = " ".join(bob("chat", "show", alice.address).stdout.split())
    assert f"NFT {nft}#7 for 0.5 ETH" in shown and "✓ open" in shown and f"trade accept {oid[:12]}" in shown
    shown = bob("chat", "show", carol.address).stdout
    assert "\x1b" not in shown and "\u202e" not in shown and "\\x1b[2J" in shown and "✗ INVALID" in shown
    listed = " ".join(bob("trade", "list").stdout.split())
    assert listed.count("invalid;") == 5 and "0.5 ETH" in listed and "\x1b" not in listed

    with _messenger(bob) as m:  # Bob passes Alice's signed offer on to Carol: it is not hers to fill
        stored = next(x for x in m.store.messages_of_types("offer") if x.payload.order_hash == oid)
        m.send(carol.address, stored.payload)
    carols = _offers(carol, anvil)[oid]
    assert carols["state"] == "invalid" and "not who sent it" in carols["reason"]
    assert "invalid" in carol.fails("trade", "accept", oid[:10], *Y)
    with anvil.rpc() as rpc, pytest.raises(RpcError):  # and the chain itself refuses her fill
        data = seaport.fulfill_data(_order_of(stored.payload), bytes.fromhex(stored.payload.signature[2:]))
        rpc.call("eth_call", {"from": carol.address, "to": where, "data": "0x" + data.hex(), "value": hex(E18 // 2)})

    with anvil.rpc() as rpc:
        before = _eth(rpc, alice.address)
        filled = bob.json("trade", "accept", oid[:10], *Y)
        assert filled["filled"] and filled["notified"]
        assert addr.parse(abi.read_one(rpc, nft, "ownerOf(uint256)(address)", 7)) == bob.address
        assert _eth(rpc, alice.address) == before + E18 // 2
        gas = to_int(rpc.call("eth_getTransactionReceipt", filled["fill"]["hash"])["gasUsed"])
    print(f"gas of `trade accept` (ERC-721 for ETH): {gas}")
    assert "is filled" in _refused(bob, anvil, oid)  # not twice
    with _messenger(bob) as m:  # a second "filled" naming someone else's transaction hides nothing
        m.send(alice.address, payloads.OfferAnswer(oid, "filled", 31337, "0x" + "cd" * 32))

    theirs = _offers(alice, anvil)[oid]
    assert theirs["state"] == "filled" and theirs["fill_tx"] == filled["fill"]["hash"]
    alice("trade", "receipt", oid, "--json", str(tmp_path / "receipt.json"))
    summary = "".join(alice("trade", "receipt", oid[:10]).stdout.split())  # (a narrow terminal folds lines)
    assert "filled,✓signedbytheofferer" in summary and "(OrderFulfilledchecked)" in summary
    assert f"{filled['fill']['hash']}inblock" in summary
    _verify_receipt(json.loads((tmp_path / "receipt.json").read_text()), anvil, where, alice.address, bob.address)


def _hostile_offers(mallory, bob, defi) -> dict[str, payloads.Offer]:
    """Offers from `mallory` to `bob`, each wrong in one way (keyed by the reason Bob is shown), and
    a valid one with a note that would draw on the terminal ("loud"); sent."""
    from dataclasses import replace
    from types import SimpleNamespace

    from test_chat_cli import _account_key

    from cli.services.offers import Draft, _payload

    tkn, where, other = defi.tokens["TKN"], defi.contracts["seaport"], addr.parse("0x" + "66" * 20)
    key = _account_key(mallory)
    base = seaport.Order(
        mallory.address,
        bob.address,
        (seaport.Item(seaport.ERC20, tkn, 0, E18),),
        (seaport.Item(seaport.NATIVE, seaport.ZERO, 0, E18, mallory.address),),
        1,
        2**33,
        0,
        0,
    )

    def offer(salt: int, note: str = "", signer: bytes = key, changes: dict | None = None, **fields) -> payloads.Offer:
        order = replace(base, salt=salt, **fields)
        draft = Draft(bob.address, order, "0x" + seaport.order_hash(order).hex(), [], note, None, [])
        place = SimpleNamespace(chain_id=31337, seaport=where)
        return replace(_payload(draft, seaport.sign(signer, order, 31337, where), place), **(changes or {}))

    cases = {
        "signed by": offer(1, signer=bytes.fromhex("0d" * 32)),
        "restricted to": offer(2, zone=other),
        "not the Seaport recorded": offer(3, changes={"seaport": tkn}),
        "someone other than the offerer": offer(
            4, consideration=(seaport.Item(seaport.NATIVE, seaport.ZERO, 0, E18, other),)
        ),
        "does not match": offer(5, changes={"order_hash": "0x" + "ab" * 32}),
        "loud": offer(6, "\x1b[2J\u202egm [/]"),
        "no token there": offer(7, offer=(seaport.Item(seaport.ERC20, other, 0, E18),)),
    }
    with _messenger(mallory) as m:
        for payload in cases.values():
            m.send(bob.address, payload)
    return cases


def _order_of(offer):
    from cli.services.offers import _order

    return _order(offer)


def _verify_receipt(receipt: dict, anvil, where: str, alice: str, bob: str) -> None:
    """What a third party does: eth-account's EIP-712 recovery and any node's receipt."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    from eth_hash.auto import keccak

    (offer,) = [n for n in receipt["negotiation"] if n["type"] == "offer"]
    signer = Account.recover_message(encode_typed_data(full_message=offer["typed_data"]), signature=offer["signature"])
    assert signer == offer["from"] == alice and offer["typed_data"]["message"]["zone"] == bob
    assert offer["typed_data"]["domain"] == {
        "name": "Seaport",
        "version": "1.6",
        "chainId": 31337,
        "verifyingContract": where,
    }
    settled = receipt["settlement"]
    with anvil.rpc() as rpc:
        tx = rpc.call("eth_getTransactionReceipt", settled["tx_hash"])
    topic = (
        "0x"
        + keccak(
            b"OrderFulfilled(bytes32,address,address,address,(uint8,address,uint256,uint256)[],(uint8,address,uint256,uint256,address)[])"
        ).hex()
    )
    (log,) = [x for x in tx["logs"] if x["topics"][0] == topic]
    assert to_int(tx["status"]) == 1 and addr.parse(log["address"]) == where and addr.parse(tx["from"]) == bob
    assert log["data"][2:66] == offer["order_hash"][2:]  # orderHash, the first word of the event's data


def test_tkn_for_eth_with_a_counter_offer_decline_cancel_and_expiry(cli, tmp_path, relay, anvil, defi):  # noqa: F811
    alice, bob = _traders(cli, tmp_path, relay, anvil, defi, "alice", "bob")
    tkn, where = defi.tokens["TKN"], defi.contracts["seaport"]
    with anvil.rpc() as rpc:
        _send(rpc, tkn, abi.data("mint(address,uint256)", alice.address, 500 * E18))
    alice("contacts", "add", bob.address, "--name", "bob")
    first = alice.json("trade", "offer", "bob", "--give", "100 TKN", "--want", "0.05 ETH", *Y)["order_hash"]
    with anvil.rpc() as rpc:  # exactly what the order needs
        assert abi.read_one(rpc, tkn, "allowance(address,address)(uint256)", alice.address, where) == 100 * E18

    assert _offers(bob, anvil)[first]["state"] == "open"
    countered = bob.json("trade", "counter", first[:10], "--want", "120 TKN", *Y)  # 0.05 ETH (as WETH) for 120 TKN
    assert countered["replaces"] == first
    assert [s["call"]["function"] for s in countered["steps"]] == ["deposit", "approve"]
    mine = _offers(alice, anvil)
    assert mine[first]["countered_by"] == countered["order_hash"] and mine[countered["order_hash"]]["state"] == "open"
    alice.json("trade", "accept", countered["order_hash"][:10], *Y)
    with anvil.rpc() as rpc:
        assert abi.read_one(rpc, tkn, "balanceOf(address)(uint256)", bob.address) == 120 * E18
        assert abi.read_one(rpc, defi.tokens["WETH"], "balanceOf(address)(uint256)", alice.address) == E18 // 20
    assert _offers(bob, anvil)[countered["order_hash"]]["state"] == "filled"
    with _service(alice, anvil) as offers:  # the receipt of her first offer takes in the counter and its fill
        evidence = offers.receipt(first)
    assert [(n["from"], n["order_hash"]) for n in evidence["negotiation"] if n["type"] == "offer"] == [
        (alice.address, first),
        (bob.address, countered["order_hash"]),
    ]
    assert evidence["settlement"]["order_hash"] == countered["order_hash"]
    assert addr.parse(evidence["settlement"]["filler"]) == alice.address

    assert bob.json("trade", "decline", first[:10])["state"] == "declined"
    assert _offers(alice, anvil)[first]["state"] == "declined"
    cancelled = alice.json("trade", "cancel", first[:10], *Y)  # declined, but still fillable on chain: not now
    assert cancelled["cancelled"] is True
    assert _offers(bob, anvil)[first]["state"] == "cancelled"
    assert "is cancelled" in _refused(bob, anvil, first)

    made = alice("trade", "offer", "bob", "--give", "1 TKN", "--want", "0.01 ETH", "--expires", "1m", *Y)
    short = made.stdout.split()[-1]  # (the approval's hash comes first)
    assert "you give" in made.stderr and "1 TKN" in made.stderr and "only filled by" in made.stderr
    with anvil.rpc() as rpc:
        rpc.call("evm_increaseTime", 61)
        rpc.call("evm_mine")
    assert "is expired" in _refused(bob, anvil, short)
    assert "not an offer id" in _refused(bob, anvil, "xyz")


def _offer_json(**changes) -> bytes:
    item = [1, "0x" + "11" * 20, "0", "5"]
    asked = [0, "0x" + "00" * 20, "0", "7", "0x" + "22" * 20]
    body = {
        "type": "offer",
        "v": 1,
        "order_hash": "0x" + "ab" * 32,
        "chain_id": 31337,
        "seaport": "0x" + "33" * 20,
        "offerer": "0x" + "22" * 20,
        "zone": "0x" + "44" * 20,
        "offer": [item],
        "consideration": [asked],
        "start": 1,
        "end": 2,
        "salt": "0x" + "00" * 32,
        "counter": "0",
        "signature": "0x" + "00" * 65,
        **changes,
    }
    return json.dumps(body).encode()


def test_offer_payloads_with_hostile_fields_are_refused():
    good = payloads.decode(_offer_json())
    assert isinstance(good, payloads.Offer) and payloads.decode(payloads.encode(good)) == good
    nft = [2, "0x" + "55" * 20, "9", "1"]
    hostile = [
        {"offer": []},
        {"offer": [[1, "0x" + "11" * 20, "0", "5"]] * 9},  # too many items
        {"offer": [[0, "0x" + "00" * 20, "0", "5"]]},  # ETH offered: Seaport cannot take it
        {"offer": [[3, "0x" + "11" * 20, "0", "5"]]},  # ERC-1155: not supported
        {"offer": [[True, "0x" + "11" * 20, "0", "5"]]},
        {"offer": [[1.0, "0x" + "11" * 20, "0", "5"]]},
        {"offer": [[1, "0x" + "11" * 20, "0", "0"]]},
        {"offer": [[1, "0x" + "11" * 20, "0", str(2**256)]]},
        {"offer": [[1, "0x" + "11" * 20, "0", 5]]},
        {"offer": [[1, "0x" + "11" * 20, "3", "5"]]},  # an ERC-20 with an identifier
        {"offer": [[1, "0x" + "00" * 20, "0", "5"]]},  # a token item without a token
        {"offer": [[2, "0x" + "55" * 20, "9", "2"]]},  # two of one NFT
        {"offer": [nft, [2, "0x" + "55" * 20, "09", "1"]]},  # the same NFT twice
        {"offer": [[1, "0x1234", "0", "5"]]},
        {"consideration": [[0, "0x" + "11" * 20, "0", "7", "0x" + "22" * 20]]},  # ETH with a token
        {"consideration": [[1, "0x" + "11" * 20, "0", "7"]]},  # no recipient
        {"start": 2, "end": 2},
        {"end": 2**41},
        {"start": -1},
        {"signature": "0x" + "00" * 64},
        {"salt": "0x12"},
        {"counter": "-1"},
        {"counter": str(2**256)},
        {"note": "x" * 513},
        {"replaces": "nope"},
        {"order_hash": "0x" + "AB" * 32 + "00"},
        {"seaport": "seaport"},
        {"pay_to": "0x" + "66" * 20},
    ]
    for changes in hostile:
        with pytest.raises(PayloadError):
            payloads.decode(_offer_json(**changes))
    for bad in (
        {"order_hash": "0x" + "ab" * 32, "status": "accepted"},
        {"order_hash": "0x" + "ab" * 32, "status": "filled"},  # a fill names its transaction
        {"order_hash": "0x" + "ab" * 32, "status": "declined", "chain_id": 1, "tx_hash": "0x" + "cd" * 32},
    ):
        with pytest.raises(PayloadError):
            payloads.decode(json.dumps({"type": "offer_answer", "v": 1, **bad}).encode())


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1, 2**41)
    | st.text(max_size=8)
    | st.sampled_from(["0", "1", "0x" + "00" * 20, "0x" + "11" * 20, "0x" + "ab" * 32, "0x" + "00" * 65]),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=16,
)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries({}, optional=dict.fromkeys(("offer", "consideration", "start", "end", "note", "x"), _json))
)
def test_any_offer_json_is_a_valid_offer_or_one_payload_error(fields):
    try:
        offer = payloads.decode(_offer_json(**fields))
    except PayloadError:
        return
    assert isinstance(offer, payloads.Offer) and payloads.decode(payloads.encode(offer)) == offer
    assert 1 <= len(offer.offer) <= 8 and 1 <= len(offer.consideration) <= 8 and offer.start < offer.end
    assert all(item[0] in (1, 2) for item in offer.offer)  # never ETH offered
