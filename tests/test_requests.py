"""Payment requests and split bills (issue 17): the payload's parsing of hostile input,
the exact split, EIP-681 links, and the whole flow against a real anvil and a real relay:
ask, pay (through `send`), paid on both sides, paid twice refused, a bill split three
ways paid by two, notices that must not count."""

from __future__ import annotations

import json

import pytest
from conftest import Person, quick_wallet
from hypothesis import given
from hypothesis import strategies as st
from test_chat_cli import _messenger, _rotate_bob, people, relay  # noqa: F401  (the module-scoped relay fixture)
from test_payment_notice import point_at

from cli.services.requests import eip681, parse_duration, parse_shares, split
from messaging import payloads
from messaging.errors import PayloadError

ETH = 10**18
RID = "ab" * 16
WHO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


# -- pure ----------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=2**256 - 1), st.lists(st.integers(1, 1000), min_size=1, max_size=30))
def test_split_is_exact_and_the_remainder_goes_to_the_first_shares(total, weights):
    shares = split(total, weights)
    assert sum(shares) == total
    floors = [total * w // sum(weights) for w in weights]
    extra = [s - f for s, f in zip(shares, floors, strict=True)]
    assert set(extra) <= {0, 1} and extra == sorted(extra, reverse=True)  # +1s are a prefix


def test_split_examples_and_parsers():
    assert split(120, [1, 1, 1]) == [40, 40, 40]
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(120, [2, 1]) == [80, 40]
    assert parse_shares("alice=2, bob=1") == [("alice", 2), ("bob", 1)]
    assert parse_duration("7d") == 7 * 86_400_000 and parse_duration("30m") == 1_800_000
    for bad in ("alice", "alice=0", "=2", "alice=-1"):
        with pytest.raises(Exception, match="not a share"):
            parse_shares(bad)
    for bad in ("0d", "7", "1y", "-1h", ""):
        with pytest.raises(Exception, match="not a duration"):
            parse_duration(bad)


def test_eip681_links():
    assert eip681(WHO.lower(), 31337, 5 * 10**17, None) == f"ethereum:{WHO}@31337?value=5e17"
    assert eip681(WHO, 1, 123, None) == f"ethereum:{WHO}@1?value=123"
    token = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert eip681(WHO, 31337, 120 * ETH, token) == f"ethereum:{token}@31337/transfer?address={WHO}&uint256=12e19"


def test_a_request_notice_pays_at_least_the_share():
    from wallet import payments

    tx, ok = {"from": WHO, "to": "0x" + "11" * 20, "value": hex(ETH)}, {"status": "0x1", "logs": []}
    assert payments.check(tx, ok, "0x" + "11" * 20, ETH - 1, None, payer=WHO, at_least=True).ok
    assert not payments.check(tx, ok, "0x" + "11" * 20, ETH + 1, None, payer=WHO, at_least=True).ok
    assert not payments.check(tx, ok, "0x" + "11" * 20, ETH - 1, None, payer=WHO).ok  # a plain notice is exact


def test_a_request_in_the_chat_says_how_to_pay_it():
    from cli.chat_cmd import describe

    shown = describe(payloads.PaymentRequest(RID, 31337, str(ETH), note="dinner", shares=((WHO, "1"),)))
    assert "1 ETH" in shown and f"hongbao pay {RID}" in shown and "split 1 ways" in shown
    assert f"for request {RID}" in describe(payloads.Payment(31337, "0x" + "00" * 32, "1", request_id=RID))


def _request_json(**changes) -> bytes:
    body = {"type": "payment_request", "v": 1, "request_id": RID, "chain_id": 31337, "amount": "5", **changes}
    return json.dumps(body).encode()


def test_a_request_round_trips_and_hostile_fields_are_refused():
    request = payloads.PaymentRequest(
        RID, 31337, "120", None, "dinner", 10**12, ((WHO, "40"), ("0x" + "11" * 20, "40"))
    )
    assert payloads.decode(payloads.encode(request)) == request
    assert request.share_of(WHO.lower()) == 40 and request.share_of("0x" + "22" * 20) is None
    assert payloads.PaymentRequest(RID, 1, "7").share_of(WHO) == 7  # no shares: the one asked owes it all
    hostile = [
        {"amount": "0"},
        {"amount": "-5"},
        {"amount": 5},
        {"amount": "1" * 79},
        {"amount": "５"},  # a fullwidth digit
        {"request_id": "AB" * 16},
        {"request_id": "ab" * 17},
        {"chain_id": True},
        {"chain_id": -1},
        {"token": "0x1234"},
        {"note": "x" * 513},
        {"note": 7},
        {"expires_ms": 2**60},
        {"expires_ms": 1.5},
        {"shares": "everyone"},
        {"shares": [[WHO, "3"], [WHO, "1"]]},  # the same person twice
        {"shares": [[WHO, "3"], ["0x" + "11" * 20, "3"]]},  # more than the amount
        {"shares": [[WHO, "0"]]},
        {"shares": [[WHO]]},
        {"shares": [[WHO, "1", "2"]]},
        {"shares": [["nobody", "1"]]},
        {"shares": [[WHO, "1"]] * 300},
        {"pay_to": WHO},  # the money always goes to the sender: no field may redirect it
        {"group_id": "zz"},
    ]
    for changes in hostile:
        with pytest.raises(PayloadError):
            payloads.decode(_request_json(**changes))
    with pytest.raises(PayloadError):
        payloads.decode(json.dumps({"type": "request_declined", "v": 1, "request_id": "x"}).encode())
    with pytest.raises(PayloadError):
        payloads.decode(
            json.dumps(
                {"type": "payment", "v": 1, "chain_id": 1, "tx_hash": "0x" + "00" * 32, "amount": "1", "request_id": 5}
            ).encode()
        )


# -- end to end: real anvil, real relay ------------------------------------------------------


def _everyone(cli, tmp_path, relay, anvil, *names):  # noqa: F811
    folks = people(cli, tmp_path, relay, *names)
    for person in folks:
        point_at(person.home, anvil)
    return folks


def _views(person) -> dict[str, dict]:
    person.json("chat", "inbox")
    return {v["id"]: v for v in person.json("request", "list")}


def test_ask_pay_once_decline_and_expiry(cli, tmp_path, relay, anvil):  # noqa: F811
    alice, bob = _everyone(cli, tmp_path, relay, anvil, "alice", "bob")
    alice("faucet", bob.address, "2")
    alice("contacts", "add", bob.address, "--name", "bob")
    asked = alice.json("request", "bob", "0.5 ETH", "--note", "dinner", "--expires", "1d")
    rid = asked["id"]
    assert asked["amount"] == str(ETH // 2) and asked["token"] is None
    declined = alice.json("request", "bob", "1 ETH")["id"]
    with _messenger(alice) as m:  # a request that expired a second ago
        m.send(bob.address, payloads.PaymentRequest("cd" * 16, 31337, str(ETH), expires_ms=m.clock() - 1000))

    seen = _views(bob)
    assert (seen[rid]["direction"], seen[rid]["state"], seen[rid]["owed"], seen[rid]["requester"]) == (
        "received",
        "open",
        str(ETH // 2),
        alice.address,
    )
    assert seen["cd" * 16]["state"] == "expired"
    assert "has expired" in bob.fails("pay", "cd" * 16, "--yes")
    assert "no payment request" in bob.fails("pay", "ef" * 16, "--yes")
    _rotate_bob(alice, relay.url)  # Alice's messaging key changes: the notice could not be sent
    assert "nothing was paid" in bob.fails("pay", rid, "--yes")
    assert bob.json("balance")["balances"][0]["balance"] == str(2 * ETH)
    alice("relay", "use", relay.url)  # her own keys again
    bob("contacts", "verify", alice.address)  # fetched...
    bob("contacts", "verify", alice.address, "--confirm")  # ...and accepted

    paid = bob.json("pay", rid, "--yes")
    assert paid["status"] == "confirmed" and paid["notified"] is True and paid["request_id"] == rid
    assert paid["to"] == alice.address and paid["value"] == str(ETH // 2)
    assert bob.json("request", "decline", declined)["state"] == "declined"
    mine = {v["id"]: v["state"] for v in bob.json("request", "list")}
    assert mine[rid] == "paid" and mine[declined] == "declined"
    assert "paid already" in bob.fails("pay", rid, "--yes")  # not twice by mistake
    assert "you declined" in bob.fails("pay", declined, "--yes")

    theirs = _views(alice)  # the payment checked against the chain
    assert theirs[rid]["state"] == "paid" and theirs[declined]["state"] == "declined"
    assert theirs[rid]["members"][0]["tx_hash"] == paid["hash"]


def test_a_bill_split_three_ways_paid_by_two_shows_who_owes(cli, tmp_path, relay, anvil):  # noqa: F811
    alice, bob, carol, dave, mallory = _everyone(
        cli, tmp_path, relay, anvil, "alice", "bob", "carol", "dave", "mallory"
    )
    for person in (bob, carol, dave):
        alice("faucet", person.address, "2")
    alice("contacts", "add", bob.address, "--name", "bob")
    group = alice.json("group", "create", "family", "bob", carol.address, dave.address)
    weighted = alice.json("request", "--split", "family", "1 ETH", "--shares", f"bob=2,{carol.address}=1")
    # Alice counts as one more weight of 1: a quarter each.
    assert [s["owed"] for s in weighted["shares"]] == [str(ETH // 2), str(ETH // 4)]
    assert "not a member" in alice.fails("request", "--split", "family", "1 ETH", "--shares", f"{mallory.address}=1")
    asked = alice.json("request", "--split", "family", "0.9 ETH", "--exclude-me", "--note", "hotpot")
    rid = asked["id"]
    assert {s["address"]: s["owed"] for s in asked["shares"]} == {
        p.address: str(3 * ETH // 10) for p in (bob, carol, dave)
    }
    hostile = "\x1b[2J\u202eHTE 0001 yap x[/]"
    with _messenger(mallory) as m:  # a stranger's request, with a note that would draw on the terminal
        m.send(bob.address, payloads.PaymentRequest("ee" * 16, 31337, str(ETH), note=hostile))

    bob_view = _views(bob)[rid]
    assert bob_view["owed"] == str(3 * ETH // 10) and bob_view["conversation"] == group["conversation"]
    listed = bob("request", "list").stdout
    assert "\x1b" not in listed and "\u202e" not in listed and "\\x1b[2J" in listed
    shown = bob("pay", "ee" * 16, "--yes", check=False)  # Bob has 2 ETH: this one fails at the preview
    assert "internal error" not in shown.stderr and "\\x1b[2J" in shown.stderr and "x[/]" in shown.stderr
    with _messenger(mallory) as m:  # a copy of the split's id (every member sees it), asking Bob to pay her
        m.send(bob.address, payloads.PaymentRequest(rid, 31337, str(ETH)))
    bob.json("chat", "inbox")
    assert "say whose with --from" in bob.fails("pay", rid, "--yes")
    bob_paid = bob.json("pay", rid, "--from", alice.address, "--yes")
    assert bob_paid["to"] == alice.address
    _views(carol)
    carol.json("pay", rid, "--yes")
    # Dave names Bob's transaction as his payment; Mallory (not asked) names it too.
    with _messenger(dave) as m:
        m.send(alice.address, payloads.Payment(31337, bob_paid["hash"], str(3 * ETH // 10), request_id=rid))
    with _messenger(mallory) as m:
        m.send(alice.address, payloads.Payment(31337, bob_paid["hash"], str(3 * ETH // 10), request_id=rid))

    alice.json("chat", "inbox")
    status = alice.json("request", "status", rid)
    states = {m["address"]: m["state"] for m in status["members"]}
    assert states == {bob.address: "paid", carol.address: "paid", dave.address: "owes"}
    assert status["state"] == "open"
    (dave_row,) = [m for m in status["members"] if m["address"] == dave.address]
    assert "not by the notice's sender" in dave_row["reason"]
    shown = " ".join(alice("request", "status", rid).stdout.split())
    assert f"still owes: {dave.address}" in shown


def test_uri_for_someone_outside_the_chat(cli, tmp_path, anvil):
    alice = Person(cli, tmp_path / "alice", "alice")
    quick_wallet(alice.home)
    point_at(alice.home, anvil)
    shown = alice("request", "--uri", WHO, "0.5 ETH")
    assert shown.stdout.splitlines()[0] == f"ethereum:{WHO}@31337?value=5e17"
    assert "█" in shown.stdout or "▀" in shown.stdout  # the QR code
    assert alice.json("request", "--uri", WHO, "0.5 ETH")["uri"] == f"ethereum:{WHO}@31337?value=5e17"


def test_a_token_request_is_paid_in_that_token(cli, tmp_path, relay, anvil):  # noqa: F811
    from contracts import token as test_token
    from wallet import config

    alice, bob = _everyone(cli, tmp_path, relay, anvil, "alice", "bob")
    alice("faucet", alice.address, "1")
    alice("faucet", bob.address, "1")
    deployed = alice.json("contracts", "deploy")
    mint = "0x" + test_token.mint_data(bob.address, 1_000 * ETH).hex()
    anvil.rpc().call(
        "eth_sendTransaction", {"from": deployed["deployer"], "to": deployed["token"]["address"], "data": mint}
    )
    cfg = config.load(bob.home)
    cfg.networks["local"] = config.load(alice.home).networks["local"]  # Alice's token, by address
    config.save(bob.home, cfg)

    rid = alice.json("request", bob.address, "120 TKN", "--note", "tickets")["id"]
    assert _views(bob)[rid]["token"] == deployed["token"]["address"]
    paid = bob.json("pay", rid, "--yes")
    assert paid["token_amount"] == str(120 * ETH) and paid["request_id"] == rid
    assert _views(alice)[rid]["state"] == "paid"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from([WHO, "0", "5", RID]),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("request_id", "chain_id", "amount", "token", "note", "expires_ms", "shares", "group_id", "x"), _json
        ),
    )
)
def test_any_request_json_is_a_valid_request_or_one_payload_error(fields):
    try:
        request = payloads.decode(json.dumps({"type": "payment_request", "v": 1, **fields}).encode())
    except PayloadError:
        return
    assert isinstance(request, payloads.PaymentRequest)
    owed = request.share_of(WHO)
    assert int(request.amount) > 0 and (owed is None or 0 < owed <= int(request.amount))
    assert payloads.decode(payloads.encode(request)) == request
