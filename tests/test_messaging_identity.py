"""Messaging keys and identity bundles (messaging/keys.py, messaging/identity.py). Pure, fast."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys

import pytest
from conftest import ANVIL_KEYS, ANVIL_MNEMONIC
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from messaging import identity
from messaging.errors import BundleInvalid, MessagingError, StaleBundle
from messaging.identity import (
    Bundle,
    fingerprint,
    is_hongbao_domain,
    is_statement,
    make_bundle,
    parse_text,
    same_keys,
    sign_bundle,
    supersedes,
    verify_bundle,
)
from messaging.keys import ED25519_LABEL, STORE_LABEL, X25519_LABEL, MessagingKeys, derive, store_key
from wallet import bip39, hd, signing

KEYS = [bytes.fromhex(k) for k in ANVIL_KEYS]
ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
OTHER_KEYS = MessagingKeys(b"\x11" * 32, b"\x22" * 32)  # a rotated (non-derived) key pair

# Pinned for anvil account 0: these must never change, since the mnemonic alone has to
# recover them and people compare fingerprints across versions.
ANVIL0_X25519 = "1c299bc840747cd47517bd5eeebc577393a75e42bd3bd8db7237ec26f629036c"
ANVIL0_ED25519 = "ca9bdef84cc29ff20b91d3a8ef95cd062804dd186df575f5932ad42cc7290821"
ANVIL0_FINGERPRINT = "58563 27036 64851 71961 50314 98133"


@pytest.fixture
def python_recursion_limit():
    """CPython's default recursion limit. Importing eth_account (py_ecc) raises it to 100,000
    process-wide, and then a deeply nested JSON can overflow the C stack (a segfault) instead
    of raising RecursionError: should a regression reach json.loads, fail, do not crash."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(old)


@pytest.fixture(scope="module")
def bundles() -> list[Bundle]:
    return [make_bundle(key, T0) for key in KEYS]


# -- keys ----------------------------------------------------------------------------------


def test_keys_are_deterministic_from_the_account_key():
    one, two = MessagingKeys.from_account_key(KEYS[0]), MessagingKeys.from_account_key(bytes(KEYS[0]))
    assert one == two
    assert one.x25519_public == two.x25519_public and one.ed25519_public == two.ed25519_public
    assert len(one.x25519_private) == len(one.ed25519_seed) == 32
    assert one.x25519_public.hex() == ANVIL0_X25519
    assert one.ed25519_public.hex() == ANVIL0_ED25519


def test_keys_follow_the_documented_construction():
    """BLAKE2b keyed by the account key over a label; public keys by libsodium's rules."""
    for key in KEYS:
        keys = MessagingKeys.from_account_key(key)
        assert keys.x25519_private == hashlib.blake2b(b"hongbao/messaging/v1/x25519", key=key, digest_size=32).digest()
        assert keys.ed25519_seed == hashlib.blake2b(b"hongbao/messaging/v1/ed25519", key=key, digest_size=32).digest()
        assert store_key(key) == hashlib.blake2b(b"hongbao/messaging/v1/local-store", key=key, digest_size=32).digest()
        assert keys.x25519_public == bytes(PrivateKey(keys.x25519_private).public_key)
        assert keys.ed25519_public == bytes(SigningKey(keys.ed25519_seed).verify_key)
        assert keys.ed25519_secret == keys.ed25519_seed + keys.ed25519_public


def test_keys_differ_per_account_and_per_purpose():
    secrets = []
    for key in KEYS:
        keys = MessagingKeys.from_account_key(key)
        secrets += [
            key,
            keys.x25519_private,
            keys.ed25519_seed,
            store_key(key),
            keys.x25519_public,
            keys.ed25519_public,
        ]
    assert len(set(secrets)) == len(secrets)
    assert len({X25519_LABEL, ED25519_LABEL, STORE_LABEL}) == 3


def test_derive_refuses_a_key_of_the_wrong_length():
    for bad in (b"", KEYS[0][:31], KEYS[0] + b"\0"):
        with pytest.raises(ValueError):
            derive(bad, X25519_LABEL)
        with pytest.raises(ValueError):
            MessagingKeys.from_account_key(bad)


def test_keys_repr_shows_no_private_material():
    keys = MessagingKeys.from_account_key(KEYS[0])
    text = repr(keys)
    assert keys.x25519_private.hex()[:16] not in text and keys.ed25519_seed.hex()[:16] not in text
    assert KEYS[0].hex()[:16] not in text
    assert ANVIL0_X25519[:16] in text


def test_the_mnemonic_alone_recovers_the_same_bundle_keys(bundles):
    deriver = hd.Deriver(bip39.to_seed(ANVIL_MNEMONIC))
    for i, key in enumerate(KEYS):
        account_key = deriver.private_key(hd.scheme_path("bip44", i))
        assert account_key == key
        recovered = make_bundle(account_key, T0)
        assert recovered.address == ADDRESSES[i]
        assert (recovered.x25519, recovered.ed25519) == (bundles[i].x25519, bundles[i].ed25519)
        assert recovered.fingerprint == bundles[i].fingerprint
        assert recovered == bundles[i]  # RFC 6979: even the signature is the same


# -- bundles -------------------------------------------------------------------------------


def test_make_and_verify_round_trip(bundles):
    for i, bundle in enumerate(bundles):
        keys = MessagingKeys.from_account_key(KEYS[i])
        assert bundle.address == ADDRESSES[i]
        assert bundle.x25519 == keys.x25519_public and bundle.ed25519 == keys.ed25519_public
        assert (bundle.issued_at, bundle.version) == (T0, 1)
        assert len(bundle.signature) == 65
        assert verify_bundle(bundle) is bundle
        assert verify_bundle(Bundle.from_bytes(bundle.to_bytes())) == bundle
        assert verify_bundle(Bundle.from_json(json.loads(json.dumps(bundle.to_json())))) == bundle


def test_make_bundle_with_explicit_keys_and_version():
    bundle = make_bundle(KEYS[0], T0 + 5, version=7, keys=OTHER_KEYS)
    assert verify_bundle(bundle) is bundle
    assert (bundle.x25519, bundle.ed25519) == (OTHER_KEYS.x25519_public, OTHER_KEYS.ed25519_public)
    assert (bundle.issued_at, bundle.version) == (T0 + 5, 7)
    assert "Version: 7" in bundle.text()


def test_the_signed_text_is_exactly_the_documented_format(bundles):
    bundle = bundles[1]
    keys = MessagingKeys.from_account_key(KEYS[1])
    expected = (
        "Hongbao messaging identity\n"
        "Address: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n"
        f"Encryption key (X25519): {keys.x25519_public.hex()}\n"
        f"Signing key (Ed25519): {keys.ed25519_public.hex()}\n"
        "Issued at: 2026-01-01T00:00:00Z\n"
        "Version: 1"
    )
    assert bundle.text() == expected  # the old (EIP-191) form: recognised, and refused
    assert signing.recover_message(expected.encode(), bundle.signature) != ADDRESSES[1]
    assert signing.recover_typed_data(bundle.typed_data(), bundle.signature) == ADDRESSES[1]
    assert bundle.typed_data()["domain"] == {"name": "Hongbao", "version": "1"}
    assert bundle.typed_data()["message"] == {
        "statement": "Hongbao messaging identity: these keys read and sign this address's chat messages",
        "account": ADDRESSES[1],
        "encryptionKey": "0x" + keys.x25519_public.hex(),
        "signingKey": "0x" + keys.ed25519_public.hex(),
        "issuedAt": T0,
        "version": 1,
    }
    assert dataclasses.replace(bundle, issued_at=0).text().splitlines()[4] == "Issued at: 1970-01-01T00:00:00Z"
    assert dataclasses.replace(bundle, issued_at=T0 + 3661).text().splitlines()[4] == "Issued at: 2026-01-01T01:01:01Z"


def test_parse_text_reads_the_text_back(bundles):
    for bundle in (*bundles, make_bundle(KEYS[2], T0 + 86399, version=123456789, keys=OTHER_KEYS)):
        fields = parse_text(bundle.text())
        assert fields == {
            "address": bundle.address,
            "x25519": bundle.x25519.hex(),
            "ed25519": bundle.ed25519.hex(),
            "issued": identity._iso(bundle.issued_at),
            "version": str(bundle.version),
        }


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("Hongbao messaging identity", "Hongbao identity"),
        lambda t: t.replace("Address: 0x", "Address: "),
        lambda t: "\n".join(t.splitlines()[:-1]),
        lambda t: t + "\nExtra: line",
        lambda t: "x" + t,
        lambda t: t.replace("Version: 1", "Version: one"),
        lambda t: t.replace("Version: 1", "Version: 1234567890"),
        lambda t: t.replace("T00:00:00Z", "T00:00:00+00:00"),
        lambda t: re.sub(r"(X25519\): )([0-9a-f]{64})", lambda m: m.group(1) + m.group(2).upper(), t),
        lambda t: re.sub(r"(Ed25519\): )([0-9a-f]{64})", lambda m: m.group(1) + m.group(2)[:-2], t),
        lambda t: t.replace("\n", "\r\n"),
        lambda t: "",
    ],
)
def test_parse_text_refuses_anything_else(bundles, mutate):
    text = mutate(bundles[0].text())
    assert text != bundles[0].text()
    with pytest.raises(BundleInvalid):
        parse_text(text)


# Regression (was a bug): identity._TEXT used `$` (matches before a final newline) and `\d`
# (any Unicode digit), so parse_text accepted texts that differ from every signable text.
@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: t.replace("Version: 1", "Version: \u0661"), id="arabic-indic-digit-version"),
        pytest.param(
            lambda t: t.replace("Issued at: 2026", "Issued at: \u0662\u0660\u0662\u0666"), id="arabic-indic-digit-year"
        ),
    ],
)
def test_parse_text_refuses_near_misses(bundles, mutate):
    with pytest.raises(BundleInvalid):
        parse_text(mutate(bundles[0].text()))


def test_a_signature_by_another_address_is_refused(bundles):
    bundle = bundles[0]
    forged = dataclasses.replace(bundle, signature=sign_bundle(KEYS[1], bundle).signature)
    with pytest.raises(BundleInvalid, match=ADDRESSES[1]):
        verify_bundle(forged)
    # ... also when the forger claims its own keys under someone else's address
    keys = MessagingKeys.from_account_key(KEYS[1])
    claim = Bundle(ADDRESSES[0], keys.x25519_public, keys.ed25519_public, T0, 2)
    with pytest.raises(BundleInvalid):
        verify_bundle(dataclasses.replace(claim, signature=signing.sign_message(KEYS[1], claim.text().encode())))


@pytest.mark.parametrize(
    "field, value",
    [
        ("address", ADDRESSES[1]),
        ("address", ADDRESSES[2]),
        ("x25519", bytes(32)),
        ("x25519", OTHER_KEYS.x25519_public),
        ("ed25519", OTHER_KEYS.ed25519_public),
        ("ed25519", b"\xff" * 32),
        ("issued_at", T0 + 1),
        ("issued_at", T0 - 86400),
        ("version", 2),
        ("version", 999_999_999),
    ],
)
def test_tampering_any_field_breaks_verification(bundles, field, value):
    tampered = dataclasses.replace(bundles[0], **{field: value})
    with pytest.raises(BundleInvalid):
        verify_bundle(tampered)
    # and through the wire form too
    with pytest.raises(BundleInvalid):
        verify_bundle(Bundle.from_bytes(tampered.to_bytes()))


def test_tampering_the_signature_breaks_verification(bundles):
    bundle = bundles[0]
    sig = bundle.signature
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = sig[:32] + (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    for bad in (
        b"",
        sig[:64],
        sig + b"\0",
        sig[:64] + bytes([sig[64] ^ 1]),  # the other recovery id: another signer
        sig[:64] + b"\x1d",  # v = 29
        high_s,  # the malleated twin (EIP-2 forbids)
        bytes([sig[0] ^ 1]) + sig[1:],
        sig[:40] + bytes([sig[40] ^ 0x80]) + sig[41:],
        bytes(65),
    ):
        with pytest.raises(BundleInvalid):
            verify_bundle(dataclasses.replace(bundle, signature=bad))


def test_cross_check_with_eth_account(bundles):
    for i, bundle in enumerate(bundles):
        message = encode_typed_data(full_message=bundle.typed_data())
        assert Account.recover_message(message, signature=bundle.signature) == ADDRESSES[i]
        theirs = Account.sign_message(message, KEYS[i]).signature
        assert bytes(theirs) == bundle.signature
        # a bundle whose signature was made by another wallet (eth-account) verifies here
        unsigned = Bundle(bundle.address, bundle.x25519, bundle.ed25519, T0 + 99, 4)
        signed = dataclasses.replace(
            unsigned,
            signature=bytes(
                Account.sign_message(encode_typed_data(full_message=unsigned.typed_data()), KEYS[i]).signature
            ),
        )
        assert verify_bundle(signed) is signed
    forged = dataclasses.replace(bundles[0], issued_at=T0 + 1)
    assert (
        Account.recover_message(encode_typed_data(full_message=forged.typed_data()), signature=forged.signature)
        != ADDRESSES[0]
    )


# -- supersedes ----------------------------------------------------------------------------


def test_supersedes():
    v1 = make_bundle(KEYS[0], T0, version=1)
    v1_later = make_bundle(KEYS[0], T0 + 60, version=1)
    v2 = make_bundle(KEYS[0], T0 - 3600, version=2, keys=OTHER_KEYS)  # an earlier clock does not matter
    assert supersedes(v1, None) is True
    assert supersedes(v2, v1) is True
    assert supersedes(v1_later, v1) is True
    assert supersedes(v1, v1) is False
    assert supersedes(make_bundle(KEYS[0], T0), v1) is False  # the same bundle offered again
    with pytest.raises(StaleBundle):
        supersedes(v1, v2)  # an older version replayed over a newer one
    with pytest.raises(StaleBundle):
        supersedes(v1_later, v2)
    with pytest.raises(StaleBundle):
        supersedes(v1, v1_later)  # same version, issued earlier
    with pytest.raises(BundleInvalid):
        supersedes(make_bundle(KEYS[1], T0, version=9), v1)  # another address


def test_same_keys(bundles):
    assert same_keys(bundles[0], make_bundle(KEYS[0], T0 + 1, version=3))
    assert not same_keys(bundles[0], make_bundle(KEYS[0], T0, keys=OTHER_KEYS))
    assert not same_keys(bundles[0], bundles[1])


# -- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_format_and_stability(bundles):
    assert bundles[0].fingerprint == ANVIL0_FINGERPRINT == fingerprint(bundles[0])
    for bundle in bundles:
        assert re.fullmatch(r"\d{5}( \d{5}){5}", bundle.fingerprint)
    # re-issuing the same keys (new date, new version) keeps it
    assert make_bundle(KEYS[0], T0 + 10**6, version=42).fingerprint == bundles[0].fingerprint
    # other keys, or another address, change it
    prints = {b.fingerprint for b in bundles}
    prints.add(make_bundle(KEYS[0], T0, keys=OTHER_KEYS).fingerprint)
    prints.add(
        make_bundle(
            KEYS[0],
            T0,
            keys=MessagingKeys(OTHER_KEYS.x25519_private, MessagingKeys.from_account_key(KEYS[0]).ed25519_seed),
        ).fingerprint
    )
    prints.add(dataclasses.replace(bundles[0], address=ADDRESSES[1]).fingerprint)
    assert len(prints) == 6


def test_fingerprint_covers_each_key_byte(bundles):
    base = bundles[0]
    seen = {base.fingerprint}
    for i in range(0, 32, 7):
        seen.add(
            dataclasses.replace(
                base, x25519=base.x25519[:i] + bytes([base.x25519[i] ^ 1]) + base.x25519[i + 1 :]
            ).fingerprint
        )
        seen.add(
            dataclasses.replace(
                base, ed25519=base.ed25519[:i] + bytes([base.ed25519[i] ^ 1]) + base.ed25519[i + 1 :]
            ).fingerprint
        )
    assert len(seen) == 1 + 2 * len(range(0, 32, 7))


# -- parsing -------------------------------------------------------------------------------


def test_wire_form_is_canonical(bundles):
    raw = bundles[0].to_bytes()
    data = json.loads(raw)
    assert list(data) == sorted(data) == ["address", "ed25519", "issued_at", "signature", "version", "x25519"]
    assert b" " not in raw and b"\n" not in raw
    assert data["signature"].startswith("0x") and len(data["signature"]) == 132
    assert json.dumps(data, sort_keys=True, separators=(",", ":")).encode() == raw


def test_from_json_normalizes_the_address(bundles):
    data = bundles[0].to_json()
    for form in (data["address"].lower(), "0x" + data["address"][2:].upper(), data["address"][2:]):
        assert Bundle.from_json({**data, "address": form}) == bundles[0]


def _good() -> dict:
    return make_bundle(KEYS[0], T0).to_json()


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "bundle",
        42,
        {},
        {k: v for k, v in _good().items() if k != "signature"},
        {k: v for k, v in _good().items() if k != "address"},
        {**_good(), "address": "0x1234"},
        {**_good(), "address": "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"},  # wrong EIP-55 checksum
        {**_good(), "address": None},
        {**_good(), "address": 12345},
        {**_good(), "x25519": "zz" * 32},
        {**_good(), "x25519": "00" * 31},
        {**_good(), "x25519": "00" * 33},
        {**_good(), "x25519": 7},
        {**_good(), "ed25519": "0" * 63},
        {**_good(), "ed25519": None},
        {**_good(), "signature": "0x" + "00" * 64},
        {**_good(), "signature": "0x" + "00" * 66},
        {**_good(), "signature": "0xnothex"},
        {**_good(), "issued_at": -1},
        {**_good(), "issued_at": 2**40},
        {**_good(), "issued_at": "soon"},
        {**_good(), "issued_at": None},
        {**_good(), "issued_at": [1]},
        {**_good(), "issued_at": float("nan")},
        {**_good(), "version": 0},
        {**_good(), "version": -1},
        {**_good(), "version": 10**9},
        {**_good(), "version": "v1"},
        {**_good(), "version": {}},
    ],
)
def test_from_json_refuses_malformed_input(data):
    with pytest.raises(BundleInvalid):
        Bundle.from_json(data)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"\xff\xfe", b"null", b"[]", b'"x"', b"1", b'{"address": 1}', "{}".encode("utf-16")]
)
def test_from_bytes_refuses_malformed_input(raw):
    with pytest.raises(BundleInvalid):
        Bundle.from_bytes(raw)


_json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=False) | st.text(max_size=80)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = ["address", "x25519", "ed25519", "issued_at", "version", "signature"]
_field_value = (
    _json
    | st.sampled_from(ADDRESSES + [a.lower() for a in ADDRESSES])
    | st.binary(min_size=30, max_size=70).map(bytes.hex)
    | st.binary(min_size=64, max_size=66).map(lambda b: "0x" + b.hex())
    | st.integers(min_value=-5, max_value=2**41)
)


@pytest.mark.slow
@settings(max_examples=300, deadline=1000)
@given(st.one_of(_json, st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=8), _field_value, max_size=8)))
def test_from_json_raises_only_bundle_invalid(data):
    try:
        bundle = Bundle.from_json(data)
    except BundleInvalid:
        return
    assert isinstance(bundle, Bundle)


@settings(max_examples=200, deadline=1000)
@given(st.sampled_from(_FIELDS), _field_value)
def test_from_json_one_bad_field_raises_only_bundle_invalid(field, value):
    try:
        bundle = Bundle.from_json({**_good(), field: value})
    except BundleInvalid:
        return
    assert isinstance(bundle, Bundle)


@pytest.mark.slow
@settings(max_examples=300, deadline=1000)
@given(st.one_of(st.binary(max_size=400), _json.map(lambda v: json.dumps(v).encode())))
def test_from_bytes_raises_only_bundle_invalid(raw):
    try:
        bundle = Bundle.from_bytes(raw)
    except BundleInvalid:
        return
    assert isinstance(bundle, Bundle)


# Regression (was a bug): Bundle.from_json let OverflowError out of int(float('inf')).
@pytest.mark.parametrize("field", ["issued_at", "version"])
def test_from_json_refuses_infinity(field):
    with pytest.raises(BundleInvalid):
        Bundle.from_json({**_good(), field: float("inf")})


# Regression (was a bug): Bundle.from_bytes caught only UnicodeDecodeError/JSONDecodeError, so
# json.loads leaked RecursionError (deep nesting), ValueError (>4,300-digit integers) and
# OverflowError (`Infinity` into int()).
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 1000, id="deep-nesting"),
        pytest.param(b"[" * 100_000, id="deep-nesting-large"),
        pytest.param(b'{"address":{"a":{"b":1}}}', id="nested-3"),
        pytest.param(b'{"issued_at": ' + b"1" * 1000 + b"}", id="1000-digit-int"),
        pytest.param(b'{"issued_at": ' + b"1" * 5000 + b"}", id="5000-digit-int"),
        pytest.param(json.dumps({**_good(), "issued_at": float("inf")}).encode(), id="Infinity"),
        pytest.param(json.dumps({**_good(), "version": float("nan")}).encode(), id="NaN"),
        pytest.param(json.dumps({**_good(), "address": "\ud800"}).encode(), id="lone-surrogate"),
        pytest.param(b" " * 1100 + b"{}", id="oversize"),
    ],
)
def test_from_bytes_refuses_hostile_json(raw, python_recursion_limit):
    with pytest.raises(BundleInvalid):
        Bundle.from_bytes(raw)


def test_from_bytes_accepts_a_real_bundle_with_whitespace():
    data = json.dumps(_good(), indent=2).encode()
    assert verify_bundle(Bundle.from_bytes(data)) == make_bundle(KEYS[0], T0)


# Regression (was a bug): from_json accepted issued_at up to 2**40, but Bundle.text() raises
# ValueError for any date after 9999-12-31, so verify_bundle raised ValueError, not BundleInvalid.
def test_issued_at_stops_at_year_9999():
    with pytest.raises(BundleInvalid):
        Bundle.from_json({**_good(), "issued_at": 253_402_300_800})  # 10000-01-01
    last = Bundle.from_json({**_good(), "issued_at": 253_402_300_799})  # 9999-12-31T23:59:59Z parses
    assert last.text().splitlines()[4] == "Issued at: 9999-12-31T23:59:59Z"
    with pytest.raises(BundleInvalid):
        verify_bundle(last)  # and is refused for its signature, not with a ValueError


def test_errors_are_messaging_errors():
    assert issubclass(BundleInvalid, MessagingError) and issubclass(StaleBundle, MessagingError)


# -- issue 13, finding 6: bundles nobody can be tricked into signing -------------------------


def test_the_digest_is_eth_accounts_eip712_hash(bundles):
    for bundle in (*bundles, make_bundle(KEYS[2], 2**40, version=10**9 - 1, keys=OTHER_KEYS)):
        assert bundle.digest() == signing.typed_data_hash(bundle.typed_data())


def test_a_bundle_signed_in_the_old_text_form_is_refused_with_a_clear_error(bundles):
    old = dataclasses.replace(bundles[0], signature=signing.sign_message(KEYS[0], bundles[0].text().encode()))
    with pytest.raises(BundleInvalid, match="old text form"):
        verify_bundle(old)


def test_a_signed_personal_message_is_never_a_bundle(bundles):
    """What `personal_sign` of the text (the phishing of finding 6) yields does not verify."""
    bundle = bundles[0]
    for text in (bundle.text(), json.dumps(bundle.typed_data())):
        phished = dataclasses.replace(bundle, signature=signing.sign_message(KEYS[0], text.encode()))
        with pytest.raises(BundleInvalid):
            verify_bundle(phished)


def test_a_version_steps_up_by_a_bounded_amount(bundles):
    old = bundles[0]  # version 1
    assert supersedes(dataclasses.replace(old, version=1 + identity.MAX_VERSION_STEP), old)
    with pytest.raises(BundleInvalid, match="at most 1000"):
        supersedes(dataclasses.replace(old, version=2 + identity.MAX_VERSION_STEP), old)
    with pytest.raises(BundleInvalid, match="at most 1000"):
        supersedes(dataclasses.replace(old, version=999_999_999), None)
    assert supersedes(dataclasses.replace(old, version=1000), None)


@pytest.mark.parametrize(
    "text",
    [
        "Hongbao messaging identity\nAddress: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "please sign: hongbao  MESSAGING\tidentity",
        "Ｈｏｎｇｂａｏ messaging identity",  # fullwidth: NFKC folds it
    ],
)
def test_statements_are_recognised_for_sign_message_to_refuse(text):
    assert is_statement(text.encode())


def test_ordinary_messages_and_typed_data_are_not_statements(bundles):
    assert not is_statement(b"hello from hongbao") and not is_statement(b"\xff\xfe")
    assert is_hongbao_domain(bundles[0].typed_data())
    assert is_hongbao_domain({**bundles[0].typed_data(), "domain": {"name": " HONGBAO relay "}})
    permit = {"types": {}, "primaryType": "Permit", "domain": {"name": "USD Coin"}, "message": {}}
    assert not is_hongbao_domain(permit) and not is_hongbao_domain([])
