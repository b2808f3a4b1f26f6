"""Prekeys for X3DH: their wire format, signatures and checks. Pure: bytes and JSON in,
dataclasses out; used by the client (which never trusts the relay) and by the relay
(which refuses what would not verify, so it never stores junk).

An account's X3DH identity key is its Ed25519 messaging key, the one its identity bundle
(signed by the wallet key, see identity.py) vouches for. So a prekey bundle is bound to
the address in two steps: the address signed the Ed25519 key, the Ed25519 key signed the
prekeys. Two kinds of prekey, both X25519 public keys:

* the signed prekey: one at a time, rotated weekly; signed (XEdDSA-compatible Ed25519, as
  x3dh produces it) over `encode_public_key(CURVE_25519, key)`;
* one-time prekeys: up to `MAX_STORED` at the relay, each handed out once. Signal leaves
  them unsigned; here each carries its own signature over a distinct domain, so a relay
  cannot swap in keys of its own.

Prekey bundle (what a sender claims from the relay):

    {"address", "identity_key", "signed_prekey": {"key", "signature", "created_at"},
     "one_time_prekey": {"key", "signature"} | null}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wallet import address as addr
from wallet.errors import WalletError

from .errors import MessagingError
from .keycheck import require_ed25519, require_x25519

DOMAIN = b"hongbao-x3dh-v1\0"
ONE_TIME_DOMAIN = b"hongbao-one-time-prekey-v1\0"
CURVE_TAG = b"\x05"  # as Signal: a type byte before an X25519 key
ED_TAG = b"\xed"
MAX_UPLOAD = 100  # one-time prekeys per request
MAX_STORED = 200  # one-time prekeys the relay holds per address
KEY_BYTES = 32
SIGNATURE_BYTES = 64


class PrekeyBundleInvalid(MessagingError):
    """A prekey (bundle) is malformed or not signed by the identity key it claims."""


def encode_public_key(curve: bool, public: bytes) -> bytes:
    """x3dh's `_encode_public_key`: domain, type byte, key (unique per key and type)."""
    return DOMAIN + (CURVE_TAG if curve else ED_TAG) + public


def one_time_message(public: bytes) -> bytes:
    return ONE_TIME_DOMAIN + public


@dataclass(frozen=True, slots=True)
class SignedPrekey:
    key: bytes
    signature: bytes
    created_at: int  # unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.hex(), "signature": self.signature.hex(), "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class OneTimePrekey:
    key: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.hex(), "signature": self.signature.hex()}


@dataclass(frozen=True, slots=True)
class PrekeyBundle:
    address: str
    identity_key: bytes  # Ed25519
    signed_prekey: SignedPrekey
    one_time_prekey: OneTimePrekey | None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "identity_key": self.identity_key.hex(),
            "signed_prekey": self.signed_prekey.to_json(),
            "one_time_prekey": self.one_time_prekey.to_json() if self.one_time_prekey else None,
        }


def _hex(data: Any, field: str, size: int) -> bytes:
    value = data.get(field) if isinstance(data, dict) else None
    try:
        if not isinstance(value, str):
            raise TypeError(field)
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise PrekeyBundleInvalid(f"malformed prekey: {field} is not hex") from None
    if len(raw) != size:
        raise PrekeyBundleInvalid(f"malformed prekey: {field} must be {size} bytes")
    return raw


def _curve_key(data: Any, what: str) -> bytes:
    return require_x25519(_hex(data, "key", KEY_BYTES), what, PrekeyBundleInvalid)


def parse_signed(data: Any) -> SignedPrekey:
    created = data.get("created_at") if isinstance(data, dict) else None
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < 2**40:
        raise PrekeyBundleInvalid("malformed signed prekey: created_at must be unix seconds")
    return SignedPrekey(_curve_key(data, "the signed prekey"), _hex(data, "signature", SIGNATURE_BYTES), created)


def parse_one_time(data: Any) -> OneTimePrekey:
    return OneTimePrekey(_curve_key(data, "a one-time prekey"), _hex(data, "signature", SIGNATURE_BYTES))


def parse_bundle(data: Any) -> PrekeyBundle:
    """Parse (not verify) a prekey bundle: PrekeyBundleInvalid for anything malformed."""
    if not isinstance(data, dict):
        raise PrekeyBundleInvalid("malformed prekey bundle")
    try:
        stated = data.get("address")
        if not isinstance(stated, str):
            raise TypeError("address")
        address = addr.parse(stated)
    except (WalletError, TypeError, AttributeError):
        raise PrekeyBundleInvalid("malformed prekey bundle: address") from None
    one_time = data.get("one_time_prekey")
    return PrekeyBundle(
        address,
        require_ed25519(_hex(data, "identity_key", KEY_BYTES), "the prekeys' identity key", PrekeyBundleInvalid),
        parse_signed(data.get("signed_prekey")),
        None if one_time is None else parse_one_time(one_time),
    )


def _verifies(identity_key: bytes, message: bytes, signature: bytes) -> bool:
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError, CryptoError

    try:
        crypto_sign_open(signature + message, identity_key)
    except (BadSignatureError, CryptoError, ValueError):
        return False
    return True


def check_signed(identity_key: bytes, prekey: SignedPrekey) -> SignedPrekey:
    if not _verifies(identity_key, encode_public_key(True, prekey.key), prekey.signature):
        raise PrekeyBundleInvalid("the signed prekey is not signed by the identity key")
    return prekey


def check_one_time(identity_key: bytes, prekey: OneTimePrekey) -> OneTimePrekey:
    if not _verifies(identity_key, one_time_message(prekey.key), prekey.signature):
        raise PrekeyBundleInvalid("a one-time prekey is not signed by the identity key")
    return prekey


def sign_one_time(ed25519_secret: bytes, public: bytes) -> OneTimePrekey:
    """Sign a one-time prekey with libsodium's 64-byte Ed25519 secret key."""
    from nacl.bindings import crypto_sign

    return OneTimePrekey(public, crypto_sign(one_time_message(public), ed25519_secret)[:SIGNATURE_BYTES])


def verify_bundle(bundle: PrekeyBundle, address: str, identity_ed25519: bytes) -> PrekeyBundle:
    """The bundle if it is `address`'s and every key in it is signed by `identity_ed25519`
    (taken from the identity bundle the caller verified, never from the relay's answer)."""
    if bundle.address != address:
        raise PrekeyBundleInvalid(f"the relay answered prekeys of {bundle.address} when asked for {address}")
    if bundle.identity_key != identity_ed25519:
        raise PrekeyBundleInvalid(
            f"the prekeys offered for {address} belong to another identity key than the one {address} signed"
        )
    check_signed(identity_ed25519, bundle.signed_prekey)
    if bundle.one_time_prekey is not None:
        check_one_time(identity_ed25519, bundle.one_time_prekey)
    return bundle


def parse_upload(data: Any, identity_ed25519: bytes) -> tuple[SignedPrekey | None, list[OneTimePrekey]]:
    """The relay's check of an upload {"signed_prekey"?, "one_time_prekeys": [...]}: every
    key parsed and verified against the mailbox's identity key; at most MAX_UPLOAD
    one-time prekeys, no duplicates. PrekeyBundleInvalid otherwise."""
    if not isinstance(data, dict):
        raise PrekeyBundleInvalid("malformed prekey upload")
    signed = data.get("signed_prekey")
    signed_prekey = None if signed is None else check_signed(identity_ed25519, parse_signed(signed))
    items = data.get("one_time_prekeys")
    items = [] if items is None else items  # not `or []`: {} or "" is malformed, not empty
    if not isinstance(items, list):
        raise PrekeyBundleInvalid("malformed prekey upload: one_time_prekeys must be a list")
    if len(items) > MAX_UPLOAD:
        raise PrekeyBundleInvalid(f"at most {MAX_UPLOAD} one-time prekeys per upload")
    one_time = [check_one_time(identity_ed25519, parse_one_time(item)) for item in items]
    if len({p.key for p in one_time}) != len(one_time):
        raise PrekeyBundleInvalid("the upload repeats a one-time prekey")
    if signed_prekey is None and not one_time and data.get("replace_one_time") is not True:
        raise PrekeyBundleInvalid("an upload carries a signed prekey, one-time prekeys, or both")
    return signed_prekey, one_time
