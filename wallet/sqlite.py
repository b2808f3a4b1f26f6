"""Local SQLite files (history, message stores): private, WAL, patient with other writers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from .home import ensure_private_dir


def open_engine(path: Path) -> Engine:
    """An engine on a local SQLite file, created 0600 in a 0700 folder, in WAL mode."""
    path = Path(path)
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)  # before SQLite creates it with the umask's mode
    try:
        os.fchmod(fd, 0o600)  # and narrow a file some older version left wider
    finally:
        os.close(fd)
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout=5000")  # a concurrent writer (sync vs send) waits, not fails
        cursor.execute("PRAGMA journal_mode=WAL")  # (after the timeout: switching to WAL takes the lock)
        cursor.close()

    return engine
