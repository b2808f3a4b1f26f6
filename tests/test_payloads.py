"""Typed message payloads (messaging/payloads.py): canonical JSON, validation, unknown types."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import payloads
from messaging.errors import MessagingError, PayloadError
from messaging.payloads import (
    MAX_TEXT,
    GroupControl,
    Payment,
    Receipt,
    RedPacket,
    RedPacketClaim,
    Text,
    Unknown,
    decode,
    encode,
    type_of,
)

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ADDR2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HASH = "0x" + "ab" * 32
KEY32 = "0x" + "0f" * 32
SIG65 = "0x" + "cd" * 64 + "1b"
GID = "0123456789abcdef" * 2
MID = "fedcba9876543210" * 2

EXAMPLES = {
    "text": Text("hello"),
    "text-empty": Text(""),
    "text-chinese-emoji": Text('恭喜发财，红包拿来 🧧🐉👨‍👩‍👧 \u200b\n\t"quoted" \\ </script>'),
    "text-group": Text("大家好", group_id=GID),
    "text-max": Text("字" * MAX_TEXT),
    "red-packet-authorized": RedPacket(
        31337,
        CONTRACT,
        HASH,
        greeting="新年快乐",
        theme="dragon",
        slot=3,
        authorization=SIG65,
        token=ADDR2,
        total="1000000000000000000",
        shares=8,
        group_id=GID,
    ),
    "red-packet-slot-0": RedPacket(1, CONTRACT, HASH, slot=0, authorization=SIG65),
    "red-packet-open": RedPacket(31337, CONTRACT, HASH, claim_key=KEY32, total="0", shares=0),
    "red-packet-lucky": RedPacket(
        31337, CONTRACT, HASH, slot=1, authorization=SIG65, amount="7", proof=HASH + "cd" * 32
    ),
    "red-packet-claim": RedPacketClaim(31337, CONTRACT, HASH, ADDR, 2, SIG65),
    "red-packet-claim-lucky": RedPacketClaim(31337, CONTRACT, HASH, ADDR, 0, SIG65, amount="5", proof=HASH),
    "payment-eth": Payment(31337, HASH, "1500000000000000000", note="晚饭 🍜"),
    "payment-token": Payment(1, HASH, "0", token=ADDR, group_id=GID),
    "receipt-delivered": Receipt("delivered", (MID,)),
    "receipt-read": Receipt("read", (MID, GID)),
    "receipt-empty": Receipt("read"),
    "group-create": GroupControl("create", GID, "家人", (ADDR, ADDR2)),
    "group-add": GroupControl("add", GID, members=(ADDR2,)),
    "group-remove": GroupControl("remove", GID, members=(ADDR,)),
    "group-rename": GroupControl("rename", GID, "新名字 🎉"),
    "unknown": Unknown("sticker", {"pack": "cny", "n": 3, "v": 1}),
    "unknown-future-text": Unknown("text", {"body": "hi", "style": {"bold": True}, "v": 2}),
}


@pytest.mark.parametrize("payload", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_round_trip(payload):
    raw = encode(payload)
    assert isinstance(raw, bytes)
    back = decode(raw)
    assert back == payload
    assert type(back) is type(payload)
    assert encode(back) == raw
    assert type_of(back) == type_of(payload)


@pytest.mark.parametrize("payload", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_encoding_is_canonical(payload):
    raw = encode(payload)
    text = raw.decode("utf-8")
    body = json.loads(text)
    assert list(body) == sorted(body)
    assert json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == text
    assert "\\u" not in text.replace("\\u200b", "")  # UTF-8, not \u escapes
    assert body["type"] == type_of(payload)
    assert None not in body.values()  # absent optional fields are left out
    # a non-canonical spelling of the same payload decodes to it and re-encodes canonically
    messy = json.dumps(dict(reversed(list(body.items()))), indent=2, ensure_ascii=True).encode()
    assert messy != raw
    assert decode(messy) == payload and encode(decode(messy)) == raw


def test_exact_bytes():
    assert encode(Text("hi")) == b'{"body":"hi","type":"text","v":1}'
    assert encode(Text("红包🧧")) == '{"body":"红包🧧","type":"text","v":1}'.encode()
    assert (
        encode(Receipt("read", (MID,)))
        == ('{"message_ids":["' + MID + '"],"status":"read","type":"receipt","v":1}').encode()
    )
    assert (
        encode(Payment(1, HASH, "5"))
        == ('{"amount":"5","chain_id":1,"note":"","tx_hash":"' + HASH + '","type":"payment","v":1}').encode()
    )
    assert (
        encode(GroupControl("rename", GID, "x"))
        == ('{"group_id":"' + GID + '","members":[],"name":"x","op":"rename","type":"group","v":1}').encode()
    )


def test_types():
    assert {cls.TYPE for cls in payloads.KNOWN.values()} == {
        "text",
        "red_packet",
        "payment",
        "receipt",
        "group",
        "red_packet_claim",
        "delivery_pass",
        "payment_request",
        "request_declined",
        "trade",
        "offer",
        "offer_answer",
    }
    assert type_of(Unknown("x")) == "x"


# -- unknown types and versions ------------------------------------------------------------


def test_unknown_type_is_kept_with_its_fields():
    raw = b'{"id":3,"nested":{"a":[1,2,"\xe4\xb8\xad"]},"pack":"cny","type":"sticker","v":1}'
    payload = decode(raw)
    assert payload == Unknown("sticker", {"id": 3, "nested": {"a": [1, 2, "中"]}, "pack": "cny", "v": 1})
    assert type_of(payload) == "sticker"
    assert encode(payload) == raw


def test_unknown_type_without_version_gets_v1():
    payload = decode(b'{"type":"poll","q":"?"}')
    assert payload == Unknown("poll", {"q": "?", "v": 1})
    assert decode(encode(payload)) == payload


@pytest.mark.parametrize("kind", ["text", "red_packet", "payment", "receipt", "group"])
def test_known_type_from_a_future_version_is_kept_as_unknown(kind):
    raw = json.dumps(
        {"type": kind, "v": 2, "whatever": [1, {"x": None}], "amount": -5}, sort_keys=True, separators=(",", ":")
    ).encode()
    payload = decode(raw)
    assert isinstance(payload, Unknown)
    assert payload.type == kind and payload.fields == {"v": 2, "whatever": [1, {"x": None}], "amount": -5}
    assert encode(payload) == raw


def test_future_text_is_kept_not_dropped():
    payload = decode(b'{"body":"hi","type":"text","v":2}')
    assert payload == Unknown("text", {"body": "hi", "v": 2})


# -- validation ----------------------------------------------------------------------------

RP = dict(chain_id=31337, contract=CONTRACT, packet_id=HASH, slot=1, authorization=SIG65)
PM = dict(chain_id=1, tx_hash=HASH, amount="1")

INVALID = {
    # Text
    "text-too-long": Text("a" * (MAX_TEXT + 1)),
    "text-too-long-chinese": Text("字" * (MAX_TEXT + 1)),
    "text-not-str": Text(5),
    "text-bytes": Text(b"hi"),
    "text-group-short": Text("x", group_id=GID[:-1]),
    "text-group-upper": Text("x", group_id=GID.upper()),
    "text-group-int": Text("x", group_id=7),
    # RedPacket
    "rp-bad-address": RedPacket(**{**RP, "contract": "0x1234"}),
    "rp-amount-without-proof": RedPacket(**{**RP, "amount": "5"}),
    "rp-proof-not-nodes": RedPacket(**{**RP, "amount": "5", "proof": "0x" + "ab" * 31}),
    "rp-proof-too-long": RedPacket(**{**RP, "amount": "5", "proof": "0x" + "ab" * 32 * 17}),
    "claim-bad-signature": RedPacketClaim(31337, CONTRACT, HASH, ADDR, 0, "0x" + "cd" * 64),
    "claim-bad-recipient": RedPacketClaim(31337, CONTRACT, HASH, "0x1234", 0, SIG65),
    "rp-bad-checksum": RedPacket(**{**RP, "contract": CONTRACT.replace("5FbDB", "5fBdb")}),
    "rp-contract-none": RedPacket(**{**RP, "contract": None}),
    "rp-contract-int": RedPacket(**{**RP, "contract": 12}),
    "rp-bad-hex": RedPacket(**{**RP, "packet_id": "0x" + "zz" * 32}),
    "rp-short-hex": RedPacket(**{**RP, "packet_id": HASH[:-2]}),
    "rp-no-0x": RedPacket(**{**RP, "packet_id": HASH[2:] + "ab"}),
    "rp-chain-negative": RedPacket(**{**RP, "chain_id": -1}),
    "rp-chain-bool": RedPacket(**{**RP, "chain_id": True}),
    "rp-chain-float": RedPacket(**{**RP, "chain_id": 1.0}),
    "rp-chain-str": RedPacket(**{**RP, "chain_id": "1"}),
    "rp-slot-negative": RedPacket(**{**RP, "slot": -1}),
    "rp-slot-bool": RedPacket(**{**RP, "slot": False}),
    "rp-both": RedPacket(**RP, claim_key=KEY32),
    "rp-neither": RedPacket(31337, CONTRACT, HASH),
    "rp-auth-without-slot": RedPacket(**{**RP, "slot": None}),
    "rp-auth-64-bytes": RedPacket(**{**RP, "authorization": "0x" + "cd" * 64}),
    "rp-auth-not-hex": RedPacket(**{**RP, "authorization": "0x" + "zz" * 65}),
    "rp-auth-upper": RedPacket(**{**RP, "authorization": SIG65.upper().replace("0X", "0x")}),
    "rp-auth-int": RedPacket(**{**RP, "authorization": 5}),
    "rp-claim-key-short": RedPacket(31337, CONTRACT, HASH, claim_key=KEY32[:-2]),
    "rp-claim-key-int": RedPacket(31337, CONTRACT, HASH, claim_key=1),
    "rp-token": RedPacket(**RP, token="0xnope"),
    "rp-total-decimal": RedPacket(**RP, total="1.5"),
    "rp-total-negative": RedPacket(**RP, total="-1"),
    "rp-total-int": RedPacket(**RP, total=100),
    "rp-total-empty": RedPacket(**RP, total=""),
    "rp-shares-negative": RedPacket(**RP, shares=-2),
    "rp-shares-bool": RedPacket(**RP, shares=True),
    "rp-greeting-long": RedPacket(**RP, greeting="x" * 513),
    "rp-greeting-none": RedPacket(**RP, greeting=None),
    "rp-theme-long": RedPacket(**RP, theme="x" * 65),
    "rp-group": RedPacket(**RP, group_id="nope"),
    # Payment
    "pay-bad-hash": Payment(**{**PM, "tx_hash": "0x" + "ab" * 31}),
    "pay-amount-negative": Payment(**{**PM, "amount": "-1"}),
    "pay-amount-int": Payment(**{**PM, "amount": 5}),
    "pay-amount-empty": Payment(**{**PM, "amount": ""}),
    "pay-amount-hex": Payment(**{**PM, "amount": "0x10"}),
    "pay-amount-float": Payment(**{**PM, "amount": "1e18"}),
    "pay-token": Payment(**PM, token="0x" + "12" * 19),
    "pay-note-long": Payment(**PM, note="x" * 513),
    "pay-chain-negative": Payment(**{**PM, "chain_id": -5}),
    "pay-chain-bool": Payment(**{**PM, "chain_id": False}),
    "pay-group": Payment(**PM, group_id=GID + "00"),
    # Receipt
    "receipt-status": Receipt("seen", (MID,)),
    "receipt-status-case": Receipt("Read", (MID,)),
    "receipt-id-short": Receipt("read", (MID[:-1],)),
    "receipt-id-upper": Receipt("read", (MID.upper(),)),
    "receipt-id-int": Receipt("read", (5,)),
    "receipt-too-many": Receipt("read", (MID,) * 501),
    "receipt-ids-str": Receipt("read", MID),
    # GroupControl
    "group-op": GroupControl("delete", GID),
    "group-op-case": GroupControl("Add", GID),
    "group-id": GroupControl("rename", "g1", "x"),
    "group-id-none": GroupControl("rename", None, "x"),
    "group-name-long": GroupControl("rename", GID, "x" * 129),
    "group-too-many": GroupControl("add", GID, members=(ADDR,) * 501),
    "group-bad-member": GroupControl("add", GID, members=(ADDR, "0x1234")),
    "group-member-checksum": GroupControl("add", GID, members=(ADDR.replace("0x7099", "0x7O99"),)),
    "group-members-str": GroupControl("add", GID, members=ADDR),
}


@pytest.mark.parametrize("payload", INVALID.values(), ids=INVALID.keys())
def test_invalid_payload_is_refused_with_payload_error(payload):
    with pytest.raises(PayloadError):
        payload.validate()
    with pytest.raises(PayloadError):
        encode(payload)


_NOT_JSON = (
    "text-bytes",
    "receipt-ids-str",
    "group-members-str",
    "rp-greeting-none",
)  # not expressible (or valid once None is dropped)


def _raw(payload) -> bytes:
    """The JSON a (hostile) sender would produce for an invalid payload, skipping validation."""
    from dataclasses import fields

    body = {f.name: getattr(payload, f.name) for f in fields(payload) if getattr(payload, f.name) is not None}
    body = {k: list(v) if isinstance(v, tuple) else v for k, v in body.items() if not isinstance(v, bytes)}
    return json.dumps({**body, "type": payload.TYPE, "v": 1}).encode()


@pytest.mark.parametrize(
    "payload", [p for k, p in INVALID.items() if k not in _NOT_JSON], ids=[k for k in INVALID if k not in _NOT_JSON]
)
def test_invalid_payload_is_refused_on_decode(payload):
    with pytest.raises(PayloadError):
        decode(_raw(payload))


def test_boundaries_that_are_valid():
    for payload in (
        Text("x" * MAX_TEXT),
        RedPacket(**RP, greeting="x" * 512, theme="y" * 64, shares=0),
        Payment(**PM, note="n" * 512),
        Receipt("read", (MID,) * 500),
        GroupControl("add", GID, "x" * 128, (ADDR,) * 500),
        GroupControl("add", GID, members=(ADDR.lower(), "0x" + ADDR[2:].upper())),  # no checksum: accepted
        RedPacket(**{**RP, "packet_id": HASH.upper().replace("0X", "0x")}),
        RedPacket(**{**RP, "chain_id": 2**256}),
    ):
        payload.validate()
        assert decode(encode(payload)) == payload


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"\xc3\x28",
        b"null",
        b"[]",
        b'["type","text"]',
        b"42",
        b'"text"',
        b"{}",
        b'{"type":null}',
        b'{"type":5,"body":"x"}',
        b'{"type":["text"],"body":"x"}',
        b'{"type":"text","v":1}',  # missing body
        b'{"type":"text","v":1,"body":"x","extra":1}',
        b'{"type":"text","v":1,"body":"x","TYPE":"y"}',
        b'{"type":"payment","v":1,"chain_id":1,"tx_hash":"' + HASH.encode() + b'"}',
        b'{"type":"red_packet","v":1,"chain_id":1,"contract":"'
        + CONTRACT.encode()
        + b'","packet_id":"'
        + HASH.encode()
        + b'","slot":1,"authorization":"'
        + SIG65.encode()
        + b'","claim_key":"'
        + KEY32.encode()
        + b'"}',
        b'{"type":"receipt","v":1,"status":"read","message_ids":[["' + MID.encode() + b'"]]}',
        b'{"type":"group","v":1,"op":"add","group_id":"' + GID.encode() + b'","members":[{"a":1}]}',
        b'{"type":"text","v":1,"body":"x"} trailing',
        '{"type":"text","v":1,"body":"x"}'.encode("utf-16"),
        b"[" * 500 + b"]" * 500,
        b'{"type":"sticker","v":1,"x":NaN}',
        b'{"type":"sticker","v":1,"x":Infinity}',
        b'{"type":"sticker","v":1,"x":-Infinity}',
        b'{"type":"sticker","v":1,"x":' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"type":"payment","v":1,"chain_id":1,"tx_hash":"' + HASH.encode() + b'","amount":"' + b"9" * 79 + b'"}',
    ],
)
def test_malformed_bytes_raise_payload_error(raw):
    with pytest.raises(PayloadError):
        decode(raw)


def test_deep_nesting_raises_payload_error():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default (importing eth_account raises it to 100,000)
    try:
        with pytest.raises(PayloadError):
            decode(b'{"type":"text","v":1,"body":' + b"[" * 5000 + b"]" * 5000 + b"}")
    finally:
        sys.setrecursionlimit(old)


def test_moderate_nesting_in_an_unknown_payload_is_kept():
    raw = b'{"type":"sticker","v":1,"x":' + b"[" * 8 + b"1" + b"]" * 8 + b"}"
    assert decode(raw) == Unknown("sticker", {"v": 1, "x": [[[[[[[[1]]]]]]]]})


def test_amounts_up_to_2_to_the_256():
    big = str(2**256 - 1)
    assert decode(encode(Payment(1, HASH, big))).amount == big
    assert decode(encode(RedPacket(**RP, total=big))).total == big


def test_payload_error_is_a_messaging_error():
    assert issubclass(PayloadError, MessagingError)


# -- bugs: regressions, and open ones as strict xfails ---------------------------------------


# Regression (was a bug): decode let out the plain ValueError json.loads raises for an integer
# of more than 4,300 digits (sys.int_max_str_digits).
def test_huge_integer_raises_payload_error():
    with pytest.raises(PayloadError):
        decode(
            b'{"type":"payment","v":1,"chain_id":' + b"1" * 5000 + b',"tx_hash":"' + HASH.encode() + b'","amount":"1"}'
        )


# Regression (was a bug): decode accepted a lone surrogate (JSON escape \ud800) in a text
# field; the payload could then not be encoded or printed as UTF-8.
def test_lone_surrogate_is_refused_on_decode():
    with pytest.raises(PayloadError):
        decode(b'{"body":"hi \\ud800","type":"text","v":1}')


# Regression (was a bug): encode raised UnicodeEncodeError, not PayloadError, for a lone surrogate.
def test_lone_surrogate_is_refused_on_encode():
    with pytest.raises(PayloadError):
        encode(Text("hi \ud800"))


# Regression (was a bug): amounts and totals were checked with str.isdigit(), which accepts
# non-ASCII digits: '²' (int() fails on it), '١٠٠' and fullwidth digits.
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Payment(1, HASH, "\u00b2"), id="payment-superscript-two"),
        pytest.param(Payment(1, HASH, "\u0661\u0660\u0660"), id="payment-arabic-indic"),
        pytest.param(Payment(1, HASH, "\uff11\uff10"), id="payment-fullwidth"),
        pytest.param(RedPacket(**RP, total="\u00b3"), id="red-packet-total-superscript"),
    ],
)
def test_amounts_must_be_ascii_decimal(payload):
    with pytest.raises(PayloadError):
        payload.validate()


# Regression (was a bug): _HEX32 ended in `$`, which also matches before a final newline.
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Payment(1, HASH + "\n", "1"), id="tx-hash"),
        pytest.param(RedPacket(**{**RP, "packet_id": HASH + "\n"}), id="packet-id"),
        pytest.param(RedPacket(31337, CONTRACT, HASH, claim_key=KEY32 + "\n"), id="claim-key"),
    ],
)
def test_hex_fields_refuse_a_trailing_newline(payload):
    with pytest.raises(PayloadError):
        payload.validate()


# -- fuzzing -------------------------------------------------------------------------------

_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
_FIELD_NAMES = sorted(
    {
        "body",
        "group_id",
        "chain_id",
        "contract",
        "packet_id",
        "greeting",
        "theme",
        "slot",
        "authorization",
        "claim_key",
        "token",
        "total",
        "shares",
        "tx_hash",
        "amount",
        "note",
        "status",
        "message_ids",
        "op",
        "name",
        "members",
    }
)
_plausible = _json | st.sampled_from(
    [
        ADDR,
        CONTRACT,
        HASH,
        KEY32,
        SIG65,
        GID,
        MID,
        "read",
        "delivered",
        "add",
        "create",
        "remove",
        "rename",
        "0",
        "12",
        [ADDR],
        [MID],
        0,
        1,
        -1,
        True,
    ]
)
_payload_dict = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "red_packet", "payment", "receipt", "group", "other"]) | st.text(max_size=5)},
    optional={"v": st.sampled_from([1, 2, 0, 1.0, "1", None])},
).flatmap(
    lambda base: st.dictionaries(st.sampled_from(_FIELD_NAMES), _plausible, max_size=6).map(
        lambda extra: {**extra, **base}
    )
)


def _check(raw: bytes) -> None:
    try:
        payload = decode(raw)
    except PayloadError:
        return
    again = encode(payload)
    assert decode(again) == payload
    assert encode(decode(again)) == again


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=300))
def test_decode_random_bytes_raises_only_payload_error(raw):
    _check(raw)


@pytest.mark.slow
@settings(max_examples=300, deadline=1000)
@given(_json)
def test_decode_random_json_raises_only_payload_error(value):
    _check(json.dumps(value).encode())


@pytest.mark.slow
@settings(max_examples=500, deadline=1000)
@given(_payload_dict)
def test_decode_payload_shaped_json_raises_only_payload_error(body):
    _check(json.dumps(body, ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize("literal", [b"1e999", b"-1e999", b"1E400"])
def test_overflowing_float_is_refused_or_round_trips(literal):
    raw = b'{"type":"sticker","v":1,"x":' + literal + b"}"
    try:
        payload = decode(raw)
    except PayloadError:
        return
    assert decode(encode(payload)) == payload
