"""The chat commands end to end: a real relay process (SQLite, free port), real wallets,
the real `hongbao` entry point in subprocesses (the `cli` fixture), one HONGBAO_HOME per
person. Alice writes to Bob, Bob reads (receipts flow back), a group reaches everyone,
errors are one line: an unknown contact, a changed key, a relay that is down."""

from __future__ import annotations

import json
import secrets
import select
import signal
import time

import pytest
from conftest import Person, quick_wallet
from test_relay_e2e import Relay, sqlite_url

pytestmark = pytest.mark.slow


def people(cli, tmp_path, relay, *names: str) -> list[Person]:
    result = []
    for name in names:
        person = Person(cli, tmp_path / name, name)
        person.address = quick_wallet(person.home)
        person("relay", "use", relay.url)
        result.append(person)
    return result


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


def test_chat_receipts_groups_and_unknown_contact(cli, tmp_path, relay):
    alice, bob, carol = people(cli, tmp_path, relay, "alice", "bob", "carol")
    assert alice.json("relay", "status")["ok"] is True

    added = alice.json("contacts", "add", bob.address, "--name", "bob")
    assert added["address"] == bob.address and len(added["fingerprint"].split()) == 6 and added["change"] == "new"
    sent = alice.json("chat", "send", "bob", "新年快乐")
    assert sent["to"] == bob.address and list(sent["recipients"]) == [bob.address]
    assert sent["protection"] == "forward-secret"  # Bob's `relay use` published prekeys

    inbox = bob.json("chat", "inbox")
    assert inbox["received"] == 1 and inbox["failures"] == 0
    (conversation,) = inbox["conversations"]
    assert conversation["conversation"] == alice.address and conversation["unread"] == 1

    assert conversation["request"] is True and conversation["last"] is None  # a stranger's: not previewed
    assert [r["address"] for r in bob.json("chat", "requests")] == [alice.address]
    assert bob.json("chat", "accept", alice.address)["accepted"] is True  # read receipts need consent
    assert bob.json("chat", "requests") == []
    shown = bob.json("chat", "show", alice.address)
    assert [m["payload"]["body"] for m in shown["messages"]] == ["新年快乐"]
    assert shown["marked_read"] == [sent["id"]] and shown["receipts_sent"] is True
    assert shown["protection"] == "forward-secret"
    assert bob.json("chat", "inbox")["conversations"][0]["unread"] == 0
    assert "新年快乐" in bob("chat", "show", alice.address).stdout  # the human view too

    alice.json("chat", "inbox")  # fetches Bob's delivered and read receipts
    (mine,) = alice.json("chat", "show", "bob")["messages"]
    assert mine["direction"] == "out" and mine["state"] == "read"

    group = alice.json("group", "create", "family", "bob", carol.address)
    assert set(group["members"]) == {alice.address, bob.address, carol.address} and group["admin"] == alice.address
    assert (
        alice.json("chat", "send", "family", "恭喜发财")["protection"]
        == "pairwise sessions: forward-secret with 2 of 2 members"
    )  # (group create started Carol's)
    assert {c["name"]: c["protection"] for c in alice.json("contacts", "list")}["bob"] == "forward-secret"
    for member in (bob, carol):
        member.json("chat", "inbox")
        messages = member.json("chat", "show", group["conversation"])["messages"]
        assert [m["payload"].get("body") for m in messages if m["type"] == "text"] == ["恭喜发财"]
        if member is carol:  # Alice is a stranger to Carol: her group is an invitation until accepted
            assert member.json("group", "list") == []
            assert [g["id"] for g in member.json("group", "invitations")] == [group["id"]]
            member.json("group", "accept", group["id"])
        assert member.json("group", "list")[0]["id"] == group["id"]

    # what red packets and payments (other packages) send through messaging.chat, and a
    # type this version does not know: `chat watch --once` processes and shows each
    from messaging import payloads

    with _messenger(alice) as m:
        packet = "0x" + "ab" * 32
        m.send_each(
            "bob",
            lambda address, index: payloads.RedPacket(
                31337,
                alice.address,
                packet,
                greeting="恭喜发财",
                claim_key="0x" + "cd" * 32,
                total="1500000000000000000",
                shares=3,
            ),
        )
        m.send("bob", payloads.Unknown("sticker", {"v": 1, "name": "lion"}))

    watched = [json.loads(line) for line in bob("chat", "watch", "--once", "--json").stdout.splitlines()]
    assert [m["type"] for m in watched] == ["red_packet", "sticker"] and watched[0]["payload"]["packet_id"] == packet
    human = " ".join(bob("chat", "show", alice.address).stdout.split())
    assert (
        f"hongbao packet claim {packet}" in human
        and "1.5 ETH in 3 shares" in human
        and "unknown message type 'sticker'" in human
    )

    # the live view: a message sent while Bob watches shows up; Ctrl-C ends it quietly
    watcher = bob.popen("chat", "watch", "--json")
    try:
        alice("chat", "send", "bob", "live")
        ready, _, _ = select.select([watcher.stdout], [], [], 30)
        assert ready, "chat watch printed nothing within 30 s"
        assert json.loads(watcher.stdout.readline())["payload"]["body"] == "live"
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=20) == 0, watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()

    error = alice.fails("chat", "send", "dave", "hi")
    assert "unknown contact or group 'dave'" in error and "hongbao contacts add" in error


def test_key_change_and_relay_down(cli, tmp_path):
    folder = tmp_path / "relay"
    own = Relay(folder / "home", sqlite_url(folder)).start()  # this test stops it
    try:
        alice, bob = people(cli, tmp_path, own, "alice", "bob")
        before = alice.json("contacts", "add", bob.address, "--name", "bob")["fingerprint"]
        alice.json("chat", "send", "bob", "hi Bob")
        assert bob.json("chat", "inbox")["received"] == 1

        _rotate_bob(bob, own.url)
        error = alice.fails("chat", "send", "bob", "are you there?")
        assert "changed" in error and "hongbao contacts verify bob --confirm" in error
        shown = alice.json("contacts", "verify", "bob")
        assert (
            shown["key_changed"] is True
            and shown["fingerprint"] != before
            and shown["our_fingerprint"] != shown["fingerprint"]
        )
        assert alice.json("contacts", "verify", "bob", "--confirm")["verified"] is True
        alice.json("chat", "send", "bob", "are you there?")  # accepted: sealed to the new key

        bob.json("chat", "accept", alice.address)  # read receipts go to accepted peers only
        own.stop()
        error = bob.fails("chat", "inbox")
        assert "cannot reach the relay" in error
        shown = bob.json("chat", "show", alice.address)  # what was received is local
        assert [m["payload"]["body"] for m in shown["messages"]] == ["hi Bob"] and shown["receipts_sent"] is False
    finally:
        own.stop()


def _account_key(person: Person) -> bytes:
    from conftest import PASSWORD

    from wallet import keyring

    return keyring.WalletStore(person.home).open("default").unlock(PASSWORD).private_key(0)


def _messenger(person: Person):
    """The person's Messenger in this process (as another package would use it)."""
    from messaging.chat import Messenger

    return Messenger.open(person.home, _account_key(person))


def _rotate_bob(bob: Person, relay_url: str) -> None:
    """Publish a newer bundle for Bob's address, signed by Bob's account key, with other
    messaging keys (a new device, or an attacker holding the account key)."""
    from messaging.client import RelayClient
    from messaging.identity import make_bundle
    from messaging.keys import MessagingKeys

    key = _account_key(bob)
    with RelayClient(relay_url) as client:
        version = client.get_bundle(bob.address).version + 1
        client.publish_bundle(
            make_bundle(key, int(time.time()), version, MessagingKeys(secrets.token_bytes(32), secrets.token_bytes(32)))
        )
