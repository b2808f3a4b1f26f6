"""Transactions the node forgot are broadcast again (wallet/transfers.py `next_nonce`).

A node may drop a pending transaction (restart, pool eviction, another RPC behind a load
balancer). Our history still holds its signed bytes and its nonce; the next send uses
the nonce after it and rebroadcasts it, or the new transaction would wait forever behind
a gap. One anvil for the module with automine off (`evm_mine` returns once the block
exists); each test sends from an account of its own."""

from __future__ import annotations

import secrets
from decimal import Decimal
from types import SimpleNamespace

import pytest
from conftest import start_anvil, stop_anvil

from wallet import address as addr
from wallet import config, transfers
from wallet.amounts import Amount
from wallet.chain import Chain
from wallet.history import History, SentTx
from wallet.rpc import to_int

BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ETH = 10**18


@pytest.fixture(scope="module")
def node():
    running = start_anvil()
    running.rpc().call("evm_setAutomine", False)
    try:
        yield running
    finally:
        stop_anvil(running)


@pytest.fixture
def wallet(node, tmp_path):
    """A fresh funded account: .chain, .history, .sender, .send(value) (not waited for)."""
    key = secrets.token_bytes(32)
    sender = addr.from_private_key(key)
    node.rpc().call("anvil_setBalance", sender, hex(10 * ETH))
    chain = Chain.connect(config.Network("local", node.url, 31337))
    history = History(tmp_path / "history.sqlite")

    def send(value: str) -> SentTx:
        prepared = transfers.prepare(chain, transfers.eth_transfer(sender, BOB, Amount(Decimal(value), "ETH")))
        return transfers.send(chain, prepared, key, history, lock_path=tmp_path / "lock")

    yield SimpleNamespace(chain=chain, history=history, sender=sender, send=send)
    chain.close()


def forget(node, tx_hash: str) -> None:
    rpc = node.rpc()
    rpc.call("anvil_dropTransaction", tx_hash)
    assert rpc.call("eth_getTransactionByHash", tx_hash) is None, "the node still knows it"


def test_the_next_send_rebroadcasts_a_forgotten_transaction(node, wallet):
    rpc = node.rpc()
    first = wallet.send("0.1")
    forget(node, first.hash)
    assert to_int(rpc.call("eth_getTransactionCount", wallet.sender, "pending")) == 0
    second = wallet.send("0.2")
    assert (first.nonce, second.nonce) == (0, 1)
    assert rpc.call("eth_getTransactionByHash", first.hash) is not None, "the forgotten one was not sent again"
    rpc.call("evm_mine")
    receipts = [rpc.call("eth_getTransactionReceipt", sent.hash) for sent in (first, second)]
    assert all(r is not None and to_int(r["status"]) == 1 for r in receipts), receipts
    assert to_int(rpc.call("eth_getTransactionCount", wallet.sender, "latest")) == 2
    mined = [to_int(rpc.call("eth_getTransactionByHash", sent.hash)["nonce"]) for sent in (first, second)]
    assert mined == [0, 1]


def test_next_nonce_rebroadcasts_every_forgotten_one_in_order(node, wallet):
    rpc = node.rpc()
    sent = [wallet.send("0.01"), wallet.send("0.02"), wallet.send("0.03")]
    rpc.call("anvil_dropAllTransactions")
    assert all(rpc.call("eth_getTransactionByHash", s.hash) is None for s in sent)
    assert transfers.next_nonce(wallet.chain, wallet.history, wallet.sender) == 3
    assert [to_int(rpc.call("eth_getTransactionByHash", s.hash)["nonce"]) for s in sent] == [0, 1, 2]
    rpc.call("evm_mine")
    assert to_int(rpc.call("eth_getTransactionCount", wallet.sender, "latest")) == 3
    assert all(to_int(rpc.call("eth_getTransactionReceipt", s.hash)["status"]) == 1 for s in sent)


def test_a_mined_transaction_is_not_sent_again(node, wallet):
    rpc = node.rpc()
    first = wallet.send("0.1")
    rpc.call("evm_mine")  # mined, but our history still says pending (nobody waited for it)
    assert wallet.history.get_sent(31337, first.hash).status == "pending"
    assert transfers.next_nonce(wallet.chain, wallet.history, wallet.sender) == 1  # no "nonce too low" escapes
    assert to_int(rpc.call("eth_getTransactionCount", wallet.sender, "pending")) == 1
