"""The relay as a background process for `hongbao node start --detach | stop | status`,
like wallet/localchain.py does for anvil.

Its files live in `<home>/relay/`, 0600: `relay.pid` (the pid, then the URL it serves) and
`relay.log` (JSON lines). The database URL reaches the relay in its environment
(HONGBAO_RELAY_DB_URL), never its argv; no other HONGBAO_* variable than HONGBAO_HOME and
the relay's own settings is passed on (HONGBAO_PASSWORD stays with us). A pid file whose process is gone, or is not a relay, is stale:
`start` refuses it and `stop` cleans it up.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wallet import process
from wallet.process import PRIVATE, child_environment, port_free, private_file, private_log

from .settings import ENV_PREFIX, FOLDER, Settings

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
MARKER = b"node.server"  # in the relay process's command line


class DaemonError(Exception):
    pass


def _is_relay(pid: int) -> bool:
    return process.runs(pid, MARKER)


def health(url: str, timeout: float = 2.0) -> dict | None:
    import httpx

    try:
        answer = httpx.get(f"{url}/healthz", timeout=timeout)
    except httpx.HTTPError:
        return None
    try:
        return answer.json()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Status:
    running: bool
    pid: int | None
    url: str
    db: str | None = None


class RelayDaemon:
    def __init__(self, home: Path, settings: Settings) -> None:
        self.home = Path(home)
        self.settings = settings
        self.folder = self.home / FOLDER
        self.pid_file = self.folder / "relay.pid"
        self.log_file = self.folder / "relay.log"

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else f'[{host}]' if ':' in host else host}:{self.settings.port}"  # noqa: S104  maps a bind-all host to a URL we can reach

    def _read(self) -> tuple[int, str] | None:
        try:
            lines = self.pid_file.read_text().split()
        except FileNotFoundError:
            return None
        try:
            return int(lines[0]), (lines[1] if len(lines) > 1 else self.url)
        except (ValueError, IndexError):
            raise DaemonError(f"{self.pid_file} is damaged; remove it and run the command again") from None

    def _running(self, pid: int) -> bool:
        return process.alive(pid) and _is_relay(pid)

    def start(self) -> Status:
        found = self._read()
        if found is not None:
            pid, _url = found
            if not self._running(pid):
                raise DaemonError(
                    f"stale pid file {self.pid_file} (process {pid} is not a relay); run `hongbao node stop` to clean it up"
                )
            return self.status()
        if not port_free(self.settings.port, self.settings.host):
            raise DaemonError(
                f"port {self.settings.port} is in use by another program; stop it or choose another port (`hongbao node start --port N`)"
            )
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = [
            sys.executable,
            "-m",
            "node.server",
            "--home",
            str(self.home),
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
        ]
        root = str(Path(__file__).resolve().parents[1])
        env = child_environment(ENV_PREFIX)  # no HONGBAO_PASSWORD; its own settings stay
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env[ENV_PREFIX + "DB_URL"] = self.settings.db_url  # never in argv (ps shows argv to everyone)
        with private_log(self.log_file) as log:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                umask=PRIVATE,
            )
        try:
            self._wait_until_healthy(process)
        except DaemonError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            raise
        private_file(self.pid_file, f"{process.pid}\n{self.url}\n")
        return self.status()

    def _wait_until_healthy(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        delay = 0.02
        while True:
            if process.poll() is not None:
                raise DaemonError(
                    f"the relay exited with status {process.returncode} while starting; see {self.log_file}"
                )
            if health(self.url, timeout=1.0) is not None:
                return
            if time.monotonic() > deadline:
                raise DaemonError(
                    f"the relay did not answer on {self.url} within {START_TIMEOUT_S:.0f} s; see {self.log_file}"
                )
            time.sleep(delay)  # polling a condition with a deadline, not a fixed wait
            delay = min(delay * 2, 0.25)

    def stop(self) -> bool:
        """SIGTERM (uvicorn closes streams and finishes requests), SIGKILL after a while.
        False if it was not running."""
        found = self._read()
        if found is None:
            return False
        pid, _url = found
        if not self._running(pid):
            self.pid_file.unlink(missing_ok=True)  # stale: clean up, nothing to stop
            return False
        process.stop(pid, MARKER, STOP_TIMEOUT_S)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> Status:
        found = self._read()
        pid, url = found if found is not None else (None, self.url)
        if pid is not None and not self._running(pid):
            return Status(False, pid, url)
        answer = health(url)
        if answer is None:
            return Status(False, pid, url)
        return Status(True, pid, url, answer.get("db"))
