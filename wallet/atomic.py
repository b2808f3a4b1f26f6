"""Crash-safe file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader sees either the old file or the new one, never a mix, even after kill -9 or a
power cut. Files are created 0600 from the start (no window with wider permissions).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace (or create) `path` with `data`, atomically."""
    _publish(Path(path), data, mode, os.replace)


def create_exclusive(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create `path` atomically; FileExistsError if it exists (no overwrite race)."""
    _publish(Path(path), data, mode, os.link)


def _publish(path: Path, data: bytes, mode: int, install: Callable[[Path, Path], None]) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = folder / f"{TEMP_PREFIX}{path.name}.{secrets.token_hex(6)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # the umask may have narrowed it; never widened
        install(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)  # after os.replace the temp name is already gone
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
