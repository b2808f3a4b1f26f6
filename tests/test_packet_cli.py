"""Red packets from a terminal, end to end: a real anvil, a real relay process, real wallets
(one HONGBAO_HOME per person) and the real `hongbao` entry point in subprocesses.

Alice creates a random 2-share ETH packet with a gas deposit for the group {Bob, Carol};
Bob and Carol have nothing configured but the chain and the relay; a stranger's
look-alike packet message is shown invalid and shadows nothing; Bob claims from his
account; Carol holds no ETH: her signed claim goes to Alice over the chat and Alice's
next receiving command submits it, reimbursed from the deposit; Alice sees both claims
and 手气最佳; a second claim is one clear line; an open packet's code (read from a file,
never argv) is claimed by Dave, an outsider without ETH, whose exported ticket Bob
submits (not reimbursed: a third party); after the expiry a claim is refused and Alice
refunds both packets. Every balance is checked to the wei against the transactions' fees and the
contract's events. A second test covers an ERC-20 packet (approve, then create) and the
refusals around refunds.
"""

from __future__ import annotations

import json

import pytest
from conftest import Person as ChatPerson
from conftest import quick_wallet
from test_relay_e2e import Relay, sqlite_url

from wallet import config
from wallet.rpc import to_int

pytestmark = pytest.mark.slow

E18 = 10**18


class Person(ChatPerson):
    """As in the chat tests, with a wide terminal so tables keep whole addresses on one line."""

    address = ""

    def env(self) -> dict[str, str]:
        return {**super().env(), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("packet-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


def person(cli, tmp_path, anvil, name: str, relay=None, network: config.Network | None = None) -> Person:
    """A wallet of one's own, on the test's anvil (with Alice's contracts when given)."""
    someone = Person(cli, tmp_path / name, name)
    someone.address = quick_wallet(someone.home)
    cfg = config.load(someone.home)
    cfg.networks["local"] = network or config.Network("local", anvil.url, 31337)
    config.save(someone.home, cfg)
    if relay is not None:
        someone("relay", "use", relay.url)
        someone.json("chat", "inbox")  # publishes the identity bundle
    return someone


def balance(anvil, who: str) -> int:
    return to_int(anvil.rpc().call("eth_getBalance", who, "latest"))


def fee(result: dict) -> int:
    return int(result["fee"])


def warp(anvil, seconds: int) -> None:
    rpc = anvil.rpc()
    rpc.call("evm_increaseTime", seconds)
    rpc.call("evm_mine")


def watch_once(someone: Person) -> list[dict]:
    return [json.loads(line) for line in someone("chat", "watch", "--once", "--json").stdout.splitlines()]


def send_as(someone: Person, to: str, payload) -> None:
    """Send a payload from `someone`'s account in this process (as a hostile client could)."""
    from test_chat_cli import _messenger

    with _messenger(someone) as m:
        m.send(to, payload)


def test_group_packet_gasless_claim_open_code_expiry_and_refund(cli, tmp_path, anvil, relay):
    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("faucet", alice.address, "10")
    deployed = alice.json("contracts", "deploy")
    contract = deployed["red_packet"]
    # Bob and Carol have nothing configured but the chain and the relay: no RedPacket address
    bob, carol = (person(cli, tmp_path, anvil, name, relay) for name in ("bob", "carol"))
    dave = person(cli, tmp_path, anvil, "dave", None)  # an outsider: no chat, no ETH
    mallory = person(cli, tmp_path, anvil, "mallory", relay)  # a stranger
    bob("faucet", bob.address, "1")  # Carol's account stays empty: she has no ETH for gas

    alice.json("contacts", "add", bob.address, "--name", "bob")
    alice.json("contacts", "add", carol.address, "--name", "carol")
    group = alice.json("group", "create", "family", "bob", "carol")

    # more shares than the group has members: refused, with what to do instead
    error = alice.fails("packet", "create", "--to", "family", "--amount", "1 ETH", "--shares", "3", "--yes")
    assert "3 shares for 2 recipient(s)" in error and "--shares 2" in error and "--open" in error
    assert "lucky draw" in alice.fails("packet", "create", "--open", "--random", "--amount", "1 ETH", "--yes")

    # -- a random 2-share packet for the group, with a gas deposit: one authorization each --
    created = alice.json(
        "packet",
        "create",
        "--to",
        "family",
        "--amount",
        "1 ETH",
        "--random",
        "--expires",
        "1h",
        "--greeting",
        "新年快乐",
        "--theme",
        "spring-festival",
        "--deposit",
        "0.01 ETH",
        "--yes",
    )
    pid = created["packet_id"]
    assert (
        created["contract"] == contract and created["total"] == str(E18) and created["random"] and not created["open"]
    )
    assert {r["address"]: r["slot"] for r in created["recipients"]} == {bob.address: 0, carol.address: 1}
    assert created["sent"]["conversation"] == group["conversation"] and set(created["sent"]["recipients"]) == {
        bob.address,
        carol.address,
    }
    assert created["delivery_error"] is None and created["code"] is None

    # a stranger's look-alike message: same id, junk authorization, a later timestamp
    from messaging import payloads

    send_as(
        mallory,
        bob.address,
        payloads.RedPacket(
            31337, contract, pid, greeting="50 ETH!", slot=0, authorization="0x" + "11" * 65, total=str(50 * E18)
        ),
    )
    # ...and one naming a contract that is not ours (here the test token)
    fake = "0x" + "ee" * 32
    send_as(
        mallory,
        bob.address,
        payloads.RedPacket(31337, deployed["token"]["address"], fake, slot=0, authorization="0x" + "11" * 65),
    )
    inbox = bob.json("chat", "inbox")
    assert any(c["conversation"] == group["conversation"] for c in inbox["conversations"])
    bob.json("group", "accept", group["id"])  # Alice is no contact of his yet: her group was an invitation
    listed = bob.json("packet", "list")
    valid = [r for r in listed if r["status"] != "invalid"]
    invalid = [r for r in listed if r["status"] == "invalid"]
    assert [(r["packet_id"], r["status"], r["from"], r["greeting"], r["slot"]) for r in valid] == [
        (pid, "open", alice.address, "新年快乐", 0)
    ]
    assert valid[0]["conversation"] == group["conversation"]
    assert [(r["packet_id"], r["message_from"], r["reason"]) for r in invalid] == [
        (pid, mallory.address, "its authorization is not signed by the packet's claim key"),
        (fake, mallory.address, "its contract is not a Hongbao RedPacket"),
    ]
    error = bob.fails("packet", "claim", fake[:12], "--yes")
    assert "not a Hongbao RedPacket" in error and "deploy" not in error and len(error.strip().splitlines()) == 1
    assert "invalid" in bob("packet", "list", "--no-fetch").stdout
    # the contract was recognised by its code and recorded (for claims only), without any set-up
    assert config.load(bob.home).networks["local"].contracts == {"red_packet_recognised": contract}

    before = balance(anvil, bob.address)
    got_b = bob.json("packet", "claim", pid[:12], "--yes")
    a_b = int(got_b["amount"])
    assert got_b["recipient"] == got_b["submitter"] == bob.address and got_b["from"] == alice.address
    assert 0 < a_b < E18
    assert balance(anvil, bob.address) == before - fee(got_b) + a_b + int(got_b["reimbursed"])
    valid = [r for r in bob.json("packet", "list") if r["status"] != "invalid"]
    assert [(r["status"], r["amount"]) for r in valid] == [("claimed", str(a_b))]
    # the chat shows each packet message's live state from the chain, and the look-alike as invalid
    assert "claimed by me" in " ".join(bob("chat", "show", "family").stdout.split())
    shown = [m for m in bob.json("chat", "show", mallory.address)["messages"] if m["type"] == "red_packet"]
    assert [m["packet_check"].split(":")[0] for m in shown] == ["✗ INVALID", "✗ INVALID"]

    # Carol has no ETH: her signed claim travels to Alice over the chat, Alice's watch submits it
    requested = carol.json("packet", "claim", pid, "--yes")
    assert requested["status"] == "requested" and requested["creator"] == alice.address
    assert int(requested["amount"]) == E18 - a_b  # the committed share, shown before it is paid
    assert "claim sent; you will be paid when it is submitted" in carol("packet", "claim", pid, "--yes").stdout
    before_alice = balance(anvil, alice.address)
    # any receiving command of Alice's submits it (here `chat inbox`; `chat watch` does too, see the demo)
    served = alice.json("chat", "inbox")["claims_submitted"]
    assert [(e["recipient"], e["amount"]) for e in served if e["tx"]] == [(carol.address, str(E18 - a_b))]
    assert any(e["error"] and "already claimed" in e["error"] for e in served)  # her second request
    a_c = E18 - a_b
    assert balance(anvil, carol.address) == a_c  # the whole share, no gas paid by Carol
    assert not [e for e in watch_once(alice) if e.get("kind") == "claim_request"]  # each request is handled once
    submitted_for_carol = next(e for e in served if e["tx"])
    receipt = anvil.rpc().call("eth_getTransactionReceipt", submitted_for_carol["tx"])
    cost = to_int(receipt["gasUsed"]) * to_int(receipt["effectiveGasPrice"])
    assert 0 < int(submitted_for_carol["reimbursed"]) <= cost  # the deposit pays back at most the gas used
    assert balance(anvil, alice.address) == before_alice - cost + int(submitted_for_carol["reimbursed"])
    assert [r["status"] for r in carol.json("packet", "list") if r["status"] != "invalid"] == ["claimed"]

    info = alice.json("packet", "info", pid[:10])
    assert {c["recipient"]: int(c["amount"]) for c in info["claims"]} == {bob.address: a_b, carol.address: a_c}
    assert info["remaining"] == "0" and info["shares_left"] == 0 and info["status"] == "exhausted"
    assert info["best_luck"] == (bob.address if a_b >= a_c else carol.address)  # 手气最佳, once all are claimed
    assert "手气最佳" in alice("packet", "info", pid[:10]).stdout
    # the shares are in the recipients' local records: `tx list` shows them as received
    for who, got in ((bob, a_b), (carol, a_c)):
        received = [r for r in who.json("tx", "list") if r["direction"] == "in" and r["counterparty"] == contract]
        assert [r["amount"] for r in received] == [str(got)]  # the share (Bob's own claim, Carol's submitted for her)
    assert info["greeting"] == "新年快乐" and info["theme"] == "spring-festival" and info["creator"] == alice.address
    assert "0x" in alice("packet", "info", pid).stdout  # the human view renders too

    error = bob.fails("packet", "claim", pid, "--yes")
    assert "already claimed" in error
    # a re-send reaches the chat again and still counts once; the creator's file keeps the
    # claim key sealed, never in clear
    assert set(alice.json("packet", "resend", pid[:10])["recipients"]) == {bob.address, carol.address}
    assert [(r["packet_id"], r["status"]) for r in bob.json("packet", "list") if r["status"] != "invalid"] == [
        (pid, "claimed")
    ]
    kept = alice.home / "packets.json"
    assert kept.stat().st_mode & 0o777 == 0o600 and json.loads(kept.read_text())["packets"][pid]["tx"] == created["tx"]

    # -- an open packet: a code, claimed by an outsider without ETH through a ticket --------
    opened = alice.json(
        "packet",
        "create",
        "--open",
        "--amount",
        "0.5",
        "--shares",
        "2",
        "--fixed",
        "--expires",
        "2h",
        "--deposit",
        "0.01 ETH",
        "--yes",
    )
    code, oid = opened["code"], opened["packet_id"]
    assert code.rsplit(":", 1)[1][2:] not in kept.read_text()  # the claim key is stored sealed
    assert code.startswith(f"hongbao:redpacket:31337:{contract}:{oid}:") and opened["sent"] is None
    assert "bearer key" in dave.fails("packet", "claim", code, "--export")  # never in argv
    assert "bearer key" in dave.fails("packet", "info", code)
    code_file = tmp_path / "code.txt"
    code_file.write_text(code + "\n")
    error = dave.fails("packet", "claim", "--code", str(code_file), "--yes")  # no ETH, and no chat to ask in
    assert "no relay to send the claim" in error and "--submit-from" in error and "deploy" not in error
    ticket = dave.json("packet", "claim", "--code", str(code_file), "--export")["ticket"]
    assert ticket.startswith(f"hongbao:claim:31337:{contract}:{oid}:{dave.address}:0:")
    before_bob = balance(anvil, bob.address)
    submitted = bob.json("packet", "submit", ticket, "--yes")
    assert (
        submitted["recipient"] == dave.address
        and submitted["amount"] == str(E18 // 4)
        and submitted["submitter"] == bob.address
    )
    assert submitted["reimbursed"] == "0"  # a third party is not reimbursed: a copycat gains nothing
    assert balance(anvil, dave.address) == E18 // 4
    assert balance(anvil, bob.address) == before_bob - fee(submitted)
    assert "already claimed" in dave.fails("packet", "claim", "--code", str(code_file), "--export")

    # -- expiry: no more claims, the creator refunds, balances add up ------------------------
    assert "expires at" in alice.fails("packet", "refund", oid[:10], "--yes")
    warp(anvil, 2 * 3600 + 1)
    assert "expired" in bob.fails("packet", "claim", "--code", str(code_file), "--yes")
    assert "only the packet's creator" in bob.fails("packet", "refund", oid, "--yes")
    deposit_left = 10**16 - int(submitted_for_carol["reimbursed"]) - int(got_b["reimbursed"])

    before_alice = balance(anvil, alice.address)
    refunded = alice.json("packet", "refund", pid[:10], "--yes")
    assert refunded["amount"] == "0" and refunded["deposit"] == str(deposit_left)
    refunded_open = alice.json("packet", "refund", oid[:10], "--yes")
    assert int(refunded_open["amount"]) == E18 // 4 and int(refunded_open["deposit"]) == 10**16
    assert (
        balance(anvil, alice.address)
        == before_alice - fee(refunded) - fee(refunded_open) + deposit_left + E18 // 4 + 10**16
    )
    info = alice.json("packet", "info", oid)
    assert info["status"] == "refunded" and info["refund"]["amount"] == str(E18 // 4) and info["remaining"] == "0"
    assert "already refunded" in alice.fails("packet", "refund", oid, "--yes")
    statuses = {row["packet_id"]: row["status"] for row in carol.json("packet", "list")}
    assert statuses == {pid: "claimed"}


def test_token_packet_approves_first_and_refunds_tokens(cli, tmp_path, anvil, relay):
    from contracts import token as test_token
    from wallet import erc20

    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("faucet", alice.address, "2")
    deployed = alice.json("contracts", "deploy")
    tkn, contract = deployed["token"]["address"], deployed["red_packet"]
    rpc = anvil.rpc()
    rpc.call(
        "eth_sendTransaction",
        {
            "from": deployed["deployer"],
            "to": tkn,
            "data": "0x" + test_token.mint_data(alice.address, 1_000 * E18).hex(),
        },
    )
    bob = person(cli, tmp_path, anvil, "bob", relay)  # nothing configured: no RedPacket, no TKN
    bob("faucet", bob.address, "1")
    alice.json("contacts", "add", bob.address, "--name", "bob")

    assert "--json needs --yes" in alice.fails(
        "packet", "create", "--to", "bob", "--open", "--amount", "100 TKN", "--json"
    )
    created = alice.json(
        "packet",
        "create",
        "--to",
        "bob",
        "--open",
        "--amount",
        "100",
        "--token",
        "TKN",
        "--shares",
        "3",
        "--expires",
        "10m",
        "--yes",
    )
    pid = created["packet_id"]
    assert created["approve_tx"] and created["token"]["symbol"] == "TKN" and created["total"] == str(100 * E18)
    assert erc20.allowance(rpc, tkn, alice.address, contract) == 0  # exactly the total was approved, and spent
    assert erc20.balance_of(rpc, tkn, alice.address) == 900 * E18

    # an open packet sent to a chat: Bob claims it by id, with the key from his message
    got = bob.json("packet", "claim", pid[:10], "--yes")
    share = int(got["amount"])
    assert got["token"]["symbol"] == "TKN" and erc20.balance_of(rpc, tkn, bob.address) == share
    (listed,) = bob.json("packet", "list", "--no-fetch")
    assert listed["kind"] == "open" and listed["status"] == "claimed" and listed["formatted"].endswith(" TKN")
    # the token Bob received joined his token list: `balance` shows it
    assert config.load(bob.home).networks["local"].tokens["TKN"].address == tkn

    assert "expires at" in alice.fails("packet", "refund", pid[:10], "--yes")
    warp(anvil, 601)
    (listed,) = bob.json("packet", "list", "--no-fetch")
    assert listed["status"] == "claimed"
    refunded = alice.json("packet", "refund", pid[:10], "--yes")
    assert int(refunded["amount"]) == 100 * E18 - share and refunded["formatted"].endswith(" TKN")
    assert erc20.balance_of(rpc, tkn, alice.address) == 1_000 * E18 - share
    info = alice.json("packet", "info", pid)
    assert info["status"] == "refunded" and info["open"] and [c["recipient"] for c in info["claims"]] == [bob.address]


def test_plans_codes_tickets_and_the_keeper_offline(tmp_path):
    """The pure parts of contracts/flows.py: slots, signatures bound to their recipient,
    code and ticket round trips, damaged input in words, the keeper's sealed claim keys."""
    from dataclasses import replace

    from cli.packet_cmd import parse_account, parse_duration
    from contracts import flows, packet_keeper
    from contracts import redpacket as rp
    from wallet import address as addr
    from wallet.errors import WalletError

    creator_key, other_key = bytes(range(1, 33)), bytes(range(2, 34))
    creator, a, b = addr.from_private_key(creator_key), "0x" + "aa" * 20, "0x" + "bb" * 20
    contract = "0x" + "cc" * 20
    plan = flows.plan_create(
        31337, contract, creator, total=10, shares=2, duration=60, recipients=[a, b], greeting="x" * 40, theme="wedding"
    )
    assert (
        plan.params.theme == flows.THEMES.index("wedding") and len(plan.params.greeting) == 32
    )  # a long greeting goes as its hash
    grant = plan.authorization(b)
    assert grant.slot == 1 and grant.recipient == addr.parse(b)
    ticket = flows.Ticket.from_authorization(
        31337, contract, flows.id_hex(plan.packet_id), b, 1, "0x" + grant.signature.hex()
    )
    assert ticket.signer() == plan.params.claim_key and flows.Ticket.parse(str(ticket)) == ticket
    assert replace(ticket, recipient=addr.parse(a)).signer() != plan.params.claim_key  # not redirectable
    assert replace(ticket, slot=0).signer() != plan.params.claim_key
    with pytest.raises(flows.PacketError, match="open packet"):
        plan.code  # noqa: B018  the property raises

    opened = flows.plan_create(31337, contract, creator, total=10, shares=2, duration=60, open=True)
    code = flows.OpenCode.parse(str(opened.code))
    assert code == opened.code and code.ticket(a).signer() == opened.params.claim_key
    with pytest.raises(flows.PacketError, match="damaged"):
        flows.OpenCode.parse(str(opened.code)[:-4] + "zzzz")
    with pytest.raises(flows.PacketError, match="fields"):
        flows.Ticket.parse(str(ticket).rsplit(":", 1)[0])

    for kwargs, message in [
        (dict(recipients=[a, a.upper().replace("0X", "0x")]), "twice"),
        (dict(recipients=[]), "needs recipients"),
        (dict(recipients=[a], shares=1, theme="halloween"), "unknown theme"),
        (dict(recipients=[a], shares=1, duration=366 * 86_400), "365 days"),
        (dict(recipients=[a], shares=2), "2 shares for 1 recipient"),
        (dict(open=True, random=True), "lucky draw"),
    ]:
        with pytest.raises(flows.PacketError, match=message):
            flows.plan_create(31337, contract, creator, **{"total": 10, "shares": 2, "duration": 60, **kwargs})

    keeper = packet_keeper.Keeper(tmp_path)
    kept = keeper.remember(plan, creator_key, to="group:" + "0" * 32)
    assert (tmp_path / packet_keeper.KEEPER_FILE).stat().st_mode & 0o777 == 0o600
    assert plan.claim_key.hex() not in (tmp_path / packet_keeper.KEEPER_FILE).read_text()
    assert keeper.claim_key(kept, creator_key) == plan.claim_key
    assert keeper.plan(kept, creator_key).authorization(b) == grant
    with pytest.raises(flows.PacketError, match="does not open"):
        keeper.claim_key(kept, other_key)
    assert keeper.find(kept.packet_id[2:10]) == [kept]
    keeper.forget(plan.packet_id)
    assert keeper.all() == []

    # a lucky draw: each authorization carries its slot's committed share and proof, which
    # survive a ticket's round trip and the keeper (to re-send the same split)
    lucky = flows.plan_create(
        31337, contract, creator, total=10**18, shares=2, duration=60, random=True, recipients=[a, b]
    )
    assert lucky.split is not None and sum(lucky.split.amounts) == 10**18
    grant = lucky.authorization(b)
    assert grant.amount == lucky.split.amounts[1] and rp.verify_share(lucky.params.root, 1, grant.amount, grant.proof)
    ticket = flows.Ticket.from_authorization(
        31337, contract, lucky.packet_id, b, 1, grant.signature, grant.amount, grant.proof
    )
    assert flows.Ticket.parse(str(ticket)) == ticket
    kept = keeper.remember(lucky, creator_key)
    assert keeper.plan(kept, creator_key).authorization(b) == grant

    assert parse_duration("1d12h") == 129_600 and parse_duration("90") == 90 and parse_duration("30m") == 1_800
    with pytest.raises(WalletError):
        parse_duration("soon")
    assert parse_account("gas") == ("gas", 0) and parse_account("gas:3") == ("gas", 3)
