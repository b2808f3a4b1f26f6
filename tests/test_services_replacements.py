"""Speed-up, cancel and the faucet without click (cli/services/replacements.py, faucet.py):
in-process on the worker's anvil, with a front end that records each preview. A
replacement goes through the signing pipeline as a send does: previewed, reviewed by the
local security rules, confirmed, and recorded as replacing its original."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import ANVIL_KEYS, quick_wallet
from test_security_rules import imitation
from test_services_packets import Scripted
from test_transfers import ALICE, balance_of, point_local_at

from cli.context import chain as connect
from cli.context import history, nonce_lock_path
from cli.services.faucet import fund
from cli.services.payments import Payment, pay
from cli.services.replacements import replace
from cli.services.signing import Fees, wait
from wallet import address as addr
from wallet import config, transfers
from wallet.amounts import Amount
from wallet.errors import WalletError
from wallet.rpc import to_int

ETH = 10**18


def funded(home, node) -> str:
    """A wallet here whose account 0 got 5 ETH from the faucet (in-process); its address."""
    point_local_at(home, node)
    me = quick_wallet(home)
    sent = fund(me, "5", Scripted())
    assert sent.receipt is not None and balance_of(node, me) == 5 * ETH
    return me


def test_a_speed_up_replaces_the_original(hongbao_home, anvil):
    funded(hongbao_home, anvil)
    rpc = anvil.rpc()
    rpc.call("evm_setAutomine", False)
    slow = pay(Payment(ALICE, "0.3", wait=False), Scripted(), fees=Fees("slow")).record
    front = Scripted()
    faster = replace("0x" + slow.hash[2:].upper(), front, wait=False)  # any case of the hash
    (asked,) = front.previews
    assert asked.title == "Sign and send the replacement?" and asked.tx.draft.kind == "speed-up"
    assert dict(asked.rows)["replaces"] == f"{slow.hash} (nonce {slow.nonce})"
    assert asked.tx.fees.max_fee > slow.max_fee_per_gas and asked.tx.value == 3 * ETH // 10
    # reviewed as a send: the pending original does not make ALICE someone already paid
    assert [(f.rule, f.confirm) for f in asked.findings] == [("first-payment", False)] and asked.recipient == ALICE
    new = faster.record
    assert (new.nonce, new.replaces, new.kind, faster.receipt) == (slow.nonce, slow.hash, "speed-up", None)

    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", slow.hash) is None
    assert to_int(wait(front, connect(None), new.hash, history(), 5)["status"]) == 1
    assert history().get_sent(31337, slow.hash).status == "replaced"
    mined = history().get_sent(31337, new.hash)
    assert mined.status == "confirmed" and mined.replaces == slow.hash
    assert balance_of(anvil, ALICE) == 10_000 * ETH + 3 * ETH // 10


def test_only_our_own_pending_transactions_are_replaced(hongbao_home, anvil):
    funded(hongbao_home, anvil)
    asked = Scripted()
    with pytest.raises(WalletError, match="is not a transaction hash") as hostile:
        replace("0x\x1b]0;owned\x07" + "ab" * 30, asked)
    assert "\x1b" not in str(hostile.value) and "\x07" not in str(hostile.value)  # quoted inert
    with pytest.raises(WalletError, match="not a transaction this wallet sent"):
        replace("0x" + "ab" * 32, asked, cancel=True)
    mined = pay(Payment(ALICE, "0.1"), Scripted()).record
    with pytest.raises(WalletError, match="already mined"):
        replace(mined.hash, asked)

    # In this history, pending, but sent with a key no wallet here holds.
    anvil.rpc().call("evm_setAutomine", False)
    key = bytes.fromhex(ANVIL_KEYS[1])
    chain = connect(None)
    draft = transfers.eth_transfer(addr.from_private_key(key), ALICE, Amount(Decimal("1"), "ETH"))
    theirs = transfers.send(chain, transfers.prepare(chain, draft), key, history(), lock_path=nonce_lock_path())
    with pytest.raises(WalletError, match="no wallet here holds the key of"):
        replace(theirs.hash, asked)
    assert asked.previews == []  # nothing was shown or asked


def test_a_replacement_gets_the_security_review(hongbao_home, anvil):
    me = funded(hongbao_home, anvil)
    pay(Payment(ALICE, "0.1"), Scripted())  # ALICE: an address this account has paid
    rpc = anvil.rpc()
    rpc.call("evm_setAutomine", False)
    fake = imitation(ALICE)
    poisoned = pay(Payment(fake, "1", wait=False), Scripted()).record  # clicked through its warning

    refusing = Scripted(approve=False)
    with pytest.raises(WalletError, match="not confirmed"):
        replace(poisoned.hash, refusing)
    (asked,) = refusing.previews
    (danger,) = asked.findings
    assert (danger.rule, danger.confirm, danger.imitates, asked.recipient) == ("lookalike", True, ALICE, fake)
    assert [t.hash for t in history().pending(31337, me)] == [poisoned.hash]  # nothing signed

    cancelling = Scripted()
    cancelled = replace(poisoned.hash, cancelling, cancel=True, wait=False)
    (asked,) = cancelling.previews
    assert asked.findings == [] and asked.recipient is None  # 0 ETH to myself: nobody is paid
    assert (cancelled.record.to, cancelled.record.value, cancelled.record.replaces) == (me, 0, poisoned.hash)
    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", poisoned.hash) is None
    assert to_int(rpc.call("eth_getTransactionReceipt", cancelled.record.hash)["status"]) == 1
    assert balance_of(anvil, fake) == 0


def test_the_faucet_mints_only_what_anyone_may_mint(hongbao_home, anvil):
    me = funded(hongbao_home, anvil)
    refuser = addr.to_checksum("0x" + "12" * 20)
    anvil.rpc().call("anvil_setCode", refuser, "0x60006000fd")  # REVERT, whatever is called
    cfg = config.load(hongbao_home)
    cfg.networks["local"].tokens["BAD"] = config.Token("BAD", refuser, 18)
    config.save(hongbao_home, cfg)
    with pytest.raises(WalletError, match=r"BAD cannot be minted here \(the transaction would fail"):
        fund(me, "1 BAD", Scripted())
    with pytest.raises(transfers.Reverted, match="would fail") as eth:
        fund(refuser, "1", Scripted())  # ETH to a contract that refuses it: said as such
    assert "minted" not in str(eth.value)
    with pytest.raises(WalletError, match="exact amount"):
        fund(me, "max", Scripted())
    assert balance_of(anvil, me) == 5 * ETH and balance_of(anvil, refuser) == 0
