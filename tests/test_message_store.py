"""The local message store: encrypted bodies, pinned keys, receipts, unread counts, groups."""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from functools import cache
from pathlib import Path

import pytest
from conftest import ANVIL_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.secret import SecretBox

from messaging import envelope, groups, payloads
from messaging.envelope import Opened
from messaging.errors import MessagingError, NotForMe, Replay, StaleBundle
from messaging.identity import fingerprint, make_bundle
from messaging.keys import MessagingKeys, store_key
from messaging.store import (
    BundleChange,
    DuplicateMessage,
    KeyChangeUnconfirmed,
    MessageStore,
    NameTaken,
    NotGroupMember,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    path_for,
)
from wallet import address as addr

ALICE_KEY, BOB_KEY, CAROL_KEY = (bytes.fromhex(k) for k in ANVIL_KEYS)
ALICE, BOB, CAROL = (addr.from_private_key(k) for k in (ALICE_KEY, BOB_KEY, CAROL_KEY))
MALLORY_KEY = bytes.fromhex("8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba")  # anvil #5
MALLORY = addr.from_private_key(MALLORY_KEY)
T0 = 1_800_000_000_000  # unix ms
ISSUED = T0 // 1000 - 86_400


@cache
def bundle(key: bytes, version: int = 1, issued_at: int = ISSUED, keys_from: bytes | None = None):
    """A signed bundle; `keys_from` gives it other messaging keys (a key change)."""
    return make_bundle(key, issued_at, version, MessagingKeys.from_account_key(keys_from) if keys_from else None)


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        self.now += 1000
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bob_path(hongbao_home) -> Path:
    return path_for(hongbao_home, BOB)


@pytest.fixture
def bob(bob_path, clock):
    store = MessageStore(bob_path, store_key(BOB_KEY), BOB, clock)
    yield store
    store.close()


def opened(
    sender_key: bytes, payload, *, to: str = BOB, message_id: bytes | None = None, ts: int = T0, vouching=None
) -> Opened:
    """An Opened as envelope.open_envelope returns it (for tests that need no sealing)."""
    sender = addr.from_private_key(sender_key)
    return Opened(sender, to, message_id or secrets.token_bytes(16), ts, payload, vouching or bundle(sender_key), False)


def mid() -> str:
    return secrets.token_hex(16)


GROUP_ID = "0123456789abcdef0123456789abcdef"
EVERY_PAYLOAD = [
    payloads.Text("新年快乐 — happy new year"),
    payloads.Text("to the group", group_id=GROUP_ID),
    payloads.RedPacket(
        31337,
        CAROL,
        "0x" + "11" * 32,
        greeting="恭喜发财",
        theme="gold",
        slot=3,
        authorization="0x" + "ab" * 65,
        token=ALICE,
        total="8888",
        shares=8,
    ),
    payloads.RedPacket(1, CAROL, "0x" + "22" * 32, claim_key="0x" + "33" * 32, group_id=GROUP_ID),
    payloads.Payment(31337, "0x" + "44" * 32, "1000000000000000000", note="dinner"),
    payloads.Payment(1, "0x" + "55" * 32, "5", token=CAROL, group_id=GROUP_ID),
    payloads.Receipt("read", ("aa" * 16, "bb" * 16)),
    payloads.GroupControl("create", GROUP_ID, "Family", (ALICE, BOB)),
    payloads.Unknown("sticker", {"pack": "dragon", "index": 7, "v": 1}),
    payloads.Unknown("poll", {"question": "dumplings?", "group_id": GROUP_ID, "v": 2}),
]


# -- round trips -------------------------------------------------------------------------------


def test_every_payload_type_round_trips_through_sealed_envelopes(bob):
    alice_keys, bob_keys = MessagingKeys.from_account_key(ALICE_KEY), MessagingKeys.from_account_key(BOB_KEY)
    stored = []
    for i, payload in enumerate(EVERY_PAYLOAD):
        sealed = envelope.seal(
            ALICE,
            alice_keys,
            bundle(BOB_KEY),
            payload,
            now_ms=T0 + i,
            include_bundle=bundle(ALICE_KEY) if i == 0 else None,
        )
        got = envelope.open_envelope(sealed, BOB, bob_keys, now_ms=T0 + i, known_bundle=bob.known_bundle, seen=bob.seen)
        assert got.payload == payload
        stored.append(bob.add_incoming(got))
    assert {payloads.type_of(p) for p in EVERY_PAYLOAD} >= {
        "text",
        "red_packet",
        "payment",
        "receipt",
        "group",
        "sticker",
        "poll",
    }
    listed = bob.messages(ALICE, limit=100) + bob.messages("group:" + GROUP_ID, limit=100)
    assert sorted((m.timestamp_ms, m.payload) for m in listed) == [(T0 + i, p) for i, p in enumerate(EVERY_PAYLOAD)]
    assert [m.conversation for m in stored] == [
        "group:" + GROUP_ID if payloads_group(p) else ALICE for p in EVERY_PAYLOAD
    ]
    assert all(m.sender == ALICE and m.direction == "in" for m in listed)
    unknown = [m.payload for m in listed if m.type == "sticker"]
    assert unknown == [payloads.Unknown("sticker", {"pack": "dragon", "index": 7, "v": 1})]


def payloads_group(payload) -> bool:
    return (
        payload.fields.get("group_id") if isinstance(payload, payloads.Unknown) else getattr(payload, "group_id", None)
    ) is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=300))
def test_any_text_round_trips(bob, body):
    message = bob.add_incoming(opened(ALICE_KEY, payloads.Text(body)))
    (back,) = [m for m in bob.messages(ALICE, limit=1000) if m.id == message.id]
    assert back.payload == payloads.Text(body)


def test_outgoing_messages_are_listed_with_incoming_in_time_order(bob):
    first = bob.add_outgoing(ALICE, mid(), payloads.Text("hi alice"), T0 + 1)
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("hi bob"), ts=T0 + 2))
    bob.add_outgoing(ALICE, mid(), payloads.Text("how are you"), T0 + 3)
    listed = bob.messages(ALICE)
    assert [(m.direction, m.payload.body) for m in listed] == [
        ("out", "hi alice"),
        ("in", "hi bob"),
        ("out", "how are you"),
    ]
    assert listed[0].sender == BOB and listed[0].state == "pending"
    assert bob.mark_sent(first.id) and not bob.mark_sent(first.id)
    assert bob.messages(ALICE)[0].state == "sent"
    with pytest.raises(DuplicateMessage):
        bob.add_outgoing(ALICE, first.id, payloads.Text("again"), T0 + 4)
    # paging: the newest `limit` before a timestamp or a message, oldest first
    assert [m.payload.body for m in bob.messages(ALICE, limit=2)] == ["hi bob", "how are you"]
    assert [m.payload.body for m in bob.messages(ALICE, limit=2, before=T0 + 3)] == ["hi alice", "hi bob"]
    assert [m.payload.body for m in bob.messages(ALICE, limit=5, before=listed[1].id)] == ["hi alice"]


# -- at rest -----------------------------------------------------------------------------------


def raw_bytes(path: Path) -> bytes:
    return b"".join(
        Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm") if Path(f"{path}{suffix}").exists()
    )


def test_bodies_are_not_in_the_file_in_clear(bob, bob_path):
    secrets_in_bodies = ["zebra-lantern-7731", "quokka-saffron-4412", "marmot-cobalt-9920"]
    bob.add_incoming(opened(ALICE_KEY, payloads.Text(f"meet at {secrets_in_bodies[0]}")))
    bob.add_outgoing(ALICE, mid(), payloads.Payment(1, "0x" + "66" * 32, "7", note=secrets_in_bodies[1]), T0)
    bob.add_incoming(
        opened(
            CAROL_KEY,
            payloads.RedPacket(1, CAROL, "0x" + "77" * 32, greeting=secrets_in_bodies[2], claim_key="0x" + "88" * 32),
        )
    )
    assert [m.payload.body for m in bob.messages(ALICE) if m.type == "text"] == [f"meet at {secrets_in_bodies[0]}"]
    for when in ("open", "closed"):
        data = raw_bytes(bob_path)
        assert ALICE.encode() in data  # the metadata is there: the search below looks at the right bytes
        for text in secrets_in_bodies:
            assert text.encode() not in data, when
            assert text.encode("utf-16-le") not in data, when
        bob.close()


def test_file_is_private_and_in_wal_mode(bob, bob_path):
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("x")))
    assert stat.S_IMODE(os.stat(bob_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(bob_path.parent).st_mode) == 0o700
    for extra in ("-wal", "-shm"):
        if os.path.exists(f"{bob_path}{extra}"):
            assert stat.S_IMODE(os.stat(f"{bob_path}{extra}").st_mode) == 0o600
    with sqlite3.connect(bob_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_wrong_key_is_refused_naming_the_file(bob, bob_path, clock):
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("secret")))
    bob.close()
    with pytest.raises(StoreLocked, match=str(bob_path)):
        MessageStore(bob_path, store_key(CAROL_KEY), BOB, clock)
    # with the check value gone (a tampered file) the key is tried on a stored body instead
    with sqlite3.connect(bob_path) as connection:
        connection.execute("DELETE FROM meta WHERE key = 'key_check'")
    with pytest.raises(StoreLocked, match=str(bob_path)):
        MessageStore(bob_path, store_key(CAROL_KEY), BOB, clock)
    again = MessageStore(bob_path, store_key(BOB_KEY), BOB, clock)  # the right key restores it
    try:
        assert [m.payload.body for m in again.messages(ALICE)] == ["secret"]
        # a body sealed under another key is reported as such when read, never as garbage
        foreign = bytes(SecretBox(store_key(CAROL_KEY)).encrypt(b"whatever"))
        with sqlite3.connect(bob_path) as connection:
            connection.execute("UPDATE messages SET body = ?", (foreign,))
        with pytest.raises(StoreLocked, match=str(bob_path)) as error:
            again.messages(ALICE)
        assert isinstance(error.value, MessagingError) and "\n" not in str(error.value)
    finally:
        again.close()
    with pytest.raises(StoreLocked):
        MessageStore(bob_path, store_key(CAROL_KEY), BOB, clock)


def test_another_accounts_file_is_refused(bob, bob_path, clock):
    bob.close()
    with pytest.raises(StoreError, match=f"{BOB}, not of {ALICE}"):
        MessageStore(bob_path, store_key(BOB_KEY), ALICE, clock)


def test_swapped_bodies_are_detected(bob, bob_path):
    first = bob.add_incoming(opened(ALICE_KEY, payloads.Payment(1, "0x" + "99" * 32, "1")))
    second = bob.add_incoming(opened(CAROL_KEY, payloads.Payment(1, "0x" + "aa" * 32, "1000000")))
    with sqlite3.connect(bob_path) as connection:
        body = connection.execute("SELECT body FROM messages WHERE id = ?", (second.id,)).fetchone()[0]
        connection.execute("UPDATE messages SET body = ? WHERE id = ?", (body, first.id))
    with pytest.raises(StoreCorrupt, match=first.id):
        bob.messages(ALICE)
    assert bob.messages(CAROL)[0].payload.amount == "1000000"


# -- replays ------------------------------------------------------------------------------------


def test_seen_ids_survive_reopening_and_stop_replays(bob, bob_path, clock):
    alice_keys, bob_keys = MessagingKeys.from_account_key(ALICE_KEY), MessagingKeys.from_account_key(BOB_KEY)
    sealed = envelope.seal(
        ALICE, alice_keys, bundle(BOB_KEY), payloads.Text("once"), now_ms=T0, include_bundle=bundle(ALICE_KEY)
    )
    first = envelope.open_envelope(sealed, BOB, bob_keys, now_ms=T0, known_bundle=bob.known_bundle, seen=bob.seen)
    assert not bob.seen(first.id)
    bob.add_incoming(first)
    assert bob.seen(first.id) and bob.seen(first.id.hex())
    bob.close()
    reopened = MessageStore(bob_path, store_key(BOB_KEY), BOB, clock)
    try:
        assert reopened.seen(first.id)
        with pytest.raises(Replay):
            envelope.open_envelope(
                sealed, BOB, bob_keys, now_ms=T0 + 1, known_bundle=reopened.known_bundle, seen=reopened.seen
            )
        with pytest.raises(Replay):
            reopened.add_incoming(first)
        assert len(reopened.messages(ALICE)) == 1
        # the same id as one of OUR outgoing messages is another direction, not a replay
        reopened.add_outgoing(ALICE, "cc" * 16, payloads.Text("mine"), T0)
        assert not reopened.seen("cc" * 16)
    finally:
        reopened.close()


def test_an_envelope_for_another_account_is_refused(bob):
    with pytest.raises(NotForMe):
        bob.add_incoming(opened(ALICE_KEY, payloads.Text("for carol"), to=CAROL))
    assert bob.conversations() == []


# -- unread and read ----------------------------------------------------------------------------


def test_unread_counts_and_mark_read(bob, clock):
    a1 = bob.add_incoming(opened(ALICE_KEY, payloads.Text("one")))
    a2 = bob.add_incoming(opened(ALICE_KEY, payloads.Text("two"), ts=T0 + 5))
    bob.add_incoming(opened(CAROL_KEY, payloads.Text("from carol")))
    bob.add_incoming(opened(ALICE_KEY, payloads.Receipt("delivered", ("dd" * 16,))))  # control: never unread
    bob.add_outgoing(ALICE, mid(), payloads.Text("mine"), T0)  # ours: never unread
    summary = {c.id: c.unread for c in bob.conversations()}
    assert summary == {ALICE: 2, CAROL: 1}
    assert [c.id for c in bob.conversations()] == [ALICE, CAROL]  # Alice's is the latest activity
    assert bob.mark_read(ALICE) == [a1.id, a2.id]
    assert bob.mark_read(ALICE) == []
    assert {c.id: c.unread for c in bob.conversations()} == {ALICE: 0, CAROL: 1}
    assert {m.state for m in bob.messages(ALICE) if m.direction == "in"} == {"read"}
    bob.add_incoming(opened(CAROL_KEY, payloads.Text("again")))
    assert [c.id for c in bob.conversations()] == [CAROL, ALICE]
    assert list(bob.mark_read_by_sender(CAROL)) == [CAROL]


# -- receipts -----------------------------------------------------------------------------------


def test_receipts_update_only_our_messages_to_that_peer(bob):
    to_alice = bob.add_outgoing(ALICE, mid(), payloads.Text("to alice"), T0)
    to_carol = bob.add_outgoing(CAROL, mid(), payloads.Text("to carol"), T0)
    from_alice = bob.add_incoming(opened(ALICE_KEY, payloads.Text("from alice")))
    for m in (to_alice, to_carol):
        bob.mark_sent(m.id)
    # Carol cannot acknowledge what we sent Alice
    assert bob.apply_receipt(payloads.Receipt("read", (to_alice.id,)), CAROL) == []
    # nor can Alice mark her own (incoming) message read on our side, or Carol's
    assert bob.apply_receipt(payloads.Receipt("read", (from_alice.id, to_carol.id)), ALICE) == []
    states = {m.id: m.state for m in bob.messages(ALICE) + bob.messages(CAROL)}
    assert states == {to_alice.id: "sent", to_carol.id: "sent", from_alice.id: "unread"}
    assert bob.apply_receipt(payloads.Receipt("delivered", (to_alice.id,)), ALICE) == [to_alice.id]
    assert bob.apply_receipt(payloads.Receipt("read", (to_alice.id,)), ALICE) == [to_alice.id]
    assert bob.apply_receipt(payloads.Receipt("delivered", (to_alice.id,)), ALICE) == []  # never back
    assert {m.id: m.state for m in bob.messages(ALICE)} == {to_alice.id: "read", from_alice.id: "unread"}
    assert bob.messages(CAROL)[0].state == "sent"


def test_group_receipts_count_each_member_once(bob):
    group, _control = groups.create(BOB, "Family", [ALICE, CAROL])
    bob.save_group(group)
    message = bob.add_outgoing("group:" + group.id, mid(), payloads.Text("hi all", group_id=group.id), T0)
    bob.mark_sent(message.id)
    assert bob.delivery(message.id) == {ALICE: "sent", CAROL: "sent"}
    assert bob.apply_receipt(payloads.Receipt("read", (message.id,)), ALICE) == []  # Carol has not got it yet
    assert bob.apply_receipt(payloads.Receipt("read", (message.id,)), ALICE) == []
    assert bob.apply_receipt(payloads.Receipt("read", (message.id,)), MALLORY) == []  # not a recipient
    assert bob.messages("group:" + group.id)[0].state == "sent"
    assert bob.apply_receipt(payloads.Receipt("delivered", (message.id,)), CAROL) == [message.id]
    assert bob.delivery(message.id) == {ALICE: "read", CAROL: "delivered"}
    assert bob.messages("group:" + group.id)[0].state == "delivered"
    # with groups.seal_to_group every member's envelope has its own id: receipts name those
    keys_of = {ALICE: ALICE_KEY, CAROL: CAROL_KEY}
    each_payload = payloads.Text("each", group_id=group.id)
    envelopes = groups.seal_to_group(
        BOB, MessagingKeys.from_account_key(BOB_KEY), group, each_payload, lambda a: bundle(keys_of[a]), now_ms=T0
    )
    copies = {e.to: e.id for e in envelopes}
    each = bob.add_outgoing("group:" + group.id, mid(), each_payload, T0 + 1, copies=copies)
    assert bob.apply_receipt(payloads.Receipt("delivered", (copies[ALICE].hex(),)), ALICE) == []
    assert bob.apply_receipt(payloads.Receipt("delivered", (copies[CAROL].hex(),)), CAROL) == [each.id]
    assert bob.messages("group:" + group.id)[-1].state == "delivered"


# -- keys ---------------------------------------------------------------------------------------


def test_key_change_blocks_sending_until_accepted(bob):
    v1, reissued, changed = (
        bundle(ALICE_KEY, 1),
        bundle(ALICE_KEY, 2),
        bundle(ALICE_KEY, 3, keys_from=secrets.token_bytes(32)),
    )
    assert bob.known_bundle(ALICE) is None
    assert bob.record_bundle(v1) is BundleChange.NEW
    assert bob.record_bundle(v1) is BundleChange.UNCHANGED
    assert bob.record_bundle(reissued) is BundleChange.UNCHANGED
    assert bob.known_bundle(ALICE) == reissued
    assert bob.check_can_send(ALICE) == reissued
    bob.mark_verified(ALICE)
    assert bob.contact(ALICE).verified_out_of_band
    assert bob.record_bundle(changed) is BundleChange.KEY_CHANGED
    contact = bob.contact(ALICE)
    assert (contact.key_changed, contact.verified_out_of_band, contact.fingerprint) == (
        True,
        False,
        fingerprint(changed),
    )
    assert contact.fingerprint != fingerprint(v1)
    assert bob.known_bundle(ALICE) == changed
    with pytest.raises(KeyChangeUnconfirmed) as error:
        bob.check_can_send(ALICE)
    assert ALICE in str(error.value) and fingerprint(changed) in str(error.value) and "\n" not in str(error.value)
    group, _ = groups.create(BOB, "Family", [ALICE, CAROL])
    bob.save_group(group)
    with pytest.raises(KeyChangeUnconfirmed):
        bob.check_can_send("group:" + group.id)
    bob.accept_key_change(ALICE)
    assert bob.check_can_send(ALICE) == changed
    assert bob.check_can_send("group:" + group.id) is None
    assert not bob.contact(ALICE).key_changed


def test_a_new_key_in_an_incoming_envelope_sets_key_changed(bob):
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("old key")))
    assert bob.contact(ALICE).key_changed is False
    other = secrets.token_bytes(32)
    new = bundle(ALICE_KEY, 2, keys_from=other)
    sealed = envelope.seal(
        ALICE,
        MessagingKeys.from_account_key(other),
        bundle(BOB_KEY),
        payloads.Text("new key"),
        now_ms=T0,
        include_bundle=new,
    )
    got = envelope.open_envelope(
        sealed, BOB, MessagingKeys.from_account_key(BOB_KEY), now_ms=T0, known_bundle=bob.known_bundle, seen=bob.seen
    )
    assert got.bundle_was_included
    bob.add_incoming(got)
    assert bob.contact(ALICE).key_changed
    with pytest.raises(KeyChangeUnconfirmed):
        bob.check_can_send(ALICE)


def test_stale_bundles_change_nothing(bob):
    old, current = bundle(ALICE_KEY, 1), bundle(ALICE_KEY, 2, keys_from=secrets.token_bytes(32))
    assert bob.record_bundle(current) is BundleChange.NEW
    with pytest.raises(StaleBundle):
        bob.record_bundle(old)
    assert bob.known_bundle(ALICE) == current
    assert bob.contact(ALICE).fingerprint == fingerprint(current) and not bob.contact(ALICE).key_changed
    # a message vouched for by the old bundle is refused whole
    with pytest.raises(StaleBundle):
        bob.add_incoming(opened(ALICE_KEY, payloads.Text("replayed old key"), vouching=old))
    assert bob.messages(ALICE) == [] and bob.known_bundle(ALICE) == current


def test_an_unverified_bundle_is_never_pinned(bob):
    forged = bundle(ALICE_KEY, 1, keys_from=MALLORY_KEY)
    forged = type(forged)(
        forged.address, forged.x25519, forged.ed25519, forged.issued_at, forged.version + 1, forged.signature
    )
    with pytest.raises(MessagingError):
        bob.record_bundle(forged)
    assert bob.known_bundle(ALICE) is None


# -- contacts -----------------------------------------------------------------------------------


def test_contacts_by_name(bob):
    bob.add_contact(ALICE, "Alice")
    bob.add_contact(CAROL.lower(), "卡罗尔")
    assert bob.contact("alice").address == ALICE
    assert bob.contact("  ALICE ").address == ALICE
    assert bob.contact(ALICE.lower()).name == "Alice"
    assert bob.contact("卡罗尔").address == CAROL
    assert bob.contact("nobody") is None
    assert [c.name for c in bob.contacts()] == ["Alice", "卡罗尔"]
    with pytest.raises(NameTaken, match=ALICE):
        bob.add_contact(CAROL, "aLiCe")
    for bad in ("", "   ", "x" * 65, "tab\there", BOB, "group:family"):
        with pytest.raises(StoreError):
            bob.add_contact(CAROL, bad)
    bob.add_contact(ALICE, "Ally")  # rename
    assert bob.contact("alice") is None and bob.contact("ally").address == ALICE


def test_removing_a_contact_keeps_its_key_pinned(bob):
    bob.add_contact(ALICE, "Alice")
    bob.record_bundle(bundle(ALICE_KEY))
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("hi")))
    assert [c.name for c in bob.conversations()] == ["Alice"]
    assert bob.remove_contact("alice")
    assert not bob.remove_contact("alice")
    assert bob.contacts() == [] and bob.contact("alice") is None
    assert bob.contact(ALICE).saved is False and bob.known_bundle(ALICE) == bundle(ALICE_KEY)
    assert [c.name for c in bob.conversations()] == [None]
    bob.add_contact(ALICE, "Alice")
    assert bob.record_bundle(bundle(ALICE_KEY, 2, keys_from=MALLORY_KEY)) is BundleChange.KEY_CHANGED


def test_senders_who_are_not_contacts_are_pinned_but_not_listed(bob):
    bob.add_incoming(opened(CAROL_KEY, payloads.Text("hello stranger")))
    assert bob.contacts() == []
    assert bob.contact(CAROL).bundle == bundle(CAROL_KEY) and bob.contact(CAROL).verified_at is not None


# -- groups -------------------------------------------------------------------------------------


def test_groups_and_group_conversations(bob, bob_path, clock):
    group, control = groups.create(ALICE, "Lunar New Year", [BOB, CAROL])
    bob.add_incoming(opened(ALICE_KEY, control))  # the create arrives before the group is known
    bob.save_group(groups.apply(None, control, ALICE))
    assert bob.group(group.id) == group and bob.groups() == [group]
    assert bob.group("ff" * 16) is None
    conversation = "group:" + group.id
    bob.add_incoming(opened(CAROL_KEY, payloads.Text("🧧 for everyone", group_id=group.id)))
    bob.add_incoming(opened(ALICE_KEY, payloads.Text("direct")))
    with pytest.raises(NotGroupMember):
        bob.add_incoming(opened(MALLORY_KEY, payloads.Text("let me in", group_id=group.id)))
    assert [(m.sender, m.type) for m in bob.messages(conversation)] == [(ALICE, "group"), (CAROL, "text")]
    summary = {c.id: c for c in bob.conversations()}
    assert (summary[conversation].name, summary[conversation].is_group, summary[conversation].unread) == (
        "Lunar New Year",
        True,
        2,
    )
    assert summary[ALICE].unread == 1 and not summary[ALICE].is_group
    assert bob.mark_read_by_sender(conversation) == {
        ALICE: [bob.messages(conversation)[0].id],
        CAROL: [bob.messages(conversation)[1].id],
    }
    renamed = groups.apply(bob.group(group.id), payloads.GroupControl("rename", group.id, "春节"), ALICE)
    bob.save_group(renamed)
    bob.close()
    again = MessageStore(bob_path, store_key(BOB_KEY), BOB, clock)
    try:
        assert again.group(group.id).name == "春节" and again.group(group.id).members == (ALICE, BOB, CAROL)
        assert {c.id: c.name for c in again.conversations()}[conversation] == "春节"
        # a new group shows up as a conversation before any message
        mine, _ = groups.create(BOB, "Empty", [CAROL])
        again.save_group(mine)
        assert again.conversations()[0].id == "group:" + mine.id and again.conversations()[0].unread == 0
        with pytest.raises(StoreError):
            again.add_outgoing("group:" + "ee" * 16, mid(), payloads.Text("?", group_id="ee" * 16), T0)
    finally:
        again.close()


def test_duplicate_outgoing_ids_and_bad_ids_are_refused(bob):
    with pytest.raises(MessagingError):
        bob.add_outgoing(ALICE, "not-hex", payloads.Text("x"), T0)
    with pytest.raises(MessagingError):
        bob.seen(b"short")
    message_id = secrets.token_bytes(16)
    bob.add_outgoing(ALICE, message_id, payloads.Text("x"), T0)
    with pytest.raises(DuplicateMessage):
        bob.add_outgoing(CAROL, message_id.hex(), payloads.Text("y"), T0)
