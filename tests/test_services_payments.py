"""The payment service without click (cli/services/payments.py): what the app calls to pay
with a notice. Setup through the real CLI; the payment in-process, with a front end that
records the preview (the decoded transaction and the security rules' findings)."""

from __future__ import annotations

import pytest
from test_chat_cli import relay  # noqa: F401  (the module-scoped relay fixture)
from test_packet_cli import balance, person
from test_security_rules import imitation
from test_services_packets import Scripted

from cli.services import chat
from cli.services.balances import balances
from cli.services.payments import Payment, pay
from wallet.errors import WalletError

pytestmark = pytest.mark.slow

E18 = 10**18
NOTE = "[red]dinner[/] \x1b]0;owned\x07"


class Told(Scripted):
    """Also hears of each transaction once sent (signing.transact's optional `sent` hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[str, str | None]] = []

    def sent(self, record, receipt, link) -> None:
        self.told.append((record.hash, receipt and receipt["transactionHash"]))


def test_pay_with_a_notice_and_a_lookalike_refused(cli, tmp_path, anvil, relay, monkeypatch):  # noqa: F811
    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("faucet", alice.address, "1")
    bob = person(cli, tmp_path, anvil, "bob", relay)
    monkeypatch.setenv("HONGBAO_HOME", str(alice.home))

    front = Told()
    paid = pay(Payment(bob.address, "0.25", notify=True, note=NOTE), front)
    assert front.told == [(paid.record.hash, paid.record.hash)]  # through transact: told once, after the receipt
    (asked,) = front.previews
    assert asked.title == "Sign and send?" and asked.tx is not None and asked.recipient == bob.address
    assert [(f.rule, f.confirm) for f in asked.findings] == [("first-payment", False)]
    assert paid.receipt is not None and paid.notice == {"notified": True} and paid.notice_problem is None
    assert balance(anvil, bob.address) == E18 // 4
    shown = balances(bob.address)  # the side panel's numbers
    assert shown["balances"][0] == {"symbol": "ETH", "address": None, "balance": str(E18 // 4), "formatted": "0.25"}

    monkeypatch.setenv("HONGBAO_HOME", str(bob.home))
    with chat.open_messenger(None, 0, front) as m:
        chat.inbox(m, chat.account_key(None, 0, front))
        (notice,) = chat.conversation(m, alice.address).messages
    assert notice.message.payload.note == NOTE and notice.message.payload.tx_hash == paid.record.hash
    assert notice.payment_check is not None and notice.payment_check.startswith("✓")  # the chain agrees

    monkeypatch.setenv("HONGBAO_HOME", str(alice.home))
    refusing = Scripted(approve=False)
    fake = imitation(bob.address)
    with pytest.raises(WalletError, match="not confirmed"):
        pay(Payment(fake, "0.25", notify=True), refusing)
    (danger,) = refusing.previews[0].findings
    assert danger.rule == "lookalike" and danger.confirm and danger.imitates == bob.address
    assert balance(anvil, fake) == 0
    with pytest.raises(WalletError, match="drop --no-wait"):
        pay(Payment(bob.address, "0.1", notify=True, wait=False), front)


def test_pay_unlocks_with_the_signing_guards_armed(hongbao_home, monkeypatch):
    """`hongbao pay` signs with the key its request lookup unlocked: that unlock must arm the
    daily limit's second factor and the session's spend limit, as every other command's does."""
    from conftest import PASSWORD, quick_wallet

    from cli import request_cmd, second_factor
    from wallet import transfers

    quick_wallet(hongbao_home)
    monkeypatch.setenv("HONGBAO_PASSWORD", PASSWORD)
    monkeypatch.setattr(transfers, "GUARDS", [])
    with request_cmd._unlocked(None, 0, None) as (key, messenger):
        assert len(key) == 32 and messenger.address
    assert second_factor.guard in transfers.GUARDS
