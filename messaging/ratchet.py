"""Forward-secret sessions: X3DH to agree on a secret, the Double Ratchet to keep
agreeing. Pure: keys and bytes in, bytes out; the caller loads and saves the state.

Built on Syndace's `x3dh` and `doubleratchet` (maintained, used by OMEMO clients, the
Signal specifications followed closely, every primitive from `cryptography`), configured
as Signal does: X25519, HKDF-SHA-256, HMAC-SHA-256 message chains, AES-256-CBC +
HMAC-SHA-256 for each message. Their API is async but never waits on anything; `run`
drives a coroutine to its end without an event loop (an event loop would cost more than
the cryptography).

* Our X3DH identity key is the Ed25519 messaging key (seed from keys.py), the key our
  identity bundle vouches for, so no new long-term key exists; `PrekeyState` holds the
  signed prekey (rotated weekly, the previous one kept a week more for late first
  messages) and the one-time prekeys' private halves.
* A `Session` is one Double Ratchet with one peer. Its initiator repeats the X3DH header
  on every message until the peer's first reply, so the peer can start the session from
  whichever of those messages arrives first. A peer keeps up to `MAX_SESSIONS` per
  contact (the newest is used for sending; older ones still open late messages), which
  settles two people starting sessions with each other at once.
* Lost and out-of-order messages: up to `MAX_SKIP` message keys are derived ahead in one
  chain and at most `MAX_SKIPPED_KEYS` kept per session (oldest dropped first); a later
  message beyond that cannot be opened. A repeated message raises `Duplicate`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import doubleratchet
import x3dh
from doubleratchet.recommended import aead_aes_hmac, diffie_hellman_ratchet_curve25519, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.recommended import HashFunction as RatchetHash
from x3dh import HashFunction, IdentityKeyFormat
from x3dh.identity_key_pair import IdentityKeyPairSeed
from x3dh.models import BaseStateModel, IdentityKeyPairModel, SignedPreKeyPairModel
from x3dh.types import SecretType

from . import prekeys
from .errors import EnvelopeError, Replay
from .keys import MessagingKeys

INFO = b"hongbao/x3dh/v1"
MAX_SKIP = 500  # message keys derived ahead at once (more is refused: DoS protection)
MAX_SKIPPED_KEYS = 1000  # skipped message keys kept per session
MAX_SESSIONS = 4  # per peer
SIGNED_PREKEY_ROTATION_S = 7 * 24 * 3600
ONE_TIME_TARGET = 100  # one-time prekeys kept at the relay
ONE_TIME_LOW = 25  # replenish below this
STATE_FORMAT = 1


class SessionError(EnvelopeError):
    """A ratchet message could not be opened (or a session not restored); the subclass says why."""


class NoSession(SessionError):
    """No session opens this message (never made, lost, reset, or too old)."""


class Duplicate(SessionError, Replay):
    """This message was already decrypted."""


class AgreementFailed(SessionError):
    """The X3DH header names prekeys we no longer hold, or does not check out."""


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (the libraries' async is nominal)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended; these libraries never should")


# -- the libraries, configured ------------------------------------------------------------


class _X3DH(x3dh.BaseState):
    @staticmethod
    def _encode_public_key(key_format: IdentityKeyFormat, pub: bytes) -> bytes:
        return prekeys.encode_public_key(key_format is IdentityKeyFormat.CURVE_25519, pub)


class _AEAD(aead_aes_hmac.AEAD):
    @staticmethod
    def _get_hash_function() -> RatchetHash:
        return RatchetHash.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return b"hongbao/ratchet/v1/message"


class _RootKDF(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> RatchetHash:
        return RatchetHash.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return b"hongbao/ratchet/v1/root"


class _ChainKDF(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> RatchetHash:
        return RatchetHash.SHA_256


class _DoubleRatchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        # The header has a fixed size and goes last: (data, header) parses one way only.
        return (
            associated_data
            + header.ratchet_pub
            + header.previous_sending_chain_length.to_bytes(4, "big")
            + header.sending_chain_length.to_bytes(4, "big")
        )


_CONFIG = (diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet, _RootKDF, _ChainKDF, b"\x02\x01", MAX_SKIP, MAX_SKIPPED_KEYS, _AEAD)


def _x3dh_state(model: BaseStateModel) -> _X3DH:
    return _X3DH.from_model(model, IdentityKeyFormat.ED_25519, HashFunction.SHA_256, INFO)


# -- wire structures ----------------------------------------------------------------------


class X3DHHeader(NamedTuple):
    identity_key: bytes  # the initiator's Ed25519 identity key
    ephemeral_key: bytes  # identifies the session
    signed_prekey: bytes
    one_time_prekey: bytes | None


class RatchetMessage(NamedTuple):
    ratchet_key: bytes
    previous_chain_length: int
    chain_length: int
    ciphertext: bytes


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


# -- our prekeys --------------------------------------------------------------------------


@dataclass
class PrekeyState:
    """Our X3DH state: signed prekey(s) and one-time prekeys (private halves). The
    identity key is never stored: it comes from the account key every time."""

    keys: MessagingKeys
    _state: _X3DH

    @classmethod
    def create(cls, keys: MessagingKeys) -> PrekeyState:
        return cls(keys, _X3DH.create(IdentityKeyFormat.ED_25519, HashFunction.SHA_256, INFO, IdentityKeyPairSeed(keys.ed25519_seed)))

    def to_bytes(self) -> bytes:
        model = self._state.model
        old = model.old_signed_pre_key

        def signed(pair: SignedPreKeyPairModel) -> dict[str, Any]:
            return {"priv": pair.priv.hex(), "sig": pair.sig.hex(), "timestamp": pair.timestamp}

        return json.dumps({
            "format": STATE_FORMAT,
            "signed_prekey": signed(model.signed_pre_key),
            "old_signed_prekey": None if old is None else signed(old),
            "one_time_prekeys": sorted(priv.hex() for priv in model.pre_keys),
        }).encode()

    @classmethod
    def from_bytes(cls, keys: MessagingKeys, data: bytes) -> PrekeyState:
        try:
            raw = json.loads(data)
            if raw["format"] != STATE_FORMAT:
                raise ValueError("unknown format")

            def signed(item: dict[str, Any]) -> SignedPreKeyPairModel:
                return SignedPreKeyPairModel(priv=bytes.fromhex(item["priv"]), sig=bytes.fromhex(item["sig"]), timestamp=int(item["timestamp"]))

            model = BaseStateModel(
                identity_key=IdentityKeyPairModel(secret=keys.ed25519_seed, secret_type=SecretType.SEED),
                signed_pre_key=signed(raw["signed_prekey"]),
                old_signed_pre_key=None if raw["old_signed_prekey"] is None else signed(raw["old_signed_prekey"]),
                pre_keys=frozenset(bytes.fromhex(p) for p in raw["one_time_prekeys"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise SessionError(f"the stored prekey state is unreadable ({type(error).__name__})") from None
        return cls(keys, _x3dh_state(model))

    @property
    def signed_prekey(self) -> prekeys.SignedPrekey:
        bundle = self._state.bundle
        return prekeys.SignedPrekey(bundle.signed_pre_key, bundle.signed_pre_key_sig, self._state.model.signed_pre_key.timestamp)

    @property
    def one_time_publics(self) -> frozenset[bytes]:
        return self._state.bundle.pre_keys

    def rotate_if_due(self, now_s: int | None = None) -> bool:
        """A new signed prekey once the current one is a week old (the previous one is kept
        one more period, then forgotten: first messages older than that cannot open)."""
        now_s = int(time.time()) if now_s is None else now_s
        if now_s - self._state.model.signed_pre_key.timestamp < SIGNED_PREKEY_ROTATION_S:
            return False
        self._state.rotate_signed_pre_key()
        return True

    def new_one_time(self, count: int) -> list[prekeys.OneTimePrekey]:
        """Generate `count` one-time prekeys, signed, ready to upload."""
        before = self.one_time_publics
        self._state.generate_pre_keys(count)
        secret = self.keys.ed25519_secret
        return [prekeys.sign_one_time(secret, public) for public in sorted(self.one_time_publics - before)]

    def forget_one_time(self, public: bytes) -> bool:
        return self._state.delete_pre_key(public)

    def bundle(self, address: str, one_time: bytes | None = None) -> prekeys.PrekeyBundle:
        """Our prekey bundle as the relay would serve it (tests, benchmarks)."""
        signed_one_time = None if one_time is None else prekeys.sign_one_time(self.keys.ed25519_secret, one_time)
        return prekeys.PrekeyBundle(address, self.keys.ed25519_public, self.signed_prekey, signed_one_time)


# -- sessions -----------------------------------------------------------------------------


def _identity(keys: MessagingKeys) -> _X3DH:
    """An X3DH state holding only our identity (the initiator side needs no prekeys)."""
    signed = SignedPreKeyPairModel(priv=b"\x00" * 32, sig=b"\x00" * 64, timestamp=0)
    model = BaseStateModel(identity_key=IdentityKeyPairModel(secret=keys.ed25519_seed, secret_type=SecretType.SEED), signed_pre_key=signed, old_signed_pre_key=None, pre_keys=frozenset())
    return _x3dh_state(model)


@dataclass
class Session:
    """One Double Ratchet with one peer. Before the first message it holds the X3DH
    secret; `encrypt` turns that into the ratchet (and forgets the secret)."""

    peer_identity: bytes  # the peer's Ed25519 identity key
    session_id: bytes  # the X3DH ephemeral key
    associated_data: bytes
    header: X3DHHeader | None  # repeated until the peer answers (initiator only)
    created_at: int
    _ratchet: _DoubleRatchet | None = None
    _start: tuple[bytes, bytes] | None = field(default=None, repr=False)  # (secret, their signed prekey)

    @classmethod
    def initiate(cls, keys: MessagingKeys, bundle: prekeys.PrekeyBundle, *, now_s: int | None = None) -> Session:
        """X3DH as the initiator, against a prekey bundle the caller verified."""
        library_bundle = x3dh.Bundle(
            bundle.identity_key,
            bundle.signed_prekey.key,
            bundle.signed_prekey.signature,
            frozenset() if bundle.one_time_prekey is None else frozenset({bundle.one_time_prekey.key}),
        )
        try:
            secret, associated, header = run(_identity(keys).get_shared_secret_active(library_bundle, require_pre_key=False))
        except x3dh.KeyAgreementException as error:
            raise AgreementFailed(str(error)) from None
        x3dh_header = X3DHHeader(header.identity_key, header.ephemeral_key, header.signed_pre_key, header.pre_key)
        return cls(bundle.identity_key, header.ephemeral_key, associated, x3dh_header, now_s or int(time.time()), None, (secret, bundle.signed_prekey.key))

    @classmethod
    def accept(cls, state: PrekeyState, header: X3DHHeader, message: RatchetMessage, context: bytes, *, now_s: int | None = None) -> tuple[Session, bytes]:
        """X3DH as the responder, from an initiator's first (or any pre-reply) message;
        returns the session and the plaintext. The one-time prekey used is forgotten from
        `state` (the caller saves both, or neither)."""
        library_header = x3dh.Header(header.identity_key, header.ephemeral_key, header.signed_prekey, header.one_time_prekey)
        try:
            secret, associated, signed = run(state._state.get_shared_secret_passive(library_header, require_pre_key=False))
        except x3dh.KeyAgreementException as error:
            raise AgreementFailed(f"cannot start the session: {error}") from None
        try:
            ratchet, plaintext = run(_DoubleRatchet.decrypt_initial_message(*_CONFIG, secret, signed.priv, _encrypted(message), associated + context))
        except (doubleratchet.AuthenticationFailedException, doubleratchet.DecryptionFailedException):
            raise NoSession("the first message of a new session does not authenticate") from None
        except doubleratchet.DoSProtectionException:
            raise NoSession(f"the message is more than {MAX_SKIP} messages ahead") from None
        if header.one_time_prekey is not None:
            state.forget_one_time(header.one_time_prekey)
        return cls(header.identity_key, header.ephemeral_key, associated, None, now_s or int(time.time()), ratchet), plaintext

    def encrypt(self, plaintext: bytes, context: bytes) -> RatchetMessage:
        """Encrypt with the next message key; `context` (authenticated, not encrypted) binds
        the envelope's fields. The caller persists the session before sending."""
        data = self.associated_data + context
        if self._ratchet is None:
            secret, their_signed_prekey = self._start
            self._ratchet, message = run(_DoubleRatchet.encrypt_initial_message(*_CONFIG, secret, their_signed_prekey, plaintext, data))
            self._start = None
        else:
            message = run(self._ratchet.encrypt_message(plaintext, data))
        return RatchetMessage(message.header.ratchet_pub, message.header.previous_sending_chain_length, message.header.sending_chain_length, message.ciphertext)

    def decrypt(self, message: RatchetMessage, context: bytes) -> bytes:
        """The plaintext; the state changes only on success. The initiator stops repeating
        the X3DH header once the peer has answered."""
        if self._ratchet is None:
            raise NoSession("this session has not sent its first message yet")
        try:
            plaintext = run(self._ratchet.decrypt_message(_encrypted(message), self.associated_data + context))
        except doubleratchet.DuplicateMessageException:
            raise Duplicate("this message was already decrypted") from None
        except (doubleratchet.AuthenticationFailedException, doubleratchet.DecryptionFailedException):
            raise NoSession("the message does not authenticate in this session") from None
        except doubleratchet.DoSProtectionException:
            raise NoSession(f"the message is more than {MAX_SKIP} messages ahead in its chain") from None
        self.header = None
        return plaintext

    # -- persistence ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        if self._ratchet is None:
            raise SessionError("a session is saved after its first message")
        header = None if self.header is None else [_hex_or_none(part) for part in self.header]
        return {
            "peer_identity": self.peer_identity.hex(),
            "session_id": self.session_id.hex(),
            "associated_data": self.associated_data.hex(),
            "header": header,
            "created_at": self.created_at,
            "ratchet": self._ratchet.json,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        try:
            header = data["header"]
            ratchet = _DoubleRatchet.from_json(data["ratchet"], *_CONFIG)
            return cls(
                bytes.fromhex(data["peer_identity"]),
                bytes.fromhex(data["session_id"]),
                bytes.fromhex(data["associated_data"]),
                None if header is None else X3DHHeader(*(None if part is None else bytes.fromhex(part) for part in header)),
                int(data["created_at"]),
                ratchet,
            )
        except Exception as error:  # the library raises pydantic's and its own errors
            raise SessionError(f"a stored session is unreadable ({type(error).__name__})") from None


def _encrypted(message: RatchetMessage) -> doubleratchet.EncryptedMessage:
    return doubleratchet.EncryptedMessage(doubleratchet.Header(message.ratchet_key, message.previous_chain_length, message.chain_length), message.ciphertext)


# -- the sessions with one peer -----------------------------------------------------------


@dataclass
class PeerSessions:
    """The sessions with one peer, newest (the sending one) first."""

    sessions: list[Session] = field(default_factory=list)

    @property
    def current(self) -> Session | None:
        return self.sessions[0] if self.sessions else None

    def for_identity(self, identity: bytes) -> PeerSessions:
        """Only the sessions with this identity key (a changed key ends the old ones)."""
        return PeerSessions([s for s in self.sessions if s.peer_identity == identity])

    def promote(self, session: Session) -> None:
        self.sessions = [session, *(s for s in self.sessions if s is not session and s.session_id != session.session_id)][:MAX_SESSIONS]

    def decrypt(self, state: PrekeyState, sender_identity: bytes, header: X3DHHeader | None, message: RatchetMessage, context: bytes) -> tuple[bytes, bool]:
        """Open a message from the peer whose verified identity key is `sender_identity`;
        returns (plaintext, whether a new session was started). The session that opened it
        becomes the current one. `state` changes only when a session starts."""
        if header is not None:
            if header.identity_key != sender_identity:
                raise AgreementFailed("the X3DH header names another identity key than the sender's")
            known = next((s for s in self.sessions if s.session_id == header.ephemeral_key), None)
            if known is None:
                session, plaintext = Session.accept(state, header, message, context)
                self.promote(session)
                return plaintext, True
            candidates = [known]
        else:
            candidates = list(self.sessions)
        if not candidates:
            raise NoSession("no session with the sender: it was lost or reset; a new one starts with the next message either way")
        for session in candidates:
            if session.peer_identity != sender_identity:
                continue
            try:
                plaintext = session.decrypt(message, context)
            except NoSession:
                continue
            self.promote(session)
            return plaintext, False
        raise NoSession("no session with the sender opens this message (lost, reset, or too far behind)")

    def to_bytes(self) -> bytes:
        return json.dumps({"format": STATE_FORMAT, "sessions": [s.to_json() for s in self.sessions]}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PeerSessions:
        try:
            raw = json.loads(data)
            if raw["format"] != STATE_FORMAT:
                raise ValueError("unknown format")
            items = raw["sessions"]
        except (ValueError, KeyError, TypeError) as error:
            raise SessionError(f"stored sessions are unreadable ({type(error).__name__})") from None
        return cls([Session.from_json(item) for item in items])
