"""The local message store of one account: contacts with their pinned identity bundles,
groups, conversations and messages, in one SQLite file (`<home>/messages/<address>.sqlite`).

Same conventions as wallet/history.py: typed SQLAlchemy 2 ORM, `create_all` as the schema
tool (a local client cache), WAL mode, the file created 0600 in a 0700 folder, and one
short session per public method.

What is secret and what is not:

* Message bodies (the payload bytes) are encrypted with a nacl SecretBox under the store
  key (`messaging.keys.store_key(account_key)`, from the unlocked vault). The plaintext
  starts with the row's direction, id, conversation, sender and timestamp, checked on
  decryption, so swapping encrypted bodies between rows (someone with write access to the
  file but not the key) is detected (`StoreCorrupt`) instead of showing Bob's payment
  as Alice's.
* In clear, only what listing needs: addresses, contact and group names, group members,
  timestamps, payload types, message ids, states, and the (public) identity bundles.
* The store key is checked when the store opens (a sealed check value bound to the
  account's address): a wrong key raises `StoreLocked` naming the file, and a body that
  fails authentication later raises it too — never garbage.

Identity keys are trust-on-first-use with explicit key changes: `record_bundle` pins the
first verified bundle of an address; a newer bundle with other keys sets `key_changed`,
and `check_can_send` refuses to send to that address (or a group holding it) until the
user accepts the change or marks the new fingerprint verified. Removing a contact keeps
the pinned bundle, so removing and re-adding someone cannot silently accept a new key.

Message states: outgoing pending -> sent -> delivered -> read; incoming unread -> read
(receipts arrive as read: nothing to read). An outgoing message has one copy per
recipient (the envelope id that recipient got: for a direct message, the message id);
receipts advance the copy of the peer who sent them, never anyone else's, and a group
message's state is its least advanced copy's (delivered = delivered to every member).
"""

from __future__ import annotations

import enum
import json
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from wallet import address as addr
from wallet.sqlite import open_engine

from . import payloads
from .consent import ConsentBook
from .contact_book import CONTACTS, is_address_like, name_key
from .contact_book import DIRECTORY as DIRECTORY  # re-exported: where the stores live
from .contact_book import GROUP_PREFIX as GROUP_PREFIX
from .envelope import Opened
from .errors import MessagingError, NotForMe, PayloadError, Replay
from .groups import Group
from .identity import Bundle, fingerprint, same_keys, supersedes, verify_bundle

FORMAT = 1
OUT_STATES = ("pending", "sent", "delivered", "read")
IN_STATES = ("unread", "read")
_RANK = {state: rank for rank, state in enumerate(OUT_STATES)}
_MESSAGE_ID = re.compile(r"^[0-9a-f]{32}\Z")
_GROUP_ID = re.compile(r"^[0-9a-f]{32}\Z")
_KEY_CHECK = b"hongbao/messaging/v1/store-key-check:"
MAX_NAME = 64
_SILENT_TYPES = frozenset(
    {payloads.Receipt.TYPE, payloads.DeliveryPass.TYPE}
)  # control traffic: never unread, no activity bump


def path_for(home: Path, address: str) -> Path:
    """The conventional location of an account's store."""
    return Path(home) / DIRECTORY / f"{addr.parse(address)}.sqlite"


# -- errors --------------------------------------------------------------------------------


class StoreError(MessagingError):
    """The message store refused an operation."""


class StoreLocked(StoreError):
    """The store key does not open this file (another account's, or a wrong key)."""


class StoreCorrupt(StoreError):
    """A row decrypts but does not match its metadata: the file was altered."""


class DuplicateMessage(StoreError):
    pass


class NameTaken(StoreError):
    pass


class NotGroupMember(MessagingError):
    """A group message from someone who is not a member of that (known) group."""


class KeyChangeUnconfirmed(MessagingError):
    """The peer's messaging key changed and the user has not accepted the change yet."""

    address: str | None = None  # the peer, when known


# -- schema --------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class ContactRow(Base):
    """A saved contact, or only a pinned bundle (a stranger who wrote to us)."""

    __tablename__ = CONTACTS

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(MAX_NAME))
    name_key: Mapped[str | None] = mapped_column(String(4 * MAX_NAME), unique=True)  # casefolded: "alice" finds "Alice"
    saved: Mapped[bool] = mapped_column(default=False)
    bundle: Mapped[str | None] = mapped_column(Text)  # JSON, verified before it was stored
    fingerprint: Mapped[str | None] = mapped_column(String(35))
    verified_at: Mapped[int | None]  # unix ms when the current bundle was recorded
    key_changed: Mapped[bool] = mapped_column(default=False)
    verified_out_of_band: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[int]


class GroupRow(Base):
    __tablename__ = "chat_groups"  # GROUPS is an SQL keyword

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    members: Mapped[str] = mapped_column(Text)  # JSON list of checksummed addresses
    admin: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[int]


class ConversationRow(Base):
    """Names come from the contact or group at listing time; unread counts from messages."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)  # peer address or group:<id>
    last_activity_ms: Mapped[int]


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("direction", "id"),
        Index("messages_by_conversation", "conversation", "timestamp_ms", "seq"),
        Index("messages_by_state", "conversation", "direction", "state"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    conversation: Mapped[str] = mapped_column(String(48))
    sender: Mapped[str] = mapped_column(String(42))
    timestamp_ms: Mapped[int]  # the sender's clock
    received_ms: Mapped[int]  # ours
    type: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # SecretBox: nonce || ciphertext
    state: Mapped[str] = mapped_column(String(10))


class CopyRow(Base):
    """One recipient's copy of an outgoing message: the envelope id they got, their state."""

    __tablename__ = "outgoing_copies"
    __table_args__ = (
        UniqueConstraint("message_seq", "recipient"),
        Index("copies_by_recipient", "recipient", "envelope_id"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True)
    message_seq: Mapped[int] = mapped_column(ForeignKey("messages.seq"))
    recipient: Mapped[str] = mapped_column(String(42))
    envelope_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(10))


# -- values --------------------------------------------------------------------------------


class BundleChange(enum.StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"  # same keys (possibly a re-issued, newer bundle)
    KEY_CHANGED = "key_changed"


@dataclass(frozen=True, slots=True)
class Contact:
    address: str
    name: str | None
    saved: bool  # False: not in the contact list, only a pinned bundle
    bundle: Bundle | None
    fingerprint: str | None
    verified_at: int | None
    key_changed: bool
    verified_out_of_band: bool


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str  # 32 hex digits
    conversation: str
    sender: str
    direction: str  # in | out
    timestamp_ms: int
    type: str
    payload: payloads.Payload
    state: str
    received_ms: int


@dataclass(frozen=True, slots=True)
class PendingCopy:
    """One recipient's copy of an outgoing message the relay has not accepted yet."""

    conversation: str
    recipient: str
    envelope_id: str  # 32 hex: the id to seal it with again (the relay deduplicates by it)
    message_id: str  # our stored message
    payload: payloads.Payload
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    name: str | None
    is_group: bool
    last_activity_ms: int
    unread: int


# -- normalising inputs ----------------------------------------------------------------------


def message_id_hex(value: bytes | str) -> str:
    """A message id as 32 lower-case hex digits (from the envelope's 16 bytes or hex)."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 16:
            raise PayloadError("a message id is 16 bytes")
        return bytes(value).hex()
    if not isinstance(value, str) or not _MESSAGE_ID.match(value.lower().removeprefix("0x")):
        raise PayloadError("a message id is 32 hex digits")
    return value.lower().removeprefix("0x")


def group_conversation(group_id: str) -> str:
    if not isinstance(group_id, str) or not _GROUP_ID.match(group_id):
        raise PayloadError("a group id is 32 hex digits")
    return GROUP_PREFIX + group_id


def conversation_id(value: str) -> str:
    """`group:<32 hex>` as is; anything else must be an address (checksummed here)."""
    if value.startswith(GROUP_PREFIX):
        return group_conversation(value[len(GROUP_PREFIX) :])
    return addr.parse(value)


def _group_id_of(payload: payloads.Payload) -> str | None:
    if isinstance(payload, payloads.Unknown):
        value = payload.fields.get("group_id")
        return value if isinstance(value, str) and _GROUP_ID.match(value) else None
    return getattr(payload, "group_id", None)


def _clean_name(name: str) -> tuple[str, str]:
    """(name as shown, its lookup key); StoreError for names that could be confused."""
    name = unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else ""
    if not 0 < len(name) <= MAX_NAME or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise StoreError(f"a contact name is 1 to {MAX_NAME} printable characters")
    if is_address_like(name) or name.startswith(GROUP_PREFIX):
        raise StoreError(f"{name!r} cannot be a contact name: it reads as an address or a group")
    return name, name_key(name)


def _bundle_json(bundle: Bundle) -> str:
    return bundle.to_bytes().decode()


def _contact(row: ContactRow) -> Contact:
    bundle = Bundle.from_bytes(row.bundle.encode()) if row.bundle else None
    return Contact(
        row.address,
        row.name,
        row.saved,
        bundle,
        row.fingerprint,
        row.verified_at,
        row.key_changed,
        row.verified_out_of_band,
    )


def _group(row: GroupRow) -> Group:
    return Group(row.id, row.name, tuple(json.loads(row.members)), row.admin)


def _default_clock() -> int:
    return time.time_ns() // 1_000_000


# -- the store -------------------------------------------------------------------------------


class MessageStore:
    def __init__(self, path: Path | str, store_key: bytes, me: str, clock: Callable[[], int] = _default_clock) -> None:
        if not isinstance(store_key, (bytes, bytearray)) or len(store_key) != SecretBox.KEY_SIZE:
            raise ValueError("a store key is 32 bytes (messaging.keys.store_key)")
        self.path = Path(path)
        self.me = addr.parse(me)
        self.clock = clock
        self._box = SecretBox(bytes(store_key))
        self.engine = open_engine(self.path)
        try:
            Base.metadata.create_all(self.engine)
            self._session = sessionmaker(self.engine, expire_on_commit=False)
            self._check_key()
            self.consent = ConsentBook(self.engine, self._box, clock)  # requests, blocks, invitations, passes
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _check_key(self) -> None:
        """First open: write the format, the owner and a sealed check value. Later: the
        owner must match and the check value must open under this key. A check value gone
        missing is written again only once this key has opened a stored body."""
        check = _KEY_CHECK + self.me.encode()
        with self._session.begin() as session:
            for key, value in (("format", str(FORMAT).encode()), ("me", self.me.encode())):
                session.execute(
                    insert(MetaRow).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"])
                )
            stored = {row.key: row.value for row in session.scalars(select(MetaRow))}
            if int(stored["format"]) > FORMAT:
                raise StoreError(
                    f"{self.path} was written by a newer Hongbao (store format {int(stored['format'])}): upgrade"
                )
            if stored["me"] != self.me.encode():
                raise StoreError(f"{self.path} is the message store of {stored['me'].decode()}, not of {self.me}")
            sealed = stored.get("key_check")
            if sealed is None:
                body = session.scalar(select(MessageRow.body).limit(1))
                if body is not None and not self._opens(body):
                    raise self._locked()
                sealed = bytes(self._box.encrypt(check))
                session.execute(
                    insert(MetaRow).values(key="key_check", value=sealed).on_conflict_do_nothing(index_elements=["key"])
                )
                sealed = session.scalar(
                    select(MetaRow.value).where(MetaRow.key == "key_check")
                )  # a concurrent first open may have won
        if not self._opens(sealed, check):
            raise self._locked()

    def _opens(self, sealed: bytes | None, expected: bytes | None = None) -> bool:
        if sealed is None:
            return False
        try:
            plain = self._box.decrypt(sealed)
        except (CryptoError, ValueError, TypeError):
            return False
        return expected is None or plain == expected

    def _locked(self) -> StoreLocked:
        return StoreLocked(
            f"cannot decrypt {self.path}: wrong store key (another account's store, or the file was altered)"
        )

    # -- bodies ------------------------------------------------------------------------------

    @staticmethod
    def _header(direction: str, message_id: str, conversation: str, sender: str, timestamp_ms: int) -> bytes:
        return f"{direction}\n{message_id}\n{conversation}\n{sender}\n{timestamp_ms}\n".encode()

    def _seal_body(self, row: MessageRow, payload: payloads.Payload) -> bytes:
        header = self._header(row.direction, row.id, row.conversation, row.sender, row.timestamp_ms)
        return bytes(self._box.encrypt(header + payloads.encode(payload)))

    def _stored(self, row: MessageRow) -> StoredMessage:
        try:
            plain = self._box.decrypt(row.body)
        except (CryptoError, ValueError):
            raise self._locked() from None
        header = self._header(row.direction, row.id, row.conversation, row.sender, row.timestamp_ms)
        if not plain.startswith(header):
            raise StoreCorrupt(f"message {row.id} in {self.path} does not match its own metadata: the file was altered")
        try:
            payload = payloads.decode(plain[len(header) :])
        except PayloadError:
            raise StoreCorrupt(f"message {row.id} in {self.path} has a malformed body") from None
        if payloads.type_of(payload) != row.type:
            raise StoreCorrupt(f"message {row.id} in {self.path} does not match its recorded type")
        return StoredMessage(
            row.id,
            row.conversation,
            row.sender,
            row.direction,
            row.timestamp_ms,
            row.type,
            payload,
            row.state,
            row.received_ms,
        )

    # -- contacts and keys -------------------------------------------------------------------

    def _contact_row(self, session: Session, address_or_name: str) -> ContactRow | None:
        text = address_or_name.strip() if isinstance(address_or_name, str) else ""
        if is_address_like(text):
            return session.get(ContactRow, addr.parse(text))
        if not text:
            return None
        key = name_key(text)
        return session.scalar(select(ContactRow).where(ContactRow.name_key == key))

    def _required(self, session: Session, address_or_name: str) -> ContactRow:
        row = self._contact_row(session, address_or_name)
        if row is None:
            raise StoreError(f"no contact or known identity {address_or_name!r}")
        return row

    def add_contact(self, address: str, name: str | None = None) -> Contact:
        """Save `address` as a contact (or rename it). NameTaken if another has the name."""
        address = addr.parse(address)
        name, key = _clean_name(name) if name is not None else (None, None)
        with self._session.begin() as session:
            if key is not None:
                holder = session.scalar(select(ContactRow.address).where(ContactRow.name_key == key))
                if holder is not None and holder != address:
                    raise NameTaken(f"the contact name {name!r} is already used for {holder}")
            row = session.get(ContactRow, address)
            if row is None:
                row = ContactRow(
                    address=address, created_at=self.clock(), saved=True, key_changed=False, verified_out_of_band=False
                )
                session.add(row)
            row.saved = True
            if name is not None:
                row.name, row.name_key = name, key
            session.flush()
            return _contact(row)

    def remove_contact(self, address_or_name: str) -> bool:
        """Forget the contact (and its name); its pinned bundle stays for key continuity."""
        with self._session.begin() as session:
            row = self._contact_row(session, address_or_name)
            if row is None or not row.saved:
                return False
            if row.bundle is None:
                session.delete(row)
            else:
                row.saved, row.name, row.name_key = False, None, None
            return True

    def contacts(self) -> list[Contact]:
        """Saved contacts, named ones first, by name."""
        with self._session() as session:
            rows = session.scalars(
                select(ContactRow)
                .where(ContactRow.saved)
                .order_by(ContactRow.name_key.is_(None), ContactRow.name_key, ContactRow.address)
            )
            return [_contact(row) for row in rows]

    def contact(self, address_or_name: str) -> Contact | None:
        """A contact by address or (case-insensitive) name; by address also an unsaved
        sender whose bundle is pinned. None if unknown."""
        with self._session() as session:
            row = self._contact_row(session, address_or_name)
            return None if row is None else _contact(row)

    def record_bundle(self, bundle: Bundle) -> BundleChange:
        """Pin a verified bundle (verified again here: a slip cannot pin a forged key).

        NEW for the first; UNCHANGED for the same keys (a newer re-issue replaces the
        stored one); KEY_CHANGED for newer, other keys (sets key_changed, clears
        verified_out_of_band); StaleBundle (and nothing changes) for an older one."""
        with self._session.begin() as session:
            return self._record_bundle(session, bundle)

    def _record_bundle(self, session: Session, bundle: Bundle) -> BundleChange:
        row = session.get(ContactRow, bundle.address)
        if row is not None and row.bundle is not None and row.bundle == _bundle_json(bundle):
            return BundleChange.UNCHANGED  # the very bundle already pinned (verified when pinned)
        verify_bundle(bundle)
        old = Bundle.from_bytes(row.bundle.encode()) if row is not None and row.bundle else None
        replace = supersedes(bundle, old)  # StaleBundle for an older one
        now = self.clock()
        if row is None:
            row = ContactRow(
                address=bundle.address, saved=False, created_at=now, key_changed=False, verified_out_of_band=False
            )
            session.add(row)
        if old is None:
            change = BundleChange.NEW
        elif same_keys(bundle, old):
            change = BundleChange.UNCHANGED
        else:
            change = BundleChange.KEY_CHANGED
            row.key_changed, row.verified_out_of_band = True, False
        if replace:
            row.bundle, row.fingerprint, row.verified_at = _bundle_json(bundle), fingerprint(bundle), now
        return change

    def known_bundle(self, address: str) -> Bundle | None:
        """The pinned bundle of `address` (for envelope.open_envelope's known_bundle)."""
        with self._session() as session:
            text = session.scalar(select(ContactRow.bundle).where(ContactRow.address == addr.parse(address)))
        return Bundle.from_bytes(text.encode()) if text else None

    def accept_key_change(self, address: str) -> None:
        """The user accepts the new key without comparing fingerprints."""
        with self._session.begin() as session:
            row = self._required(session, address)
            row.key_changed = False

    def mark_verified(self, address: str) -> None:
        """The user compared the current fingerprint out of band (which also accepts a change)."""
        with self._session.begin() as session:
            row = self._required(session, address)
            if row.bundle is None:
                raise StoreError(f"no identity bundle known for {row.address}: nothing to verify")
            row.verified_out_of_band, row.key_changed = True, False

    def check_can_send(self, to: str) -> Bundle | None:
        """Raise KeyChangeUnconfirmed while the key of `to` (an address, or any other member
        of a `group:<id>` conversation) changed unconfirmed. Returns the pinned bundle of an
        address (None if none is known yet; None for a group)."""
        conversation = conversation_id(to)
        with self._session() as session:
            if conversation.startswith(GROUP_PREFIX):
                row = session.get(GroupRow, conversation[len(GROUP_PREFIX) :])
                if row is None:
                    raise StoreError(f"unknown group {conversation}")
                members = [m for m in json.loads(row.members) if m != self.me]
            else:
                members = [conversation]
            changed = session.scalars(
                select(ContactRow).where(ContactRow.address.in_(members), ContactRow.key_changed)
            ).first()
            if changed is not None:
                raise KeyChangeUnconfirmed(
                    f"the messaging key of {changed.address} changed (new fingerprint {changed.fingerprint}): "
                    "compare it with them, then accept the change before sending"
                )
            if conversation.startswith(GROUP_PREFIX):
                return None
            text = session.scalar(select(ContactRow.bundle).where(ContactRow.address == conversation))
        return Bundle.from_bytes(text.encode()) if text else None

    # -- groups ------------------------------------------------------------------------------

    def save_group(self, group: Group) -> None:
        """Insert or replace a group (after groups.apply); its conversation appears."""
        conversation = group_conversation(group.id)
        members = [addr.parse(m) for m in group.members]
        now = self.clock()
        values = {
            "name": group.name,
            "members": json.dumps(members),
            "admin": addr.parse(group.admin),
            "updated_at": now,
        }
        with self._session.begin() as session:
            session.execute(
                insert(GroupRow).values(id=group.id, **values).on_conflict_do_update(index_elements=["id"], set_=values)
            )
            self._touch(session, conversation, now)

    def group(self, group_id: str) -> Group | None:
        with self._session() as session:
            row = session.get(GroupRow, group_id)
            return None if row is None else _group(row)

    def groups(self) -> list[Group]:
        with self._session() as session:
            return [_group(row) for row in session.scalars(select(GroupRow).order_by(GroupRow.name, GroupRow.id))]

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def _touch(session: Session, conversation: str, now: int) -> None:
        statement = insert(ConversationRow).values(id=conversation, last_activity_ms=now)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    "last_activity_ms": func.max(ConversationRow.last_activity_ms, statement.excluded.last_activity_ms)
                },
            )
        )

    def seen(self, message_id: bytes | str) -> bool:
        """Whether an incoming message with this id was stored (open_envelope's `seen`)."""
        with self._session() as session:
            return (
                session.scalar(
                    select(MessageRow.seq).where(
                        MessageRow.direction == "in", MessageRow.id == message_id_hex(message_id)
                    )
                )
                is not None
            )

    def add_incoming(
        self, opened: Opened, conversation: str | None = None, *, also: Callable[[Session], None] | None = None
    ) -> StoredMessage:
        """Store an opened envelope, in one transaction with pinning its sender's bundle
        (and with `also`, e.g. the ratchet state that opened it: both or neither).

        The conversation is group:<id> when the payload names a group, else the sender.
        Raises Replay for an id already stored, StaleBundle if the envelope was vouched
        for by an older bundle than the pinned one, NotGroupMember for a message to a known
        group from a non-member, NotForMe for another account's envelope."""
        if addr.parse(opened.recipient) != self.me:
            raise NotForMe(f"message {message_id_hex(opened.id)} is for {opened.recipient}, not {self.me}")
        sender = addr.parse(opened.sender)
        if opened.bundle.address != sender:
            raise StoreError(
                f"the bundle vouching for message {message_id_hex(opened.id)} belongs to {opened.bundle.address}, not {sender}"
            )
        group_id = _group_id_of(opened.payload)
        conversation = (
            conversation_id(conversation)
            if conversation is not None
            else (group_conversation(group_id) if group_id else sender)
        )
        kind = payloads.type_of(opened.payload)
        now = self.clock()
        row = MessageRow(
            id=message_id_hex(opened.id),
            direction="in",
            conversation=conversation,
            sender=sender,
            timestamp_ms=int(opened.timestamp_ms),
            received_ms=now,
            type=kind,
            state="read" if kind in _SILENT_TYPES else "unread",
        )
        row.body = self._seal_body(row, opened.payload)
        with self._session.begin() as session:
            if (
                session.scalar(select(MessageRow.seq).where(MessageRow.direction == "in", MessageRow.id == row.id))
                is not None
            ):
                raise Replay(f"message {row.id} was already received")
            if conversation.startswith(GROUP_PREFIX):
                group = session.get(GroupRow, conversation[len(GROUP_PREFIX) :])
                if group is not None and sender not in json.loads(group.members):
                    raise NotGroupMember(
                        f"{sender} is not a member of the group {group.name!r}; message {row.id} refused"
                    )
            self._record_bundle(session, opened.bundle)
            session.add(row)
            if also is not None:
                also(session)
            if kind not in _SILENT_TYPES:
                self._touch(session, conversation, now)
        return StoredMessage(row.id, conversation, sender, "in", row.timestamp_ms, kind, opened.payload, row.state, now)

    def add_outgoing(
        self,
        to_conversation: str,
        message_id: bytes | str,
        payload: payloads.Payload,
        timestamp_ms: int,
        *,
        copies: Mapping[str, bytes | str] | None = None,
        also: Callable[[Session], None] | None = None,
    ) -> StoredMessage:
        """Store a message we are sending, as pending (with `also`, e.g. the ratchet states
        that sealed its copies, in the same transaction: both or neither).

        `copies` maps each recipient to the envelope id sealed to them (receipts name
        it); by default every recipient got `message_id` (a direct message, or a group
        message sealed with one id for all: `envelope.seal(..., message_id=...)`). With
        `groups.seal_to_group`, which gives each envelope its own id, pass
        `{envelope.to: envelope.id for envelope in envelopes}`."""
        conversation = conversation_id(to_conversation)
        mid = message_id_hex(message_id)
        now = self.clock()
        row = MessageRow(
            id=mid,
            direction="out",
            conversation=conversation,
            sender=self.me,
            timestamp_ms=int(timestamp_ms),
            received_ms=now,
            type=payloads.type_of(payload),
            state="pending",
        )
        row.body = self._seal_body(row, payload)
        with self._session.begin() as session:
            if copies is None:
                if conversation.startswith(GROUP_PREFIX):
                    group = session.get(GroupRow, conversation[len(GROUP_PREFIX) :])
                    if group is None:
                        raise StoreError(f"unknown group {conversation}: save it first, or pass the copies")
                    copies = {member: mid for member in json.loads(group.members) if member != self.me}
                else:
                    copies = {conversation: mid}
            resolved = {addr.parse(recipient): message_id_hex(envelope_id) for recipient, envelope_id in copies.items()}
            if (
                session.scalar(select(MessageRow.seq).where(MessageRow.direction == "out", MessageRow.id == mid))
                is not None
            ):
                raise DuplicateMessage(f"an outgoing message {mid} is already stored")
            session.add(row)
            session.flush()
            session.add_all(
                CopyRow(message_seq=row.seq, recipient=r, envelope_id=e, state="pending") for r, e in resolved.items()
            )
            if also is not None:
                also(session)
            if row.type not in _SILENT_TYPES:
                self._touch(session, conversation, now)
        return StoredMessage(mid, conversation, self.me, "out", row.timestamp_ms, row.type, payload, "pending", now)

    @staticmethod
    def _settle(session: Session, row: MessageRow) -> bool:
        """Set an outgoing message's state to its least advanced copy's; whether it moved."""
        states = session.scalars(select(CopyRow.state).where(CopyRow.message_seq == row.seq)).all()
        if not states:
            return False
        state = min(states, key=_RANK.__getitem__)
        moved = state != row.state
        row.state = state
        return moved

    def mark_sent(self, message_id: bytes | str, to: str | None = None) -> bool:
        """The relay accepted our message (to every recipient, or only to `to`)."""
        mid = message_id_hex(message_id)
        with self._session.begin() as session:
            row = session.scalar(select(MessageRow).where(MessageRow.direction == "out", MessageRow.id == mid))
            if row is None:
                raise StoreError(f"no outgoing message {mid}")
            statement = update(CopyRow).where(CopyRow.message_seq == row.seq, CopyRow.state == "pending")
            if to is not None:
                statement = statement.where(CopyRow.recipient == addr.parse(to))
            session.execute(statement.values(state="sent"))
            if self._settle(session, row):
                return True
            if (
                row.state == "pending"
                and session.scalar(select(func.count()).where(CopyRow.message_seq == row.seq)) == 0
            ):
                row.state = "sent"  # a group of one: nobody else to send to
                return True
            return False

    def apply_receipt(self, receipt: payloads.Receipt, from_address: str) -> list[str]:
        """Advance our outgoing copies to `from_address` named by the receipt (never back:
        read stays read). Returns the ids of messages whose state changed."""
        if not isinstance(receipt, payloads.Receipt):
            raise PayloadError("not a receipt payload")
        receipt.validate()
        peer = addr.parse(from_address)
        ids = sorted(set(receipt.message_ids))
        if not ids:
            return []
        changed: list[str] = []
        with self._session.begin() as session:
            copies = session.scalars(
                select(CopyRow).where(CopyRow.recipient == peer, CopyRow.envelope_id.in_(ids))
            ).all()
            touched = set()
            for copy in copies:
                if _RANK[receipt.status] > _RANK[copy.state]:
                    copy.state = receipt.status
                    touched.add(copy.message_seq)
            session.flush()
            for seq in sorted(touched):
                row = session.get(MessageRow, seq)
                if row is not None and row.direction == "out" and self._settle(session, row):
                    changed.append(row.id)
        return changed

    def delivery(self, message_id: bytes | str) -> dict[str, str]:
        """Each recipient's state of one of our outgoing messages."""
        mid = message_id_hex(message_id)
        with self._session() as session:
            rows = session.execute(
                select(CopyRow.recipient, CopyRow.state)
                .join(MessageRow, MessageRow.seq == CopyRow.message_seq)
                .where(MessageRow.direction == "out", MessageRow.id == mid)
            )
            return dict(rows.all())  # a list of rows, not dict(rows): a Result has .keys(), which dict() would call

    def pending_copies(self) -> list[PendingCopy]:
        """Every copy of our outgoing messages the relay has not accepted yet (still
        pending), oldest first, with the stored payload (to seal it again)."""
        query = (
            select(MessageRow, CopyRow.recipient, CopyRow.envelope_id)
            .join(CopyRow, CopyRow.message_seq == MessageRow.seq)
            .where(MessageRow.direction == "out", CopyRow.state == "pending")
            .order_by(MessageRow.timestamp_ms, MessageRow.seq, CopyRow.seq)
        )
        with self._session() as session:
            rows = session.execute(query).all()
        found = []
        for row, recipient, envelope_id in rows:
            stored = self._stored(row)
            found.append(
                PendingCopy(stored.conversation, recipient, envelope_id, stored.id, stored.payload, stored.timestamp_ms)
            )
        return found

    def messages(self, conversation: str, limit: int = 50, before: int | str | None = None) -> list[StoredMessage]:
        """The `limit` newest messages of a conversation (before a timestamp in ms, or
        before a message given by id), oldest first, with decrypted payloads."""
        conversation = conversation_id(conversation)
        if not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        with self._session() as session:
            query = select(MessageRow).where(MessageRow.conversation == conversation)
            if isinstance(before, str):
                mid = message_id_hex(before)
                anchor = session.execute(
                    select(MessageRow.timestamp_ms, MessageRow.seq)
                    .where(MessageRow.conversation == conversation, MessageRow.id == mid)
                    .order_by(MessageRow.seq)
                    .limit(1)
                ).first()
                if anchor is None:
                    raise StoreError(f"no message {mid} in {conversation}")
                query = query.where(
                    (MessageRow.timestamp_ms < anchor.timestamp_ms)
                    | ((MessageRow.timestamp_ms == anchor.timestamp_ms) & (MessageRow.seq < anchor.seq))
                )
            elif before is not None:
                query = query.where(MessageRow.timestamp_ms < int(before))
            rows = session.scalars(
                query.order_by(MessageRow.timestamp_ms.desc(), MessageRow.seq.desc()).limit(limit)
            ).all()
        return [self._stored(row) for row in reversed(rows)]

    def first_payment_notices(self) -> dict[tuple[int, str, str], str]:
        """(chain id, tx hash, sender) -> the id of the first incoming payment notice from
        that sender naming it (in the order received): one transaction backs one notice.
        Per sender, since only the payer's notice can count: a stranger who names your
        payment first must not spoil it."""
        first: dict[tuple[int, str, str], str] = {}
        with self._session() as session:
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.direction == "in", MessageRow.type == payloads.Payment.TYPE)
                .order_by(MessageRow.seq)
            ).all()
        for row in rows:
            payload = self._stored(row).payload
            if isinstance(payload, payloads.Payment):
                first.setdefault((payload.chain_id, payload.tx_hash.lower(), row.sender), row.id)
        return first

    def messages_of_types(self, *types: str) -> list[StoredMessage]:
        """Every message (both directions, all conversations) of these payload types, in the
        order stored (payment requests and what answers them)."""
        with self._session() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.type.in_(types)).order_by(MessageRow.seq)).all()
        return [self._stored(row) for row in rows]

    def mark_read_by_sender(self, conversation: str) -> dict[str, list[str]]:
        """Mark a conversation's incoming messages read; the newly read ids by sender (to
        send each sender a read receipt)."""
        conversation = conversation_id(conversation)
        with self._session.begin() as session:
            rows = session.execute(
                select(MessageRow.seq, MessageRow.id, MessageRow.sender)
                .where(
                    MessageRow.conversation == conversation, MessageRow.direction == "in", MessageRow.state == "unread"
                )
                .order_by(MessageRow.timestamp_ms, MessageRow.seq)
            ).all()
            if rows:
                session.execute(
                    update(MessageRow)
                    .where(MessageRow.seq.in_([r.seq for r in rows]), MessageRow.state == "unread")
                    .values(state="read")
                )
        by_sender: dict[str, list[str]] = {}
        for row in rows:
            by_sender.setdefault(row.sender, []).append(row.id)
        return by_sender

    def mark_read(self, conversation: str) -> list[str]:
        """Mark a conversation read; the ids newly read, oldest first."""
        return [mid for ids in self.mark_read_by_sender(conversation).values() for mid in ids]

    def conversations(self) -> list[ConversationSummary]:
        """Every conversation, most recent activity first, with its name and unread count."""
        unread = (
            select(MessageRow.conversation, func.count().label("n"))
            .where(MessageRow.direction == "in", MessageRow.state == "unread")
            .group_by(MessageRow.conversation)
            .subquery()
        )
        query = (
            select(
                ConversationRow.id,
                ConversationRow.last_activity_ms,
                ContactRow.name,
                GroupRow.name,
                func.coalesce(unread.c.n, 0),
            )
            .outerjoin(ContactRow, ContactRow.address == ConversationRow.id)
            .outerjoin(
                GroupRow,
                (GroupRow.id == func.substr(ConversationRow.id, len(GROUP_PREFIX) + 1))
                & ConversationRow.id.startswith(GROUP_PREFIX),
            )
            .outerjoin(unread, unread.c.conversation == ConversationRow.id)
            .order_by(ConversationRow.last_activity_ms.desc(), ConversationRow.id)
        )
        with self._session() as session:
            rows = session.execute(query).all()
        return [
            ConversationSummary(
                cid,
                group_name if cid.startswith(GROUP_PREFIX) else contact_name,
                cid.startswith(GROUP_PREFIX),
                last,
                count,
            )
            for cid, last, contact_name, group_name, count in rows
        ]


def open_store(home: Path, account_key: bytes, clock: Callable[[], int] = _default_clock) -> MessageStore:
    """The store of the account whose (unlocked) private key is `account_key`."""
    from .keys import store_key

    me = addr.from_private_key(account_key)
    return MessageStore(path_for(home, me), store_key(account_key), me, clock)


__all__ = [
    "BundleChange",
    "Contact",
    "ConversationSummary",
    "DuplicateMessage",
    "KeyChangeUnconfirmed",
    "MessageStore",
    "NameTaken",
    "NotGroupMember",
    "PendingCopy",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoredMessage",
    "open_store",
    "path_for",
]
