"""Background processes we start and stop by pid file (the local chain, the relay)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from pathlib import Path
from typing import BinaryIO

OURS = "HONGBAO_"
PRIVATE = 0o077  # the umask of our background processes: what they create is theirs alone


def child_environment(*keep: str) -> dict[str, str]:
    """Our environment for a background process, without any HONGBAO_* variable (the
    password and whatever else a person put there) except HONGBAO_HOME and the names
    starting with one of `keep` (a relay's own HONGBAO_RELAY_* settings)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(OURS) or name == "HONGBAO_HOME" or any(name.startswith(k) for k in keep)
    }


def private_file(path: Path, text: str) -> None:
    """Write a small state file (a pid file) readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def private_log(path: Path) -> BinaryIO:
    """A log file opened for appending, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now. SO_REUSEADDR, as the servers we start
    set it: connections of a server that just stopped linger in TIME_WAIT for a minute,
    and they do not keep a new server from listening, so they must not fail the probe."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listener_args(port: int, marker: bytes) -> tuple[int, list[str]] | None:
    """A running process whose command line holds `marker` and `--port <port>`: (pid,
    its arguments). Linux (/proc) only; None elsewhere or when there is none."""
    wanted = str(port).encode()
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return None
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(marker in a for a in args[:1]) and any(
            a == b"--port" and i + 1 < len(args) and args[i + 1] == wanted for i, a in enumerate(args)
        ):
            return int(entry.name), [a.decode(errors="replace") for a in args if a]
    return None


def alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie does not: it has exited and only waits for its parent
    (for a detached program, init, which may reap it a second or more later)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False  # gone since, or no /proc (macOS): os.kill said it exists
    end = stat.rfind(b")")  # the command name is in parentheses and may hold anything
    return stat[end + 2 : end + 3] == b"Z"


def runs(pid: int, marker: bytes) -> bool:
    """Whether `pid` is alive and its command line contains `marker` (so a recycled pid
    of an unrelated program is never signalled)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return alive(pid)  # no /proc (macOS): trust the pid file


def stop(pid: int, marker: bytes, timeout: float) -> None:
    """SIGTERM (the program saves its state and exits), then SIGKILL after `timeout`."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (tests): reap it
                break
        time.sleep(0.02)  # polling the process with a deadline, not a fixed wait
    if alive(pid) and runs(pid, marker):
        os.kill(pid, signal.SIGKILL)
