"""Flood-proof mailboxes: envelopes.lane (0 contact, 1 request), request_usage (each
mailbox's request lane, and the relay-wide total under mailbox '*'), delivery_passes
(hashes of the capabilities a mailbox's contacts present to reach its contact lane).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("envelopes", sa.Column("lane", sa.SmallInteger, nullable=False, server_default="0"))
    # only request-lane rows are indexed: eviction reads a mailbox's oldest requests
    op.create_index(
        "ix_envelopes_requests",
        "envelopes",
        ["mailbox", "seq"],
        sqlite_where=sa.text("lane = 1"),
        postgresql_where=sa.text("lane = 1"),
    )
    op.create_table(
        "request_usage",
        sa.Column("mailbox", sa.String(42), primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "delivery_passes",
        sa.Column("mailbox", sa.String(42), primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_passes")
    op.drop_table("request_usage")
    op.drop_index("ix_envelopes_requests", "envelopes")
    op.drop_column("envelopes", "lane")
