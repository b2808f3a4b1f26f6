"""A token payment notice counts only for what reached the recipient (wallet/payments.py).

`check` is pure: hand-built transactions and receipts whose ERC-20 Transfer events went to
someone else. `verify` then reads real transfers from one anvil shared by this module: a
payment to a third party, and one *from* the recipient, must never confirm a notice."""

from __future__ import annotations

import pytest
from conftest import start_anvil, stop_anvil

from wallet import address as addr
from wallet import erc20, payments
from wallet.erc20 import TRANSFER_TOPIC
from wallet.localchain import DEV_ADDRESS

BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's account 1 (unlocked: it can send)
CAROL = addr.to_checksum("0x" + "ca" * 20)  # a third party
TOKEN = addr.to_checksum("0x" + "22" * 20)


def topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def transfer_log(to: str, amount: int, *, sender: str = DEV_ADDRESS, token: str = TOKEN) -> dict:
    return {"address": token, "topics": [TRANSFER_TOPIC, topic(sender), topic(to)], "data": hex(amount)}


def receipt(*logs: dict) -> dict:
    return {"status": "0x1", "logs": list(logs)}


TX = {"to": TOKEN, "value": "0x0"}


# -- pure --------------------------------------------------------------------------------------


def test_a_transfer_to_the_recipient_confirms():
    assert payments.check(TX, receipt(transfer_log(BOB, 5)), BOB, 5, TOKEN, payer=DEV_ADDRESS).ok


def test_a_transfer_to_someone_else_does_not_confirm():
    verdict = payments.check(TX, receipt(transfer_log(CAROL, 5)), BOB, 5, TOKEN, payer=DEV_ADDRESS)
    assert not verdict.ok and "moved 0 base units" in verdict.reason


def test_a_transfer_from_the_recipient_to_someone_else_does_not_confirm():
    assert not payments.check(TX, receipt(transfer_log(CAROL, 5, sender=BOB)), BOB, 5, TOKEN, payer=DEV_ADDRESS).ok


def test_only_what_reached_the_recipient_counts():
    split = receipt(transfer_log(BOB, 2), transfer_log(CAROL, 3))
    assert not payments.check(TX, split, BOB, 5, TOKEN, payer=DEV_ADDRESS).ok  # 5 moved, 2 of them to Bob
    assert payments.check(TX, split, BOB, 2, TOKEN, payer=DEV_ADDRESS).ok
    assert payments.check(TX, split, CAROL, 3, TOKEN, payer=DEV_ADDRESS).ok


def test_the_recipient_is_compared_whatever_the_spelling():
    assert payments.check(TX, receipt(transfer_log(BOB, 5)), BOB.lower(), 5, TOKEN.lower(), payer=DEV_ADDRESS).ok
    assert not payments.check(TX, receipt(transfer_log(CAROL, 5)), BOB.lower(), 5, TOKEN.lower(), payer=DEV_ADDRESS).ok


# -- on a real chain ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain():
    """anvil with automine off: each send is mined by `evm_mine`, which returns once the block exists."""
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx

    node = start_anvil()
    rpc = node.rpc()
    rpc.call("evm_setAutomine", False)

    def send(sender: str, **tx) -> str:
        tx_hash = rpc.call("eth_sendTransaction", {"from": sender, **tx})
        rpc.call("evm_mine")
        assert rpc.call("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
        return tx_hash

    deployed = send(DEV_ADDRESS, data="0x" + deployment_tx(load("TestToken"), "Test", "TST", 18, 10**24).hex())
    token = addr.to_checksum(rpc.call("eth_getTransactionReceipt", deployed)["contractAddress"])

    def pay(sender: str, to: str, amount: int) -> str:
        return send(sender, to=token, data="0x" + erc20.transfer_data(to, amount).hex())

    try:
        yield rpc, token, pay
    finally:
        stop_anvil(node)


def test_verify_a_real_token_transfer_to_a_third_party(chain):
    rpc, token, pay = chain
    to_carol = pay(DEV_ADDRESS, CAROL, 7 * 10**18)
    assert not payments.verify(rpc, to_carol, BOB, 7 * 10**18, token, payer=DEV_ADDRESS).ok
    assert payments.verify(
        rpc, to_carol, CAROL, 7 * 10**18, token, payer=DEV_ADDRESS
    ).ok  # the same transaction, for its payee


def test_verify_a_real_token_transfer_from_the_recipient(chain):
    rpc, token, pay = chain
    pay(DEV_ADDRESS, BOB, 10**18)
    from_bob = pay(BOB, CAROL, 10**18)  # Bob's own payment out is no payment to Bob
    assert not payments.verify(rpc, from_bob, BOB, 10**18, token, payer=DEV_ADDRESS).ok
    to_bob = pay(DEV_ADDRESS, BOB, 3)
    assert payments.verify(rpc, to_bob, BOB, 3, token, payer=DEV_ADDRESS).ok
    assert not payments.verify(
        rpc, to_bob, BOB, 3, addr.to_checksum("0x" + "33" * 20), payer=DEV_ADDRESS
    ).ok  # another token


# -- a page of notices in a chat ---------------------------------------------------------------


def test_a_page_of_notices_reads_the_store_once_and_a_replayed_tx_counts_once(tmp_path, monkeypatch):
    """`view` (what `chat show` and the app draw) checks every notice of a page with one scan
    of the store's notices and one configuration; the second notice naming a transaction is
    still refused. No network has the notices' chain id, so nothing is asked of a node."""
    from app_fixtures import ME_KEY, T0, Clock, incoming, peer_key

    from cli.services.messages import view
    from messaging import payloads
    from messaging.chat import Messenger
    from messaging.identity import make_bundle

    monkeypatch.setenv("HONGBAO_HOME", str(tmp_path))
    m = Messenger.open(tmp_path, ME_KEY, clock=Clock())
    for i in range(30):
        tx = "0x%064x" % (i if i != 29 else 3)  # the last one replays the fourth's transaction
        incoming(m, peer_key(0), i, payloads.Payment(424242, tx, str(10**15), None), T0 + i * 1000)
    scans = []
    real = m.store.first_payment_notices
    monkeypatch.setattr(m.store, "first_payment_notices", lambda: scans.append(1) or real())
    page = m.store.messages(make_bundle(peer_key(0), T0 // 1000).address, limit=50)
    checks = [shown.payment_check for shown in view(m, page)]
    assert len(scans) == 1
    assert checks[-1].startswith("✗ NOT CONFIRMED") and "already backs an earlier notice" in checks[-1]
    assert checks[:-1] == ["not checked: no network with chain id 424242 is configured"] * 29
