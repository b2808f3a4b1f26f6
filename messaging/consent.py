"""Who may reach me: message requests, blocks, group invitations and delivery passes.

Kept next to the message store (same SQLite file, its own tables, `create_all` like the
rest), so MessageStore only opens it (`store.consent`):

* A peer is **accepted** when I saved them as a contact, wrote to them, or ran `chat
  accept`; **blocked** after `chat block` (their mail is dropped unread); anyone else who
  writes is a **message request** until I decide.
* A group someone else created is an **invitation** until I accept it (or it came from an
  accepted peer); a declined one is dropped from then on. Invitations never take part in
  name resolution, so a stranger cannot make one of my names ambiguous.
* My delivery pass (node/lanes.py): random, sealed under the store key; the relay holds its
  hash; I give it to the people I accept and rotate it when I block someone. The passes
  peers gave me are sealed too (with one, my mail to them skips their request lane).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from sqlalchemy import Engine, LargeBinary, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from wallet import address as addr

ACCEPTED = "accepted"
BLOCKED = "blocked"
INVITED = "invited"
DECLINED = "declined"
PASS_BYTES = 16


class Base(DeclarativeBase):
    pass


class PeerRow(Base):
    __tablename__ = "consent_peers"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(10))  # accepted | blocked | None (a request)
    their_pass: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    given: Mapped[str | None] = mapped_column(String(16))  # the id of my pass they last got
    updated_at: Mapped[int]


class GroupConsentRow(Base):
    __tablename__ = "consent_groups"

    group_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))  # invited | accepted | declined
    inviter: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[int]


class MineRow(Base):
    __tablename__ = "consent_mine"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # "pass", "registered"
    value: Mapped[bytes] = mapped_column(LargeBinary)


def pass_id(value: bytes) -> str:
    """A short public name for a pass (which one a peer got), not the pass."""
    import hashlib

    return hashlib.blake2b(value, digest_size=8, person=b"hongbao-pass-id").hexdigest()


class ConsentBook:
    def __init__(self, engine: Engine, box: SecretBox, clock: Callable[[], int]) -> None:
        Base.metadata.create_all(engine)
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._box = box
        self.clock = clock

    # -- peers ---------------------------------------------------------------------------

    def state(self, address: str) -> str | None:
        with self._session() as session:
            row = session.get(PeerRow, addr.parse(address))
            return None if row is None else row.state

    def peers(self, state: str | None) -> list[str]:
        with self._session() as session:
            return list(
                session.scalars(
                    select(PeerRow.address).where(PeerRow.state.is_(state) if state is None else PeerRow.state == state)
                )
            )

    def _peer(self, session: Session, address: str) -> PeerRow:
        row: PeerRow | None = session.get(PeerRow, address)
        if row is None:
            row = PeerRow(address=address, state=None, their_pass=None, given=None, updated_at=self.clock())
            session.add(row)
        return row

    def set_state(self, address: str, state: str | None) -> None:
        address = addr.parse(address)
        with self._session.begin() as session:
            row = self._peer(session, address)
            row.state, row.updated_at = state, self.clock()
            if state == BLOCKED:
                row.their_pass = None  # nothing of theirs is used any more

    def their_pass(self, address: str) -> bytes | None:
        with self._session() as session:
            row = session.get(PeerRow, address)
            sealed = None if row is None or row.state == BLOCKED else row.their_pass
        if sealed is None:
            return None
        try:
            return self._box.decrypt(sealed)
        except (CryptoError, ValueError):
            return None

    def set_their_pass(self, address: str, value: bytes) -> None:
        address = addr.parse(address)
        with self._session.begin() as session:
            row = self._peer(session, address)
            if row.state != BLOCKED:
                row.their_pass = bytes(self._box.encrypt(value))

    def given(self, address: str) -> str | None:
        with self._session() as session:
            row = session.get(PeerRow, addr.parse(address))
            return None if row is None else row.given

    def set_given(self, address: str, value: str | None) -> None:
        with self._session.begin() as session:
            self._peer(session, addr.parse(address)).given = value

    # -- my delivery pass ----------------------------------------------------------------

    def _mine(self, key: str) -> bytes | None:
        with self._session() as session:
            row = session.get(MineRow, key)
            return None if row is None else row.value

    def _set_mine(self, key: str, value: bytes) -> None:
        with self._session.begin() as session:
            row = session.get(MineRow, key)
            if row is None:
                session.add(MineRow(key=key, value=value))
            else:
                row.value = value

    def my_pass(self) -> bytes:
        """My current delivery pass (made on first use)."""
        sealed = self._mine("pass")
        if sealed is not None:
            try:
                return self._box.decrypt(sealed)
            except (CryptoError, ValueError):
                pass  # unreadable: a new one (the relay is told at the next registration)
        return self.rotate_pass()

    def rotate_pass(self) -> bytes:
        """A new pass: the old one stops working once the relay is told (`registered`)."""
        value = os.urandom(PASS_BYTES)
        self._set_mine("pass", bytes(self._box.encrypt(value)))
        self._set_mine("registered", b"")
        return value

    def registered(self) -> str:
        """Where (relay URL + pass id) my current pass was last registered; '' if nowhere."""
        return (self._mine("registered") or b"").decode()

    def set_registered(self, where: str) -> None:
        self._set_mine("registered", where.encode())

    # -- groups --------------------------------------------------------------------------

    def group_state(self, group_id: str) -> str | None:
        with self._session() as session:
            row = session.get(GroupConsentRow, group_id)
            return None if row is None else row.state

    def set_group(self, group_id: str, state: str, inviter: str) -> None:
        with self._session.begin() as session:
            row = session.get(GroupConsentRow, group_id)
            if row is None:
                session.add(GroupConsentRow(group_id=group_id, state=state, inviter=inviter, updated_at=self.clock()))
            else:
                row.state, row.updated_at = state, self.clock()

    def groups(self, state: str) -> list[tuple[str, str]]:
        """(group id, inviter) of the groups in this state."""
        with self._session() as session:
            rows = session.execute(
                select(GroupConsentRow.group_id, GroupConsentRow.inviter).where(GroupConsentRow.state == state)
            )
            return [(g, i) for g, i in rows]
