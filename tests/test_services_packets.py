"""The packet services without click (cli/services/packet_create.py, signing.py): what the
app calls. Setup through the real CLI (faucet, contracts, relay); the workflow in-process,
with a front end that records each preview and approves or refuses it."""

from __future__ import annotations

import pytest
from test_chat_cli import relay  # noqa: F401  (the module-scoped relay fixture)
from test_packet_cli import balance, person

from cli.services import chat, packets
from cli.services.frontend import Preview, unlock_with
from cli.services.packet_claim import claim
from cli.services.packet_create import Order, create
from cli.services.packet_views import info
from wallet.errors import WalletError

pytestmark = pytest.mark.slow

E18 = 10**18


class Scripted:
    def __init__(self, approve: bool = True) -> None:
        self.approve, self.previews, self.notes = approve, [], []

    def confirm(self, preview: Preview) -> None:
        self.previews.append(preview)
        if not self.approve:
            raise WalletError("not confirmed; nothing was sent")

    def password(self, label: str) -> str:
        from conftest import PASSWORD

        return PASSWORD

    def progress(self, text: str) -> None:
        self.notes.append(text)

    def unlock(self, wallet):
        return unlock_with(wallet, lambda: self.password("Wallet password"))


def test_create_a_packet_for_a_chat_in_process(cli, tmp_path, anvil, relay, monkeypatch):  # noqa: F811
    from contracts import packet_keeper

    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("faucet", alice.address, "2")
    alice.json("contracts", "deploy")
    bob = person(cli, tmp_path, anvil, "bob", relay)
    monkeypatch.setenv("HONGBAO_HOME", str(alice.home))
    greeting = "[bold]恭喜[/]\x1b[2J"

    refusing = Scripted(approve=False)
    before = balance(anvil, alice.address)
    with pytest.raises(WalletError, match="not confirmed"):
        create(Order("0.5 ETH", to=bob.address, greeting=greeting, theme="wedding"), refusing)
    (asked,) = refusing.previews
    assert asked.title == "Create the packet?" and asked.tx is not None and asked.network == "local"
    rows = dict(asked.rows)
    assert rows["red packet"] == "0.5 ETH in 1 equal share(s)" and rows["greeting"] == greeting
    assert rows["for"] == f"1 recipient(s) of {bob.address}, one authorization each"
    assert balance(anvil, alice.address) == before and packet_keeper.Keeper(alice.home).all() == []

    front = Scripted()
    made = create(Order("0.5 ETH", to=bob.address, greeting=greeting, theme="wedding", deposit="0.01 ETH"), front)
    assert [p.title for p in front.previews] == ["Create the packet?"] and made.delivery_error is None
    assert made.data["total"] == str(E18 // 2) and made.data["deposit"] == str(E18 // 100) and made.code is None
    assert made.sent is not None and made.sent["recipients"] == [bob.address] and made.to_name == bob.address
    (kept,) = packet_keeper.Keeper(alice.home).all()
    assert kept.packet_id == made.packet_id and kept.to == bob.address
    assert before - balance(anvil, alice.address) == E18 // 2 + E18 // 100 + int(made.data["fee"])

    monkeypatch.setenv("HONGBAO_HOME", str(bob.home))
    with chat.open_messenger(None, 0, front) as m:
        chat.inbox(m, chat.account_key(None, 0, front))
        (shown,) = [s for s in chat.conversation(m, alice.address).messages if s.message.type == "red_packet"]
        assert shown.message.payload.greeting == greeting and shown.message.payload.theme == "wedding"
        assert shown.packet_check is not None and shown.packet_check.startswith("✓")  # backed by the chain
        assert packets.packet_check(shown.message, bob.address) == shown.packet_check

    # Bob has no ETH: an exported ticket, then his signed claim goes to Alice over the chat
    bob_front = Scripted()
    ticket = claim(bob_front, packet=made.packet_id[:12], export=True)
    assert ticket.how == "exported" and ticket.data["recipient"] == bob.address and bob_front.previews == []
    asked_bob = claim(bob_front, packet=made.packet_id[:12])
    assert asked_bob.how == "requested" and asked_bob.data["creator"] == alice.address
    assert asked_bob.data["amount"] == str(E18 // 2) and balance(anvil, bob.address) == 0
    assert [p.title for p in bob_front.previews] == ["Send the claim to the creator?"]
    with pytest.raises(WalletError, match="bearer key"):
        claim(bob_front, packet="hongbao:redpacket:31337:" + made.packet_id)  # a code is never an argument

    monkeypatch.setenv("HONGBAO_HOME", str(alice.home))
    with chat.open_messenger(None, 0, front) as m:
        (served,) = chat.inbox(m, chat.account_key(None, 0, front)).claims_submitted
    assert served["recipient"] == bob.address and served["tx"] and served["error"] is None
    assert balance(anvil, bob.address) == E18 // 2  # the share, with no ETH of his own
    shown = info(made.packet_id[:12])  # the card: who got what
    assert dict(shown.rows())["claimed"] == "0.5 ETH in 1 claim(s), 0 share(s) left"
    assert [row[:2] for row in shown.claim_rows()] == [[bob.address, "0.5 ETH"]] and shown.data["theme"] == "wedding"

    monkeypatch.setenv("HONGBAO_HOME", str(alice.home))
    with pytest.raises(WalletError, match="or --open for a shareable claim code"):
        create(Order("1 ETH"), front)  # neither a chat nor an open code: refused before anything opens
    with pytest.raises(WalletError, match="not 'max'"):
        create(Order("max", to=bob.address), front)
