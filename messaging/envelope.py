"""Envelopes: sealed sender. Pure: bytes and keys in, bytes and payloads out.

What the relay sees (`Envelope`): version, recipient mailbox (an address), message id,
TTL, and a ciphertext whose length is a power of two (see padding.py). It is the same for
both formats below, so the relay cannot tell which protection a message has.

Inside, sealed to the recipient's X25519 key with libsodium's sealed box (an ephemeral
key per message, XSalsa20-Poly1305), a compact binary record whose first byte is its
format. Format 1 (signed):

    1 | from 20B | to 20B | message id 16B | timestamp ms 8B |
    type length 1B | type | bundle length 2B | sender bundle (optional JSON) |
    body length 4B | body | Ed25519 signature 64B

The signature is the sender's messaging key over a domain tag, the recipient, the id,
the timestamp, the type and the body; the sender's address is bound to that key by its
identity bundle (carried inside on first contact, otherwise known to the recipient).

Format 2 (a forward-secret session, see ratchet.py):

    2 | from | to | message id | timestamp | flags 1B |
    [X3DH header: identity 32B | ephemeral 32B | signed prekey 32B | 0 or 1+one-time 32B] |
    [bundle length 2B | sender bundle] |
    ratchet key 32B | previous chain length 4B | chain length 4B | ciphertext

The ciphertext (AES-CBC + HMAC under a one-use message key) holds type length, type and
body; everything before the ratchet key is authenticated with it, so the sender, the
recipient, the id and the time are bound to the message. No signature: the session's
keys authenticate the sender (deniably, as in Signal). Stealing the recipient's identity
keys later opens the outer layer (who wrote, when) but not the text.

Binary rather than JSON because it is opened thousands of times a second (see bench/).
`open_envelope` checks everything and raises one exception class per failure: version,
size, recipient, ciphertext, replay, time window, sender bundle, signature or session.
"""

from __future__ import annotations

import base64
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import padding, payloads
from .errors import (
    BadSignature,
    BundleInvalid,
    NotForMe,
    OutsideWindow,
    Oversize,
    PayloadError,
    Replay,
    SenderMismatch,
    SenderUnknown,
    Tampered,
    UnknownVersion,
)
from .identity import Bundle, same_keys, verify_bundle
from .keys import MessagingKeys

if TYPE_CHECKING:  # the ratchet (and its libraries) load only when a session message is sealed or opened
    from .ratchet import RatchetMessage, Session, X3DHHeader

VERSION = 1
SIGNATURE_DOMAIN = b"hongbao-envelope-v1\0"
MAX_TTL = 30 * 24 * 3600
MAX_AGE_MS = MAX_TTL * 1000  # an envelope older than the longest TTL is stale
MAX_SKEW_MS = 5 * 60 * 1000  # clocks disagree; five minutes into the future is accepted
SESSION_VERSION = 2  # of the sealed contents: a ratchet message (see seal_session)
FLAG_X3DH = 1
FLAG_BUNDLE = 2
_HEAD = struct.Struct(">B20s20s16sQ")
_MAILBOX = re.compile(r"^0x[0-9a-fA-F]{40}\Z")


@dataclass(frozen=True, slots=True)
class Envelope:
    """The relay's view of a message."""

    to: str  # recipient address (the mailbox)
    id: bytes  # 16 random bytes
    ciphertext: bytes
    ttl: int = 7 * 24 * 3600
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "to": self.to,
            "id": self.id.hex(),
            "ttl": self.ttl,
            "ct": base64.b64encode(self.ciphertext).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        try:
            version = int(data["v"])
            if version != VERSION:
                raise UnknownVersion(
                    f"envelope version {version} is not supported (this client reads {VERSION}): upgrade Hongbao"
                )
            envelope = cls(
                str(data["to"]),
                bytes.fromhex(data["id"]),
                base64.b64decode(data["ct"], validate=True),
                int(data["ttl"]),
                version,
            )
        except UnknownVersion:
            raise
        except (KeyError, TypeError, ValueError, OverflowError):
            raise Tampered("malformed envelope") from None
        if not _MAILBOX.match(envelope.to) or len(envelope.id) != 16:
            raise Tampered("malformed envelope (mailbox or id)")
        if not 0 < envelope.ttl <= MAX_TTL:
            raise Tampered(f"malformed envelope (ttl must be 1 s to {MAX_TTL} s)")
        return envelope


@dataclass(frozen=True, slots=True)
class Opened:
    sender: str
    recipient: str
    id: bytes
    timestamp_ms: int
    payload: payloads.Payload
    bundle: Bundle  # the verified bundle that vouched for the sender
    bundle_was_included: bool
    format: int = VERSION  # 1: signed, sealed to the identity key; 2: a forward-secret session


Decrypt = Callable[[str, bytes, "X3DHHeader | None", "RatchetMessage", bytes], bytes]


def new_message_id() -> bytes:
    return secrets.token_bytes(16)


def _checked(message_id: bytes | None, ttl: int) -> bytes:
    """The message id to seal with (a new one if none), once id and TTL are valid."""
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be 1 s to {MAX_TTL} s")
    message_id = message_id or new_message_id()
    if len(message_id) != 16:
        raise ValueError("a message id is 16 bytes")
    return message_id


def _signed_part(recipient: bytes, message_id: bytes, timestamp_ms: int, kind: bytes, body: bytes) -> bytes:
    return (
        SIGNATURE_DOMAIN + recipient + message_id + timestamp_ms.to_bytes(8, "big") + bytes([len(kind)]) + kind + body
    )


def seal(
    sender_address: str,
    sender_keys: MessagingKeys,
    recipient: Bundle,
    payload: payloads.Payload,
    *,
    now_ms: int,
    message_id: bytes | None = None,
    ttl: int = 7 * 24 * 3600,
    include_bundle: Bundle | None = None,
) -> Envelope:
    """Seal `payload` from the sender to `recipient` (a bundle the caller verified)."""
    from nacl.bindings import crypto_sign

    message_id = _checked(message_id, ttl)
    kind = payloads.type_of(payload).encode("ascii")
    body = payloads.encode(payload)
    frm = bytes.fromhex(sender_address[2:])
    to = bytes.fromhex(recipient.address[2:])
    signature = crypto_sign(_signed_part(to, message_id, now_ms, kind, body), sender_keys.ed25519_secret)[:64]
    bundle = include_bundle.to_bytes() if include_bundle is not None else b""
    inner = b"".join(
        (
            _HEAD.pack(VERSION, frm, to, message_id, now_ms),
            bytes([len(kind)]),
            kind,
            len(bundle).to_bytes(2, "big"),
            bundle,
            len(body).to_bytes(4, "big"),
            body,
            signature,
        )
    )
    # libsodium's bindings directly: the PyNaCl object wrappers cost ~10% of a seal+open.
    return Envelope(recipient.address, message_id, _box(padding.pad(inner), recipient), ttl)


def _box(padded: bytes, recipient: Bundle) -> bytes:
    """Sealed to the recipient's X25519 key; a key libsodium refuses (low order: a bundle
    pinned before keys were checked) is the peer's problem, a BundleInvalid, never a crash."""
    from nacl.bindings import crypto_box_seal
    from nacl.exceptions import CryptoError

    try:
        return crypto_box_seal(padded, recipient.x25519)
    except (CryptoError, ValueError, TypeError):
        raise BundleInvalid(
            f"{recipient.address}'s encryption key is unusable (low order): they must publish a new identity"
        ) from None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise Tampered("truncated envelope contents")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.at)


# -- version 2: a ratchet message inside --------------------------------------------------


def _x3dh_bytes(header: X3DHHeader) -> bytes:
    one_time = b"\x00" if header.one_time_prekey is None else b"\x01" + header.one_time_prekey
    return header.identity_key + header.ephemeral_key + header.signed_prekey + one_time


def seal_session(
    sender_address: str,
    sender_keys: MessagingKeys,
    recipient: Bundle,
    payload: payloads.Payload,
    session: Session,
    *,
    now_ms: int,
    message_id: bytes | None = None,
    ttl: int = 7 * 24 * 3600,
    include_bundle: Bundle | None = None,
) -> Envelope:
    """Seal `payload` as the next message of `session` (which advances: persist it before
    posting the envelope)."""
    message_id = _checked(message_id, ttl)
    kind = payloads.type_of(payload).encode("ascii")
    bundle = include_bundle.to_bytes() if include_bundle is not None else b""
    header = session.header
    flags = (FLAG_X3DH if header is not None else 0) | (FLAG_BUNDLE if bundle else 0)
    context = b"".join(
        (
            _HEAD.pack(
                SESSION_VERSION,
                bytes.fromhex(sender_address[2:]),
                bytes.fromhex(recipient.address[2:]),
                message_id,
                now_ms,
            ),
            bytes([flags]),
            _x3dh_bytes(header) if header is not None else b"",
            len(bundle).to_bytes(2, "big") + bundle if bundle else b"",
        )
    )
    message = session.encrypt(bytes([len(kind)]) + kind + payloads.encode(payload), context)
    inner = b"".join(
        (
            context,
            message.ratchet_key,
            message.previous_chain_length.to_bytes(4, "big"),
            message.chain_length.to_bytes(4, "big"),
            message.ciphertext,
        )
    )
    return Envelope(recipient.address, message_id, _box(padding.pad(inner), recipient), ttl)


# -- opening ------------------------------------------------------------------------------


def open_envelope(
    envelope: Envelope,
    my_address: str,
    my_keys: MessagingKeys,
    *,
    now_ms: int,
    known_bundle: Callable[[str], Bundle | None],
    seen: Callable[[bytes], bool] = lambda _id: False,
    decrypt: Decrypt | None = None,
) -> Opened:
    """Open and check an envelope addressed to `my_address`.

    `known_bundle(address)` returns the verified bundle already known for a sender, or
    None; `seen(id)` tells whether a message id was already accepted (replay);
    `decrypt(sender, sender_identity_key, x3dh_header, ratchet_message, context)` opens a
    version 2 (session) message, raising a SessionError when it cannot (without it a
    version 2 message raises UnknownVersion).
    """
    from nacl.bindings import crypto_box_seal_open
    from nacl.exceptions import CryptoError

    if envelope.version != VERSION:
        raise UnknownVersion(
            f"envelope version {envelope.version} is not supported (this client reads {VERSION}): upgrade Hongbao"
        )
    if len(envelope.ciphertext) > padding.MAX_BUCKET:
        raise Oversize(f"envelope of {len(envelope.ciphertext)} bytes exceeds {padding.MAX_BUCKET}")
    if envelope.to.lower() != my_address.lower():
        raise NotForMe(f"envelope is for {envelope.to}, not {my_address}")
    try:
        padded = crypto_box_seal_open(envelope.ciphertext, my_keys.x25519_public, my_keys.x25519_private)
    except CryptoError:
        raise Tampered("the ciphertext does not open with this key (altered, or sealed to another key)") from None
    inner = padding.unpad(padded)
    if inner[:1] == bytes([VERSION]):
        return _open_signed(_Reader(inner), envelope, my_address, now_ms, known_bundle, seen)
    if inner[:1] == bytes([SESSION_VERSION]) and decrypt is not None:
        return _open_session(_Reader(inner), envelope, my_address, now_ms, known_bundle, seen, decrypt)
    raise UnknownVersion(
        f"message format {inner[0] if inner else '?'} is not supported here (this client reads 1 and 2): upgrade Hongbao"
    )


@dataclass(frozen=True, slots=True)
class _Head:
    sender: str
    message_id: bytes
    timestamp_ms: int


def _read_head(
    reader: _Reader, envelope: Envelope, my_address: str, now_ms: int, seen: Callable[[bytes], bool]
) -> _Head:
    from wallet.address import to_checksum

    _version, frm, to, message_id, timestamp_ms = _HEAD.unpack(reader.take(_HEAD.size))
    if to.hex() != my_address[2:].lower():
        raise NotForMe("the sealed contents are addressed to someone else (forwarded envelope)")
    if message_id != envelope.id:
        raise Tampered("the message id outside does not match the one inside")
    if seen(message_id):
        raise Replay(f"message {message_id.hex()} was already received")
    if not now_ms - MAX_AGE_MS <= timestamp_ms <= now_ms + MAX_SKEW_MS:
        raise OutsideWindow(f"message timestamp {timestamp_ms} is outside the accepted window")
    return _Head(to_checksum("0x" + frm.hex()), message_id, timestamp_ms)


def _sender_bundle(
    sender: str, bundle_bytes: bytes, known_bundle: Callable[[str], Bundle | None]
) -> tuple[Bundle, bool]:
    """The verified bundle that vouches for the sender, and whether it is news (enclosed
    and not the one known)."""
    known = known_bundle(sender)
    included = None
    if bundle_bytes:
        try:
            included = verify_bundle(Bundle.from_bytes(bundle_bytes))
        except BundleInvalid as error:
            raise SenderMismatch(f"the sender's enclosed identity bundle is invalid: {error}") from None
        if included.address != sender:
            raise SenderMismatch(f"the enclosed bundle belongs to {included.address}, not the sender {sender}")
    if (
        included is not None
        and known is not None
        and not same_keys(included, known)
        and (included.version, included.issued_at) < (known.version, known.issued_at)
    ):
        # A retired key must not speak for the sender: whoever holds an old messaging key
        # could otherwise enclose the old bundle and pass as the address. (An older bundle
        # with the same keys is fine: two devices of one account issue their own.)
        raise SenderMismatch(
            f"the enclosed bundle for {sender} is older than the one known (version {included.version} < {known.version})"
        )
    bundle = included or known
    if bundle is None:
        raise SenderUnknown(f"no identity bundle known for {sender}; fetch and verify it first")
    return bundle, included is not None and (known is None or not same_keys(included, known))


def _payload(kind: bytes, body: bytes) -> payloads.Payload:
    try:
        payload = payloads.decode(body)
    except PayloadError as error:  # decode turns every malformation into PayloadError
        raise Tampered(f"malformed payload: {error}") from None
    if payloads.type_of(payload) != kind.decode("ascii", "replace"):
        raise Tampered("the payload type inside does not match the signed type")
    return payload


def _open_signed(
    reader: _Reader,
    envelope: Envelope,
    my_address: str,
    now_ms: int,
    known_bundle: Callable[[str], Bundle | None],
    seen: Callable[[bytes], bool],
) -> Opened:
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError, CryptoError

    head = _read_head(reader, envelope, my_address, now_ms, seen)
    kind = reader.take(reader.int(1))
    bundle_bytes = reader.take(reader.int(2))
    body = reader.take(reader.int(4))
    signature = reader.take(64)
    if reader.at != len(reader.data):
        raise Tampered("malformed envelope contents")
    bundle, news = _sender_bundle(head.sender, bundle_bytes, known_bundle)
    to = bytes.fromhex(my_address[2:])
    try:
        crypto_sign_open(signature + _signed_part(to, head.message_id, head.timestamp_ms, kind, body), bundle.ed25519)
    except (BadSignatureError, CryptoError, ValueError):
        raise BadSignature(f"the signature does not match {head.sender}'s messaging key") from None
    return Opened(
        head.sender, my_address, head.message_id, head.timestamp_ms, _payload(kind, body), bundle, news, VERSION
    )


def _open_session(
    reader: _Reader,
    envelope: Envelope,
    my_address: str,
    now_ms: int,
    known_bundle: Callable[[str], Bundle | None],
    seen: Callable[[bytes], bool],
    decrypt: Decrypt,
) -> Opened:
    from .ratchet import RatchetMessage, X3DHHeader

    head = _read_head(reader, envelope, my_address, now_ms, seen)
    flags = reader.int(1)
    if flags & ~(FLAG_X3DH | FLAG_BUNDLE):
        raise Tampered("unknown flags in a session message")
    header = None
    if flags & FLAG_X3DH:
        identity, ephemeral, signed = reader.take(32), reader.take(32), reader.take(32)
        header = X3DHHeader(identity, ephemeral, signed, reader.take(32) if reader.int(1) else None)
    bundle_bytes = reader.take(reader.int(2)) if flags & FLAG_BUNDLE else b""
    context = reader.data[: reader.at]
    message = RatchetMessage(reader.take(32), reader.int(4), reader.int(4), reader.rest())
    bundle, news = _sender_bundle(head.sender, bundle_bytes, known_bundle)
    plaintext = decrypt(head.sender, bundle.ed25519, header, message, context)
    plain = _Reader(plaintext)
    kind = plain.take(plain.int(1))
    return Opened(
        head.sender,
        my_address,
        head.message_id,
        head.timestamp_ms,
        _payload(kind, plain.rest()),
        bundle,
        news,
        SESSION_VERSION,
    )
