"""Engines and migrations.

SQLite (one relay process, or a few on one machine) runs in WAL mode with
synchronous=NORMAL: a commit appends to the WAL and returns once the OS has the bytes, so
what was committed survives the relay process crashing or being killed (kill -9); only an
OS crash or a power cut can lose the last commits (the WAL is fsynced at checkpoints).
Writers take the lock at BEGIN (BEGIN IMMEDIATE) and wait up to `BUSY_TIMEOUT_MS` for it,
so two processes sharing a file queue rather than fail.

PostgreSQL (several relays sharing one database) goes through psycopg 3:
"postgresql+psycopg://user@host/db". Every commit there is durable.

The schema belongs to Alembic (node/migrations); `migrate(url)` upgrades to head.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}  # execution option: a write transaction
MIGRATION_LOCK = int.from_bytes(b"hbrelay!", "big", signed=True)  # pg advisory lock key


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// (and postgres://) URLs: this relay speaks psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800)
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH or postgresql+psycopg://..."
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(database, os.O_WRONLY | os.O_CREAT, 0o600)  # sender/recipient metadata: private
        os.close(fd)
    engine = create_engine(url, pool_size=16, max_overflow=16)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        # the timeout first: turning a new file to WAL needs its lock, which a relay starting
        # beside this one may hold ("database is locked" at once, without the wait)
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (Alembic, programmatically).

    Relays starting together migrate one at a time: the version check and the DDL run in
    one transaction that first takes a lock (PostgreSQL: an advisory lock; SQLite: the
    write lock, at BEGIN IMMEDIATE), so the second finds the schema at head."""
    from alembic import command

    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect().execution_options(**IMMEDIATE) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def alembic_config(connection: Any = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config
