"""Shared fixtures. Every test gets its own HONGBAO_HOME; nothing touches the real one."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Importing and collecting the suite makes objects that live for the whole run: collecting
# the young generation every 700 allocations found nothing to free (collection 3.0 -> 2.5 s
# of CPU in each worker). After collection the heap is frozen (pytest_collection_finish).
gc.set_threshold(50_000, 50, 50)

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


# -- the real `hongbao` entry point, in a process of its own ---------------------------------

_zygote = None


def hongbao_run(args, **kwargs) -> subprocess.CompletedProcess:
    """`subprocess.run(["python", "-m", "cli.main", *args], **kwargs)`, in a process forked
    from a zygote that has the CLI imported already (cli/prefork.py): the same process
    boundary, argv, environment, streams and exit status, without ~1 s of imports per
    command. HONGBAO_TEST_SUBPROCESS=1 runs a fresh interpreter per command instead."""
    zygote = _get_zygote()
    if zygote is None:
        return subprocess.run([sys.executable, "-m", "cli.main", *args], **kwargs)
    return zygote.run(args, **kwargs)


def hongbao_popen(args, **kwargs):
    """`subprocess.Popen` of the entry point (for `chat watch` and other long runs)."""
    zygote = _get_zygote()
    if zygote is None:
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args], **kwargs)
    return zygote.popen(args, **kwargs)


def _get_zygote():
    global _zygote
    from cli import prefork

    if os.environ.get("HONGBAO_TEST_SUBPROCESS") or not prefork.available():
        return None
    if _zygote is None:
        shared = os.environ.get(prefork.SOCKET_ENV)
        _zygote = prefork.Zygote.attach(shared) if shared else prefork.Zygote()
    return _zygote


def pytest_sessionstart(session):
    """Start the zygote importing now, beside the first tests, instead of when the first
    command needs it. In xdist's controller: one zygote for the session, which its workers
    (spawned after this hook, inheriting the variable) share, instead of warming up one each
    (~4 s of CPU apiece)."""
    from cli import prefork

    running_workers = getattr(session.config.option, "numprocesses", None) and not hasattr(
        session.config, "workerinput"
    )
    zygote = _get_zygote()
    if running_workers and zygote is not None:
        os.environ[prefork.SOCKET_ENV] = zygote.path


def pytest_collection_finish(session):
    """Everything imported and collected so far lives for the whole run: freeze it, so the
    collector stops walking it again and again (with the threshold set above, measured on
    the relay/ratchet/payload tests: GC time 7.3 s -> 5.7 s, wall -10%)."""
    gc.freeze()


def pytest_sessionfinish(session, exitstatus):
    if _zygote is not None:
        _zygote.close()
    support = sys.modules.get("test_node_support")
    if support is not None:
        support.drop_shared_schema()


class Cli:
    """Runs the real `hongbao` entry point in a process of its own, as a user or script would."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        self.env["HONGBAO_HOME"] = str(home)
        self.env["HONGBAO_PASSWORD"] = PASSWORD

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        result = hongbao_run(
            args,
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


class Person:
    """One user: a HONGBAO_HOME of their own, driven through the real entry point."""

    address = ""

    def __init__(self, cli: Cli, home: Path, name: str) -> None:
        self.cli, self.home, self.name = cli, home, name

    def env(self) -> dict[str, str]:
        return {**self.cli.env, "HONGBAO_HOME": str(self.home)}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = hongbao_run(args, check=False, input="", capture_output=True, text=True, env=self.env(), timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name}: hongbao {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def popen(self, *args: str, **kwargs):
        """A long-running command (`chat watch`): stdout and stderr piped, text."""
        options = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        return hongbao_popen(args, env=self.env(), **{**options, **kwargs})

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def fails(self, *args: str) -> str:
        """Exit 1 with exactly one line on stderr, `error: ...`, and no traceback."""
        result = self(*args, check=False)
        assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]


# -- wallets for tests about something else -------------------------------------------------

MIN_ARGON2ID = (1, 8192)  # libsodium's minimum cost


def quick_wallet(home: Path, phrase: str | None = None, *, name: str = "default", accounts: int = 1) -> str:
    """Create wallet `name` in `home` as `wallet create` does, but sealed at the minimum
    Argon2id cost, so every later command unlocks it in ~1 ms instead of ~0.25 s
    (`--kdf interactive`). For tests about chats, packets and money, not about the vault
    (whose own tests use the real presets). Returns the first account's address."""
    from wallet import bip39, keyring, vault

    presets = vault.ARGON2ID_PRESETS
    presets["test-minimum"] = MIN_ARGON2ID
    try:
        unlocked = keyring.WalletStore(home).create_from_mnemonic(
            name, phrase or bip39.generate(12), PASSWORD, preset="test-minimum", accounts=accounts
        )
    finally:
        del presets["test-minimum"]
    return unlocked.accounts[0].address


# -- a real anvil: one process per worker, a clean chain per test ---------------------------

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
    """An anvil process of the caller's own (tests about processes, or other options)."""
    from wallet import localchain

    process, url = localchain.spawn_ephemeral(*extra)
    return Anvil(url, process)


def stop_anvil(node: Anvil) -> None:
    from wallet import localchain

    localchain.terminate(node.process)


@pytest.fixture(scope="session")
def shared_anvil():
    """One anvil per worker, at its genesis state between tests (see `anvil`)."""
    node = start_anvil()
    try:
        yield node
    finally:
        stop_anvil(node)


@pytest.fixture
def anvil(shared_anvil):
    """A real anvil at genesis: the worker's process, reverted to a snapshot after the test
    (state, blocks, clock and all; ~1 ms instead of a new process). Pending transactions are
    dropped and automining is switched back on."""
    rpc = shared_anvil.rpc()
    snapshot = rpc.call("evm_snapshot")
    try:
        yield shared_anvil
    finally:
        rpc.call("anvil_dropAllTransactions")
        assert rpc.call("evm_revert", snapshot) is True, "the chain could not be reverted for the next test"
        rpc.call("evm_setAutomine", True)  # (evm_setIntervalMining(0) would mean "manual", not "off")
        rpc.close()


# -- the edit loop: `make test-fast` runs what needs no process ------------------------------

# A test that uses one of these starts (or talks to) a process: anvil, a relay, PostgreSQL,
# the `hongbao` command. It is marked `slow`, as is every test marked so by hand.
PROCESS_FIXTURES = {"cli", "shared_anvil", "relay", "live", "pg_url", "served"}
# The longest tests start first, so two workers finish together instead of one waiting
# on a long test it picked up last.
LONGEST_FIRST = ("test_demo.py", "test_app.py", "test_relay_schemathesis.py", "test_watch_cli.py", "test_packet_cli.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if PROCESS_FIXTURES & set(item.fixturenames) or "postgres" in params.values():
            item.add_marker(pytest.mark.slow)

    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept


# Hypothesis: `make test-fast` runs property tests with fewer examples (HYPOTHESIS_PROFILE=
# fast); `make test` and CI use the default counts, and tests that set their own keep them.
# One example may take up to a second (not Hypothesis's 200 ms): three workers share two
# cores with relays and anvil, and a slow example there is load, not a bug.
settings.register_profile("suite", deadline=1000)
settings.register_profile("fast", settings.get_profile("suite"), max_examples=15)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
