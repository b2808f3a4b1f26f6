"""Shared fixtures. Every test gets its own HONGBAO_HOME; nothing touches the real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"
PASSWORD = "correct horse battery staple"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def load_vector(name: str):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def hongbao_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HONGBAO_HOME", str(home))
    for var in ("HONGBAO_PASSWORD", "HONGBAO_NEW_PASSWORD", "HONGBAO_KEYSTORE_PASSWORD", "HONGBAO_BIP39_PASSPHRASE", "HONGBAO_WALLET"):
        monkeypatch.delenv(var, raising=False)
    return home


class Cli:
    """Runs the real `hongbao` entry point in a subprocess, as a user or script would."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        self.env["HONGBAO_HOME"] = str(home)
        self.env["HONGBAO_PASSWORD"] = PASSWORD

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"hongbao {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture
def cli(hongbao_home) -> Cli:
    return Cli(hongbao_home)
