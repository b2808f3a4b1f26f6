"""Session state at rest: our prekey state and the ratchet sessions with each peer, in
the account's message store file (same engine, same store key), sealed like message
bodies.

Each sealed value starts with what it belongs to ("session", the peer; "prekeys", us),
checked on opening, so moving a sealed session from one peer's row to another's is caught.
A value that does not open or parse raises `SessionCorrupt`: the caller resets that
session (a new X3DH), never sends on garbage.

`had_session` stays set once a peer's identity key and we had a forward-secret session,
even after a reset: from then on, a relay that offers no prekeys for that key cannot
quietly turn the conversation back into format 1 (the caller refuses instead). A new
identity key (a key change the user accepted) starts afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nacl.exceptions import CryptoError
from sqlalchemy import LargeBinary, String, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .errors import SessionError
from .keys import MessagingKeys
from .store import MessageStore

if TYPE_CHECKING:  # loaded when a session is used: listing contacts needs no ratchet
    from .ratchet import PeerSessions, PrekeyState


class SessionCorrupt(SessionError):
    """A stored session or prekey state does not open or parse."""


class _Base(DeclarativeBase):
    pass


class SessionRow(_Base):
    __tablename__ = "sessions"

    peer: Mapped[str] = mapped_column(String(42), primary_key=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # PeerSessions, sealed; None after a reset
    had_session: Mapped[bool] = mapped_column(default=False)
    identity: Mapped[str | None] = mapped_column(String(64))  # hex Ed25519 key of the last session's peer
    no_prekeys_at: Mapped[int | None]  # unix ms when the relay last had no prekeys for them
    updated_at: Mapped[int]


class HealRow(_Base):
    """When we last offered a peer a new session (sessions.py rate-limits it)."""

    __tablename__ = "session_heals"

    peer: Mapped[str] = mapped_column(String(42), primary_key=True)
    at: Mapped[int]  # unix ms


class FlagRow(_Base):
    """A warning about one incoming message, shown with it (e.g. a downgrade to format 1)."""

    __tablename__ = "message_flags"

    message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    flag: Mapped[str] = mapped_column(String(200))


class PrekeyRow(_Base):
    __tablename__ = "prekey_state"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True, slots=True)
class PeerInfo:
    has_session: bool
    had_session: bool
    no_prekeys_at: int | None


Write = Callable[[Session], None]


def all_of(writes: list[Write]) -> Write:
    """One writer running `writes` in order (in the caller's transaction)."""

    def write(session: Session) -> None:
        for each in writes:
            each(session)

    return write


class SessionStore:
    def __init__(self, store: MessageStore, keys: MessagingKeys) -> None:
        self.store = store
        self.keys = keys
        self._box = store._box
        self._session = store._session
        _Base.metadata.create_all(store.engine)

    def _seal(self, label: str, data: bytes) -> bytes:
        return bytes(self._box.encrypt(label.encode() + b"\n" + data))

    def _open(self, label: str, sealed: bytes) -> bytes:
        prefix = label.encode() + b"\n"
        try:
            plain = self._box.decrypt(sealed)
        except (CryptoError, ValueError, TypeError):
            raise SessionCorrupt(f"the stored {label.split(':')[0]} state does not decrypt") from None
        if not plain.startswith(prefix):
            raise SessionCorrupt(f"the stored {label.split(':')[0]} state belongs to another row")
        return plain[len(prefix) :]

    # -- our prekeys ----------------------------------------------------------------------

    def prekey_state(self) -> PrekeyState:
        """Ours; created (and saved) on first use. SessionCorrupt if unreadable."""
        from .ratchet import PrekeyState

        with self._session() as session:
            sealed = session.scalar(select(PrekeyRow.sealed).where(PrekeyRow.id == 1))
        if sealed is None:
            return self.save_prekeys(PrekeyState.create(self.keys))
        try:
            return PrekeyState.from_bytes(self.keys, self._open("prekeys", sealed))
        except SessionCorrupt:
            raise
        except SessionError as error:
            raise SessionCorrupt(str(error)) from None

    def write_prekeys(self, state: PrekeyState) -> Write:
        sealed = self._seal("prekeys", state.to_bytes())

        def write(session: Session) -> None:
            statement = insert(PrekeyRow).values(id=1, sealed=sealed)
            session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"sealed": sealed}))

        return write

    def save_prekeys(self, state: PrekeyState) -> PrekeyState:
        with self._session.begin() as session:
            self.write_prekeys(state)(session)
        return state

    # -- sessions with peers --------------------------------------------------------------

    def info(self, peer: str, identity: bytes | None = None) -> PeerInfo:
        """What we know of `peer` (with `identity`: had_session only for that key)."""
        with self._session() as session:
            row = session.get(SessionRow, peer)
            if row is None:
                return PeerInfo(False, False, None)
            had = row.had_session and (identity is None or row.identity == identity.hex())
            return PeerInfo(row.sealed is not None, had, row.no_prekeys_at)

    def load(self, peer: str) -> PeerSessions:
        """The sessions with `peer` (none: empty). SessionCorrupt if unreadable."""
        from .ratchet import PeerSessions

        with self._session() as session:
            sealed = session.scalar(select(SessionRow.sealed).where(SessionRow.peer == peer))
        if sealed is None:
            return PeerSessions()
        try:
            return PeerSessions.from_bytes(self._open(f"session:{peer}", sealed))
        except SessionCorrupt:
            raise
        except SessionError as error:
            raise SessionCorrupt(str(error)) from None

    def write(self, peer: str, sessions: PeerSessions) -> Write:
        """A writer to run inside a store transaction (with the message it came with)."""
        current = sessions.current  # None when there are no sessions
        sealed = self._seal(f"session:{peer}", sessions.to_bytes()) if current is not None else None
        identity = current.peer_identity.hex() if current is not None else None
        now = self.store.clock()

        def write(session: Session) -> None:
            values: dict[str, Any] = {"sealed": sealed, "updated_at": now, "no_prekeys_at": None}
            if sealed is not None:
                values.update(had_session=True, identity=identity)
            statement = insert(SessionRow).values(peer=peer, **values)
            session.execute(statement.on_conflict_do_update(index_elements=["peer"], set_=values))

        return write

    def save(self, peer: str, sessions: PeerSessions) -> None:
        with self._session.begin() as session:
            self.write(peer, sessions)(session)

    def reset(self, peer: str) -> None:
        """Forget the sessions with `peer` (corrupt, or the peer lost theirs); keeps
        `had_session`, so the next message starts a new session or is refused."""
        with self._session.begin() as session:
            session.execute(
                insert(SessionRow)
                .values(peer=peer, sealed=None, updated_at=self.store.clock())
                .on_conflict_do_update(index_elements=["peer"], set_={"sealed": None})
            )

    def write_flag(self, message_id: str, flag: str) -> Write:
        """A writer flagging an incoming message (run with the message's own transaction)."""

        def write(session: Session) -> None:
            statement = insert(FlagRow).values(message_id=message_id, flag=flag)
            session.execute(statement.on_conflict_do_update(index_elements=["message_id"], set_={"flag": flag}))

        return write

    def flags(self, message_ids: list[str]) -> dict[str, str]:
        """message id -> its flag, for those of `message_ids` that have one."""
        with self._session() as session:
            rows = session.execute(select(FlagRow.message_id, FlagRow.flag).where(FlagRow.message_id.in_(message_ids)))
            return {row.message_id: row.flag for row in rows}

    def heal_due(self, peer: str, now: int, interval_ms: int) -> bool:
        """Whether `peer` may be offered a new session now (none in the last
        `interval_ms`); if so, records now (in its own transaction)."""
        with self._session.begin() as session:
            last = session.scalar(select(HealRow.at).where(HealRow.peer == peer))
            if last is not None and 0 <= now - last < interval_ms:
                return False
            statement = insert(HealRow).values(peer=peer, at=now)
            session.execute(statement.on_conflict_do_update(index_elements=["peer"], set_={"at": now}))
        return True

    def mark_no_prekeys(self, peer: str) -> None:
        now = self.store.clock()
        with self._session.begin() as session:
            statement = insert(SessionRow).values(peer=peer, sealed=None, no_prekeys_at=now, updated_at=now)
            session.execute(statement.on_conflict_do_update(index_elements=["peer"], set_={"no_prekeys_at": now}))
