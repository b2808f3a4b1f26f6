"""Padding and sealed-sender envelopes (messaging/padding.py, messaging/envelope.py).

Every failure to open has its own exception class; these tests pin which one, and fuzz
that nothing but an EnvelopeError ever escapes open_envelope. All clocks are explicit.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ANVIL_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_box_seal, crypto_box_seal_open, crypto_sign

from messaging import envelope as env
from messaging import padding
from messaging.envelope import Envelope, open_envelope, seal
from messaging.errors import (
    BadSignature,
    EnvelopeError,
    MessagingError,
    NotForMe,
    OutsideWindow,
    Oversize,
    Replay,
    SenderMismatch,
    SenderUnknown,
    Tampered,
    UnknownVersion,
)
from messaging.identity import Bundle, make_bundle
from messaging.keys import MessagingKeys
from messaging.payloads import GroupControl, Payment, Receipt, RedPacket, Text, Unknown, encode, type_of

KEY_A, KEY_B, KEY_C = (bytes.fromhex(k) for k in ANVIL_KEYS)
KA, KB, KC = (MessagingKeys.from_account_key(k) for k in (KEY_A, KEY_B, KEY_C))
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW = T0 * 1000 + 123_456  # every test passes its clock explicitly
A = make_bundle(KEY_A, T0)
B = make_bundle(KEY_B, T0)
C = make_bundle(KEY_C, T0)
BUCKETS = [256 * 2**i for i in range(9)]  # 256 ... 65536
ROTATED = MessagingKeys(b"\x31" * 32, b"\x32" * 32)
A_V2 = make_bundle(KEY_A, T0 + 3600, version=2, keys=ROTATED)  # A rotated its messaging keys

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HASH = "0x" + "ab" * 32
GID = "0123456789abcdef" * 2
PAYLOADS = {
    "text": Text("hello"),
    "text-chinese-emoji": Text("恭喜发财 🧧🐉"),
    "text-empty": Text(""),
    "red-packet-authorized": RedPacket(
        31337, CONTRACT, HASH, greeting="新年快乐", slot=2, authorization="0x" + "cd" * 64 + "1c", total="100", shares=3
    ),
    "red-packet-open": RedPacket(31337, CONTRACT, HASH, claim_key="0x" + "0f" * 32, group_id=GID),
    "payment": Payment(31337, HASH, "1000000000000000000", note="dinner"),
    "receipt-delivered": Receipt("delivered", ("00" * 16,)),
    "receipt-read": Receipt("read", ("11" * 16, "22" * 16)),
    "group-create": GroupControl("create", GID, "家人", (A.address, B.address)),
    "group-add": GroupControl("add", GID, members=(C.address,)),
    "group-remove": GroupControl("remove", GID, members=(C.address,)),
    "group-rename": GroupControl("rename", GID, "new"),
    "unknown": Unknown("sticker", {"pack": "cny", "v": 1}),
}


def seal_ab(payload=Text("hi"), *, now_ms=NOW, include=A, **kwargs) -> Envelope:  # noqa: B008  Text is frozen
    return seal(A.address, KA, B, payload, now_ms=now_ms, include_bundle=include, **kwargs)


def open_b(envelope: Envelope, *, known=None, seen=lambda _id: False, now_ms=NOW, me=B.address, keys=KB):
    return open_envelope(envelope, me, keys, now_ms=now_ms, known_bundle=lambda address: known, seen=seen)


def craft(
    *,
    kind: bytes = b"text",
    body: bytes = b'{"body":"hi","type":"text","v":1}',
    bundle: bytes = b"",
    sender: Bundle = A,
    sender_keys: MessagingKeys = KA,
    recipient: Bundle = B,
    inner_to: str | None = None,
    message_id: bytes = b"\x42" * 16,
    timestamp_ms: int = NOW,
    version: int = 1,
    signature: bytes | None = None,
    trailer: bytes = b"",
) -> Envelope:
    """An envelope built by hand from the layout documented in envelope.py, as a hostile
    (or just another) client would: any field may be chosen freely."""
    to = bytes.fromhex((inner_to or recipient.address)[2:])
    if signature is None:
        signed = (
            b"hongbao-envelope-v1\0"
            + to
            + message_id
            + timestamp_ms.to_bytes(8, "big")
            + bytes([len(kind)])
            + kind
            + body
        )
        signature = crypto_sign(signed, sender_keys.ed25519_secret)[:64]
    inner = b"".join(
        (
            struct.pack(">B20s20s16sQ", version, bytes.fromhex(sender.address[2:]), to, message_id, timestamp_ms),
            bytes([len(kind)]),
            kind,
            len(bundle).to_bytes(2, "big"),
            bundle,
            len(body).to_bytes(4, "big"),
            body,
            signature,
            trailer,
        )
    )
    return Envelope(recipient.address, message_id, crypto_box_seal(padding.pad(inner), recipient.x25519))


# -- padding -------------------------------------------------------------------------------


def test_bucket_sizes():
    assert padding.bucket_for(0) == 256
    assert padding.SEAL_OVERHEAD == 48
    for bucket in BUCKETS:
        assert padding.bucket_for(bucket - 49) == bucket  # + 0x80 marker + 48 = exactly the bucket
        assert padding.bucket_for(bucket - 50) == bucket
        if bucket < 65536:
            assert padding.bucket_for(bucket - 48) == bucket * 2
            assert padding.bucket_for(bucket) == bucket * 2
    assert padding.bucket_for(1) == padding.bucket_for(207) == 256
    assert padding.bucket_for(208) == 512


def test_the_largest_message_and_one_byte_more():
    assert padding.bucket_for(65487) == 65536
    with pytest.raises(Oversize):
        padding.bucket_for(65488)
    with pytest.raises(Oversize):
        padding.pad(b"x" * 65488)
    with pytest.raises(Oversize):
        padding.bucket_for(10**9)
    assert len(padding.pad(b"x" * 65487)) == 65536 - 48


@pytest.mark.parametrize("length", [0, 1, 206, 207, 208, 463, 464, 1000, 4047, 4048, 65487])
def test_pad_length_and_form(length):
    data = bytes([0x80]) * length  # data that looks like padding must still round-trip
    padded = padding.pad(data)
    assert len(padded) == padding.bucket_for(length) - 48
    assert padded[:length] == data and padded[length] == 0x80 and set(padded[length + 1 :]) <= {0}
    assert padding.unpad(padded) == data


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=3000) | st.binary(max_size=40).map(lambda b: b + b"\x80" + b"\0" * 5))
def test_pad_unpad_round_trip(data):
    padded = padding.pad(data)
    assert len(padded) + 48 in BUCKETS
    assert padding.unpad(padded) == data


@pytest.mark.parametrize(
    "padded", [b"", b"\0", b"\0" * 208, b"abc", b"abc\x81", b"abc\x81\0\0", b"abc\x7f\0", b"\x80\x01", b"\xff" * 208]
)
def test_unpad_refuses_bad_padding(padded):
    with pytest.raises(Tampered):
        padding.unpad(padded)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_round_trip_every_payload_type(payload):
    envelope = seal_ab(payload, message_id=b"\x07" * 16, ttl=3600)
    assert (envelope.to, envelope.id, envelope.ttl, envelope.version) == (B.address, b"\x07" * 16, 3600, 1)
    opened = open_b(envelope)
    assert opened.payload == payload
    assert opened.sender == A.address and opened.recipient == B.address
    assert opened.id == b"\x07" * 16 and opened.timestamp_ms == NOW
    assert opened.bundle == A and opened.bundle_was_included is True
    # and without the bundle, from a known sender
    opened = open_b(seal_ab(payload, include=None), known=A)
    assert opened.payload == payload and opened.bundle is A and opened.bundle_was_included is False


def test_a_hand_built_envelope_following_the_documented_layout_opens():
    opened = open_b(craft(body=encode(Text("built by hand")), bundle=A.to_bytes()))
    assert opened.payload == Text("built by hand") and opened.sender == A.address


def test_message_ids_are_random_and_16_bytes():
    ids = {seal_ab().id for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 16 for i in ids)


def test_open_is_case_insensitive_about_my_mailbox():
    envelope = seal_ab()
    assert open_b(envelope, me=B.address.lower()).payload == Text("hi")


@pytest.mark.parametrize("size", [0, 1, 100, 150, 190, 300, 1000, 1024, 4000, 16 * 1024, 40_000])
def test_ciphertext_sizes_are_buckets(size):
    for include in (None, A):
        envelope = seal_ab(Unknown("blob", {"x": "a" * size}), include=include)
        assert len(envelope.ciphertext) in BUCKETS


def test_lengths_inside_one_bucket_look_the_same():
    # 65 head + 1+4 type + 2 + 4 lengths + 64 signature, 31 + n of JSON, 0x80, 48 of seal
    sizes = {len(seal_ab(Text("x" * n), include=None).ciphertext) for n in (0, 10, 20, 36)}
    assert sizes == {256}
    assert len(seal_ab(Text("x" * 37), include=None).ciphertext) == 512
    assert len(seal_ab(Text("x" * 16 * 1024), include=None).ciphertext) == 32768
    assert len(seal_ab(Text("字" * 16 * 1024), include=None).ciphertext) == 65536


def test_a_valid_text_too_large_for_an_envelope_is_oversize():
    with pytest.raises(Oversize):
        seal_ab(Text("🧧" * 16 * 1024))  # 16 Ki characters (valid), 64 KiB of UTF-8


def test_seal_checks_ttl():
    for ttl in (0, -1, env.MAX_TTL + 1):
        with pytest.raises(ValueError):
            seal_ab(ttl=ttl)
    assert seal_ab(ttl=env.MAX_TTL).ttl == env.MAX_TTL


# -- the relay's view ----------------------------------------------------------------------


def test_json_round_trip_and_what_the_relay_sees():
    envelope = seal_ab(Text("secret words"), ttl=600)
    data = envelope.to_json()
    assert set(data) == {"v", "to", "id", "ttl", "ct"}
    assert data["v"] == 1 and data["to"] == B.address and data["id"] == envelope.id.hex() and data["ttl"] == 600
    assert base64.b64decode(data["ct"]) == envelope.ciphertext
    wire = json.dumps(data)
    assert Envelope.from_json(json.loads(wire)) == envelope
    # sealed sender: nothing about A or the text is visible
    for secret in (A.address, A.address.lower(), A.address[2:].lower(), "secret words", A.x25519.hex()):
        assert secret not in wire
    assert b"secret words" not in envelope.ciphertext and bytes.fromhex(A.address[2:]) not in envelope.ciphertext


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: {k: v for k, v in d.items() if k != "ct"},
        lambda d: {k: v for k, v in d.items() if k != "to"},
        lambda d: {k: v for k, v in d.items() if k != "ttl"},
        lambda d: {k: v for k, v in d.items() if k != "id"},
        lambda d: {**d, "to": "0x1234"},
        lambda d: {**d, "to": B.address[2:]},
        lambda d: {**d, "to": None},
        lambda d: {**d, "to": 5},
        lambda d: {**d, "id": d["id"][:-2]},
        lambda d: {**d, "id": d["id"] + "00"},
        lambda d: {**d, "id": "zz" * 16},
        lambda d: {**d, "id": 16},
        lambda d: {**d, "ct": d["ct"][:-1] + "!"},
        lambda d: {**d, "ct": "not base64"},
        lambda d: {**d, "ct": "é"},
        lambda d: {**d, "ct": 5},
        lambda d: {**d, "ttl": "week"},
        lambda d: {**d, "ttl": None},
        lambda d: {**d, "v": "one"},
        lambda d: {**d, "v": None},
        lambda d: [d],
        lambda d: "envelope",
        lambda d: None,
    ],
)
def test_from_json_refuses_malformed_envelopes(mutate):
    with pytest.raises(Tampered):
        Envelope.from_json(mutate(seal_ab().to_json()))


@pytest.mark.parametrize("version", [0, 2, 255, -1, "2"])
def test_unknown_version_in_json(version):
    with pytest.raises(UnknownVersion):
        Envelope.from_json({**seal_ab().to_json(), "v": version})


def test_unknown_version_in_the_envelope():
    envelope = seal_ab()
    for version in (0, 2, 99):
        with pytest.raises(UnknownVersion):
            open_b(dataclasses.replace(envelope, version=version))
        with pytest.raises(UnknownVersion):
            Envelope.from_json(dataclasses.replace(envelope, version=version).to_json())


def test_unknown_format_inside_the_ciphertext_is_a_clear_version_error():
    # 2 is a session message: without sessions to open it, it is as unknown as 0 or 3.
    for version in (0, 2, 3):
        with pytest.raises(UnknownVersion, match="upgrade Hongbao"):
            open_b(craft(version=version))


# -- tampering -----------------------------------------------------------------------------


def _flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


def test_every_byte_of_the_ciphertext_is_authenticated():
    """Sealed box layout: ephemeral public key 0..31, Poly1305 MAC 32..47, then the body."""
    envelope = seal_ab(include=None)
    ct = envelope.ciphertext
    assert len(ct) == 256
    for position in range(len(ct)):
        for mask in (0x01, 0x80):
            with pytest.raises(Tampered):
                open_b(dataclasses.replace(envelope, ciphertext=_flip(ct, position, mask)), known=A)
    assert open_b(envelope, known=A).payload == Text("hi")


def test_flips_across_a_large_ciphertext():
    envelope = seal_ab(Text("x" * 5000))
    ct = envelope.ciphertext
    assert len(ct) == 8192
    positions = [*range(48), *range(48, len(ct), 97), len(ct) - 2, len(ct) - 1]
    for position in positions:
        with pytest.raises(Tampered):
            open_b(dataclasses.replace(envelope, ciphertext=_flip(ct, position, 0xFF)))


def test_truncated_extended_or_empty_ciphertexts_are_tampered():
    envelope = seal_ab()
    ct = envelope.ciphertext
    for bad in (
        b"",
        ct[:1],
        ct[:31],
        ct[:32],
        ct[:47],
        ct[:48],
        ct[:49],
        ct[1:],
        ct[:-1],
        ct + b"\0",
        b"\0" + ct,
        ct[:128] + ct[129:],
        ct[32:] + ct[:32],
        bytes(256),
    ):
        with pytest.raises(Tampered):
            open_b(dataclasses.replace(envelope, ciphertext=bad))


def test_an_envelope_for_someone_else_is_not_for_me():
    envelope = seal(A.address, KA, C, Text("for C"), now_ms=NOW, include_bundle=A)
    with pytest.raises(NotForMe):
        open_b(envelope)  # B's client handed C's envelope
    assert open_envelope(envelope, C.address, KC, now_ms=NOW, known_bundle=lambda a: None).payload == Text("for C")


def test_relay_readdressing_an_envelope_does_not_open():
    """The relay moves B's envelope into C's mailbox: C's key cannot open it."""
    envelope = seal_ab(Text("for B"))
    moved = dataclasses.replace(envelope, to=C.address)
    with pytest.raises(Tampered):
        open_envelope(moved, C.address, KC, now_ms=NOW, known_bundle=lambda a: A)
    with pytest.raises(Tampered):
        open_envelope(
            Envelope.from_json({**envelope.to_json(), "to": C.address}),
            C.address,
            KC,
            now_ms=NOW,
            known_bundle=lambda a: A,
        )


def test_recipient_forwarding_the_sealed_contents_is_not_for_me():
    """B decrypts A's envelope and re-seals A's signed contents to C, posing as A.
    The contents name B as the recipient (under A's signature): C must refuse."""
    envelope = seal_ab(Text("for B only"))
    padded = crypto_box_seal_open(envelope.ciphertext, KB.x25519_public, KB.x25519_private)
    forwarded = Envelope(C.address, envelope.id, crypto_box_seal(padded, C.x25519))
    with pytest.raises(NotForMe):
        open_envelope(forwarded, C.address, KC, now_ms=NOW, known_bundle=lambda a: A)
    # rewriting the inner recipient instead breaks A's signature
    rewritten = craft(
        recipient=C, inner_to=C.address, signature=crypto_sign(b"x", KA.ed25519_secret)[:64], bundle=A.to_bytes()
    )
    with pytest.raises(BadSignature):
        open_envelope(rewritten, C.address, KC, now_ms=NOW, known_bundle=lambda a: A)


def test_a_signature_for_another_recipient_is_refused():
    signed_for_b = (
        b"hongbao-envelope-v1\0"
        + bytes.fromhex(B.address[2:])
        + b"\x42" * 16
        + NOW.to_bytes(8, "big")
        + b"\x04text"
        + b'{"body":"hi","type":"text","v":1}'
    )
    envelope = craft(recipient=C, signature=crypto_sign(signed_for_b, KA.ed25519_secret)[:64], bundle=A.to_bytes())
    with pytest.raises(BadSignature):
        open_envelope(envelope, C.address, KC, now_ms=NOW, known_bundle=lambda a: None)


def test_message_id_outside_must_match_inside():
    envelope = seal_ab(message_id=b"\x01" * 16)
    with pytest.raises(Tampered):
        open_b(Envelope(envelope.to, b"\x02" * 16, envelope.ciphertext))
    with pytest.raises(Tampered):
        open_b(Envelope.from_json({**envelope.to_json(), "id": "02" * 16}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"trailer": b"\0\1"},  # bytes after the signature
        {"trailer": b"x"},
        {"signature": b"\1" * 63},  # truncated signature
        {"kind": b"payment"},  # signed type differs from the payload's
        {"kind": b""},
        {"body": b"not json"},  # signed, but not a payload
        {"body": b'{"type":"text","v":1,"body":5}'},
        {"body": b'{"type":"text","v":1}'},
        {"kind": b"\xff\xfe", "body": b'{"type":"\xc3\xbf\xc3\xbe","v":1}'},
    ],
)
def test_malformed_contents_are_tampered(kwargs):
    with pytest.raises(Tampered):
        open_b(craft(bundle=A.to_bytes(), **kwargs))


def test_length_fields_pointing_past_the_end_are_tampered():
    envelope_for = lambda inner: Envelope(B.address, inner[41:57], crypto_box_seal(padding.pad(inner), B.x25519))  # noqa: E731
    head = struct.pack(">B20s20s16sQ", 1, bytes.fromhex(A.address[2:]), bytes.fromhex(B.address[2:]), b"\x42" * 16, NOW)
    for inner in (
        head[:-1],
        head,
        head + b"\x05text",
        head + b"\x04text" + b"\xff\xff",
        head + b"\x04text\x00\x00" + b"\xff\xff\xff\xff" + b"body",
        head + b"\x04text\x00\x00\x00\x00\x00\x02{}",
        head + b"\x04text\x00\x00\x00\x00\x00\x02{}" + b"s" * 63,
    ):
        with pytest.raises(Tampered):
            open_b(envelope_for(inner), known=A)


# -- replay and time -----------------------------------------------------------------------


def test_replay():
    envelope = seal_ab()
    asked = []
    assert open_b(envelope, seen=lambda i: asked.append(i) or False).payload == Text("hi")
    assert asked == [envelope.id]
    with pytest.raises(Replay):
        open_b(envelope, seen=lambda i: i == envelope.id)
    assert open_b(envelope, seen=lambda i: i == b"\0" * 16).payload == Text("hi")


def test_the_window_is_30_days_back_and_5_minutes_ahead():
    assert env.MAX_AGE_MS == 30 * 24 * 3600 * 1000
    assert env.MAX_SKEW_MS == 5 * 60 * 1000
    oldest, newest = NOW - env.MAX_AGE_MS, NOW + env.MAX_SKEW_MS
    assert open_b(seal_ab(now_ms=oldest)).timestamp_ms == oldest
    assert open_b(seal_ab(now_ms=newest)).timestamp_ms == newest
    for too in (oldest - 1, oldest - 86_400_000, newest + 1, newest + 3_600_000, 0, 2**63):
        with pytest.raises(OutsideWindow):
            open_b(seal_ab(now_ms=too))


def test_the_window_follows_the_receivers_clock():
    envelope = seal_ab(now_ms=NOW)
    assert open_b(envelope, now_ms=NOW + env.MAX_AGE_MS).payload == Text("hi")
    with pytest.raises(OutsideWindow):
        open_b(envelope, now_ms=NOW + env.MAX_AGE_MS + 1)
    assert open_b(envelope, now_ms=NOW - env.MAX_SKEW_MS).payload == Text("hi")
    with pytest.raises(OutsideWindow):
        open_b(envelope, now_ms=NOW - env.MAX_SKEW_MS - 1)


# -- senders -------------------------------------------------------------------------------


def test_sender_unknown():
    with pytest.raises(SenderUnknown):
        open_b(seal_ab(include=None), known=None)


def test_known_bundle_is_looked_up_by_checksummed_sender():
    asked = []
    open_envelope(seal_ab(include=None), B.address, KB, now_ms=NOW, known_bundle=lambda a: asked.append(a) or A)
    assert asked == [A.address]


def test_included_bundle_of_another_address_is_a_mismatch():
    with pytest.raises(SenderMismatch):
        open_b(seal_ab(include=C))
    with pytest.raises(SenderMismatch):
        open_b(seal_ab(include=C), known=A)


def test_included_bundle_with_a_bad_signature_is_a_mismatch():
    from wallet import signing

    forged = dataclasses.replace(A, signature=signing.sign_hash(KEY_C, A.digest()))
    for bad in (forged, dataclasses.replace(A, issued_at=T0 + 1), dataclasses.replace(A, ed25519=KC.ed25519_public)):
        with pytest.raises(SenderMismatch):
            open_b(seal_ab(include=bad))
    for raw in (b"{", b"[]", b"null", b'{"address":"' + A.address.encode() + b'"}', b"\xff" * 10):
        with pytest.raises(SenderMismatch):
            open_b(craft(bundle=raw))


def test_impersonation_with_the_victims_bundle_is_a_bad_signature():
    """C claims to be A, encloses A's genuine bundle, signs with C's own messaging key."""
    envelope = craft(sender=A, sender_keys=KC, bundle=A.to_bytes())
    with pytest.raises(BadSignature):
        open_b(envelope)
    with pytest.raises(BadSignature):
        open_b(craft(sender=A, sender_keys=KC), known=A)
    with pytest.raises(SenderMismatch):
        open_b(craft(sender=A, sender_keys=KC, bundle=C.to_bytes()))


def test_key_change_without_the_new_bundle_is_a_bad_signature():
    # the recipient knows A's rotated keys (v2); an envelope signed with the old keys
    with pytest.raises(BadSignature):
        open_b(seal_ab(include=None), known=A_V2)
    # the recipient knows only v1; A signs with the rotated keys without enclosing v2
    with pytest.raises(BadSignature):
        open_b(seal(A.address, ROTATED, B, Text("hi"), now_ms=NOW), known=A)
    # ... and enclosing v2 makes it open, flagged as a new bundle
    opened = open_b(seal(A.address, ROTATED, B, Text("hi"), now_ms=NOW, include_bundle=A_V2), known=A)
    assert opened.bundle == A_V2 and opened.bundle_was_included is True


def test_a_garbage_signature_is_a_bad_signature():
    for signature in (b"\0" * 64, b"\xff" * 64):
        with pytest.raises(BadSignature):
            open_b(craft(signature=signature), known=A)


def test_bundle_was_included_semantics():
    assert open_b(seal_ab(include=A), known=None).bundle_was_included is True  # first contact
    assert open_b(seal_ab(include=A), known=A).bundle_was_included is False  # nothing new
    reissued = make_bundle(KEY_A, T0 + 60, version=3)  # same keys, re-issued
    opened = open_b(seal_ab(include=reissued), known=A)
    assert opened.bundle == reissued and opened.bundle_was_included is False
    opened = open_b(seal(A.address, ROTATED, B, Text("x"), now_ms=NOW, include_bundle=A_V2), known=A)
    assert opened.bundle_was_included is True  # key change
    assert open_b(seal_ab(include=None), known=A).bundle_was_included is False


# -- size ----------------------------------------------------------------------------------


def test_oversize_ciphertext():
    envelope = seal_ab()
    with pytest.raises(Oversize):
        open_b(dataclasses.replace(envelope, ciphertext=b"\0" * 65537))
    with pytest.raises(Oversize):
        open_b(dataclasses.replace(envelope, ciphertext=b"\0" * 10**6, to=C.address))  # size before mailbox
    with pytest.raises(Tampered):
        open_b(dataclasses.replace(envelope, ciphertext=b"\0" * 65536))


def test_error_classes():
    for cls in (
        UnknownVersion,
        Oversize,
        NotForMe,
        Tampered,
        Replay,
        OutsideWindow,
        SenderUnknown,
        SenderMismatch,
        BadSignature,
    ):
        assert issubclass(cls, EnvelopeError) and issubclass(cls, MessagingError)


# -- fuzzing: nothing but EnvelopeError escapes --------------------------------------------

_VALID = seal_ab(Text("fuzz me"), message_id=b"\x09" * 16)
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=700), st.binary(min_size=16, max_size=16))
def test_fuzz_random_ciphertext(ct, message_id):
    with pytest.raises(Tampered):
        open_b(Envelope(B.address, message_id, ct), known=A)


@FUZZ
@given(
    st.dictionaries(st.integers(0, len(_VALID.ciphertext) - 1), st.integers(1, 255), min_size=1, max_size=6),
    st.sampled_from(["keep", "truncate", "extend"]),
    st.integers(0, 300),
)
def test_fuzz_mutated_valid_ciphertext(flips, shape, n):
    ct = bytearray(_VALID.ciphertext)
    for position, mask in flips.items():
        ct[position] ^= mask
    ct = bytes(ct)
    if shape == "truncate":
        ct = ct[: n % len(ct)]
    elif shape == "extend":
        ct = ct + bytes(n % 40 + 1)
    with pytest.raises(Tampered):
        open_b(dataclasses.replace(_VALID, ciphertext=ct), known=A)


def _signature_holds(envelope: Envelope, opened) -> bool:
    """Read B's envelope by the documented format-1 layout, independently of envelope.py, and
    check its Ed25519 signature against the key of the bundle that vouched for the sender."""
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    inner = padding.unpad(crypto_box_seal_open(envelope.ciphertext, KB.x25519_public, KB.x25519_private))
    if inner[:1] != b"\x01":
        return False
    to, message_id, timestamp = inner[21:41], inner[41:57], inner[57:65]
    at = 65
    kind = inner[at + 1 : at + 1 + inner[at]]
    at += 1 + len(kind)
    at += 2 + int.from_bytes(inner[at : at + 2], "big")  # the enclosed bundle (not signed)
    body_length = int.from_bytes(inner[at : at + 4], "big")
    body = inner[at + 4 : at + 4 + body_length]
    signature = inner[at + 4 + body_length :]
    signed = b"hongbao-envelope-v1\0" + to + message_id + timestamp + bytes([len(kind)]) + kind + body
    try:
        crypto_sign_open(signature + signed, opened.bundle.ed25519)
    except BadSignatureError:
        return False
    return len(signature) == 64 and opened.bundle.address == opened.sender


def _open_any(envelope: Envelope, known=A, *, lookup=None):
    """Open as B (senders' bundles from `lookup`, else `known` for anyone); None for an
    EnvelopeError. Whatever opens must carry a good signature."""
    try:
        if lookup is None:
            opened = open_b(envelope, known=known)
        else:
            opened = open_envelope(envelope, B.address, KB, now_ms=NOW, known_bundle=lookup)
    except EnvelopeError:
        return None
    assert _signature_holds(envelope, opened), f"opened with a bad signature: {opened}"
    return opened


@FUZZ
@given(st.binary(max_size=500))
def test_fuzz_random_contents_sealed_to_me(inner):
    """A stranger can seal anything to B's public key: the inner parser sees arbitrary bytes."""
    _open_any(Envelope(B.address, inner[41:57].ljust(16, b"\0"), crypto_box_seal(padding.pad(inner), B.x25519)))


_bundle_bytes = st.one_of(
    st.just(b""),
    st.just(A.to_bytes()),
    st.binary(max_size=200),
    st.builds(
        lambda k, v: json.dumps({**A.to_json(), k: v}).encode(),
        st.sampled_from(list(A.to_json())),
        st.none()
        | st.booleans()
        | st.integers(-10, 2**41)
        | st.text(max_size=70)
        | st.floats(allow_nan=False, allow_infinity=False),
    ),
)
_body_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([encode(p) for p in PAYLOADS.values()]),
    st.dictionaries(
        st.sampled_from(["type", "v", "body", "status", "op", "group_id", "members", "x"]),
        st.none() | st.integers(-3, 3) | st.text(max_size=10) | st.lists(st.text(max_size=5), max_size=3),
        max_size=5,
    ).map(lambda d: json.dumps(d).encode()),
)


_kinds = st.sampled_from([b"text", b"payment", b"receipt", b"group", b"red_packet", b"sticker", b""]) | st.binary(
    max_size=10
)


@pytest.mark.slow
@FUZZ
@given(
    kind=_kinds,
    body=_body_bytes,
    well_formed=st.sampled_from(list(PAYLOADS.values())) | st.none(),  # if given, its type and body instead
    bundle=_bundle_bytes,
    timestamp=st.just(NOW) | st.sampled_from([NOW - env.MAX_AGE_MS - 1, NOW + env.MAX_SKEW_MS + 1, 0]),
    sender=st.sampled_from([A, C]),
    signature=st.sampled_from(["good", "zeroed", "another key"]),
    trailer=st.just(b"") | st.sampled_from([b"\0", b"\x80"]),
    known=st.sampled_from([None, A, A_V2]),
)
def test_fuzz_structured_contents(kind, body, well_formed, bundle, timestamp, sender, signature, trailer, known):
    if well_formed is not None:  # an envelope that opens when everything else holds
        kind, body = type_of(well_formed).encode(), encode(well_formed)
    envelope = craft(
        kind=kind,
        body=body,
        bundle=bundle,
        timestamp_ms=timestamp,
        sender=sender,
        sender_keys={A: KC, C: KA}[sender] if signature == "another key" else {A: KA, C: KC}[sender],
        signature=bytes(64) if signature == "zeroed" else None,
        trailer=trailer,
    )
    contacts = {A.address: known, C.address: C} if known is not None else {}  # B knows C, and A as `known`
    opened = _open_any(envelope, lookup=contacts.get)
    assert opened is None or signature == "good", f"an envelope signed {signature!r} opened"


def _signed(to: str, message_id: bytes, timestamp_ms: int, kind: bytes, body: bytes) -> bytes:
    """What a format-1 signature covers, from the layout documented in envelope.py."""
    return (
        b"hongbao-envelope-v1\0"
        + bytes.fromhex(to[2:])
        + message_id
        + timestamp_ms.to_bytes(8, "big")
        + bytes([len(kind)])
        + kind
        + body
    )


def _sign(keys: MessagingKeys, signed: bytes) -> bytes:
    return crypto_sign(signed, keys.ed25519_secret)[:64]


_FUZZ_ID = b"\x5a" * 16
_BAD_SIGNATURES = {
    "zeroed": lambda kind, body: bytes(64),
    "another member's key": lambda kind, body: _sign(KC, _signed(B.address, _FUZZ_ID, NOW, kind, body)),
    "the sender's retired key": lambda kind, body: _sign(ROTATED, _signed(B.address, _FUZZ_ID, NOW, kind, body)),
    "for another recipient": lambda kind, body: _sign(KA, _signed(C.address, _FUZZ_ID, NOW, kind, body)),
    "for another message id": lambda kind, body: _sign(KA, _signed(B.address, b"\x5b" * 16, NOW, kind, body)),
    "for another time": lambda kind, body: _sign(KA, _signed(B.address, _FUZZ_ID, NOW - 1, kind, body)),
    "for another body": lambda kind, body: _sign(KA, _signed(B.address, _FUZZ_ID, NOW, kind, body + b" ")),
    "for another type": lambda kind, body: _sign(KA, _signed(B.address, _FUZZ_ID, NOW, kind + b"x", body)),
}


@FUZZ
@given(
    payload=st.sampled_from(list(PAYLOADS.values())),
    bad=st.sampled_from(list(_BAD_SIGNATURES))
    | st.tuples(st.integers(0, 63), st.integers(1, 255)),  # one byte of the good signature changed
    enclosed=st.booleans(),
)
def test_fuzz_a_valid_envelope_with_a_bad_signature_is_refused(payload, bad, enclosed):
    """Every field valid but the signature: BadSignature, whichever way it is wrong. The
    same envelope with its good signature opens (so the refusal is the signature's)."""
    kind, body = type_of(payload).encode(), encode(payload)
    sender_bundle = {"bundle": A.to_bytes()} if enclosed else {}
    known = None if enclosed else A
    good = _sign(KA, _signed(B.address, _FUZZ_ID, NOW, kind, body))
    if isinstance(bad, tuple):
        position, mask = bad
        signature = good[:position] + bytes([good[position] ^ mask]) + good[position + 1 :]
    else:
        signature = _BAD_SIGNATURES[bad](kind, body)
    assert signature != good
    opened = open_b(craft(kind=kind, body=body, message_id=_FUZZ_ID, signature=good, **sender_bundle), known=known)
    assert opened.payload == payload and opened.sender == A.address
    with pytest.raises(BadSignature):
        open_b(craft(kind=kind, body=body, message_id=_FUZZ_ID, signature=signature, **sender_bundle), known=known)


_json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=60)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_envelope_field = _json | st.sampled_from(
    [1, 2, B.address, B.address.lower(), "00" * 16, "ab" * 15, base64.b64encode(b"x" * 256).decode(), "====", 604800]
)


@FUZZ
@given(
    st.one_of(
        _json,
        st.dictionaries(
            st.sampled_from(["v", "to", "id", "ttl", "ct"]) | st.text(max_size=4), _envelope_field, max_size=7
        ),
    )
)
def test_fuzz_from_json(data):
    try:
        envelope = Envelope.from_json(data)
    except EnvelopeError:
        return
    _open_any(envelope)


# -- bugs: regressions, and open ones as strict xfails ---------------------------------------


@pytest.fixture
def python_recursion_limit():
    """CPython's default recursion limit (importing eth_account/py_ecc raises it to 100,000)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(old)


# Regression (was a bug): open_envelope caught only BundleInvalid around Bundle.from_bytes/verify_bundle,
# which leaked RecursionError, ValueError and OverflowError. Anyone holding B's public bundle
# can send these: no signature is checked first.
@pytest.mark.parametrize(
    "bundle",
    [
        pytest.param(b"[" * 1000, id="deep-nesting"),
        pytest.param(b"[" * 60000, id="deep-nesting-large"),
        pytest.param(b'{"issued_at":' + b"9" * 1000 + b"}", id="1000-digit-int"),
        pytest.param(b'{"issued_at":' + b"9" * 4400 + b"}", id="4400-digit-int"),
        pytest.param(json.dumps({**A.to_json(), "issued_at": float("inf")}).encode(), id="Infinity"),
        pytest.param(json.dumps({**A.to_json(), "version": float("nan")}).encode(), id="NaN"),
        pytest.param(json.dumps({**A.to_json(), "issued_at": 253_402_300_800}).encode(), id="year-10000"),
        pytest.param(json.dumps({**A.to_json(), "address": "\ud800"}).encode(), id="lone-surrogate"),
    ],
)
def test_hostile_enclosed_bundle_is_a_sender_mismatch(bundle, python_recursion_limit):
    with pytest.raises(SenderMismatch):
        open_b(craft(bundle=bundle, sender_keys=KC))  # not even A's key: no signature needed


# Regression (was a bug): with eth_account imported (py_ecc sets the recursion limit to 100,000)
# a deeply nested enclosed bundle overflowed the C stack of a thread with a 512 KiB stack
# (macOS's default for threads): the process segfaulted in Bundle.from_bytes -> json.loads.
@pytest.mark.slow
def test_deep_json_in_an_envelope_does_not_crash_the_process():
    """Deep JSON both where no signature is checked (the enclosed bundle) and where the
    sender's own valid signature covers it (the body), opened in a small-stack thread."""
    script = textwrap.dedent(
        f"""
        import struct, threading
        import eth_account  # as a client that signs EIP-712 red-packet claims has
        from nacl.bindings import crypto_box_seal, crypto_sign
        from messaging import padding
        from messaging.envelope import Envelope, open_envelope
        from messaging.errors import EnvelopeError
        from messaging.identity import make_bundle
        from messaging.keys import MessagingKeys
        key_a, key_b = bytes.fromhex("{ANVIL_KEYS[0]}"), bytes.fromhex("{ANVIL_KEYS[1]}")
        ka, kb = MessagingKeys.from_account_key(key_a), MessagingKeys.from_account_key(key_b)
        a, b = make_bundle(key_a, {T0}), make_bundle(key_b, {T0})
        def envelope(bundle, body, n):
            mid, to = bytes([n]) * 16, bytes.fromhex(b.address[2:])
            signature = crypto_sign(b"hongbao-envelope-v1\\0" + to + mid + ({NOW}).to_bytes(8, "big") + b"\\x04text" + body, ka.ed25519_secret)[:64]
            inner = struct.pack(">B20s20s16sQ", 1, bytes.fromhex(a.address[2:]), to, mid, {NOW}) + b"\\x04text" + len(bundle).to_bytes(2, "big") + bundle + len(body).to_bytes(4, "big") + body + signature
            return Envelope(b.address, mid, crypto_box_seal(padding.pad(inner), b.x25519))
        cases = [envelope(b"[" * 60000, b"{{}}", 1), envelope(a.to_bytes(), b"[" * 64000, 2), envelope(b"", b'{{"type":"text","v":1,"body":' + b"[" * 64000 + b"}}", 3)]
        def run():
            for case in cases:
                try:
                    open_envelope(case, b.address, kb, now_ms={NOW}, known_bundle=lambda _: a)
                    print("opened")
                except EnvelopeError as error:
                    print("refused", type(error).__name__)
                except Exception as error:
                    print("escaped", type(error).__name__)
        threading.stack_size(512 * 1024)
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"the process died with status {result.returncode}: {result.stderr[-500:]}"
    assert result.stdout.split("\n")[:3] == ["refused SenderMismatch", "refused Tampered", "refused Tampered"], (
        result.stdout
    )


# Regression (was a bug): a signed body with a >4,300-digit integer raised ValueError out of
# open_envelope (payloads.decode let it through; any sender with an identity can send it).
def test_signed_body_with_a_huge_integer_is_tampered():
    body = b'{"type":"text","v":1,"body":"x","group_id":' + b"1" * 5000 + b"}"
    with pytest.raises(Tampered):
        open_b(craft(body=body, bundle=A.to_bytes()))


# Regression (was a bug): open_envelope preferred an enclosed bundle over the known one without
# comparing them: an OLD bundle (older version, retired keys) overrode a newer known bundle, so
# whoever held A's retired messaging key could still speak as A.
def test_an_enclosed_stale_bundle_does_not_override_a_newer_known_one():
    # the recipient already knows A's v2 (rotated keys); the envelope encloses A's v1 and is signed with v1's key
    envelope = seal(A.address, KA, B, Text("I am A, trust me"), now_ms=NOW, include_bundle=A)
    with pytest.raises(SenderMismatch):
        open_b(envelope, known=A_V2)
    # the same, re-issued later at version 1 (the keys still retired)
    stale_later = make_bundle(KEY_A, T0 + 7200, version=1)
    with pytest.raises(SenderMismatch):
        open_b(seal_ab(include=stale_later), known=A_V2)


def test_an_older_bundle_with_the_same_keys_is_not_a_rollback():
    reissued = make_bundle(KEY_A, T0 + 60)  # same keys as A, issued a minute later by another device
    opened = open_b(seal_ab(include=A), known=reissued)
    assert opened.payload == Text("hi") and opened.sender == A.address and opened.bundle_was_included is False


# Regression (was a bug): Envelope.from_json let OverflowError out of int(float('inf'))
# (json.loads accepts `Infinity`).
@pytest.mark.parametrize("field", ["v", "ttl"])
def test_from_json_infinity_is_tampered(field):
    with pytest.raises(Tampered):
        Envelope.from_json({**seal_ab().to_json(), field: float("inf")})


# Regression (was a bug): envelope._MAILBOX ended in `$`, which also matches before a final
# newline: from_json accepted the mailbox '0x...\n'.
def test_from_json_refuses_a_mailbox_with_a_trailing_newline():
    with pytest.raises(Tampered):
        Envelope.from_json({**seal_ab().to_json(), "to": B.address + "\n"})


# Regression (was a bug): Envelope.from_json did not check the TTL range that seal() enforces.
@pytest.mark.parametrize("ttl", [-5, 0, env.MAX_TTL + 1, 10**30])
def test_from_json_refuses_a_ttl_out_of_range(ttl):
    with pytest.raises(Tampered):
        Envelope.from_json({**seal_ab().to_json(), "ttl": ttl})


# Regression (was a bug): seal() did not check the message id length: struct padded a short id
# (or truncated a long one) inside, and the envelope could never be opened.
@pytest.mark.parametrize("message_id", [b"\x01" * 8, b"\x01" * 20])
def test_seal_refuses_a_message_id_of_the_wrong_length(message_id):
    with pytest.raises(ValueError):
        seal_ab(message_id=message_id)


def test_an_opened_payload_survives_encode_and_decode():
    from messaging.payloads import decode

    envelope = craft(
        kind=b"sticker",
        body=b'{"group_id":"' + GID.encode() + b'","type":"sticker","v":1,"x":1e999}',
        bundle=A.to_bytes(),
    )
    try:
        opened = open_b(envelope)
    except Tampered:
        return  # refusing it is fine too
    assert decode(encode(opened.payload)) == opened.payload
