"""The local chain: an anvil process (from npm) run in the background for `hongbao chain`.

Its files live in `<home>/chain/`: `anvil.pid`, `anvil.log`, and `state.json`, which anvil
loads at start and dumps at a clean stop and every few seconds, so balances survive
`down`/`up` (and a crash loses at most the last interval).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import WalletError
from .process import (
    PRIVATE,
    alive,
    child_environment,
    free_port,
    listener_args,
    port_free,
    private_file,
    private_log,
    runs,
    stop,
)
from .rpc import Rpc, RpcUnreachable, to_int

ANVIL_ENV = "HONGBAO_ANVIL"
STATE_INTERVAL_S = 5
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


class ChainError(WalletError):
    pass


def find_anvil() -> str:
    """The anvil binary: $HONGBAO_ANVIL, the checkout's node_modules, or PATH."""
    explicit = os.environ.get(ANVIL_ENV)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ChainError(f"{ANVIL_ENV}={explicit} is not an executable file")
        return explicit
    bundled = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "anvil"
    if os.access(bundled, os.X_OK):
        return str(bundled)
    found = shutil.which("anvil")
    if found:
        return found
    raise ChainError(
        f"anvil is not installed: run `npm ci` in the Hongbao checkout (or `make setup`), or set {ANVIL_ENV}"
    )


def wait_until_answers(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = START_TIMEOUT_S
) -> int:
    """Poll eth_chainId until it answers (returns the chain id) or the deadline passes."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    with Rpc(url, timeout=2) as rpc:
        while True:
            if process is not None and process.poll() is not None:
                raise ChainError(f"anvil exited with status {process.returncode} while starting")
            try:
                return to_int(rpc.call("eth_chainId"))
            except RpcUnreachable:
                if time.monotonic() > deadline:
                    raise ChainError(f"anvil did not answer on {url} within {timeout:.0f} s") from None
            time.sleep(delay)  # polling a condition with a deadline, not a fixed wait
            delay = min(delay * 2, 0.2)


def _is_anvil(pid: int) -> bool:
    return runs(pid, b"anvil")


@dataclass(frozen=True, slots=True)
class Status:
    running: bool
    pid: int | None
    url: str
    chain_id: int | None = None
    block: int | None = None
    owner: str | None = None  # answering, but not this home's chain: whose it is


class LocalChain:
    def __init__(self, home: Path, port: int, *, chain_id: int = 31337) -> None:
        self.folder = Path(home) / "chain"
        self.port = port
        self.chain_id = chain_id
        self.pid_file = self.folder / "anvil.pid"
        self.log_file = self.folder / "anvil.log"
        self.state_file = self.folder / "state.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _pid(self) -> int | None:
        try:
            text = self.pid_file.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return int(text)
        except ValueError:
            raise ChainError(f"{self.pid_file} is damaged; remove it and run the command again") from None

    def _live_pid(self) -> int | None:
        """The pid of our running anvil; ChainError for a stale pid file."""
        pid = self._pid()
        if pid is None:
            return None
        if not (alive(pid) and _is_anvil(pid)):
            raise ChainError(
                f"stale pid file {self.pid_file} (process {pid} is not anvil); run `hongbao chain down` to clean it up"
            )
        return pid

    def occupant(self) -> str | None:
        """Who holds our port when it is not our anvil: "the local chain of HOME (pid N)",
        "an anvil with no saved state (pid N)", or None when no anvil listens there."""
        found = listener_args(self.port, b"anvil")
        if found is None:
            return None
        pid, args = found
        if pid == self._pid():
            return None
        state = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--state"), None)
        if state is None:
            return f"an anvil with no saved state (pid {pid})"
        return f"the local chain of {Path(state).parent.parent} (pid {pid})"

    def up(self) -> Status:
        pid = self._live_pid()
        if pid is not None:
            return self.status()
        if not port_free(self.port):
            other = self.occupant()
            who = f"by {other}" if other else "by another program"
            raise ChainError(
                f"port {self.port} is in use {who}; stop it or choose another port (`hongbao chain up --port N`)"
            )
        binary = find_anvil()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = [
            binary,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--state",
            str(self.state_file),
            "--state-interval",
            str(STATE_INTERVAL_S),
        ]
        with private_log(self.log_file) as log:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=child_environment(),  # no HONGBAO_PASSWORD in anvil
                umask=PRIVATE,  # its state file too
            )
        try:
            wait_until_answers(self.url, process)
        except ChainError as error:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            raise ChainError(f"{error}; see {self.log_file}") from None
        private_file(self.pid_file, f"{process.pid}\n")
        return self.status()

    def down(self) -> bool:
        """Stop anvil (state is dumped on SIGTERM). False if it was not running; ChainError
        when the chain on our port is another home's (never stopped from here)."""
        pid = self._pid()
        if pid is None:
            other = self.occupant()
            if other is not None:
                raise ChainError(
                    f"this home has no chain running; port {self.port} is used by {other}: stop it from there"
                )
            return False
        if not (alive(pid) and _is_anvil(pid)):
            self.pid_file.unlink(missing_ok=True)  # stale: clean up, nothing to stop
            return False
        stop(pid, b"anvil", STOP_TIMEOUT_S)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> Status:
        pid = self._pid()
        if pid is not None and not (alive(pid) and _is_anvil(pid)):
            return Status(False, pid, self.url)
        try:
            with Rpc(self.url, timeout=2) as rpc:
                chain_id, block = rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
        except (RpcUnreachable, WalletError):
            return Status(False, pid, self.url)
        owner = self.occupant() if pid is None else None
        if pid is None and owner is None:
            owner = "a program this home did not start"
        return Status(True, pid, self.url, to_int(chain_id), to_int(block), owner)


# anvil's first dev account (from the public "test test ... junk" phrase): local faucet only.
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def spawn_ephemeral(*extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A throw-away anvil on a free port, no state file (tests, benchmarks): (process, url)."""
    port = free_port()
    process = subprocess.Popen(
        [find_anvil(), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra],
        env=child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url, process)
    except BaseException:
        terminate(process)
        raise
    return process, url


def terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
