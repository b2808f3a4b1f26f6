"""Strangers against a mailbox (issue 13, findings 1 and 9), with a real relay process and
the Messenger: a stranger's flood cannot stop a contact's mail (it got 507 before), blocking
revokes the blocked person's delivery pass at the relay, strangers' chats are message
requests, and a stranger's group is an invitation that never shadows my names."""

from __future__ import annotations

import secrets

import pytest
from conftest import ANVIL_KEYS
from test_relay_e2e import Relay, sqlite_url

from messaging import payloads
from messaging.chat import Messenger
from messaging.client import RelayClient
from messaging.envelope import Envelope

pytestmark = pytest.mark.slow
CONTACT_QUOTA = (
    80  # the mailbox's quota (contact lane): the flood is five times that, within one recipient's burst budget (500)
)
REQUEST_QUOTA = 20


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flood-relay")
    running = Relay(
        folder / "home",
        sqlite_url(folder),
        env={
            "HONGBAO_RELAY_MAILBOX_QUOTA_MESSAGES": str(CONTACT_QUOTA),
            "HONGBAO_RELAY_REQUEST_QUOTA_MESSAGES": str(REQUEST_QUOTA),
        },
    ).start()
    yield running
    running.stop()


@pytest.fixture
def people(tmp_path, relay):
    opened: list[Messenger] = []

    def person(index: int) -> Messenger:
        key = bytes.fromhex(ANVIL_KEYS[index]) if index < len(ANVIL_KEYS) else secrets.token_bytes(32)
        messenger = Messenger.open(tmp_path / f"p{index}-{secrets.token_hex(3)}", key, relay_url=relay.url)
        opened.append(messenger)
        messenger.publish()
        return messenger

    yield person
    for messenger in opened:
        messenger.close()


def flood(url: str, mailbox: str, count: int) -> set[str]:
    """A stranger posting junk envelopes as fast as the relay takes them: the lanes they got."""
    lanes = set()
    with RelayClient(url) as stranger:
        for _ in range(count // 100):
            batch = [Envelope(mailbox, secrets.token_bytes(16), secrets.token_bytes(256), 3600) for _ in range(100)]
            lanes |= {a.lane for a in stranger.send(batch)}
    return lanes


def texts(received) -> list[str]:
    return [m.payload.body for m in received if isinstance(m.payload, payloads.Text)]


def test_a_strangers_flood_cannot_stop_a_contacts_mail(people, relay):
    alice, bob = people(1), people(2)
    alice.send(bob.address, payloads.Text("hi bob"))
    assert texts(bob.receive()) == ["hi bob"]
    assert bob.requests() == [alice.address]  # a stranger's first message is a request
    assert bob.accept(alice.address)  # ... until Bob accepts: Alice gets his delivery pass
    assert bob.requests() == []
    alice.receive()
    assert alice.store.consent.their_pass(bob.address) is not None

    assert flood(relay.url, bob.address, 5 * CONTACT_QUOTA) == {"request"}  # never refused: oldest evicted
    sent = alice.send(bob.address, payloads.Text("still there?"))  # before: 507, mailbox full
    assert sent.state == "sent"
    got = bob.receive()
    assert texts(got) == ["still there?"]
    assert got.failures <= REQUEST_QUOTA  # only the newest junk was still held


def test_blocking_rotates_the_pass_and_drops_the_blocked(people, relay):
    alice, bob, carol = people(3), people(4), people(5)
    bob.send(alice.address, payloads.Text("hello alice"))  # writing to someone accepts them
    bob.send(carol.address, payloads.Text("hello carol"))
    alice.receive(), carol.receive()
    old = alice.store.consent.their_pass(bob.address)
    assert old is not None and carol.store.consent.their_pass(bob.address) == old
    assert bob.block(alice.address) == 1  # carol got the new pass; alice's is void at the relay
    carol.receive()
    assert carol.store.consent.their_pass(bob.address) not in (None, old)
    with RelayClient(relay.url) as probe:
        probe.pass_for = lambda _to: old
        stale = probe.send([Envelope(bob.address, secrets.token_bytes(16), secrets.token_bytes(64), 60)])
    assert stale[0].lane == "request"
    alice.send(bob.address, payloads.Text("let me in"))
    carol.send(bob.address, payloads.Text("from carol"))
    got = bob.receive()
    assert texts(got) == ["from carol"] and got.blocked >= 1  # her message (and her receipt) dropped unread
    assert bob.accept(alice.address)  # unblocked: she gets the current pass
    alice.receive()
    assert alice.store.consent.their_pass(bob.address) == carol.store.consent.their_pass(bob.address)


def test_a_strangers_group_is_an_invitation_that_never_shadows_my_names(people):
    bob, mallory, alice = people(6), people(7), people(8)
    bob.store.add_contact(alice.address, "alice")
    mine, _ = bob.create_group("family", ["alice"])
    for name in ("family", "alice", "Family"):
        mallory.create_group(name, [bob.address])
    bob.receive()
    assert [g.id for g in bob.groups()] == [mine.id]
    assert sorted(g.name for g, _ in bob.invitations()) == ["Family", "alice", "family"]
    assert bob.resolve("family").conversation == f"group:{mine.id}"
    assert bob.resolve("alice").recipients == [alice.address]
    sent = bob.send("family", payloads.Text("dinner?"))  # before: "2 groups are named 'family'"
    assert sent.conversation == f"group:{mine.id}"
    shadow = next(g for g, _ in bob.invitations() if g.name == "Family")
    bob.decline_group(shadow.id)
    mallory.send(f"group:{shadow.id}", payloads.Text("spam"))
    assert bob.receive().blocked == 1 and shadow.id not in {g.id for g, _ in bob.invitations()}
    accepted = next(g for g, _ in bob.invitations() if g.name == "alice")
    bob.accept_group(accepted.id)
    assert bob.resolve("alice").kind == "direct"  # my contact's name still wins
