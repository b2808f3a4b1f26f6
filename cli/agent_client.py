"""The client side of the unlock session: hand a command to a running agent (cli/agent.py).

Kept to the standard library's lightest modules: a command the agent runs starts here
and never imports click, web3 or SQLAlchemy in this process. The agent forks the command
from its warmed, unlocked process with this process's argv, environment, working
directory and standard streams (passed as file descriptors), and reports its pid and
then its wait status; this process forwards ^C and termination to it and exits as it did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct

from cli.sockio import recv_exactly

PEER = "the unlock session"  # named in the error when it closes mid-message

SOCKET_NAME = "agent.sock"
FOLDER = "agent"
_PID = struct.Struct("!i")
_STATUS = struct.Struct("!ii")
PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
DECLINED = 0  # the pid the agent answers for a command it does not run


def home_folder(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("HONGBAO_HOME")
    if explicit:
        return os.path.expanduser(explicit)
    from platformdirs import user_data_dir

    return user_data_dir("hongbao", appauthor=False)


def socket_path(home: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(home), FOLDER, SOCKET_NAME)


def connect(home: str | os.PathLike[str]) -> socket.socket | None:
    """A connection to the agent of `home`, or None when none is running."""
    path = socket_path(home)
    if not os.path.exists(path):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        uid = PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))[1]
    except OSError:  # a stale socket: the agent died without cleaning up
        conn.close()
        return None
    if uid != os.getuid():  # not our agent: never hand it a terminal
        conn.close()
        return None
    return conn


def request(conn: socket.socket, body: dict[str, object]) -> int:
    """Send a request with our three standard streams; the agent's first answer (a pid)."""
    data = json.dumps(body).encode()
    socket.send_fds(conn, [struct.pack("!I", len(data)) + data], [0, 1, 2])
    return int(_PID.unpack(recv_exactly(conn, _PID.size, PEER))[0])


def forward(argv: list[str]) -> int | None:
    """Run `hongbao ARGV` in the unlock session: its exit code, or None (run it here)."""
    if not argv or argv[0] in ("unlock", "lock") or not hasattr(socket, "send_fds"):
        return None
    conn = connect(home_folder())
    if conn is None:
        return None
    with conn:
        try:
            pid = request(conn, {"op": "run", "argv": argv, "env": dict(os.environ), "cwd": os.getcwd()})
        except (OSError, ConnectionError):
            return None
        if pid == DECLINED:
            return None

        def relay(number: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, relay)
        while True:
            try:
                _pid, status = _STATUS.unpack(recv_exactly(conn, _STATUS.size, PEER))
                break
            except InterruptedError:
                continue
            except ConnectionError:
                return 1
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
