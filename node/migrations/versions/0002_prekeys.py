"""X3DH prekeys: signed_prekeys (one per address) and one_time_prekeys (claimed once each).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


def upgrade() -> None:
    op.create_table(
        "signed_prekeys",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "one_time_prekeys",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.UniqueConstraint("address", "key", name="uq_one_time_prekeys_address_key"),
        sqlite_autoincrement=True,  # claim order stays upload order, even after deletions
    )
    op.create_index("ix_one_time_prekeys_address_seq", "one_time_prekeys", ["address", "seq"])


def downgrade() -> None:
    op.drop_index("ix_one_time_prekeys_address_seq", "one_time_prekeys")
    op.drop_table("one_time_prekeys")
    op.drop_table("signed_prekeys")
