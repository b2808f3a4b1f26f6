"""`hongbao send --notify`: a payment notice through the chat, checked against the chain."""

from __future__ import annotations

from test_chat_cli import people, relay  # noqa: F401  (the module-scoped relay fixture)

from wallet import config, erc20, payments, swap_proof
from wallet.rpc import to_int

pytest_plugins = ("defi_fixtures",)  # `defi`: Uniswap and friends on the test's chain
E18 = 10**18
CAROL = "0x" + "c0" * 20

ETH = 10**18
WHO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PAYER = "0x" + "ab" * 20
MINTER = "0x" + "00" * 20  # the log below is a mint
TX = {"from": PAYER, "to": WHO, "value": hex(ETH)}
OK = {"status": "0x1", "logs": []}


def test_check_is_exact():
    assert payments.check(TX, OK, WHO, ETH, None, payer=PAYER).ok
    assert not payments.check(TX, OK, WHO, ETH + 1, None, payer=PAYER).ok
    assert not payments.check({**TX, "to": "0x" + "11" * 20}, OK, WHO, ETH, None, payer=PAYER).ok
    assert not payments.check(TX, {"status": "0x0", "logs": []}, WHO, ETH, None, payer=PAYER).ok
    assert not payments.check(None, None, WHO, ETH, None, payer=PAYER).ok
    token = "0x" + "22" * 20
    log = {
        "address": token,
        "topics": [
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
            "0x" + "00" * 32,
            "0x" + "00" * 12 + WHO[2:].lower(),
        ],
        "data": hex(5),
    }
    assert payments.check(
        {"to": token, "value": "0x0"}, {"status": "0x1", "logs": [log]}, WHO, 5, token, payer=MINTER
    ).ok
    assert not payments.check(
        {"to": token, "value": "0x0"}, {"status": "0x1", "logs": [log]}, WHO, 6, token, payer=MINTER
    ).ok
    spoofed = {**log, "address": "0x" + "33" * 20}  # the same event from another contract pays nothing
    assert not payments.check(
        {"to": token, "value": "0x0"}, {"status": "0x1", "logs": [spoofed]}, WHO, 5, token, payer=MINTER
    ).ok


def point_at(home, anvil) -> None:
    cfg = config.load(home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(home, cfg)


def test_send_notify_reaches_the_chat_and_is_checked(cli, tmp_path, relay, anvil):  # noqa: F811
    alice, bob = people(cli, tmp_path, relay, "alice", "bob")
    for person in (alice, bob):
        point_at(person.home, anvil)
    alice("faucet", alice.address, "3")
    alice("contacts", "add", bob.address, "--name", "bob")
    sent = alice.json("send", bob.address, "1.25", "--yes", "--notify", "--note", "for dinner")
    assert sent["status"] == "confirmed" and sent["notified"] is True

    bob.json("chat", "inbox")
    shown = bob.json("chat", "show", alice.address)
    (message,) = shown["messages"]
    assert message["payload"]["type"] == "payment" and message["payload"]["amount"] == str(125 * ETH // 100)
    assert message["payment_check"].startswith("✓")
    assert "✓ ETH transfer confirmed on chain" in " ".join(
        bob("chat", "show", alice.address).stdout.split()
    )  # the human view (wrapped)

    # A notice that lies about the amount is shown as not confirmed.
    from messaging import payloads
    from messaging.chat import Messenger
    from wallet import keyring

    key = keyring.WalletStore(alice.home).open("default").unlock(alice.cli.env["HONGBAO_PASSWORD"]).private_key(0)
    with Messenger.open(alice.home, key) as messenger:
        messenger.send(bob.address, payloads.Payment(31337, sent["hash"], str(9 * ETH)))
    bob.json("chat", "inbox")
    lie = bob.json("chat", "show", alice.address)["messages"][-1]
    assert lie["payment_check"].startswith("✗ NOT CONFIRMED")


def test_notify_needs_the_receipt(cli, tmp_path, relay, anvil):  # noqa: F811
    (alice,) = people(cli, tmp_path, relay, "alice")
    point_at(alice.home, anvil)
    assert "drop --no-wait" in alice.fails("send", WHO, "1", "--yes", "--no-wait", "--notify")


def test_a_notice_counts_only_from_its_payer_and_once(cli, tmp_path, relay, anvil):  # noqa: F811
    """Issue 13, finding 4: Mallory names Alice's payment to Bob as hers; Alice names it twice."""
    from test_chat_cli import _messenger

    from messaging import payloads

    alice, bob, mallory = people(cli, tmp_path, relay, "alice", "bob", "mallory")
    for person in (alice, bob):
        point_at(person.home, anvil)
    alice("faucet", alice.address, "3")
    sent = alice.json("send", bob.address, "1", "--yes", "--notify")
    with _messenger(mallory) as m:
        m.send(bob.address, payloads.Payment(31337, sent["hash"], str(ETH), note="from me"))
    with _messenger(alice) as m:
        m.send(bob.address, payloads.Payment(31337, sent["hash"], str(ETH), note="again"))
    bob.json("chat", "inbox")
    (stolen,) = bob.json("chat", "show", mallory.address)["messages"]
    assert (
        stolen["payment_check"].startswith("✗ NOT CONFIRMED")
        and "not by the notice's sender" in stolen["payment_check"]
    )
    first, again = bob.json("chat", "show", alice.address)["messages"]
    assert first["payment_check"] == "✓ ETH transfer confirmed on chain"
    assert again["payment_check"].startswith("✗ NOT CONFIRMED") and "earlier notice" in again["payment_check"]


def verdict(rpc, tx_hash: str, to: str, amount: int, token: str | None, defi, payer: str):
    routers = swap_proof.Routers.from_contracts(defi.contracts)
    return payments.verify(rpc, tx_hash, to, amount, token, payer=payer, routers=routers)


def incoming(person, sender) -> list[dict]:
    return [m for m in person.json("chat", "show", sender.address)["messages"] if m["direction"] == "in"]


def test_swap_outputs_to_a_contact_with_notices_checked_on_each_side(cli, tmp_path, relay, anvil, defi):  # noqa: F811
    alice, bob = people(cli, tmp_path, relay, "alice", "bob")
    for person in (alice, bob):
        defi.record(person.home, anvil)
    rpc = anvil.rpc()
    for who, wei in ((alice.address, 3 * E18), (bob.address, E18)):
        rpc.call("anvil_setBalance", who, hex(wei))
    alice("contacts", "add", bob.address, "--name", "bob")
    tkn = defi.tokens["TKN"]

    # a lookalike of Bob (both ends alike) as recipient is refused under --yes, before anything
    fake = (bob.address[:8] + ("0" if bob.address[8] != "0" else "1") * 28 + bob.address[-6:]).lower()
    refused = alice("swap", "1", "ETH", "TKN", "--to", fake, "--yes", check=False)
    assert refused.returncode == 1 and "only LOOKS LIKE" in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: refused: ") and "--allow-risky" in refused.stderr
    assert to_int(rpc.call("eth_getTransactionCount", alice.address, "latest")) == 0

    # token out, Uniswap v2: the pair pays Bob, Alice's client proves the amount for the notice
    sent = alice.json("swap", "1", "ETH", "TKN", "--via", "v2", "--to", "bob", "--notify", "--note", "lunch", "--yes")
    assert sent["notified"] is True and sent["recipient"] == bob.address
    assert erc20.balance_of(rpc, tkn, bob.address) == int(sent["received"]) == int(sent["quote"]) > 0
    assert erc20.balance_of(rpc, tkn, alice.address) == 0

    # ETH out, Uniswap v3 (multicall: swap to the router, unwrap to Alice): Bob pays Alice back
    before = to_int(rpc.call("eth_getBalance", alice.address, "latest"))
    back = bob.json("swap", "100", "TKN", "ETH", "--via", "v3", "--to", alice.address, "--notify", "--yes")
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
