"""Format 2 envelopes: a ratchet message inside the same sealed-box envelope
(messaging/envelope.py: seal_session, and open_envelope with `decrypt`).

The decrypt function here is the smallest one that works: PeerSessions per sender and
one PrekeyState, in memory. All clocks are explicit.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

import pytest
from conftest import ANVIL_KEYS
from nacl.bindings import crypto_box_seal, crypto_box_seal_open

from messaging import envelope as env
from messaging import padding, prekeys
from messaging.envelope import Envelope, open_envelope, seal, seal_session
from messaging.errors import (
    EnvelopeError,
    NotForMe,
    OutsideWindow,
    Replay,
    SenderMismatch,
    SenderUnknown,
    Tampered,
    UnknownVersion,
)
from messaging.identity import Bundle, make_bundle
from messaging.keys import MessagingKeys
from messaging.payloads import GroupControl, Payment, Receipt, RedPacket, Text, encode
from messaging.ratchet import (
    AgreementFailed,
    Duplicate,
    NoSession,
    PeerSessions,
    PrekeyState,
    Session,
    SessionError,
)
from wallet import address as addr

KEY_A, KEY_B, KEY_C = (bytes.fromhex(k) for k in ANVIL_KEYS)
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW = T0 * 1000 + 123_456
BUCKETS = [256 * 2**i for i in range(9)]
HEAD = struct.Struct(">B20s20s16sQ")  # format | from | to | message id | timestamp ms

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HASH = "0x" + "ab" * 32
GID = "0123456789abcdef" * 2


class Device:
    """One account's messaging side: keys, identity bundle, prekey state, the sessions
    with each peer, and the `decrypt` that open_envelope calls for format 2."""

    def __init__(self, account_key: bytes) -> None:
        self.keys = MessagingKeys.from_account_key(account_key)
        self.bundle = make_bundle(account_key, T0, keys=self.keys)
        self.address = self.bundle.address
        self.prekeys = PrekeyState.create(self.keys)
        self.peers: dict[str, PeerSessions] = {}
        self.decrypts = 0

    def prekey_bundle(self) -> prekeys.PrekeyBundle:
        return self.prekeys.bundle(self.address, self.prekeys.new_one_time(1)[0].key)

    def session_with(self, other: Device) -> Session:
        sessions = self.peers.setdefault(other.address, PeerSessions())
        if sessions.current is None:
            claimed = prekeys.verify_bundle(other.prekey_bundle(), other.address, other.bundle.ed25519)
            sessions.promote(Session.initiate(self.keys, claimed, now_s=T0))
        return sessions.current

    def seal(self, other: Device, payload: Text | None = None, *, include: Bundle | None = None, **kwargs) -> Envelope:
        kwargs.setdefault("now_ms", NOW)
        payload = Text("hi") if payload is None else payload
        return seal_session(
            self.address, self.keys, other.bundle, payload, self.session_with(other), include_bundle=include, **kwargs
        )

    def decrypt(self, sender, identity, header, message, context) -> bytes:
        self.decrypts += 1
        sessions = self.peers.get(sender) or PeerSessions()
        plaintext, _started = sessions.decrypt(self.prekeys, identity, header, message, context)
        self.peers[sender] = sessions
        return plaintext

    def open(
        self, envelope: Envelope, *known: Bundle, seen=lambda _id: False, now_ms: int = NOW, sessions: bool = True
    ):
        book = {bundle.address: bundle for bundle in known}
        return open_envelope(
            envelope,
            self.address,
            self.keys,
            now_ms=now_ms,
            known_bundle=book.get,
            seen=seen,
            decrypt=self.decrypt if sessions else None,
        )

    def state(self) -> tuple[bytes, dict[str, bytes]]:
        return self.prekeys.to_bytes(), {peer: s.to_bytes() for peer, s in self.peers.items() if s.sessions}


@pytest.fixture
def people() -> tuple[Device, Device, Device]:
    return Device(KEY_A), Device(KEY_B), Device(KEY_C)


def contents(envelope: Envelope, device: Device) -> bytes:
    """The sealed contents, as the recipient (or whoever holds its key) sees them."""
    return padding.unpad(
        crypto_box_seal_open(envelope.ciphertext, device.keys.x25519_public, device.keys.x25519_private)
    )


def reseal(inner: bytes, to: Device, message_id: bytes | None = None) -> Envelope:
    return Envelope(to.address, message_id or inner[41:57], crypto_box_seal(padding.pad(inner), to.bundle.x25519))


@dataclass(frozen=True)
class Inner:
    """Format 2 contents, split along the layout documented in envelope.py."""

    frm: bytes
    to: bytes
    message_id: bytes
    timestamp_ms: int
    flags: int
    x3dh: bytes  # identity | ephemeral | signed prekey | 0 or 1 + one-time
    bundle: bytes
    ratchet: bytes  # ratchet key | previous chain length | chain length | ciphertext

    @classmethod
    def parse(cls, inner: bytes) -> Inner:
        version, frm, to, message_id, timestamp_ms = HEAD.unpack_from(inner)
        assert version == 2
        at = HEAD.size
        flags = inner[at]
        at += 1
        x3dh = b""
        if flags & env.FLAG_X3DH:
            size = 97 + (32 if inner[at + 96] else 0)
            x3dh, at = inner[at : at + size], at + size
        bundle = b""
        if flags & env.FLAG_BUNDLE:
            length = int.from_bytes(inner[at : at + 2], "big")
            bundle, at = inner[at + 2 : at + 2 + length], at + 2 + length
        return cls(frm, to, message_id, timestamp_ms, flags, x3dh, bundle, inner[at:])

    def context(self) -> bytes:
        return b"".join(
            (
                HEAD.pack(2, self.frm, self.to, self.message_id, self.timestamp_ms),
                bytes([self.flags]),
                self.x3dh,
                len(self.bundle).to_bytes(2, "big") + self.bundle if self.flags & env.FLAG_BUNDLE else b"",
            )
        )

    def build(self) -> bytes:
        return self.context() + self.ratchet


def _flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


# -- round trips ----------------------------------------------------------------------------


def test_first_contact_with_an_enclosed_bundle_and_the_replies(people):
    alice, bob, _carol = people
    first = alice.seal(bob, Text("新年快乐 🧧"), include=alice.bundle, message_id=b"\x07" * 16, ttl=3600)
    assert (first.to, first.id, first.ttl, first.version) == (bob.address, b"\x07" * 16, 3600, 1)
    opened = bob.open(first)  # Bob knows nothing of Alice yet: the enclosed bundle vouches for her
    assert opened.format == env.SESSION_VERSION == 2
    assert opened.payload == Text("新年快乐 🧧") and opened.sender == alice.address and opened.recipient == bob.address
    assert opened.id == b"\x07" * 16 and opened.timestamp_ms == NOW
    assert opened.bundle == alice.bundle and opened.bundle_was_included is True
    assert bob.peers[alice.address].current.session_id == alice.session_with(bob).session_id

    reply = bob.seal(alice, Text("谢谢"))
    opened = alice.open(reply, bob.bundle)
    assert (opened.format, opened.payload, opened.sender, opened.bundle_was_included) == (
        2,
        Text("谢谢"),
        bob.address,
        False,
    )
    for n in range(3):
        assert bob.open(alice.seal(bob, Text(f"a{n}")), alice.bundle).payload == Text(f"a{n}")
        assert alice.open(bob.seal(alice, Text(f"b{n}")), bob.bundle).payload == Text(f"b{n}")


PAYLOADS = {
    "text-empty": Text(""),
    "red-packet": RedPacket(
        31337, CONTRACT, HASH, greeting="新年快乐", slot=2, authorization="0x" + "cd" * 64 + "1c", total="100", shares=3
    ),
    "payment": Payment(31337, HASH, "1000000000000000000", note="dinner"),
    "receipt": Receipt("read", ("11" * 16, "22" * 16)),
    "group-create": GroupControl("create", GID, "家人", (addr.from_private_key(KEY_A), addr.from_private_key(KEY_B))),
    "large-text": Text("文" * 16_000),
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_every_payload_type_round_trips(people, payload):
    alice, bob, _carol = people
    assert bob.open(alice.seal(bob, payload, include=alice.bundle)).payload == payload  # the first message
    assert alice.open(bob.seal(alice, payload), bob.bundle).payload == payload
    assert bob.open(alice.seal(bob, payload), alice.bundle).payload == payload


def test_the_x3dh_header_rides_along_until_the_first_reply(people):
    alice, bob, _carol = people
    first, second = alice.seal(bob, include=alice.bundle), alice.seal(bob)
    for envelope, flags in ((first, env.FLAG_X3DH | env.FLAG_BUNDLE), (second, env.FLAG_X3DH)):
        inner = Inner.parse(contents(envelope, bob))
        assert inner.flags == flags
        assert inner.x3dh[:32] == alice.keys.ed25519_public and inner.x3dh[96] == 1  # with a one-time prekey
    bob.open(second, alice.bundle)  # the second one starts the session just as well
    bob.open(first)
    alice.open(bob.seal(alice), bob.bundle)
    assert Inner.parse(contents(alice.seal(bob), bob)).flags == 0


def test_a_hand_built_envelope_following_the_documented_layout_opens(people):
    """Built from envelope.py's description of format 2 alone (the ratchet message from the
    session, the bytes around it by hand)."""
    alice, bob, _carol = people
    session = alice.session_with(bob)
    header = session.header
    inner = Inner(
        bytes.fromhex(alice.address[2:]),
        bytes.fromhex(bob.address[2:]),
        b"\x42" * 16,
        NOW,
        env.FLAG_X3DH | env.FLAG_BUNDLE,
        header.identity_key + header.ephemeral_key + header.signed_prekey + b"\x01" + header.one_time_prekey,
        alice.bundle.to_bytes(),
        b"",
    )
    message = session.encrypt(b"\x04text" + encode(Text("built by hand")), inner.context())
    ratchet = (
        message.ratchet_key
        + message.previous_chain_length.to_bytes(4, "big")
        + message.chain_length.to_bytes(4, "big")
        + message.ciphertext
    )
    opened = bob.open(reseal(dataclasses.replace(inner, ratchet=ratchet).build(), bob))
    assert (opened.payload, opened.sender, opened.format, opened.id) == (
        Text("built by hand"),
        alice.address,
        2,
        b"\x42" * 16,
    )


# -- tampering ------------------------------------------------------------------------------


def test_every_byte_of_the_sealed_ciphertext_is_authenticated(people):
    alice, bob, _carol = people
    bob.open(alice.seal(bob, include=alice.bundle))
    alice.open(bob.seal(alice), bob.bundle)
    envelope = alice.seal(bob)  # no X3DH header any more: the smallest bucket
    ct = envelope.ciphertext
    assert len(ct) == 256
    before, decrypts = bob.state(), bob.decrypts
    for position in range(len(ct)):
        for mask in (0x01, 0x80):
            with pytest.raises(Tampered):
                bob.open(dataclasses.replace(envelope, ciphertext=_flip(ct, position, mask)), alice.bundle)
    assert bob.decrypts == decrypts and bob.state() == before  # the ratchet never saw them
    assert bob.open(envelope, alice.bundle).payload == Text("hi")


@pytest.mark.filterwarnings(
    "ignore:More than .* message keys skipped"
)  # a flipped previous chain length, on the discarded copy
@pytest.mark.parametrize("first", [True, False], ids=["first message (header, bundle)", "later message"])
def test_every_byte_of_the_sealed_contents_is_bound(people, first):
    """Stronger than the above: whoever holds Bob's identity key (it opens the outer layer)
    alters one bit of the contents and seals them again. Nothing opens, the state stays."""
    alice, bob, _carol = people
    if not first:
        bob.open(alice.seal(bob, include=alice.bundle))
        alice.open(bob.seal(alice), bob.bundle)
    envelope = alice.seal(bob, Text("bound"), include=alice.bundle if first else None)
    inner = contents(envelope, bob)
    padded = padding.pad(inner)
    before = bob.state()
    for position in range(len(inner) + 1):  # + the padding marker
        for mask in (0x01, 0x80):
            altered = _flip(padded, position, mask)
            forged = Envelope(bob.address, altered[41:57], crypto_box_seal(altered, bob.bundle.x25519))
            with pytest.raises(EnvelopeError):
                bob.open(forged, alice.bundle)
    assert bob.state() == before
    assert bob.open(envelope, alice.bundle).payload == Text("bound")


def test_a_format_2_message_with_unknown_flags_is_tampered(people):
    alice, bob, _carol = people
    inner = Inner.parse(contents(alice.seal(bob), bob))
    with pytest.raises(Tampered, match="flags"):
        bob.open(reseal(dataclasses.replace(inner, flags=inner.flags | 4).build(), bob), alice.bundle)
    assert bob.decrypts == 0


@pytest.mark.parametrize("plaintext", [b"", b"\x07payment" + encode(Text("hi")), b"\x09text", b"\x04text{not json"])
def test_a_ratchet_plaintext_that_is_not_a_payload_is_tampered(people, plaintext):
    """A sender with a genuine session can still send nonsense inside it."""
    alice, bob, _carol = people
    session = alice.session_with(bob)
    inner = Inner(
        bytes.fromhex(alice.address[2:]),
        bytes.fromhex(bob.address[2:]),
        b"\x42" * 16,
        NOW,
        env.FLAG_X3DH,
        session.header.identity_key
        + session.header.ephemeral_key
        + session.header.signed_prekey
        + b"\x01"
        + session.header.one_time_prekey,
        b"",
        b"",
    )
    message = session.encrypt(plaintext, inner.context())
    ratchet = (
        message.ratchet_key
        + message.previous_chain_length.to_bytes(4, "big")
        + message.chain_length.to_bytes(4, "big")
        + message.ciphertext
    )
    with pytest.raises(Tampered):
        bob.open(reseal(dataclasses.replace(inner, ratchet=ratchet).build(), bob), alice.bundle)


# -- recipients, replays, the context ------------------------------------------------------


def test_an_envelope_for_someone_else_is_not_for_me(people):
    alice, bob, carol = people
    for_carol = alice.seal(carol, include=alice.bundle)
    with pytest.raises(NotForMe):
        bob.open(for_carol)  # Bob's client handed Carol's envelope
    assert carol.open(for_carol).payload == Text("hi")


def test_a_forwarded_envelope_is_not_for_me(people):
    """Bob opens Alice's envelope and seals the same contents to Carol: they name Bob."""
    alice, bob, carol = people
    envelope = alice.seal(bob, Text("for Bob only"), include=alice.bundle)
    with pytest.raises(NotForMe):
        carol.open(reseal(contents(envelope, bob), carol), alice.bundle)
    assert carol.decrypts == 0
    # the relay moving it to Carol's mailbox: her key does not open it
    with pytest.raises(Tampered):
        carol.open(dataclasses.replace(envelope, to=carol.address), alice.bundle)
    assert bob.open(envelope).payload == Text("for Bob only")


def test_a_replayed_envelope(people):
    alice, bob, _carol = people
    envelope = alice.seal(bob, include=alice.bundle)
    seen: set[bytes] = set()
    bob.open(envelope, seen=seen.__contains__)
    seen.add(envelope.id)
    with pytest.raises(Replay, match="already received"):
        bob.open(envelope, seen=seen.__contains__)
    assert bob.decrypts == 1  # refused before the ratchet
    # a client that lost its id store: the ratchet refuses it too (Duplicate: its key is gone)
    with pytest.raises(Duplicate):
        bob.open(envelope)
    later = alice.seal(bob)
    bob.open(later, alice.bundle)
    with pytest.raises(Duplicate):
        bob.open(later, alice.bundle)


def _context_variants(alice: Device, bob: Device, carol: Device, first: bool):
    """The same ratchet message with something around it changed (as someone holding Bob's
    key could), and what that must raise."""
    reissued = make_bundle(KEY_A, T0 + 60, keys=alice.keys)  # same keys, valid, other bytes
    yield "another message id", lambda i: dataclasses.replace(i, message_id=b"\x99" * 16), NoSession
    yield "timestamp + 1 ms", lambda i: dataclasses.replace(i, timestamp_ms=i.timestamp_ms + 1), NoSession
    yield "timestamp - 1 hour", lambda i: dataclasses.replace(i, timestamp_ms=i.timestamp_ms - 3_600_000), NoSession
    yield (
        "sender Carol",
        lambda i: dataclasses.replace(
            i, frm=bytes.fromhex(carol.address[2:]), flags=i.flags & ~env.FLAG_BUNDLE, bundle=b""
        ),
        AgreementFailed if first else NoSession,
    )
    if first:
        yield (
            "bundle left out",
            lambda i: dataclasses.replace(i, flags=i.flags & ~env.FLAG_BUNDLE, bundle=b""),
            NoSession,
        )
        yield "bundle re-issued", lambda i: dataclasses.replace(i, bundle=reissued.to_bytes()), NoSession
        yield (
            "X3DH header of another session",
            lambda i: dataclasses.replace(i, x3dh=i.x3dh[:32] + b"\x05" * 32 + i.x3dh[64:]),
            NoSession,
        )
    else:
        yield (
            "bundle added",
            lambda i: dataclasses.replace(i, flags=i.flags | env.FLAG_BUNDLE, bundle=alice.bundle.to_bytes()),
            NoSession,
        )


@pytest.mark.parametrize("first", [True, False], ids=["first message", "later message"])
def test_the_context_binds_id_time_sender_and_bundle(people, first):
    """Re-sealing the same ratchet message under another id, time, sender or bundle fails
    in the ratchet (the context is its associated data), and changes nothing."""
    alice, bob, carol = people
    if not first:
        bob.open(alice.seal(bob, include=alice.bundle))
        alice.open(bob.seal(alice), bob.bundle)
    envelope = alice.seal(bob, Text("bound to its envelope"), include=alice.bundle if first else None)
    inner = Inner.parse(contents(envelope, bob))
    before, decrypts = bob.state(), bob.decrypts
    tried = []
    for name, change, error in _context_variants(alice, bob, carol, first):
        variant = change(inner)
        assert variant.build() != inner.build()
        with pytest.raises(error):
            bob.open(reseal(variant.build(), bob), alice.bundle, carol.bundle)
        assert bob.state() == before, name
        tried.append(name)
    assert bob.decrypts - decrypts == len(tried)  # every variant reached the ratchet (no earlier check caught it)
    assert bob.open(reseal(inner.build(), bob), alice.bundle).payload == Text(
        "bound to its envelope"
    )  # the untouched one


def test_the_window_and_the_sender_are_checked_before_the_ratchet(people):
    alice, bob, _carol = people
    envelope = alice.seal(bob, include=alice.bundle)
    before = bob.state()
    with pytest.raises(OutsideWindow):
        bob.open(envelope, now_ms=NOW + env.MAX_AGE_MS + 1)
    with pytest.raises(SenderUnknown):
        bob.open(alice.seal(bob))  # no bundle enclosed, none known
    assert bob.decrypts == 0 and bob.state() == before


# -- impersonation: no signature in format 2 -------------------------------------------------


def test_carol_cannot_write_as_alice(people):
    alice, bob, carol = people
    # her own session, Alice's address on the envelope: the header names Carol's key
    with pytest.raises(AgreementFailed):
        bob.open(
            seal_session(
                alice.address, carol.keys, bob.bundle, Text("I am Alice"), carol.session_with(bob), now_ms=NOW
            ),
            alice.bundle,
        )
    # ... and with Alice's bundle enclosed
    with pytest.raises(AgreementFailed):
        bob.open(
            seal_session(
                alice.address,
                carol.keys,
                bob.bundle,
                Text("I am Alice"),
                carol.session_with(bob),
                now_ms=NOW,
                include_bundle=alice.bundle,
            )
        )
    # Alice's key written into the header: Carol cannot do the X3DH for it
    forged = Session.initiate(
        carol.keys, prekeys.verify_bundle(bob.prekey_bundle(), bob.address, bob.bundle.ed25519), now_s=T0
    )
    forged.header = forged.header._replace(identity_key=alice.keys.ed25519_public)
    before = bob.state()
    with pytest.raises(NoSession):
        bob.open(
            seal_session(alice.address, carol.keys, bob.bundle, Text("I am Alice"), forged, now_ms=NOW), alice.bundle
        )
    assert bob.state() == before  # the one-time prekey Carol claimed is still Bob's
    assert forged.header.one_time_prekey in bob.prekeys.one_time_publics
    # with a real session of her own, later messages from "Alice" open in none of Alice's
    bob.open(carol.seal(bob, include=carol.bundle))
    carol.open(bob.seal(carol), bob.bundle)
    bob.open(alice.seal(bob, include=alice.bundle))
    with pytest.raises(NoSession):
        bob.open(
            seal_session(
                alice.address, carol.keys, bob.bundle, Text("I am Alice"), carol.session_with(bob), now_ms=NOW
            ),
            alice.bundle,
        )
    assert bob.open(alice.seal(bob, Text("really Alice")), alice.bundle).payload == Text("really Alice")


# -- old readers, and what the relay sees ----------------------------------------------------


def test_a_version_1_reader_is_told_to_upgrade(people):
    alice, bob, _carol = people
    envelope = alice.seal(bob, include=alice.bundle)
    with pytest.raises(UnknownVersion, match="upgrade Hongbao"):
        bob.open(envelope, sessions=False)
    assert bob.open(envelope).format == 2  # and a reader with sessions opens it


def _shape(envelope: Envelope) -> dict:
    data = envelope.to_json()
    return {key: (type(value).__name__, len(value) if isinstance(value, str) else value) for key, value in data.items()}


@pytest.mark.parametrize(
    ("first", "text"),
    [(False, "hi"), (True, "x" * 1024), (False, "x" * 5000)],
    ids=["short, later", "1 KiB, first message", "5 KB, later"],
)
def test_the_relay_cannot_tell_format_2_from_format_1(people, first, text):
    alice, bob, _carol = people
    if not first:
        bob.open(alice.seal(bob, include=alice.bundle))
        alice.open(bob.seal(alice), bob.bundle)
    v2 = alice.seal(bob, Text(text), message_id=b"\x01" * 16, ttl=3600)
    v1 = seal(alice.address, alice.keys, bob.bundle, Text(text), now_ms=NOW, message_id=b"\x02" * 16, ttl=3600)
    assert len(v2.ciphertext) == len(v1.ciphertext) and len(v2.ciphertext) in BUCKETS
    assert _shape(v2) == _shape(v1)
    assert v2.to_json()["v"] == v1.to_json()["v"] == 1 and v2.to_json().keys() == {"v", "to", "id", "ttl", "ct"}
    relayed = Envelope.from_json(v2.to_json())  # the relay's parse, and back to Bob
    assert relayed == v2
    assert bob.open(relayed, alice.bundle).payload == Text(text)


def test_session_errors_are_envelope_errors():
    for cls in (SessionError, NoSession, Duplicate, AgreementFailed):
        assert issubclass(cls, EnvelopeError)
    assert (
        issubclass(Duplicate, NoSession)
        and not issubclass(Duplicate, Replay)
        and not issubclass(SenderMismatch, SessionError)
    )


# -- hostile input (found as a bug, fixed; kept as a regression) -----------------------------

LOW_ORDER = bytes(32)  # the X25519 point 0: every shared secret with it is all zeros


def _garbage_identity_bundle(account_key: bytes, keys: MessagingKeys) -> Bundle:
    """A bundle whose Ed25519 key is no valid point; the address's key signs anything it
    is given, so verify_bundle accepts it."""
    from wallet import signing

    unsigned = Bundle(make_bundle(account_key, T0).address, keys.x25519_public, b"\xff" * 32, T0, 1)
    return dataclasses.replace(unsigned, signature=signing.sign_hash(account_key, unsigned.digest()))


def _hostile(case: str, bob: Device, carol: Device) -> tuple[Envelope, tuple[Bundle, ...]]:
    """A format 2 envelope from Carol, a stranger who only needs an identity bundle of
    her own and Bob's public prekeys (or, for the last case, a session with Bob)."""
    if case == "identity key that is no Ed25519 point":
        garbage = _garbage_identity_bundle(KEY_C, carol.keys)
        session = carol.session_with(bob)
        session.header = session.header._replace(identity_key=garbage.ed25519)
        return seal_session(
            carol.address, carol.keys, bob.bundle, Text("boom"), session, now_ms=NOW, include_bundle=garbage
        ), ()
    if case == "low-order ratchet key, later message":
        bob.open(carol.seal(bob, include=carol.bundle))
        carol.open(bob.seal(carol), bob.bundle)
    inner = Inner.parse(
        contents(
            carol.seal(
                bob, Text("boom"), include=carol.bundle if case != "low-order ratchet key, later message" else None
            ),
            bob,
        )
    )
    if case == "low-order ephemeral key":
        inner = dataclasses.replace(inner, x3dh=inner.x3dh[:32] + LOW_ORDER + inner.x3dh[64:])
    else:
        inner = dataclasses.replace(inner, ratchet=LOW_ORDER + inner.ratchet[32:])
    return reseal(inner.build(), bob), (carol.bundle,)


# Was a remote, unauthenticated DoS: X25519/XEdDSA failures were not caught. A low-order
# point as the X3DH ephemeral key or as a ratchet key makes the DH output all zeros, and
# `cryptography` (ValueError "Error computing shared key") or libxeddsa (XEdDSAException) raise;
# an identity key that is no Ed25519 point raises XEdDSAException. Session.accept catches only
# x3dh.KeyAgreementException, Session.decrypt only the doubleratchet exceptions, so they escape
# PeerSessions.decrypt and open_envelope. ChatClient._handle catches EnvelopeError and friends
# only: receive() raises, the envelope is never acked, and every later fetch stops at it again
# (a poison message blocking the inbox until its TTL, up to 30 days). Anyone can send one: an
# identity bundle for a fresh address and Bob's public prekeys are all it takes (the last case
# needs an existing session). Now: NoSession or AgreementFailed, state unchanged.
@pytest.mark.parametrize(
    "case",
    [
        "low-order ephemeral key",
        "low-order ratchet key, first message",
        "low-order ratchet key, later message",
        "identity key that is no Ed25519 point",
    ],
)
def test_hostile_public_keys_in_a_session_message_are_a_session_error(people, case):
    _alice, bob, carol = people
    envelope, known = _hostile(case, bob, carol)
    before = bob.state()
    # Such an identity key is now refused with the bundle that names it, before any session.
    refusal = SenderMismatch if case == "identity key that is no Ed25519 point" else SessionError
    with pytest.raises(refusal):
        bob.open(envelope, *known)
    assert bob.state() == before
