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
    for var in (
        "HONGBAO_PASSWORD",
        "HONGBAO_NEW_PASSWORD",
        "HONGBAO_KEYSTORE_PASSWORD",
        "HONGBAO_BIP39_PASSPHRASE",
        "HONGBAO_WALLET",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


class Cli:
    """Runs the real `hongbao` entry point in a subprocess, as a user or script would."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        self.env["HONGBAO_HOME"] = str(home)
        self.env["HONGBAO_PASSWORD"] = PASSWORD

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
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


# -- a real anvil per test ---------------------------------------------------------------

ANVIL_KEYS = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]


class Anvil:
    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.process = process

    def rpc(self):
        from wallet.rpc import Rpc

        return Rpc(self.url)


def start_anvil(*extra: str) -> Anvil:
    from wallet import localchain

    process, url = localchain.spawn_ephemeral(*extra)
    return Anvil(url, process)


def stop_anvil(node: Anvil) -> None:
    from wallet import localchain

    localchain.terminate(node.process)


@pytest.fixture
def anvil():
    node = start_anvil()
    try:
        yield node
    finally:
        stop_anvil(node)
