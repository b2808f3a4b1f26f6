"""Where Hongbao keeps its files: `HONGBAO_HOME`, else the platform's user data folder."""

from __future__ import annotations

import os
from pathlib import Path


def home(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get("HONGBAO_HOME")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("hongbao", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
