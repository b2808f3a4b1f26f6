"""Which protection each message gets, and the session bookkeeping around it.

* Sending to a peer: their current session if there is one (format 2); else claim a
  prekey bundle from the relay, verify it against the identity key the peer's bundle
  vouches for (a forged one is refused: nothing is sent) and start a session; a peer
  with no prekeys at the relay gets format 1 (signed, sealed to the identity key) and is
  asked again after `NO_PREKEYS_RECHECK_MS`. Once a peer and we had a session, format 1
  is never used for them again: no prekeys then means `SessionDowngrade`, not a quiet
  step back that a relay could force.
* Receiving: the sessions with the sender open the message (a first message starts one,
  consuming our one-time prekey); the changed state is written in the same transaction
  as the message (`Opening.writes`).
* Upkeep (`maintain`): the signed prekey rotates weekly and one-time prekeys are topped
  up to `ONE_TIME_TARGET` at the relay whenever fewer than `ONE_TIME_LOW` are left.
* A stored session that does not open (corrupt file) is dropped and reported; the next
  message starts a new one. Receipts never start sessions.
* Every read-modify-write of session or prekey state holds `lock()` (a file lock next to
  the store), so a `chat watch` and a `chat send` of one account in two terminals never
  both advance the same ratchet from the same state (which would reuse a message key).

Groups use the same pairwise sessions: each member's copy is sealed in that member's
session (see README, "Forward secrecy").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, overload

from sqlalchemy.orm import Session as DbSession

from . import envelope as env
from . import payloads
from .client import RelayClient
from .errors import AgreementFailed, MessagingError, NoSession
from .identity import Bundle
from .keys import MessagingKeys
from .session_store import PeerInfo, SessionCorrupt, SessionStore, Write
from .store import MessageStore

if TYPE_CHECKING:  # the ratchet (and its libraries) load when a session is used
    from .ratchet import PeerSessions, PrekeyState, RatchetMessage, Session, X3DHHeader

NO_PREKEYS_RECHECK_MS = 10 * 60 * 1000
HEAL_INTERVAL_MS = 10 * 60 * 1000  # at most one new session offered per peer in this time

FORWARD_SECRET = "forward-secret"  # noqa: S105  a session format's name
SIGNED = "signed"  # format 1


class SessionDowngrade(MessagingError):
    """A peer we had a session with has no prekeys at the relay now."""


@dataclass
class Opening:
    """What opening one envelope changed, written with the message (`writes`), and
    whether the sender needs a fresh session from us (`heal`)."""

    keeper: SessionKeeper
    writes: list[Write] = field(default_factory=list)
    heal: str | None = None

    def decrypt(
        self, sender: str, identity: bytes, header: X3DHHeader | None, message: RatchetMessage, context: bytes
    ) -> bytes:
        keeper = self.keeper
        sessions = keeper.load(sender)
        state = keeper.prekeys() if header is not None else None
        try:
            plaintext, started = sessions.decrypt(state, identity, header, message, context)
        except (NoSession, AgreementFailed):
            # They write in a session we lost, or start one from prekeys we no longer hold:
            # offer a new session, at most once per HEAL_INTERVAL_MS. Anyone can send such
            # an envelope in a contact's name, so only what a genuine attempt looks like
            # heals (`_genuine`): otherwise a stranger could learn our contacts (we would
            # claim their prekeys and post to them) and make us send traffic at will.
            if _genuine(keeper, sender, identity, header, state, sessions) and keeper.store.heal_due(
                sender, keeper.clock(), HEAL_INTERVAL_MS
            ):
                self.heal = sender
            raise
        self.writes.append(keeper.store.write(sender, sessions))
        if started and state is not None:  # a session starts only from a header, so with our prekeys
            self.writes.append(keeper.store.write_prekeys(state))
        return plaintext

    def commit(self, session: DbSession) -> None:
        for write in self.writes:
            write(session)


def _genuine(
    keeper: SessionKeeper,
    sender: str,
    identity: bytes,
    header: X3DHHeader | None,
    state: PrekeyState | None,
    sessions: PeerSessions,
) -> bool:
    """Whether a message that did not open looks like the peer's genuine attempt, one a
    new session would fix: a headerless message after we lost the session we had with
    that identity key (a reset), or a first message naming our own signed prekey and a
    one-time prekey we no longer hold. Not: a failure in a session we hold, a header with
    another identity key, prekeys that were never ours (a bogus header), or a first
    message that does not authenticate under prekeys we hold (a forgery)."""
    if header is None:
        return not sessions.for_identity(identity).sessions and keeper.store.info(sender, identity).had_session
    if header.identity_key != identity or state is None:
        return False
    if any(s.session_id == header.ephemeral_key for s in sessions.sessions):
        return False
    return (
        state.holds_signed(header.signed_prekey)
        and header.one_time_prekey is not None
        and header.one_time_prekey not in state.one_time_publics
    )


class SessionKeeper:
    def __init__(
        self, address: str, keys: MessagingKeys, store: MessageStore, relay: Callable[[], RelayClient]
    ) -> None:
        self.address = address
        self.keys = keys
        self.store = SessionStore(store, keys)
        self.clock = store.clock
        self._relay = relay
        self._lock_path = store.path.with_name(store.path.name + ".sessions.lock")
        self._held = 0
        self.resets: list[str] = []  # what was found corrupt and reset, for the user

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use of the session and prekey state (other processes wait);
        re-entrant within this keeper."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        from wallet.locks import exclusive

        with exclusive(self._lock_path):
            self._held = 1
            try:
                yield
            finally:
                self._held = 0

    # -- state ----------------------------------------------------------------------------

    def load(self, peer: str) -> PeerSessions:
        try:
            return self.store.load(peer)
        except SessionCorrupt as error:
            from .ratchet import PeerSessions

            self.store.reset(peer)
            self.resets.append(
                f"the session with {peer} was unreadable ({error}) and was reset: the next message starts a new one"
            )
            return PeerSessions()

    def prekeys(self) -> PrekeyState:
        try:
            return self.store.prekey_state()
        except SessionCorrupt as error:
            from .ratchet import PrekeyState

            self.resets.append(
                f"our prekeys were unreadable ({error}) and were replaced: first messages sent to the old ones cannot be opened"
            )
            return self.store.save_prekeys(PrekeyState.create(self.keys))

    def forward_secret(self, peer: str) -> bool:
        """Whether messages to `peer` go (or, after a reset, will go) in a session."""
        info = self.store.info(peer)
        return info.has_session or info.had_session

    def protection(self, peer: str) -> str:
        info = self.store.info(peer)
        if info.has_session:
            return FORWARD_SECRET
        if info.had_session:
            return f"{FORWARD_SECRET} (session reset: the next message starts a new one)"
        if info.no_prekeys_at is not None:
            return f"{SIGNED}, not forward-secret (they have published no prekeys)"
        return "not yet known (no message sent)"

    # -- sending --------------------------------------------------------------------------

    @overload
    def seal(
        self,
        bundle: Bundle,
        payload: payloads.Payload,
        *,
        now_ms: int,
        message_id: bytes | None = None,
        include_bundle: Bundle | None = None,
        new_session: Literal[True] = True,
        writes: list[Write] | None = None,
    ) -> env.Envelope: ...

    @overload
    def seal(
        self,
        bundle: Bundle,
        payload: payloads.Payload,
        *,
        now_ms: int,
        message_id: bytes | None = None,
        include_bundle: Bundle | None = None,
        new_session: bool,
        writes: list[Write] | None = None,
    ) -> env.Envelope | None: ...

    def seal(
        self,
        bundle: Bundle,
        payload: payloads.Payload,
        *,
        now_ms: int,
        message_id: bytes | None = None,
        include_bundle: Bundle | None = None,
        new_session: bool = True,
        writes: list[Write] | None = None,
    ) -> env.Envelope | None:
        """The envelope for `bundle`'s owner: in their session (started now if needed and
        `new_session`), else format 1. None only when `new_session` is False and a
        session is due but gone. The session is saved before this returns; with
        `writes`, its write is appended there instead, for the caller to run in the
        transaction that stores the message (holding `lock()` until then)."""
        with self.lock():
            return self._seal(
                bundle,
                payload,
                now_ms=now_ms,
                message_id=message_id,
                include_bundle=include_bundle,
                new_session=new_session,
                writes=writes,
            )

    def _seal(
        self,
        bundle: Bundle,
        payload: payloads.Payload,
        *,
        now_ms: int,
        message_id: bytes | None,
        include_bundle: Bundle | None,
        new_session: bool,
        writes: list[Write] | None = None,
    ) -> env.Envelope | None:
        peer = bundle.address
        sessions = self.load(peer).for_identity(bundle.ed25519)
        session = sessions.current
        had_session = False
        if session is None:
            info = self.store.info(peer, bundle.ed25519)
            had_session = info.had_session
            if new_session:
                session = self._start(bundle, info)
                if session is not None:
                    sessions.promote(session)
        if session is None:
            if had_session:
                if not new_session:
                    return None
                raise SessionDowngrade(
                    f"{peer} and you had a forward-secret session, but the relay offers no prekeys for them now: not sent (ask them to open Hongbao, which publishes new ones)"
                )
            return env.seal(
                self.address,
                self.keys,
                bundle,
                payload,
                now_ms=now_ms,
                message_id=message_id,
                include_bundle=include_bundle,
            )
        envelope = env.seal_session(
            self.address,
            self.keys,
            bundle,
            payload,
            session,
            now_ms=now_ms,
            message_id=message_id,
            include_bundle=include_bundle,
        )
        if writes is None:
            self.store.save(peer, sessions)
        else:
            writes.append(self.store.write(peer, sessions))
        return envelope

    def _start(self, bundle: Bundle, info: PeerInfo) -> Session | None:
        if (
            not info.had_session
            and info.no_prekeys_at is not None
            and self.clock() - info.no_prekeys_at < NO_PREKEYS_RECHECK_MS
        ):
            return None
        from .ratchet import Session

        claimed = self._relay().claim_prekeys(bundle.address, bundle.ed25519)  # PrekeyBundleInvalid: refused
        if claimed is None:
            self.store.mark_no_prekeys(bundle.address)
            return None
        return Session.initiate(self.keys, claimed)

    # -- receiving ------------------------------------------------------------------------

    def opening(self) -> Opening:
        return Opening(self)

    # -- upkeep ---------------------------------------------------------------------------

    def maintain(self) -> int:
        """Rotate the signed prekey when due and top up one-time prekeys at the relay
        (the caller has authenticated). Returns how many one-time prekeys the relay holds."""
        with self.lock():
            return self._maintain()

    def _maintain(self) -> int:
        from .ratchet import ONE_TIME_LOW, ONE_TIME_TARGET

        relay = self._relay()
        state = self.prekeys()
        rotated = state.rotate_if_due(self.clock() // 1000)
        status = relay.prekey_status(self.address)
        signed = state.signed_prekey
        upload_signed = status.signed_prekey is None or status.signed_prekey.key != signed.key
        # The relay's prekeys are not from this state (a restored wallet, a reset, another
        # device): its one-time prekeys' private halves are elsewhere, so replace them all.
        foreign = (
            upload_signed and status.signed_prekey is not None and not state.holds_signed(status.signed_prekey.key)
        )
        missing = ONE_TIME_TARGET if foreign else ONE_TIME_TARGET - status.one_time
        fresh = state.new_one_time(missing) if foreign or status.one_time < ONE_TIME_LOW else []
        if rotated or fresh:
            self.store.save_prekeys(state)  # before the upload: a key the relay hands out is always ours
        if upload_signed or fresh:
            status = relay.publish_prekeys(self.address, signed if upload_signed else None, fresh, replace=foreign)
        return status.one_time
