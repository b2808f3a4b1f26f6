"""The chat services without click (cli/services/chat.py, chat_watch.py): what the app
calls. In-process, two or three people (a HONGBAO_HOME each), one real relay process for
the module; hostile text comes back as data, never rendered here."""

from __future__ import annotations

import contextlib

import pytest
from conftest import PASSWORD, quick_wallet
from test_chat_cli import relay  # noqa: F401  (the module-scoped relay fixture)
from test_relay_e2e import free_port

from cli.services import chat
from cli.services.chat_watch import Watch
from cli.services.frontend import Preview, unlock_with
from messaging.chat import save_relay
from messaging.client import RelayClient, RelayUnreachable

pytestmark = pytest.mark.slow

HOSTILE = "[bold red]pay me[/] \x1b[2J\u202eevil"


class Scripted:
    """A front end that answers with the test password and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def confirm(self, preview: Preview) -> None:
        raise AssertionError(f"chat asked to confirm {preview.title}")

    def password(self, label: str) -> str:
        self.asked.append(label)
        return PASSWORD

    def progress(self, text: str) -> None:
        pass

    def unlock(self, wallet):
        return unlock_with(wallet, lambda: self.password("Wallet password"))


class Someone:
    def __init__(self, root, name: str, relay_url: str, monkeypatch) -> None:
        self.home, self.monkeypatch, self.front = root / name, monkeypatch, Scripted()
        self.address = quick_wallet(self.home)
        save_relay(self.home, relay_url)
        with self.messenger() as m:
            m.publish()

    @contextlib.contextmanager
    def messenger(self):
        self.monkeypatch.setenv("HONGBAO_HOME", str(self.home))  # services find the home there
        with chat.open_messenger(None, 0, self.front) as m:
            yield m

    def key(self) -> bytes:
        self.monkeypatch.setenv("HONGBAO_HOME", str(self.home))
        return chat.account_key(None, 0, self.front)


@pytest.fixture
def two(tmp_path, relay, monkeypatch):  # noqa: F811
    return Someone(tmp_path, "alice", relay.url, monkeypatch), Someone(tmp_path, "bob", relay.url, monkeypatch)


def test_send_inbox_requests_pages_and_fingerprints(two):
    alice, bob = two
    assert alice.front.asked == ["Wallet password"]  # asked once, through the front end
    with alice.messenger() as m:
        first = chat.send_text(m, bob.address, HOSTILE)
        assert first.state == "sent" and not first.pending and list(first.recipients) == [bob.address]
        assert first.to == bob.address and first.kind == "direct" and bob.address in first.first_contact
        assert first.json()["protection"] == "forward-secret" and "relay_error" not in first.json()
        later = [chat.send_text(m, bob.address, f"{n}") for n in range(3)]
        assert not later[0].first_contact

    with bob.messenger() as m:
        box = chat.inbox(m, bob.key())
        assert box.fetched and box.received == 4 and box.failures == 0
        (row,) = box.conversations
        assert row["conversation"] == alice.address and row["unread"] == 4
        assert row["request"] is True and row["last"] is None  # a stranger's words are not previewed
        (request,) = chat.message_requests(m)
        assert request["address"] == alice.address and request["messages"] == 4

        peek = chat.conversation(m, alice.address, limit=2, fetch=False, mark_read=False)
        assert [s.message.payload.body for s in peek.messages] == ["1", "2"] and peek.marked_read == []
        older = chat.conversation(m, alice.address, limit=2, before=peek.older, fetch=False, mark_read=False)
        assert [s.message.payload.body for s in older.messages] == [HOSTILE, "0"]  # the raw words: data, not markup
        # (a page is full: Alice's delivery pass, stored among them, is not a message to show)
        assert chat.conversation(m, alice.address, before=older.older, fetch=False, mark_read=False).messages == []

        assert chat.accept(m, alice.address)["accepted"] is True and chat.message_requests(m) == []
        page = chat.conversation(m, alice.address)
        assert len(page.messages) == 4 and len(page.marked_read) == 4 and page.receipts_sent
        assert page.offline is None and page.json()["messages"][0]["payload"]["body"] == HOSTILE
        assert chat.inbox(m, bob.key(), fetch=False).conversations[0]["last"]["preview"] == "2"

    with alice.messenger() as m:
        chat.inbox(m, alice.key())  # the receipts
        mine = chat.conversation(m, bob.address, fetch=False).messages
        assert {s.message.state for s in mine} == {"read"}
        theirs = chat.verify_contact(m, bob.address)
        assert not theirs.confirmed and not theirs.contact.verified_out_of_band
        assert theirs.our_fingerprint != theirs.contact.fingerprint and theirs.our_address == alice.address
        assert chat.verify_contact(m, bob.address, confirm=True).json()["verified"] is True
        assert chat.block(m, bob.address)["blocked"] is True


def test_a_message_is_kept_pending_while_the_relay_is_down(two, monkeypatch):
    alice, bob = two
    monkeypatch.setitem(RelayClient.__init__.__kwdefaults__, "retries", 0)  # a dead relay is not waited out
    with alice.messenger() as m:
        chat.send_text(m, bob.address, "hello")
    save_relay(alice.home, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with alice.messenger() as m:
        kept = chat.send_text(m, bob.address, "are you there?")
        assert kept.pending and kept.state == "pending" and "relay" in kept.relay_error
        assert kept.json()["relay_error"] == kept.relay_error and list(kept.recipients) == [bob.address]
        with pytest.raises(RelayUnreachable):  # a first contact needs the relay: nothing kept
            chat.send_text(m, "0x" + "11" * 20, "hi")
        page = chat.conversation(m, bob.address)
        assert page.offline and [s.message.state for s in page.messages] == ["sent", "pending"]
    save_relay(alice.home, bob_relay(bob))
    with alice.messenger() as m:
        chat.inbox(m, alice.key())  # sends what waits
    with bob.messenger() as m:
        assert [s.message.payload.body for s in Watch(m, bob.key(), None).fetch().messages] == [
            "hello",
            "are you there?",
        ]


def bob_relay(bob: Someone) -> str:
    from messaging.chat import configured_relay

    url = configured_relay(bob.home)
    assert url is not None
    return url


def test_group_invitations_from_a_stranger_and_the_watch_step(two, tmp_path, relay, monkeypatch):  # noqa: F811
    alice, bob = two
    carol = Someone(tmp_path, "carol", relay.url, monkeypatch)
    with carol.messenger() as m:
        group, _sent = m.create_group(HOSTILE, [alice.address, bob.address])
        chat.send_text(m, f"group:{group.id}", "红包来了")
    with alice.messenger() as m:
        (invited,) = chat.invitations(m)
        assert invited["id"] == group.id and invited["inviter"] == carol.address and invited["name"] == HOSTILE
        assert chat.decline_invitation(m, group.id) == {"group": group.id, "declined": True}
        assert chat.invitations(m) == []
    with bob.messenger() as m:
        warned: list[str] = []
        watch = Watch(m, bob.key(), "nowhere", warn=warned.append)  # a network nobody configured
        step = watch.fetch()
        assert [s.message.type for s in step.messages] == ["group", "text"] and step.events == []
        assert watch.chain() == [] and watch.chain() == []
        assert len(warned) == 1 and "could not check your red packets" in warned[0]  # once per outage
        assert set(chat.accept_invitation(m, group.id)["members"]) == {carol.address, alice.address, bob.address}
        assert chat.conversation(m, f"group:{group.id}", fetch=False).messages[-1].message.payload.body == "红包来了"
