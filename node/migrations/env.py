"""Alembic environment: node.models' metadata; the connection comes from node.db.migrate
(config.attributes["connection"]) or, for the alembic command line (node/alembic.ini),
from the URL in HONGBAO_RELAY_DB_URL or sqlalchemy.url."""

from __future__ import annotations

import os

from alembic import context

from node.db import make_engine
from node.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # transactional_ddl: Alembic assumes SQLite's DDL is not transactional and commits after
    # each revision, letting a relay migrating beside this one run the next revision too
    # ("table already exists"); SQLite's DDL is transactional, so all revisions are one
    # transaction, under the write lock node.db.migrate took.
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=sqlite, transactional_ddl=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=os.environ.get("HONGBAO_RELAY_DB_URL") or config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("HONGBAO_RELAY_DB_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set HONGBAO_RELAY_DB_URL (or sqlalchemy.url) to the relay's database")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
