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
  message beyond that cannot be opened. A message whose key is gone (opened already, or
  dropped) raises `Duplicate`, a NoSession: repeats are caught before, by envelope id.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import doubleratchet
import x3dh
from doubleratchet.recommended import HashFunction as RatchetHash
from doubleratchet.recommended import aead_aes_hmac, diffie_hellman_ratchet_curve25519, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.recommended.crypto_provider_impl import CryptoProviderImpl
from x3dh import HashFunction, IdentityKeyFormat
from x3dh.identity_key_pair import IdentityKeyPairSeed
from x3dh.models import BaseStateModel, IdentityKeyPairModel, SignedPreKeyPairModel
from x3dh.types import SecretType
from xeddsa import XEdDSAException

from . import prekeys
from .errors import AgreementFailed, Duplicate, NoSession, SessionError
from .keys import MessagingKeys

INFO = b"hongbao/x3dh/v1"
MAX_SKIP = 500  # message keys derived ahead at once (more is refused: DoS protection)
MAX_SKIPPED_KEYS = 1000  # skipped message keys kept per session
MAX_SESSIONS = 4  # per peer
MAX_ONE_TIME_HELD = 500  # one-time prekey private halves kept (the relay holds at most 200)
SIGNED_PREKEY_ROTATION_S = 7 * 24 * 3600
ONE_TIME_TARGET = 100  # one-time prekeys kept at the relay
ONE_TIME_LOW = 25  # replenish below this
STATE_FORMAT = 1


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (the libraries' async is nominal)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
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

    @classmethod
    async def decrypt(cls, ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        # As the library's, but the tag is compared in constant time (it uses !=).
        hash_function = cls._get_hash_function()
        size = hash_function.hash_size
        if len(ciphertext) < size:
            raise doubleratchet.AuthenticationFailedException("the ciphertext is shorter than its tag")
        body, tag = ciphertext[:-size], ciphertext[-size:]
        encryption_key, authentication_key, iv = await aead_aes_hmac.AEAD._AEAD__derive(  # type: ignore[attr-defined]  # name-mangled private: mypy sees __derive
            key, hash_function, cls._get_info()
        )
        if not hmac.compare_digest(
            await CryptoProviderImpl.hmac_calculate(authentication_key, hash_function, associated_data + body), tag
        ):
            raise doubleratchet.AuthenticationFailedException("Authentication tags do not match.")
        return await CryptoProviderImpl.aes_cbc_decrypt(encryption_key, iv, body)


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


# What the libraries raise for a low-order or off-curve public key (all-zero X25519
# output, an identity key that is no Ed25519 point): the sender's fault, never a crash.
_HOSTILE = (ValueError, TypeError, XEdDSAException)

_CONFIG = (
    diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet,
    _RootKDF,
    _ChainKDF,
    b"\x02\x01",
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
    _AEAD,
)


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


class _SignedPair(NamedTuple):
    priv: bytes
    sig: bytes
    timestamp: int  # unix seconds

    def model(self) -> SignedPreKeyPairModel:
        return SignedPreKeyPairModel(priv=self.priv, sig=self.sig, timestamp=self.timestamp)

    def to_json(self) -> dict[str, Any]:
        return {"priv": self.priv.hex(), "sig": self.sig.hex(), "timestamp": self.timestamp}

    @classmethod
    def from_json(cls, item: Any) -> _SignedPair:
        pair = cls(_exact(item["priv"], 32), _exact(item["sig"], 64), item["timestamp"])
        if not isinstance(pair.timestamp, int) or not 0 <= pair.timestamp < 2**40:
            raise ValueError("timestamp out of range")
        return pair


def _exact(text: Any, size: int) -> bytes:
    value = bytes.fromhex(text)
    if len(value) != size:
        raise ValueError(f"a stored key must be {size} bytes")
    return value


def _curve_public(priv: bytes) -> bytes:
    import xeddsa

    return xeddsa.priv_to_curve25519_pub(priv)


@dataclass
class PrekeyState:
    """Our X3DH state: signed prekey(s) and one-time prekeys (public -> private, oldest
    first, at most MAX_ONE_TIME_HELD). The identity key is never stored: it comes from the
    account key every time. The x3dh library's state is built per agreement holding only
    the keys that agreement names: its own would derive every public key on each use."""

    keys: MessagingKeys
    signed: _SignedPair
    old_signed: _SignedPair | None = None
    one_time: dict[bytes, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the private halves (as MessagingKeys)
        return (
            f"PrekeyState(signed_prekey={self.signed_prekey.key.hex()[:16]}..., "
            f"old_signed_prekey={'yes' if self.old_signed is not None else 'no'}, one_time={len(self.one_time)})"
        )

    @classmethod
    def create(cls, keys: MessagingKeys) -> PrekeyState:
        model = _X3DH.create(
            IdentityKeyFormat.ED_25519, HashFunction.SHA_256, INFO, IdentityKeyPairSeed(keys.ed25519_seed)
        ).model
        spk = model.signed_pre_key
        return cls(keys, _SignedPair(spk.priv, spk.sig, spk.timestamp))

    def _library(self, one_time: bytes | None = None) -> _X3DH:
        held = self.one_time.get(one_time) if one_time is not None else None
        return _x3dh_state(
            BaseStateModel(
                identity_key=IdentityKeyPairModel(secret=self.keys.ed25519_seed, secret_type=SecretType.SEED),
                signed_pre_key=self.signed.model(),
                old_signed_pre_key=None if self.old_signed is None else self.old_signed.model(),
                pre_keys=frozenset() if held is None else frozenset({held}),
            )
        )

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": STATE_FORMAT,
                "signed_prekey": self.signed.to_json(),
                "old_signed_prekey": None if self.old_signed is None else self.old_signed.to_json(),
                "one_time_prekeys": [[public.hex(), private.hex()] for public, private in self.one_time.items()],
            }
        ).encode()

    @classmethod
    def from_bytes(cls, keys: MessagingKeys, data: bytes) -> PrekeyState:
        try:
            raw = json.loads(data)
            if raw["format"] != STATE_FORMAT:
                raise ValueError("unknown format")
            old = raw["old_signed_prekey"]
            one_time = {_exact(public, 32): _exact(private, 32) for public, private in raw["one_time_prekeys"]}
            return cls(
                keys,
                _SignedPair.from_json(raw["signed_prekey"]),
                None if old is None else _SignedPair.from_json(old),
                one_time,
            )
        except Exception as error:  # noqa: BLE001  whatever a damaged file makes json or the checks raise
            raise SessionError(f"the stored prekey state is unreadable ({type(error).__name__})") from None

    @property
    def signed_prekey(self) -> prekeys.SignedPrekey:
        return prekeys.SignedPrekey(_curve_public(self.signed.priv), self.signed.sig, self.signed.timestamp)

    def holds_signed(self, public: bytes) -> bool:
        """Whether `public` is our current or previous signed prekey."""
        return public == self.signed_prekey.key or (
            self.old_signed is not None and public == _curve_public(self.old_signed.priv)
        )

    @property
    def one_time_publics(self) -> frozenset[bytes]:
        return frozenset(self.one_time)

    def rotate_if_due(self, now_s: int | None = None) -> bool:
        """A new signed prekey once the current one is a week old (the previous one is kept
        one more period, then forgotten: first messages older than that cannot open)."""
        now_s = int(time.time()) if now_s is None else now_s
        if now_s - self.signed.timestamp < SIGNED_PREKEY_ROTATION_S:
            return False
        library = self._library()
        library.rotate_signed_pre_key()  # x3dh signs the new one (XEdDSA)
        spk = library.model.signed_pre_key
        self.old_signed, self.signed = self.signed, _SignedPair(spk.priv, spk.sig, spk.timestamp)
        return True

    def new_one_time(self, count: int) -> list[prekeys.OneTimePrekey]:
        """Generate `count` one-time prekeys, signed, ready to upload. Beyond
        MAX_ONE_TIME_HELD the oldest are forgotten (handed out long ago and never used)."""
        import secrets

        secret = self.keys.ed25519_secret
        fresh = []
        for _ in range(max(count, 0)):
            private = secrets.token_bytes(32)
            public = _curve_public(private)
            self.one_time[public] = private
            fresh.append(prekeys.sign_one_time(secret, public))
        for public in list(self.one_time)[: max(len(self.one_time) - MAX_ONE_TIME_HELD, 0)]:
            del self.one_time[public]
        return fresh

    def forget_one_time(self, public: bytes) -> bool:
        return self.one_time.pop(public, None) is not None

    def agree(self, header: X3DHHeader) -> tuple[bytes, bytes, bytes]:
        """X3DH as the responder: (shared secret, associated data, signed prekey private)."""
        library_header = x3dh.Header(
            header.identity_key, header.ephemeral_key, header.signed_prekey, header.one_time_prekey
        )
        try:
            secret, associated, signed = run(
                self._library(header.one_time_prekey).get_shared_secret_passive(library_header, require_pre_key=False)
            )
        except x3dh.KeyAgreementException as error:
            raise AgreementFailed(f"cannot start the session: {error}") from None
        except _HOSTILE as error:  # a low-order or off-curve key from the sender
            raise AgreementFailed(
                f"cannot start the session: a key in the header is unusable ({type(error).__name__})"
            ) from None
        return secret, associated, signed.priv

    def bundle(self, address: str, one_time: bytes | None = None) -> prekeys.PrekeyBundle:
        """Our prekey bundle as the relay would serve it (tests, benchmarks)."""
        signed_one_time = None if one_time is None else prekeys.sign_one_time(self.keys.ed25519_secret, one_time)
        return prekeys.PrekeyBundle(address, self.keys.ed25519_public, self.signed_prekey, signed_one_time)


# -- sessions -----------------------------------------------------------------------------


def _identity(keys: MessagingKeys) -> _X3DH:
    """An X3DH state holding only our identity (the initiator side needs no prekeys)."""
    signed = SignedPreKeyPairModel(priv=b"\x00" * 32, sig=b"\x00" * 64, timestamp=0)
    model = BaseStateModel(
        identity_key=IdentityKeyPairModel(secret=keys.ed25519_seed, secret_type=SecretType.SEED),
        signed_pre_key=signed,
        old_signed_pre_key=None,
        pre_keys=frozenset(),
    )
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
            secret, associated, header = run(
                _identity(keys).get_shared_secret_active(library_bundle, require_pre_key=False)
            )
        except x3dh.KeyAgreementException as error:
            raise AgreementFailed(str(error)) from None
        except _HOSTILE as error:
            raise AgreementFailed(f"the peer's prekeys are unusable ({type(error).__name__})") from None
        x3dh_header = X3DHHeader(header.identity_key, header.ephemeral_key, header.signed_pre_key, header.pre_key)
        return cls(
            bundle.identity_key,
            header.ephemeral_key,
            associated,
            x3dh_header,
            now_s or int(time.time()),
            None,
            (secret, bundle.signed_prekey.key),
        )

    @classmethod
    def accept(
        cls,
        state: PrekeyState,
        header: X3DHHeader,
        message: RatchetMessage,
        context: bytes,
        *,
        now_s: int | None = None,
    ) -> tuple[Session, bytes]:
        """X3DH as the responder, from an initiator's first (or any pre-reply) message;
        returns the session and the plaintext. The one-time prekey used is forgotten from
        `state` (the caller saves both, or neither)."""
        secret, associated, signed_private = state.agree(header)
        try:
            ratchet, plaintext = run(
                _DoubleRatchet.decrypt_initial_message(
                    *_CONFIG, secret, signed_private, _encrypted(message), associated + context
                )
            )
        except (doubleratchet.AuthenticationFailedException, doubleratchet.DecryptionFailedException):
            raise NoSession("the first message of a new session does not authenticate") from None
        except doubleratchet.DoSProtectionException:
            raise NoSession(f"the message is more than {MAX_SKIP} messages ahead") from None
        except _HOSTILE as error:
            raise NoSession(f"the message's ratchet key is unusable ({type(error).__name__})") from None
        if header.one_time_prekey is not None:
            state.forget_one_time(header.one_time_prekey)
        return cls(
            header.identity_key, header.ephemeral_key, associated, None, now_s or int(time.time()), ratchet
        ), plaintext

    def encrypt(self, plaintext: bytes, context: bytes) -> RatchetMessage:
        """Encrypt with the next message key; `context` (authenticated, not encrypted) binds
        the envelope's fields. The caller persists the session before sending."""
        data = self.associated_data + context
        if self._ratchet is None:
            if self._start is None:
                raise SessionError("this session has neither a ratchet nor an X3DH start")
            secret, their_signed_prekey = self._start
            self._ratchet, message = run(
                _DoubleRatchet.encrypt_initial_message(*_CONFIG, secret, their_signed_prekey, plaintext, data)
            )
            self._start = None
        else:
            message = run(self._ratchet.encrypt_message(plaintext, data))
        return RatchetMessage(
            message.header.ratchet_pub,
            message.header.previous_sending_chain_length,
            message.header.sending_chain_length,
            message.ciphertext,
        )

    def decrypt(self, message: RatchetMessage, context: bytes) -> bytes:
        """The plaintext; the state changes only on success. The initiator stops repeating
        the X3DH header once the peer has answered."""
        if self._ratchet is None:
            raise NoSession("this session has not sent its first message yet")
        try:
            plaintext = run(self._ratchet.decrypt_message(_encrypted(message), self.associated_data + context))
        except doubleratchet.DuplicateMessageException:
            raise Duplicate(
                "this message's key is gone: it was opened already, or came after its key was dropped"
            ) from None
        except (doubleratchet.AuthenticationFailedException, doubleratchet.DecryptionFailedException):
            raise NoSession("the message does not authenticate in this session") from None
        except doubleratchet.DoSProtectionException:
            raise NoSession(f"the message is more than {MAX_SKIP} messages ahead in its chain") from None
        except _HOSTILE as error:
            raise NoSession(f"the message's ratchet key is unusable ({type(error).__name__})") from None
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
            keys = ratchet.model.diffie_hellman_ratchet
            if len(keys.own_ratchet_priv) != 32 or len(keys.other_ratchet_pub) != 32:
                raise ValueError("a ratchet key must be 32 bytes")
            if header is not None:
                one_time = header[3]
                header = X3DHHeader(
                    _exact(header[0], 32),
                    _exact(header[1], 32),
                    _exact(header[2], 32),
                    None if one_time is None else _exact(one_time, 32),
                )
            created_at = data["created_at"]
            if not isinstance(created_at, int):
                raise ValueError("created_at")
            return cls(
                _exact(data["peer_identity"], 32),
                _exact(data["session_id"], 32),
                bytes.fromhex(data["associated_data"]),
                header,
                created_at,
                ratchet,
            )
        except Exception as error:  # noqa: BLE001  the library raises pydantic's and its own errors; json anything
            raise SessionError(f"a stored session is unreadable ({type(error).__name__})") from None


def _encrypted(message: RatchetMessage) -> doubleratchet.EncryptedMessage:
    return doubleratchet.EncryptedMessage(
        doubleratchet.Header(message.ratchet_key, message.previous_chain_length, message.chain_length),
        message.ciphertext,
    )


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
        self.sessions = [
            session,
            *(s for s in self.sessions if s is not session and s.session_id != session.session_id),
        ][:MAX_SESSIONS]

    def decrypt(
        self,
        state: PrekeyState | None,
        sender_identity: bytes,
        header: X3DHHeader | None,
        message: RatchetMessage,
        context: bytes,
    ) -> tuple[bytes, bool]:
        """Open a message from the peer whose verified identity key is `sender_identity`;
        returns (plaintext, whether a new session was started). The session that opened it
        becomes the current one. `state` changes only when a session starts."""
        if header is not None:
            if header.identity_key != sender_identity:
                raise AgreementFailed("the X3DH header names another identity key than the sender's")
            known = next((s for s in self.sessions if s.session_id == header.ephemeral_key), None)
            if known is None:
                if state is None:
                    raise AgreementFailed("no prekeys to accept a new session with")
                session, plaintext = Session.accept(state, header, message, context)
                self.promote(session)
                return plaintext, True
            candidates = [known]
        else:
            candidates = list(self.sessions)
        candidates = [s for s in candidates if s.peer_identity == sender_identity]
        if not candidates:
            raise NoSession(
                "no session with the sender: it was lost or reset; a new one starts with the next message either way"
            )
        refusals: list[NoSession] = []
        for session in candidates:
            try:
                plaintext = session.decrypt(message, context)
            except NoSession as refused:
                refusals.append(refused)
                continue
            self.promote(session)
            return plaintext, False
        if len(refusals) == 1 or any(isinstance(r, Duplicate) for r in refusals):
            raise next((r for r in refusals if isinstance(r, Duplicate)), refusals[0])
        raise NoSession("no session with the sender opens this message (lost, reset, or too far behind)")

    def to_bytes(self) -> bytes:
        return json.dumps({"format": STATE_FORMAT, "sessions": [s.to_json() for s in self.sessions]}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PeerSessions:
        try:
            raw = json.loads(data)
            if raw["format"] != STATE_FORMAT:
                raise ValueError("unknown format")
            return cls([Session.from_json(item) for item in raw["sessions"]])
        except SessionError:
            raise
        except Exception as error:  # noqa: BLE001  whatever a damaged file makes json raise
            raise SessionError(f"stored sessions are unreadable ({type(error).__name__})") from None
