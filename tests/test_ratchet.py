"""Forward-secret sessions (messaging/ratchet.py): X3DH + Double Ratchet, pure.

What is pinned here: forward secrecy (a stolen state does not open what was already
read), healing after a compromise, lost / reordered / repeated delivery (a property
test), the skipped-key bounds, two people starting sessions with each other at once, the
agreement and tampering errors, and stored state that does not parse. No clocks are read
where a clock matters (`now_s` is explicit); the ratchet's own keys are random.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from dataclasses import dataclass

import pytest
from conftest import ANVIL_KEYS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from messaging import prekeys, ratchet
from messaging.errors import EnvelopeError, Replay
from messaging.keys import MessagingKeys
from messaging.ratchet import (
    MAX_SESSIONS,
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
    SIGNED_PREKEY_ROTATION_S,
    AgreementFailed,
    Duplicate,
    NoSession,
    PeerSessions,
    PrekeyState,
    RatchetMessage,
    Session,
    SessionError,
    X3DHHeader,
)
from wallet import address as addr

KEY_A, KEY_B, KEY_C = (bytes.fromhex(k) for k in ANVIL_KEYS)
KA, KB, KC = (MessagingKeys.from_account_key(k) for k in (KEY_A, KEY_B, KEY_C))
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 24 * 3600


# -- a conversation, without envelopes ------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    header: X3DHHeader | None
    message: RatchetMessage
    context: bytes
    plaintext: bytes


class Party:
    """One person: identity keys, prekey state, the sessions with the one peer."""

    def __init__(self, keys: MessagingKeys, name: str, account_key: bytes) -> None:
        self.keys = keys
        self.name = name
        self.address = addr.from_private_key(account_key)
        self.prekeys = PrekeyState.create(keys)
        self.sessions = PeerSessions()
        self.sent = 0

    @property
    def identity(self) -> bytes:
        return self.keys.ed25519_public

    def prekey_bundle(self, one_time: bool = True) -> prekeys.PrekeyBundle:
        """What the relay would hand out for us (a fresh one-time prekey, or none left)."""
        key = self.prekeys.new_one_time(1)[0].key if one_time else None
        return self.prekeys.bundle(self.address, key)

    def initiate(self, peer: Party, *, one_time: bool = True) -> Session:
        bundle = prekeys.verify_bundle(peer.prekey_bundle(one_time), peer.address, peer.identity)
        session = Session.initiate(self.keys, bundle, now_s=T0)
        self.sessions.promote(session)
        return session

    def send(self, size: int | None = None) -> Sent:
        session = self.sessions.current
        self.sent += 1
        label = f"{self.name} #{self.sent} ".encode()
        plaintext = label if size is None else (label + b"x" * size)[: max(size, len(label))]
        context = f"context {self.name} {self.sent}".encode()
        header = session.header
        return Sent(header, session.encrypt(plaintext, context), context, plaintext)

    def receive(self, sent: Sent, sender: Party) -> bytes:
        plaintext, _started = self.sessions.decrypt(
            self.prekeys, sender.identity, sent.header, sent.message, sent.context
        )
        return plaintext

    def state(self) -> tuple[bytes, bytes]:
        return self.sessions.to_bytes(), self.prekeys.to_bytes()


def pair() -> tuple[Party, Party]:
    """Alice (the initiator, with a session to Bob from his prekey bundle) and Bob."""
    alice, bob = Party(KA, "alice", KEY_A), Party(KB, "bob", KEY_B)
    alice.initiate(bob)
    return alice, bob


def deliver(receiver: Party, sent: Sent, sender: Party) -> None:
    assert receiver.receive(sent, sender) == sent.plaintext


@dataclass(frozen=True)
class Stolen:
    """Everything an attacker copies from a device: the identity keys (the account key
    derives them) and the serialized session and prekey state."""

    keys: MessagingKeys
    sessions: bytes
    prekeys: bytes


def steal(party: Party) -> Stolen:
    return Stolen(party.keys, *party.state())


def attacker_opens(stolen: Stolen, sent: Sent, sender_identity: bytes) -> list[tuple[str, bytes]]:
    """Every way to try `sent` with the stolen state, each on a fresh copy rebuilt from
    the bytes; what opened (empty: nothing did). Anything but a SessionError escapes."""
    opened: list[tuple[str, bytes]] = []

    def restored() -> tuple[PeerSessions, PrekeyState]:
        return PeerSessions.from_bytes(stolen.sessions), PrekeyState.from_bytes(stolen.keys, stolen.prekeys)

    def attempt(how: str, fn) -> None:
        with contextlib.suppress(SessionError):
            opened.append((how, fn()))

    sessions, state = restored()
    attempt(
        "the stored sessions",
        lambda: sessions.decrypt(state, sender_identity, sent.header, sent.message, sent.context)[0],
    )
    attempt(
        "the stored sessions, no X3DH header",
        lambda: restored()[0].decrypt(state, sender_identity, None, sent.message, sent.context)[0],
    )
    for index in range(len(sessions.sessions)):
        attempt(
            f"session {index} directly",
            lambda index=index: restored()[0].sessions[index].decrypt(sent.message, sent.context),
        )
    if sent.header is not None:
        attempt(
            "X3DH again (Session.accept)",
            lambda: Session.accept(restored()[1], sent.header, sent.message, sent.context, now_s=T0)[1],
        )
        attempt(
            "X3DH again (empty PeerSessions)",
            lambda: PeerSessions().decrypt(restored()[1], sender_identity, sent.header, sent.message, sent.context)[0],
        )
    return opened


def chat(alice: Party, bob: Party, rounds: int, per_turn: int = 2) -> tuple[list[Sent], list[Sent]]:
    """`rounds` round trips, each side sending `per_turn` messages a turn, each delivered
    at once; Bob speaks first (Alice's session is already under way)."""
    to_bob: list[Sent] = []
    to_alice: list[Sent] = []
    for _ in range(rounds):
        for _ in range(per_turn):
            to_alice.append(bob.send())
            deliver(alice, to_alice[-1], bob)
        for _ in range(per_turn):
            to_bob.append(alice.send())
            deliver(bob, to_bob[-1], alice)
    return to_bob, to_alice


# -- basics ---------------------------------------------------------------------------------


def test_the_documented_bounds_are_the_ones_configured():
    assert (MAX_SKIP, MAX_SKIPPED_KEYS, MAX_SESSIONS) == (500, 1000, 4)
    assert ratchet._CONFIG[4:6] == (MAX_SKIP, MAX_SKIPPED_KEYS)
    # a gone message key is a failure, not a Replay (see the dropped-skipped-key test)
    assert (
        issubclass(Duplicate, NoSession)
        and not issubclass(Duplicate, Replay)
        and issubclass(SessionError, EnvelopeError)
    )
    for cls in (NoSession, Duplicate, AgreementFailed):
        assert issubclass(cls, SessionError)


def test_a_session_round_trip_and_the_header_until_the_first_reply():
    alice, bob = pair()
    first, second = alice.send(), alice.send()
    assert first.header is not None and first.header == second.header  # repeated until Bob answers
    assert first.header.identity_key == KA.ed25519_public and first.header.one_time_prekey is not None
    plaintext, started = bob.sessions.decrypt(
        bob.prekeys, KA.ed25519_public, first.header, first.message, first.context
    )
    assert (plaintext, started) == (first.plaintext, True)
    plaintext, started = bob.sessions.decrypt(
        bob.prekeys, KA.ed25519_public, second.header, second.message, second.context
    )
    assert (plaintext, started) == (second.plaintext, False)
    reply = bob.send()
    assert reply.header is None  # the responder never sends one
    deliver(alice, reply, bob)
    assert alice.send().header is None  # Bob answered: no more header
    assert alice.sessions.current.session_id == bob.sessions.current.session_id == first.header.ephemeral_key


def test_the_context_is_authenticated_not_encrypted():
    alice, bob = pair()
    sent = alice.send()
    assert sent.context not in sent.message.ciphertext
    with pytest.raises(NoSession):
        bob.sessions.decrypt(bob.prekeys, alice.identity, sent.header, sent.message, sent.context + b"!")
    deliver(bob, sent, alice)


# -- forward secrecy ------------------------------------------------------------------------


def test_forward_secrecy_old_messages_do_not_open_from_the_current_state():
    """The issue's requirement: old ciphertexts cannot be opened from the identity keys
    plus the current session state after the ratchet moved on."""
    alice, bob = pair()
    one_time = alice.sessions.current.header.one_time_prekey
    assert one_time in bob.prekeys.one_time_publics
    to_bob = [alice.send(), alice.send()]  # carry the X3DH header (the very first included)
    assert to_bob[0].header is not None and to_bob[0].header.one_time_prekey == one_time
    for sent in to_bob:
        deliver(bob, sent, alice)  # they opened at the time
    more_to_bob, to_alice = chat(alice, bob, rounds=3)
    to_bob += more_to_bob
    assert len({s.message.ratchet_key for s in to_bob}) == 4  # the DH ratchet turned: 4 sending chains of Alice
    assert len({s.message.ratchet_key for s in to_alice}) == 3

    stolen_bob, stolen_alice = steal(bob), steal(alice)
    # the one-time prekey is gone from Bob's state (so X3DH cannot be redone)
    assert PrekeyState.from_bytes(KB, stolen_bob.prekeys).one_time_publics == frozenset()  # it was the only one
    for sent in to_bob:
        assert attacker_opens(stolen_bob, sent, KA.ed25519_public) == [], sent.plaintext
    for sent in to_alice:  # and the same on Alice's side for what Bob wrote
        assert attacker_opens(stolen_alice, sent, KB.ed25519_public) == [], sent.plaintext

    # not vacuous: the same attack opens what is sent after the theft (a stolen device
    # reads along until the ratchet heals, see the next test)
    later = alice.send()
    assert ("the stored sessions", later.plaintext) in attacker_opens(stolen_bob, later, KA.ed25519_public)
    deliver(bob, later, alice)


def test_without_a_one_time_prekey_the_first_chain_opens_until_the_signed_prekey_rotated_twice():
    """A limit of X3DH (Signal's too): with no one-time prekey left at the relay, the
    initiator's first sending chain (every message carrying the X3DH header) rests on
    DH(identity, ephemeral, signed prekey) only, and Bob keeps the signed prekey's private
    half: current for a week, then one more week as the previous one. Whoever steals Bob's
    state in that time redoes the agreement and reads those first messages; everything
    after the first DH ratchet step stays closed. Two rotations later it is gone."""
    alice, bob = Party(KA, "alice", KEY_A), Party(KB, "bob", KEY_B)
    alice.initiate(bob, one_time=False)
    first_chain = [alice.send(), alice.send(), alice.send()]
    assert all(s.header is not None and s.header.one_time_prekey is None for s in first_chain)
    for sent in first_chain:
        deliver(bob, sent, alice)
    to_bob, _to_alice = chat(alice, bob, rounds=2)

    def exposed() -> list[bytes]:
        stolen = steal(bob)
        for sent in to_bob:  # after the ratchet turned: never
            assert attacker_opens(stolen, sent, KA.ed25519_public) == []
        return [
            sent.plaintext
            for sent in first_chain
            if any(p == sent.plaintext for _how, p in attacker_opens(stolen, sent, KA.ed25519_public))
        ]

    everything = [sent.plaintext for sent in first_chain]
    assert exposed() == everything
    created = bob.prekeys.signed_prekey.created_at
    assert bob.prekeys.rotate_if_due(created + SIGNED_PREKEY_ROTATION_S - 1) is False  # not yet due
    assert exposed() == everything
    assert bob.prekeys.rotate_if_due(created + 8 * DAY) is True
    assert exposed() == everything  # the previous signed prekey is kept one more period
    assert bob.prekeys.rotate_if_due(bob.prekeys.signed_prekey.created_at + 8 * DAY) is True
    assert exposed() == []
    stolen = steal(bob)
    with pytest.raises(AgreementFailed):
        Session.accept(
            PrekeyState.from_bytes(KB, stolen.prekeys),
            first_chain[0].header,
            first_chain[0].message,
            first_chain[0].context,
            now_s=T0,
        )
    # the session itself is unaffected by the rotations
    chat(alice, bob, rounds=1)


def test_post_compromise_the_ratchet_heals_once_both_sides_stepped_with_fresh_keys():
    alice, bob = pair()
    deliver(bob, alice.send(), alice)
    chat(alice, bob, rounds=2)
    deliver(alice, bob.send(), bob)  # Alice just stepped: her new ratchet key is in the stolen state
    stolen = steal(alice)
    bob_at_theft = bob.sessions.to_bytes()

    def eve() -> PeerSessions:
        return PeerSessions.from_bytes(stolen.sessions)

    def eve_opens(sent: Sent) -> bool:
        return any(p == sent.plaintext for _how, p in attacker_opens(stolen, sent, KB.ed25519_public))

    # Eve reads the next message of Bob's current chain, and can write as Alice
    b1 = bob.send()
    assert eve_opens(b1)
    forger = eve()
    forged = forger.current.encrypt(b"forged, right after the theft", b"ctx")
    assert (
        PeerSessions.from_bytes(bob_at_theft).decrypt(bob.prekeys, KA.ed25519_public, None, forged, b"ctx")[0]
        == b"forged, right after the theft"
    )
    deliver(alice, b1, bob)

    # Alice answers on the ratchet key Eve holds; Bob steps and replies: still readable
    deliver(bob, alice.send(), alice)
    b2 = bob.send()
    assert eve_opens(b2)
    deliver(alice, b2, bob)

    # Alice stepped on b2 with a fresh key Eve never saw; once Bob has it, Eve is out
    deliver(bob, alice.send(), alice)
    b3, b4 = bob.send(), bob.send()
    assert not eve_opens(b3) and not eve_opens(b4)
    # ... Eve's progressed copy (which read b1 and b2) fails as well
    progressed = eve()
    for sent in (b1, b2):
        assert (
            progressed.decrypt(
                PrekeyState.from_bytes(KA, stolen.prekeys), KB.ed25519_public, None, sent.message, sent.context
            )[0]
            == sent.plaintext
        )
    for sent in (b3, b4):
        with pytest.raises(NoSession):
            progressed.decrypt(
                PrekeyState.from_bytes(KA, stolen.prekeys), KB.ed25519_public, None, sent.message, sent.context
            )
    deliver(alice, b3, bob)
    deliver(alice, b4, bob)
    # and what Eve writes as Alice no longer opens at Bob: neither from the stolen state
    # (an old chain of Alice's) nor from the copy that read along (a chain of her own)
    for forger in (eve(), progressed):
        for n in range(3):
            forged = forger.current.encrypt(b"forged %d" % n, b"ctx")
            before = bob.sessions.to_bytes()
            with pytest.raises(NoSession):
                bob.sessions.decrypt(bob.prekeys, KA.ed25519_public, None, forged, b"ctx")
            assert bob.sessions.to_bytes() == before
    chat(alice, bob, rounds=1)


# -- lost, reordered, repeated: a property --------------------------------------------------

# One message: its size, how many turns late it arrives, and its fate; ties in a turn are
# broken by `order`. The sides take turns (Alice first); each turn first receives what is
# due, then sends 1 to 4 messages, then maybe saves and restores its state.
_MESSAGE = st.fixed_dictionaries(
    {
        "size": st.integers(0, 1500),
        "delay": st.sampled_from([0, 0, 0, 1, 2, 3]),
        "fate": st.sampled_from(["once", "once", "once", "lost", "twice"]),
        "order": st.integers(0, 2**16),
    }
)
_TURN = st.tuples(st.booleans(), st.lists(_MESSAGE, min_size=1, max_size=4))


@dataclass(frozen=True)
class InFlight:
    sent: Sent
    to: str
    chain: int  # the sender's sending chain, counted from 1
    repeat: bool  # a second delivery of a message delivered before


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns=st.lists(_TURN, min_size=4, max_size=12))
def test_lost_reordered_and_repeated_delivery(turns):
    """Both sides write, deliveries arrive late and out of order, some are lost, some come
    twice, and state is saved and restored at any point: every message delivered opens to
    its plaintext exactly once, a repeat is refused without changing the state, and a
    save/restore changes nothing."""
    alice, bob = pair()
    parties = {"alice": alice, "bob": bob}
    peer = {"alice": "bob", "bob": "alice"}
    due: dict[int, list[tuple[int, InFlight]]] = {}
    opened: dict[str, list[InFlight]] = {"alice": [], "bob": []}
    newest_chain = {"alice": 0, "bob": 0}  # the newest of the peer's chains each has opened
    chain = {"alice": 0, "bob": 0}
    last_key: dict[str, bytes | None] = {"alice": None, "bob": None}
    delivered = {"alice": 0, "bob": 0}  # messages to each that are not lost

    def receive(item: InFlight) -> None:
        party, sender = parties[item.to], parties[peer[item.to]]
        args = (party.prekeys, sender.identity, item.sent.header, item.sent.message, item.sent.context)
        if item.repeat:
            before = party.state()
            with pytest.raises(SessionError) as refused:
                party.sessions.decrypt(*args)
            current = item.chain == newest_chain[item.to]
            if current:
                assert isinstance(refused.value, Duplicate)
            # (a repeat from an earlier chain is NoSession: see test_a_repeated_message_from_an_earlier_chain_is_refused)
            event("a repeat " + ("in the current chain" if current else "from an earlier chain"))
            assert party.state() == before
            return
        fresh = party.sessions.current is None
        plaintext, started = party.sessions.decrypt(*args)
        assert plaintext == item.sent.plaintext
        assert started == fresh  # only Bob's first message starts a session
        if item.chain < newest_chain[item.to]:
            event("a message of an earlier chain opened after a newer one")
        opened[item.to].append(item)
        newest_chain[item.to] = max(newest_chain[item.to], item.chain)

    for turn, (persist, messages) in enumerate(turns):
        for _order, item in sorted(due.pop(turn, []), key=lambda pair: pair[0]):
            receive(item)
        who = "alice" if turn % 2 == 0 else "bob"
        party = parties[who]
        if party.sessions.current is None:
            continue  # Bob, before anything of Alice's arrived
        for message in messages:
            sent = party.send(message["size"])
            if sent.message.ratchet_key != last_key[who]:
                last_key[who] = sent.message.ratchet_key
                chain[who] += 1
            item = InFlight(sent, peer[who], chain[who], False)
            arrives = turn + 1 + message["delay"]
            if message["fate"] != "lost":
                delivered[peer[who]] += 1
                due.setdefault(arrives, []).append((message["order"], item))
            if message["fate"] == "twice":
                due.setdefault(arrives + 1 + message["order"] % 3, []).append(
                    (message["order"], InFlight(sent, peer[who], chain[who], True))
                )
        if persist:  # saved and restored (Alice's session can be saved once it has sent)
            sessions, state = party.state()
            party.sessions = PeerSessions.from_bytes(sessions)
            party.prekeys = PrekeyState.from_bytes(party.keys, state)
            assert party.state() == (sessions, state)
    for turn in sorted(due):  # whatever is still under way arrives
        for _order, item in sorted(due[turn], key=lambda pair: pair[0]):
            receive(item)
    event(f"Alice's sending chains: {min(chain['alice'], 4)}{'+' if chain['alice'] >= 4 else ''}")
    for who in ("alice", "bob"):  # everything not lost was opened, each once
        assert len(opened[who]) == len({item.sent.plaintext for item in opened[who]}) == delivered[who]


# -- the skipped-key bounds -----------------------------------------------------------------


def test_a_message_more_than_max_skip_ahead_is_refused_and_the_session_goes_on():
    alice, bob = pair()
    deliver(bob, alice.send(), alice)  # index 0
    chain = [alice.send() for _ in range(MAX_SKIP + 2)]  # indices 1 .. MAX_SKIP + 2
    too_far, at_limit = chain[-1], chain[-2]
    assert too_far.message.chain_length == MAX_SKIP + 2  # MAX_SKIP + 1 keys to derive first
    before = bob.state()
    with pytest.raises(NoSession):
        bob.receive(too_far, alice)
    with pytest.raises(NoSession, match=f"more than {MAX_SKIP} messages ahead"):
        bob.sessions.current.decrypt(too_far.message, too_far.context)  # the reason, from the session itself
    assert bob.state() == before
    deliver(bob, at_limit, alice)  # exactly MAX_SKIP keys skipped: fine
    for sent in (chain[0], chain[MAX_SKIP // 2], chain[-3], too_far):
        deliver(bob, sent, alice)  # from the kept keys, and the refused one now it is next
    chat(alice, bob, rounds=2)


def test_a_new_chain_after_more_than_max_skip_lost_messages_still_opens():
    """On a DH ratchet step the previous chain's lost keys are not derived beyond MAX_SKIP
    (the library warns); the new chain opens, those lost messages never will."""
    alice, bob = pair()
    deliver(bob, alice.send(), alice)
    chat(alice, bob, rounds=1)  # Bob is on Alice's second chain
    lost = [alice.send() for _ in range(MAX_SKIP + 5)]  # the rest of that chain: lost
    deliver(alice, bob.send(), bob)
    after = alice.send()  # a new chain, its previous one MAX_SKIP + 7 long
    assert after.message.previous_chain_length == MAX_SKIP + 7
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deliver(bob, after, alice)
    assert any("skipped" in str(w.message) for w in caught)  # the library's note that it did not derive them
    with pytest.raises(NoSession):
        bob.receive(lost[0], alice)
    with pytest.raises(NoSession):
        bob.receive(lost[-1], alice)
    chat(alice, bob, rounds=1)


def _probe(party: Party, sent: Sent, sender: Party) -> bytes:
    """Open `sent` on a copy of `party`'s sessions (the original keeps its skipped keys)."""
    return PeerSessions.from_bytes(party.sessions.to_bytes()).decrypt(
        party.prekeys, sender.identity, sent.header, sent.message, sent.context
    )[0]


def test_at_most_max_skipped_keys_are_kept_across_ratchet_steps_oldest_dropped_first():
    alice, bob = pair()
    deliver(bob, alice.send(), alice)  # chain 1, index 0
    chain1 = [alice.send() for _ in range(MAX_SKIP)]  # indices 1 .. MAX_SKIP
    deliver(bob, chain1[-1], alice)  # skips 1 .. MAX_SKIP - 1
    deliver(alice, bob.send(), bob)
    chain2 = [alice.send() for _ in range(MAX_SKIP + 1)]  # indices 0 .. MAX_SKIP
    deliver(bob, chain2[-1], alice)  # skips 0 .. MAX_SKIP - 1
    kept = (MAX_SKIP - 1) + MAX_SKIP
    deliver(alice, bob.send(), bob)
    room = MAX_SKIPPED_KEYS - kept
    assert 0 < room < MAX_SKIP
    chain3 = [alice.send() for _ in range(room + 2)]
    deliver(bob, chain3[room], alice)  # skips chain 3's 0 .. room - 1: exactly MAX_SKIPPED_KEYS kept
    assert _probe(bob, chain1[0], alice) == chain1[0].plaintext  # the oldest is still there
    deliver(bob, chain3[room + 1], alice)  # no new skip
    assert _probe(bob, chain1[0], alice) == chain1[0].plaintext
    extra = alice.send()  # index room + 2
    deliver(bob, alice.send(), alice)  # index room + 3: skips `extra`, one key too many
    with pytest.raises(NoSession):
        bob.receive(chain1[0], alice)  # the oldest skipped key was dropped
    for sent in (chain1[1], chain1[-2], chain2[0], chain2[-2], *chain3[:room], extra):
        deliver(bob, sent, alice)  # every other skipped one still opens
    chat(alice, bob, rounds=1)


def test_the_skipped_key_bound_with_a_smaller_configuration(monkeypatch):
    """The same rule, exactly, at a size where every key can be checked (the library gets
    its bounds from ratchet._CONFIG when a session is made or restored)."""
    config = list(ratchet._CONFIG)
    config[4:6] = [3, 5]  # derive at most 3 ahead, keep 5
    monkeypatch.setattr(ratchet, "_CONFIG", tuple(config))
    alice, bob = pair()
    deliver(bob, alice.send(), alice)  # index 0
    chain = [alice.send() for _ in range(12)]  # indices 1 .. 12
    with pytest.raises(NoSession):
        bob.receive(chain[4], alice)  # 4 ahead
    deliver(bob, chain[3], alice)  # index 4: skips 1, 2, 3
    deliver(bob, chain[7], alice)  # index 8: skips 5, 6, 7; six skipped, five kept: index 1 dropped
    with pytest.raises(SessionError):
        _probe(bob, chain[0], alice)
    assert _probe(bob, chain[1], alice) == chain[1].plaintext
    bob.sessions = PeerSessions.from_bytes(bob.sessions.to_bytes())  # the bound survives a restore
    deliver(bob, chain[11], alice)  # index 12: skips 9, 10, 11; kept: 6, 7, 9, 10, 11
    for lost in (chain[0], chain[1], chain[2], chain[4]):  # indices 1, 2, 3, 5
        with pytest.raises(SessionError):
            bob.receive(lost, alice)
    for sent in (chain[5], chain[6], chain[8], chain[9], chain[10]):
        deliver(bob, sent, alice)


# -- two people starting at once ------------------------------------------------------------


def _converged(alice: Party, bob: Party) -> bool:
    return alice.sessions.current.session_id == bob.sessions.current.session_id


@pytest.mark.parametrize("crossings", [0, 1, 3])
def test_simultaneous_initiation_converges(crossings):
    """Alice and Bob each start a session to the other before either message arrives;
    then both send at once `crossings` more times; then they take turns."""
    alice, bob = Party(KA, "alice", KEY_A), Party(KB, "bob", KEY_B)
    alice.initiate(bob)
    bob.initiate(alice)
    from_alice, from_bob = alice.send(), bob.send()
    assert from_alice.header is not None and from_bob.header is not None
    assert from_alice.header.ephemeral_key != from_bob.header.ephemeral_key
    for receiver, sent, sender in ((bob, from_alice, alice), (alice, from_bob, bob)):
        plaintext, started = receiver.sessions.decrypt(
            receiver.prekeys, sender.identity, sent.header, sent.message, sent.context
        )
        assert (plaintext, started) == (sent.plaintext, True)  # both open
    assert len(alice.sessions.sessions) == len(bob.sessions.sessions) == 2
    for _ in range(crossings):
        from_alice, from_bob = alice.send(), bob.send()
        deliver(bob, from_alice, alice)
        deliver(alice, from_bob, bob)
    # taking turns: the first reply settles it
    deliver(bob, alice.send(), alice)
    deliver(alice, bob.send(), bob)
    assert _converged(alice, bob)
    for _ in range(3):
        deliver(bob, alice.send(), alice)
        assert _converged(alice, bob)
        deliver(alice, bob.send(), bob)
        assert _converged(alice, bob)
    assert alice.sessions.current.header is None and bob.sessions.current.header is None
    assert len(alice.sessions.sessions) <= MAX_SESSIONS and len(bob.sessions.sessions) <= MAX_SESSIONS


def test_at_most_max_sessions_per_peer_the_newest_first():
    alice, bob = Party(KA, "alice", KEY_A), Party(KB, "bob", KEY_B)
    firsts = []
    for _ in range(MAX_SESSIONS + 1):  # Alice reinstalls, say: a new session each time
        alice.sessions = PeerSessions()
        alice.initiate(bob)
        firsts.append(alice.send())
        deliver(bob, firsts[-1], alice)
    assert [s.session_id for s in bob.sessions.sessions] == [f.header.ephemeral_key for f in reversed(firsts)][
        :MAX_SESSIONS
    ]


# -- agreement errors -----------------------------------------------------------------------


def test_an_x3dh_header_naming_another_identity_than_the_sender_is_refused():
    alice, bob = pair()
    carol = Party(KC, "carol", KEY_C)
    carol.initiate(bob)
    from_carol = carol.send()
    before = bob.state()
    with pytest.raises(AgreementFailed, match="another identity key"):
        bob.sessions.decrypt(
            bob.prekeys, KA.ed25519_public, from_carol.header, from_carol.message, from_carol.context
        )  # "from Alice"
    assert bob.state() == before
    # Carol writing Alice's key into the header cannot do the X3DH for it: nothing opens, nothing is used up
    forged = from_carol.header._replace(identity_key=KA.ed25519_public)
    with pytest.raises(NoSession):
        bob.sessions.decrypt(bob.prekeys, KA.ed25519_public, forged, from_carol.message, from_carol.context)
    assert bob.state() == before
    deliver(bob, from_carol, carol)  # as herself, Carol's message is fine
    deliver(bob, alice.send(), alice)


def test_an_x3dh_header_naming_a_one_time_prekey_no_longer_held_is_refused():
    alice, bob = pair()
    first = alice.send()
    assert bob.prekeys.forget_one_time(first.header.one_time_prekey)  # e.g. lost with a reset
    with pytest.raises(AgreementFailed, match="pre key that is not available"):
        bob.receive(first, alice)
    assert bob.sessions.sessions == []


def test_a_one_time_prekey_handed_out_twice_starts_one_session_only():
    alice, bob, carol = Party(KA, "alice", KEY_A), Party(KB, "bob", KEY_B), Party(KC, "carol", KEY_C)
    bundle = prekeys.verify_bundle(bob.prekey_bundle(), bob.address, bob.identity)
    for party in (alice, carol):  # a faulty (or hostile) relay gives both the same one
        party.sessions.promote(Session.initiate(party.keys, bundle, now_s=T0))
    deliver(bob, alice.send(), alice)
    from_carol = carol.send()
    with_carol = PeerSessions()  # Bob's sessions with Carol
    with pytest.raises(AgreementFailed):
        with_carol.decrypt(bob.prekeys, carol.identity, from_carol.header, from_carol.message, from_carol.context)
    assert with_carol.sessions == []


def test_an_x3dh_header_naming_a_signed_prekey_not_held_is_refused():
    alice, bob = pair()
    first = alice.send()
    other = PrekeyState.create(KB).signed_prekey.key
    with pytest.raises(AgreementFailed, match="signed pre key"):
        bob.sessions.decrypt(
            bob.prekeys, alice.identity, first.header._replace(signed_prekey=other), first.message, first.context
        )
    deliver(bob, first, alice)


def test_a_forged_signed_prekey_in_the_bundle_is_refused_by_the_initiator():
    bob = Party(KB, "bob", KEY_B)
    genuine = bob.prekey_bundle()
    mallory = PrekeyState.create(KC).signed_prekey  # signed, but by another identity
    forged = prekeys.PrekeyBundle(genuine.address, genuine.identity_key, mallory, genuine.one_time_prekey)
    with pytest.raises(prekeys.PrekeyBundleInvalid):
        prekeys.verify_bundle(forged, bob.address, bob.identity)
    with pytest.raises(AgreementFailed):
        Session.initiate(KA, forged, now_s=T0)  # even without the caller's check


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


TAMPER = {
    "ciphertext first byte": lambda s: (
        s.header,
        s.message._replace(ciphertext=_flip(s.message.ciphertext, 0)),
        s.context,
    ),
    "ciphertext middle byte": lambda s: (
        s.header,
        s.message._replace(ciphertext=_flip(s.message.ciphertext, len(s.message.ciphertext) // 2)),
        s.context,
    ),
    "ciphertext last byte (tag)": lambda s: (
        s.header,
        s.message._replace(ciphertext=_flip(s.message.ciphertext, len(s.message.ciphertext) - 1)),
        s.context,
    ),
    "ciphertext truncated": lambda s: (s.header, s.message._replace(ciphertext=s.message.ciphertext[:-16]), s.context),
    "ciphertext extended": lambda s: (
        s.header,
        s.message._replace(ciphertext=s.message.ciphertext + bytes(16)),
        s.context,
    ),
    "ciphertext empty": lambda s: (s.header, s.message._replace(ciphertext=b""), s.context),
    "context byte": lambda s: (s.header, s.message, _flip(s.context, 3)),
    "context empty": lambda s: (s.header, s.message, b""),
    "ratchet key": lambda s: (s.header, s.message._replace(ratchet_key=_flip(s.message.ratchet_key, 5)), s.context),
    "chain length + 1": lambda s: (s.header, s.message._replace(chain_length=s.message.chain_length + 1), s.context),
    "chain length far ahead": lambda s: (
        s.header,
        s.message._replace(chain_length=s.message.chain_length + MAX_SKIP + 1),
        s.context,
    ),
    "previous chain length": lambda s: (
        s.header,
        s.message._replace(previous_chain_length=s.message.previous_chain_length + 1),
        s.context,
    ),
    "a message of another session": lambda s: (
        s.header,
        Party(KA, "x", KEY_A).initiate(Party(KB, "y", KEY_B)).encrypt(s.plaintext, s.context),
        s.context,
    ),
}
TAMPER_HEADER = {
    "ephemeral key": lambda h: h._replace(ephemeral_key=_flip(h.ephemeral_key, 0)),
    "one-time prekey left out": lambda h: h._replace(one_time_prekey=None),
}


@pytest.mark.parametrize("first", [True, False], ids=["first message", "later message"])
@pytest.mark.parametrize("tamper", list(TAMPER), ids=list(TAMPER))
def test_a_tampered_message_is_no_session_and_changes_nothing(tamper, first):
    alice, bob = pair()
    if not first:
        deliver(bob, alice.send(), alice)
        chat(alice, bob, rounds=1)
    genuine = alice.send()
    header, message, context = TAMPER[tamper](genuine)
    before = bob.state()
    with pytest.raises(NoSession):
        bob.sessions.decrypt(bob.prekeys, alice.identity, header, message, context)
    assert bob.state() == before  # sessions and prekeys (the one-time prekey is still there)
    deliver(bob, genuine, alice)  # the genuine one still opens
    chat(alice, bob, rounds=1)


@pytest.mark.parametrize("tamper", list(TAMPER_HEADER), ids=list(TAMPER_HEADER))
def test_a_tampered_x3dh_header_is_no_session_and_changes_nothing(tamper):
    alice, bob = pair()
    genuine = alice.send()
    before = bob.state()
    with pytest.raises(NoSession):
        bob.sessions.decrypt(
            bob.prekeys, alice.identity, TAMPER_HEADER[tamper](genuine.header), genuine.message, genuine.context
        )
    assert bob.state() == before
    deliver(bob, genuine, alice)


def test_the_x3dh_header_is_not_needed_once_the_session_exists_and_a_wrong_one_changes_nothing():
    alice, bob = pair()
    first, second = alice.send(), alice.send()
    deliver(bob, first, alice)
    assert bob.receive(Sent(None, second.message, second.context, second.plaintext), alice) == second.plaintext
    third = alice.send()
    before = bob.state()
    with pytest.raises(AgreementFailed):  # an unknown session id: a new agreement, on a used-up one-time prekey
        bob.receive(
            Sent(third.header._replace(ephemeral_key=b"\x09" * 32), third.message, third.context, third.plaintext),
            alice,
        )
    assert bob.state() == before
    deliver(bob, third, alice)


def test_no_session_at_all():
    alice, bob = pair()
    deliver(bob, alice.send(), alice)
    reply = bob.send()
    stranger = Party(KA, "alice", KEY_A)  # Alice after losing her state
    with pytest.raises(NoSession, match="no session"):
        stranger.receive(reply, bob)
    with pytest.raises(NoSession):  # a session that has not sent yet cannot receive
        Session.initiate(KA, bob.prekey_bundle(), now_s=T0).decrypt(reply.message, reply.context)
    with pytest.raises(NoSession):  # sessions with another identity do not open it
        alice.sessions.decrypt(alice.prekeys, KC.ed25519_public, None, reply.message, reply.context)
    deliver(alice, reply, bob)


# -- stored state ---------------------------------------------------------------------------


def _grown_pair() -> tuple[Party, Party]:
    alice, bob = pair()
    deliver(bob, alice.send(), alice)
    chat(alice, bob, rounds=1)
    alice.send()  # a skipped key at Bob
    deliver(bob, alice.send(), alice)
    bob.prekeys.new_one_time(2)
    return alice, bob


def test_state_round_trips_and_keeps_working():
    alice, bob = _grown_pair()
    for party in (alice, bob):
        sessions, state = party.state()
        party.sessions = PeerSessions.from_bytes(sessions)
        party.prekeys = PrekeyState.from_bytes(party.keys, state)
        assert party.state() == (sessions, state)
        assert party.prekeys.signed_prekey == PrekeyState.from_bytes(party.keys, state).signed_prekey
    chat(alice, bob, rounds=2)
    with pytest.raises(SessionError):  # a session is saved after its first message
        PeerSessions([Session.initiate(KA, bob.prekey_bundle(), now_s=T0)]).to_bytes()


def test_the_identity_key_is_not_in_the_stored_prekey_state():
    _alice, bob = _grown_pair()
    stored = bob.prekeys.to_bytes()
    for secret in (KB.ed25519_seed, KB.x25519_private):
        assert secret.hex() not in stored.decode()
    # ... it comes from the keys given: another account's keys do not produce Bob's bundle
    assert PrekeyState.from_bytes(KC, stored).bundle(bob.address).identity_key == KC.ed25519_public


CORRUPT = [
    b"",
    b"\xff\xfe",
    b"{",
    b"null",
    b"[]",
    b'"sessions"',
    b"1",
    b"{}",
    b'{"format":1}',
    b'{"format":2,"sessions":[]}',
    b'{"format":"1","sessions":[]}',
]


@pytest.mark.parametrize("data", CORRUPT)
def test_unreadable_stored_sessions_are_a_session_error(data):
    with pytest.raises(SessionError):
        PeerSessions.from_bytes(data)


@pytest.mark.parametrize("data", CORRUPT)
def test_unreadable_stored_prekeys_are_a_session_error(data):
    with pytest.raises(SessionError):
        PrekeyState.from_bytes(KB, data)


def _session_json_variants(stored: bytes):
    good = json.loads(stored)
    session = good["sessions"][0]
    yield {**good, "format": 2}
    yield {**good, "sessions": [{**session, "ratchet": None}]}
    yield {**good, "sessions": [{**session, "ratchet": {}}]}
    yield {**good, "sessions": [{**session, "ratchet": "x"}]}
    yield {**good, "sessions": [{**session, "peer_identity": "zz"}]}
    yield {**good, "sessions": [{**session, "header": [1, 2]}]}
    yield {**good, "sessions": [{**session, "created_at": "soon"}]}
    yield {**good, "sessions": [{**session, "created_at": float("inf")}]}
    yield {**good, "sessions": ["x"]}
    yield {**good, "sessions": [{k: v for k, v in session.items() if k != "session_id"}]}


def _prekey_json_variants(stored: bytes):
    good = json.loads(stored)
    yield {**good, "format": 2}
    yield {**good, "signed_prekey": None}
    yield {**good, "signed_prekey": {**good["signed_prekey"], "priv": "zz"}}
    yield {**good, "signed_prekey": {**good["signed_prekey"], "timestamp": "soon"}}
    yield {**good, "signed_prekey": {**good["signed_prekey"], "timestamp": float("nan")}}
    yield {**good, "old_signed_prekey": "x"}
    yield {**good, "one_time_prekeys": None}
    yield {**good, "one_time_prekeys": [5]}
    yield {**good, "one_time_prekeys": ["zz"]}
    yield {k: v for k, v in good.items() if k != "old_signed_prekey"}


def test_structurally_wrong_stored_state_is_a_session_error():
    _alice, bob = _grown_pair()
    sessions, state = bob.state()
    for variant in _session_json_variants(sessions):
        with pytest.raises(SessionError):
            PeerSessions.from_bytes(json.dumps(variant).encode())
    for variant in _prekey_json_variants(state):
        with pytest.raises(SessionError):
            PrekeyState.from_bytes(KB, json.dumps(variant).encode())


def test_damaged_stored_state_raises_nothing_but_a_session_error():
    """Every single-bit flip (two bit positions) and every truncation of real stored
    state: it loads (a flip inside a key can leave valid JSON) or raises SessionError."""
    _alice, bob = _grown_pair()
    sessions, state = bob.state()
    loaders = ((sessions, PeerSessions.from_bytes), (state, lambda data: PrekeyState.from_bytes(KB, data)))
    for stored, load in loaders:
        for position in range(0, len(stored), 1 if stored is state else 3):
            for mask in (0x01, 0x80):
                with contextlib.suppress(SessionError):
                    load(stored[:position] + bytes([stored[position] ^ mask]) + stored[position + 1 :])
        for end in range(0, len(stored), 7):
            with pytest.raises(SessionError):
                load(stored[:end])


# -- hostile input and edge semantics (found as bugs, fixed; kept as regressions) ------------


@pytest.fixture
def python_recursion_limit():
    """CPython's default recursion limit (importing eth_account/py_ecc raises it to 100,000,
    and deep JSON could then overflow the C stack instead of raising)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(old)


def _prekeys_with_timestamp_digit_flipped_to_e() -> bytes:
    """A one-byte change of Bob's stored prekey state: the timestamp 17xxxxxxxx becomes
    1exxxxxxxx, which JSON reads as a float overflowing to infinity."""
    stored = PrekeyState.create(KB).to_bytes()
    at = stored.index(b'"timestamp": ') + len(b'"timestamp": ') + 1
    return stored[:at] + b"e" + stored[at + 1 :]


HOSTILE_STORED = {
    "sessions: null": (PeerSessions.from_bytes, b'{"format": 1, "sessions": null}'),
    "sessions: a number": (PeerSessions.from_bytes, b'{"format": 1, "sessions": 5}'),
    "sessions: deep nesting": (PeerSessions.from_bytes, b"[" * 100_000),
    "prekeys: one byte flipped in the timestamp": (
        lambda data: PrekeyState.from_bytes(KB, data),
        _prekeys_with_timestamp_digit_flipped_to_e(),
    ),
    "prekeys: deep nesting": (lambda data: PrekeyState.from_bytes(KB, data), b"[" * 100_000),
}


# Whatever a damaged state makes json or the checks raise (TypeError, OverflowError,
# RecursionError) is a SessionError: SessionStore turns only that into SessionCorrupt (reset and
# report) instead of crashing the receive path.
@pytest.mark.parametrize("case", list(HOSTILE_STORED), ids=list(HOSTILE_STORED))
def test_hostile_stored_state_is_a_session_error(case, python_recursion_limit):
    load, data = HOSTILE_STORED[case]
    with pytest.raises(SessionError):
        load(data)


def _with_short_key(stored: bytes, path: tuple[str | int, ...]) -> bytes:
    data = json.loads(stored)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = node[path[-1]][:2] if isinstance(node[path[-1]], str) else node[path[-1]]
    return json.dumps(data).encode()


# Key lengths are checked when loading, not discovered later as a ValueError on use.
@pytest.mark.parametrize("which", ["signed prekey", "one-time prekey", "session ratchet key"])
def test_a_stored_key_of_the_wrong_length_is_refused_when_loading(which):
    _alice, bob = _grown_pair()
    sessions, state = bob.state()
    if which == "signed prekey":
        damaged = _with_short_key(state, ("signed_prekey", "priv"))

        def load():
            return PrekeyState.from_bytes(KB, damaged)
    elif which == "one-time prekey":
        raw = json.loads(state)
        raw["one_time_prekeys"][0] = "00"
        damaged = json.dumps(raw).encode()

        def load():
            return PrekeyState.from_bytes(KB, damaged)
    else:
        damaged = _with_short_key(sessions, ("sessions", 0, "ratchet", "diffie_hellman_ratchet", "own_ratchet_priv"))

        def load():
            return PeerSessions.from_bytes(damaged)

    with pytest.raises(SessionError):
        load()


# The library decides "duplicate" by the message's index before it authenticates anything, and
# a message from an earlier chain goes through a (failing) DH ratchet step. So a repeat from an
# earlier chain is a plain NoSession (documented: repeats are caught earlier, by envelope id).
def test_a_repeated_message_from_an_earlier_chain_is_refused():
    alice, bob = pair()
    old = alice.send()
    deliver(bob, old, alice)
    chat(alice, bob, rounds=1)  # Bob is on Alice's second chain now
    before = bob.state()
    with pytest.raises(NoSession):
        bob.receive(old, alice)
    assert bob.state() == before


# The other side of the same: a message of the current chain whose skipped key was dropped
# (more than MAX_SKIPPED_KEYS skipped) must not pass for a Replay (chat.py drops replays
# quietly as "only the ack was missing"): it is a NoSession, counted and shown as a failure.
def test_a_message_whose_skipped_key_was_dropped_is_not_a_duplicate():
    alice, bob = pair()
    deliver(bob, alice.send(), alice)  # index 0
    chain = [alice.send() for _ in range(3 * MAX_SKIP)]  # indices 1 .. 3 * MAX_SKIP
    for index in (MAX_SKIP, 2 * MAX_SKIP, 3 * MAX_SKIP):  # 3 * (MAX_SKIP - 1) skipped > MAX_SKIPPED_KEYS
        deliver(bob, chain[index - 1], alice)
    with pytest.raises(NoSession) as refused:
        bob.receive(chain[0], alice)  # index 1: its key was dropped, it was never read
    assert not isinstance(refused.value, Replay)


# An X25519 output of all zeros (a low-order point as the ratchet or ephemeral key) or an
# identity key that is no Ed25519 point makes the libraries raise ValueError or xeddsa's
# XEdDSAException: Session.accept / Session.decrypt turn them into a SessionError.
@pytest.mark.parametrize(
    "case",
    [
        "ratchet key 0, first message",
        "ratchet key 0, later message",
        "ephemeral key 0",
        "identity key no Ed25519 point",
    ],
)
def test_hostile_public_keys_are_a_session_error(case):
    alice, bob = pair()
    if case == "ratchet key 0, later message":
        deliver(bob, alice.send(), alice)
        chat(alice, bob, rounds=1)
    sent = alice.send()
    header, message, identity = sent.header, sent.message, alice.identity
    if case.startswith("ratchet key 0"):
        message = message._replace(ratchet_key=bytes(32))
    elif case == "ephemeral key 0":
        header = header._replace(ephemeral_key=bytes(32))
    else:
        identity = b"\xff" * 32  # what the sender's (address-signed) identity bundle says
        header = header._replace(identity_key=identity)
    before = bob.state()
    with pytest.raises(SessionError):
        bob.sessions.decrypt(bob.prekeys, identity, header, message, sent.context)
    assert bob.state() == before


# Issue 13, finding 12: repr(PrekeyState) printed the private prekeys (a log line, a
# traceback, a debugger away from a leak). Now only public parts, as MessagingKeys.
def test_the_repr_of_prekey_state_hides_every_private_key():
    keys = MessagingKeys.from_account_key(bytes.fromhex(ANVIL_KEYS[0]))
    state = PrekeyState.create(keys)
    state.new_one_time(3)
    state.rotate_if_due(state.signed.timestamp + ratchet.SIGNED_PREKEY_ROTATION_S)
    shown = repr(state) + str(state)
    secrets_ = [state.signed.priv, keys.ed25519_seed, keys.x25519_private, *state.one_time.values()]
    if state.old_signed is not None:
        secrets_.append(state.old_signed.priv)
    for secret in secrets_:
        assert secret.hex() not in shown and secret.hex()[:16] not in shown and repr(secret) not in shown
    assert "one_time=3" in shown
