"""The relay's tables (SQLAlchemy 2 typed ORM). The schema itself is created by the Alembic
migrations in node/migrations, which spell these tables out; keep the two in step.

Beyond the four tables of the spec, `mailbox_usage` keeps each mailbox's count and bytes
(an O(1) quota check instead of counting up to 10,000 rows on every post).

Flood-proof mailboxes (node/lanes.py; migration 0003): `envelopes.lane` (0 contact, 1
request), `request_usage` (each mailbox's request lane, and every mailbox's together under
'*'), `delivery_passes` (the SHA-256 of the passes a mailbox gave its contacts).

X3DH prekeys (messaging/prekeys.py; migration 0002): one signed prekey per address, and up
to MAX_STORED one-time prekeys per address, handed out oldest first (by seq) and deleted
as they are claimed. Keys and signatures are lowercase hex, as `ed25519` in identities.

`envelopes.seq` is the mailbox cursor: it only grows and is never reused (SQLite
AUTOINCREMENT, a PostgreSQL sequence), and the store makes one mailbox's seqs commit in
order, so a reader that saw seq N never later finds a new envelope below N.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SEQ = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class Base(DeclarativeBase):
    pass


class Identity(Base):
    __tablename__ = "identities"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)  # checksummed
    bundle: Mapped[str] = mapped_column(Text)  # Bundle.to_bytes(), as published
    version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    ed25519: Mapped[str] = mapped_column(String(64))  # hex: checked against tokens
    updated_at: Mapped[int] = mapped_column(BigInteger)  # unix ms


class StoredEnvelopeRow(Base):
    __tablename__ = "envelopes"
    __table_args__ = (
        Index("ix_envelopes_mailbox_seq", "mailbox", "seq"),
        Index("ix_envelopes_expires_at", "expires_at"),
        Index(
            "ix_envelopes_requests",
            "mailbox",
            "seq",
            sqlite_where=text("lane = 1"),
            postgresql_where=text("lane = 1"),
        ),
        UniqueConstraint("id", name="uq_envelopes_id"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    mailbox: Mapped[str] = mapped_column(String(42))
    id: Mapped[str] = mapped_column(String(32))  # message id, hex: unique
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)  # unix ms
    expires_at: Mapped[int] = mapped_column(BigInteger)  # unix ms
    lane: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 0 contact, 1 request


class MailboxUsage(Base):
    """What each mailbox holds (expired or not, until swept), kept with every insert and
    delete, so the quota check on each post is one row, not a count of the mailbox."""

    __tablename__ = "mailbox_usage"

    mailbox: Mapped[str] = mapped_column(String(42), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)


class RequestUsage(Base):
    """What each mailbox's request lane holds (envelopes posted without a valid delivery
    pass), and under mailbox '*' the relay-wide total, checked against the disk cap."""

    __tablename__ = "request_usage"

    mailbox: Mapped[str] = mapped_column(String(42), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)


class DeliveryPass(Base):
    """SHA-256 (hex) of a capability a mailbox gave its contacts: an envelope presenting
    it goes to the contact lane. The relay never learns who presents it."""

    __tablename__ = "delivery_passes"

    mailbox: Mapped[str] = mapped_column(String(42), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Challenge(Base):
    __tablename__ = "challenges"
    __table_args__ = (Index("ix_challenges_expires_at", "expires_at"),)

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex of 32 random bytes
    mailbox: Mapped[str] = mapped_column(String(42))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class RelaySecret(Base):
    __tablename__ = "relay_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class SignedPrekeyRow(Base):
    __tablename__ = "signed_prekeys"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)  # checksummed
    key: Mapped[str] = mapped_column(String(64))  # X25519, hex
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519 by the identity key, hex
    created_at: Mapped[int] = mapped_column(BigInteger)  # unix s, as the owner stated it
    updated_at: Mapped[int] = mapped_column(BigInteger)  # unix ms, when the relay stored it


class OneTimePrekeyRow(Base):
    __tablename__ = "one_time_prekeys"
    __table_args__ = (
        Index("ix_one_time_prekeys_address_seq", "address", "seq"),
        UniqueConstraint("address", "key", name="uq_one_time_prekeys_address_key"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)  # claim order
    address: Mapped[str] = mapped_column(String(42))
    key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


def _table(model: type[Base]) -> Table:
    """A mapped class's Table (SQLAlchemy types `__table__` as the wider FromClause)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


identities = _table(Identity)
envelopes = _table(StoredEnvelopeRow)
mailbox_usage = _table(MailboxUsage)
request_usage = _table(RequestUsage)
delivery_passes = _table(DeliveryPass)
challenges = _table(Challenge)
relay_secrets = _table(RelaySecret)
signed_prekeys = _table(SignedPrekeyRow)
one_time_prekeys = _table(OneTimePrekeyRow)
