"""The relay's first schema: identities, envelopes, mailbox_usage, challenges, relay_secrets.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("bundle", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        sa.Column("ed25519", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "envelopes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("mailbox", sa.String(42), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("id", name="uq_envelopes_id"),
        sqlite_autoincrement=True,  # a seq is never reused, even after the newest row is deleted
    )
    op.create_index("ix_envelopes_mailbox_seq", "envelopes", ["mailbox", "seq"])
    op.create_index("ix_envelopes_expires_at", "envelopes", ["expires_at"])
    op.create_table(
        "mailbox_usage",
        sa.Column("mailbox", sa.String(42), primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "challenges",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("mailbox", sa.String(42), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_challenges_expires_at", "challenges", ["expires_at"])
    op.create_table(
        "relay_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("relay_secrets")
    op.drop_index("ix_challenges_expires_at", "challenges")
    op.drop_table("challenges")
    op.drop_table("mailbox_usage")
    op.drop_index("ix_envelopes_expires_at", "envelopes")
    op.drop_index("ix_envelopes_mailbox_seq", "envelopes")
    op.drop_table("envelopes")
    op.drop_table("identities")
