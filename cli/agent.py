"""The unlock session's agent: `hongbao unlock` starts it, `hongbao lock` (or its clock) ends it.

Like ssh-agent: a process of its own, holding one unlocked wallet in memory, listening on
a Unix socket `HONGBAO_HOME/agent/agent.sock` (mode 0600, in a 0700 folder) and serving
only callers of its own uid (SO_PEERCRED). It never hands out a key: a caller sends a
command line (cli/agent_client.py) and the agent forks that command from its own warmed
process, where the keys already are, with the caller's argv, environment and standard
streams; the caller gets back an exit status. Only commands that sign, chat or read run
here (ALLOWED_GROUPS, ALLOWED_VERBS); `wallet reveal`, `export-keystore` and the rest
fall back to the password in the caller's process. It listens at once and imports the
commands' modules a few at a time while nobody waits, then freezes its heap.

Every `--alerts-every`, it forks `hongbao security check` (a cursor of its own) into
agent/alerts.log; the next command it runs shows what was found on its stderr.

The session's spend limit is counted here, in the parent: before a command signs a
transaction, its outflow (wallet/outflow.py) is sent over a private socket pair and the
parent answers yes (and counts it) or no. A command cannot raise its own limit: the
limits and the tally live in the parent's memory.

The process is made undumpable (no core files, no ptrace by other processes of the
uid without CAP_SYS_PTRACE) and exits at its deadline, killing commands still running.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import agent_client

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet
    from wallet.outflow import Limit, Tally

# Commands the agent runs: a group (every verb) or (group, verb).
ALLOWED_GROUPS = {
    "balance",
    "send",
    "tx",
    "sync",
    "chat",
    "contacts",
    "group",
    "relay",
    "packet",
    "token",
    "vault",
    "contract",
    "security",
}
ALLOWED_VERBS = {("wallet", v) for v in ("list", "address", "sign-message", "sign-typed-data", "sign-tx", "label")}
REFUSED_VERBS = {("security", "totp")}  # shows a secret once: only with the password
ALERTS_LOG = "alerts.log"  # what the agent's own looks for alerts found, one JSON line each


def allowed(argv: list[str]) -> bool:
    words = [a for a in argv if not a.startswith("-")][:2]
    if not words:
        return False
    pair = (words[0], words[1] if len(words) > 1 else "")
    if pair in REFUSED_VERBS:
        return False
    return words[0] in ALLOWED_GROUPS or pair in ALLOWED_VERBS


# -- what a command forked from the agent sees -------------------------------------------------


@dataclass
class Session:
    wallet: UnlockedWallet
    expires_at: float
    limits: list[Limit]
    tally: Tally
    ledger: socket.socket | None = None  # in a forked command: its line to the parent
    started_at: float = field(default_factory=time.time)

    def status(self) -> dict[str, Any]:
        return {
            "wallet": self.wallet.wallet.name,
            "pid": os.getpid(),
            "expires_at": int(self.expires_at),
            "limits": [limit.shown for limit in self.limits],
            "spent_today": {k: str(v) for k, v in self.tally.spent.items()},
        }


SESSION: Session | None = None  # set in the agent and in the commands it forks


def held(wallet_name: str) -> UnlockedWallet | None:
    """The unlocked wallet, when this process is a command run by the unlock session."""
    if SESSION is not None and SESSION.ledger is not None and SESSION.wallet.wallet.name == wallet_name:
        return SESSION.wallet
    return None


def in_session() -> bool:
    return SESSION is not None and SESSION.ledger is not None


def spend(chain_id: int, sender: str, tx: dict[str, Any]) -> None:
    """A transfers guard: ask the parent whether this outflow fits the session's limits."""
    from wallet import outflow
    from wallet.errors import WalletError

    if SESSION is None or SESSION.ledger is None or not SESSION.limits:
        return
    more = outflow.outflow(tx.get("to"), int(tx.get("value", 0)), bytes(tx.get("data", b"")))
    if not more:
        return
    SESSION.ledger.sendall(json.dumps({"outflow": more}).encode() + b"\n")
    answer = json.loads(_read_line(SESSION.ledger))
    if not answer.get("ok"):
        raise WalletError(
            f"this would pass the unlock session's spend limit ({answer.get('limit')}); "
            "nothing was signed: run `hongbao lock` and send with the password, or unlock with a higher --spend-limit"
        )


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("the unlock session ended")
        data += chunk
    return data


# -- the agent process -------------------------------------------------------------------


def _undumpable() -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _listen(home: Path) -> socket.socket:
    folder = home / agent_client.FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = agent_client.socket_path(home)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(64)
    return listener


def peer_uid(conn: socket.socket) -> int:
    return int(
        agent_client.PEERCRED.unpack(
            conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, agent_client.PEERCRED.size)
        )[1]
    )


def _answer(conn: socket.socket, pid: int, payload: dict[str, Any] | None = None) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(struct.pack("!i", pid) + (json.dumps(payload).encode() if payload is not None else b""))
    conn.close()


def _ledger_answer(session: Session, line: bytes) -> bytes:
    more = {str(k): int(v) for k, v in json.loads(line)["outflow"].items()}
    session.tally.roll(time.time())
    over = session.tally.exceeded(session.limits, more)
    if over:
        return json.dumps({"ok": False, "limit": ", ".join(limit.shown for limit in over)}).encode() + b"\n"
    session.tally.add(more)
    return b'{"ok": true}\n'


class Agent:
    """The agent's loop: accept callers, fork their commands, answer their spend requests,
    look for alerts now and then; until the deadline, `lock` or SIGTERM."""

    def __init__(self, home: Path, session: Session, listener: socket.socket, alerts_every: float) -> None:
        global SESSION
        SESSION = session
        self.home, self.session, self.listener = home, session, listener
        self.path = agent_client.socket_path(home)
        self.alerts_log = home / agent_client.FOLDER / ALERTS_LOG
        self.alerts_every = alerts_every
        self.next_alerts = time.time() + alerts_every if alerts_every else float("inf")
        self.alert_pid: int | None = None
        self.shown = 0  # how much of the alerts log the commands have shown
        self.waiting: dict[int, socket.socket] = {}  # pid -> the caller waiting for its status
        self.ledgers: dict[int, socket.socket] = {}  # pid -> its line for spend requests
        self.stop = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "child")
        self.cold = to_warm()  # imported a few at a time while nobody is waiting

    def run(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        try:
            while not self.stop:
                now = time.time()
                left = self.session.expires_at - now
                if left <= 0:
                    break
                if now >= self.next_alerts:
                    self.look_for_alerts()
                timeout = 0 if self.cold else max(min(left, 60, self.next_alerts - now), 0)
                events = self.selector.select(timeout=timeout)
                if not events and self.cold:
                    warm(self.cold)  # a command arriving meanwhile starts from what is warm so far
                for key, _ in events:
                    if key.data == "child":
                        with contextlib.suppress(BlockingIOError):
                            os.read(self.wake_r, 4096)
                        self.reap()
                    elif isinstance(key.data, tuple):
                        self.answer_spend(*key.data)
                    else:
                        self.accept()
                    if self.stop:
                        break
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            for pid in [*self.waiting, *([self.alert_pid] if self.alert_pid else [])]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def answer_spend(self, pid: int, ledger: socket.socket) -> None:
        try:
            ledger.sendall(_ledger_answer(self.session, _read_line(ledger)))
        except (OSError, ConnectionError, ValueError, KeyError):
            self.selector.unregister(ledger)
            ledger.close()
            self.ledgers.pop(pid, None)

    def forget_ledgers(self) -> None:
        for gone in [p for p in self.ledgers if p not in self.waiting]:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.ledgers[gone])
            self.ledgers.pop(gone).close()

    def accept(self) -> None:
        from . import prefork

        conn, _ = self.listener.accept()
        try:
            if peer_uid(conn) != os.getuid():
                conn.close()
                return
            request, fds = prefork._recv_request(conn)
        except (OSError, ValueError):
            conn.close()
            return
        op = request.get("op")
        argv = [str(a) for a in request.get("argv", [])]
        if op != "run" or not allowed(argv):
            for fd in fds:
                os.close(fd)
            if op == "lock":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # no new caller reaches us from now on
                self.stop = True
                _answer(conn, os.getpid())
            elif op == "status":
                self.session.tally.roll(time.time())
                _answer(conn, os.getpid(), {**self.session.status(), "warm": not self.cold})
            else:
                _answer(conn, agent_client.DECLINED)
            return
        env = {str(k): str(v) for k, v in dict(request.get("env", {})).items()}
        env["HONGBAO_HOME"] = str(self.home)
        env.pop("HONGBAO_PASSWORD", None)
        news = self.unseen_alerts()
        pid = self.fork({"argv": argv, "env": env, "cwd": str(request.get("cwd", "/"))}, fds, conn, news)
        self.waiting[pid] = conn
        with contextlib.suppress(OSError):
            conn.sendall(struct.pack("!i", pid))
        self.reap()

    def reap(self) -> None:
        """Collect finished commands (telling each caller its status) and alert looks."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == self.alert_pid:
                self.alert_pid = None
            conn = self.waiting.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(struct.pack("!ii", pid, status))
                conn.close()
        self.forget_ledgers()

    def fork(self, command: dict[str, Any], fds: list[int], conn: socket.socket | None, news: bytes = b"") -> int:
        """A child that becomes `command` with `fds` as its standard streams (it holds the
        keys: it is this process); returns its pid."""
        from . import prefork

        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            mine.close()
            self.session.ledger = theirs
            closed = [self.listener.fileno(), self.wake_r, self.wake_w]
            closed += [c.fileno() for c in [*self.waiting.values(), *self.ledgers.values()]]
            if conn is not None:
                conn.close()
            if news:
                with contextlib.suppress(OSError):
                    os.write(fds[2], news)
            prefork._child(command, fds, closed)
        theirs.close()
        for fd in fds:
            os.close(fd)
        self.ledgers[pid] = mine
        self.selector.register(mine, selectors.EVENT_READ, (pid, mine))
        return pid

    # -- alerts (the same as `hongbao security check`, with a cursor of the agent's own) ----

    def look_for_alerts(self) -> None:
        self.next_alerts = time.time() + self.alerts_every
        if self.alert_pid is not None:
            return  # the last look has not finished
        out = os.open(self.alerts_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fds = [os.open(os.devnull, os.O_RDONLY), out, os.dup(out)]
        env = {k: v for k, v in os.environ.items() if k != "HONGBAO_PASSWORD"}
        argv = ["security", "check", "--json", "--wallet", self.session.wallet.wallet.name, "--cursor", "agent"]
        self.alert_pid = self.fork({"argv": argv, "env": env, "cwd": "/"}, fds, None)

    def unseen_alerts(self) -> bytes:
        """Alerts the agent found since the last command, for that command's stderr."""
        try:
            with open(self.alerts_log, "rb") as log:
                log.seek(self.shown)
                new = log.read(1 << 16)
        except OSError:
            return b""
        self.shown += len(new)
        texts = []
        for line in new.splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                texts.append(str(json.loads(line).get("text", "")))
        return "".join(f"[unlock session] {t}\n" for t in texts if t).encode()


def main() -> None:
    """`python -m cli.agent`: reads its settings (JSON) and the password from stdin."""
    _undumpable()
    from wallet import keyring, outflow
    from wallet.errors import WalletError
    from wallet.home import home as home_dir

    settings = json.loads(sys.stdin.readline())
    password = sys.stdin.readline().rstrip("\n")
    home = home_dir()
    try:
        unlocked = keyring.WalletStore(home).open(settings["wallet"]).unlock(password)
        listener = _listen(home)
    except (WalletError, OSError) as error:
        sys.stdout.write(f"error: {error}\n")
        sys.stdout.flush()
        sys.exit(1)
    del password
    limits = [outflow.Limit.from_json(d) for d in settings.get("limits", [])]
    session = Session(unlocked, float(settings["expires_at"]), limits, outflow.Tally(outflow.day_of(time.time())))
    alerts_every = float(settings.get("alerts_every", 0))
    sys.stdout.write(f"ready {os.getpid()}\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    Agent(home, session, listener, alerts_every).run()


# The relay daemon's stack: no command the agent runs needs it.
COLD = ("node", "cli.node_cmd", "fastapi", "uvicorn", "alembic", "psycopg", "prometheus_client", "starlette")
WARM_BATCH = 8  # modules imported between two looks at the socket


def to_warm() -> list[str]:
    """What the commands import (cli/prefork.py's list, without the relay daemon's stack)."""
    from . import prefork

    return [name for name in prefork._modules_to_warm() if not name.startswith(COLD)]


def warm(names: list[str]) -> None:
    """Import (and take off `names`) a few modules; once all are in: share the TLS context
    and freeze the heap, so a command's collections never walk or copy it."""
    import gc
    import importlib

    for name in names[:WARM_BATCH]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    del names[:WARM_BATCH]
    if not names:
        _share_tls_context()
        gc.collect()
        gc.freeze()


def _share_tls_context() -> None:
    """Load the CA certificates once, here, not in every command (30-100 ms each): httpx's
    default TLS context, for the certificate settings the agent was started with
    (SSL_CERT_FILE, SSL_CERT_DIR), is shared by the commands that use the same."""
    with contextlib.suppress(Exception):
        from httpx._transports import default

        build = default.create_ssl_context

        def settings() -> tuple[str | None, str | None]:
            return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")

        shared = {settings(): build()}

        def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
            if verify is True and cert is None and trust_env and settings() in shared:
                return shared[settings()]
            return build(verify=verify, cert=cert, trust_env=trust_env)

        default.create_ssl_context = create_ssl_context


if __name__ == "__main__":  # run as cli.agent, not __main__: commands look up cli.agent.SESSION
    from cli import agent

    agent.main()
