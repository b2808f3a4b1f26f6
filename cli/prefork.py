"""Run `hongbao` commands in processes forked from one that has already imported the CLI.

A new Python process spends 0.4-1.2 s importing SQLAlchemy, the ratchet libraries, Rich
and the rest before a command starts, and the demo and the tests run hundreds of
commands. A zygote (a single-threaded server started once, with every module the
commands use already imported) forks a child per command instead. Each command still
runs in a process of its own, with its own argv, environment, working directory,
stdin/stdout/stderr, signals and exit status, as `python -m cli.main ARGS` would; it
just starts in milliseconds.

    with Zygote() as zygote:
        done = zygote.run(["wallet", "list", "--json"], env=env, capture_output=True, text=True)
        watch = zygote.popen(["chat", "watch"], env=env, stdout=subprocess.PIPE)

The request carries the child's three standard streams as file descriptors
(SCM_RIGHTS), so pipes, files and /dev/null work as with `subprocess`. The zygote
answers with the child's pid, then its wait status. It exits when the process that
started it closes its stdin (or dies). Linux and other Unixes with fork; `available()`
says whether it can be used, and callers fall back to a plain subprocess otherwise.

What differs from a fresh interpreter: interpreter-wide settings fixed at start-up
(hash seed, `-X` options, the standard streams' encoding) are the zygote's, and modules
are already in `sys.modules` (so "this command must not import web3" is checked with a
real subprocess). The child's `/proc/PID/cmdline` is the zygote's, not the command's.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import gc
import importlib
import io
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from cli.sockio import recv_exactly

PEER = "the prefork zygote (did it exit?)"  # named in the error when it closes mid-message

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wallet", "messaging", "contracts", "cli", "node")
SKIP = {"cli.demo", "cli.prefork"}  # not commands: the demo runs the zygote; this is it
READY = b"ready\n"
# The socket of a zygote another process runs, for the demo to fork its commands from (the
# test suite's controller starts one that its workers and the demo tests share).
SOCKET_ENV = "HONGBAO_PREFORK_SOCKET"
_PID = struct.Struct("!i")
_STATUS = struct.Struct("!ii")  # (pid, wait status)


def available() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "darwin"


# -- the zygote (server side) -------------------------------------------------------------


def _modules_to_warm() -> list[str]:
    """Our modules and every module they import, also the ones imported inside functions
    (commands import lazily, to keep `hongbao --help` fast: that laziness is what a
    command would pay for at its start)."""
    ours: list[str] = []
    theirs: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name in SKIP:
                continue
            ours.append(name)
            for node in ast.walk(ast.parse(path.read_bytes())):
                if isinstance(node, ast.Import):
                    theirs.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    theirs.add(node.module)
    return ours + sorted(theirs - set(ours))


# Imported by libraries on first use, not at their import: each command paid for them again
# (found by profiling the forked commands: httpcore + h11 alone ~45 ms a command).
FIRST_USE = ("httpcore", "h11", "encodings.idna", "certifi", "Crypto.Cipher._mode_ctr", "rich._emoji_codes")


def warm() -> None:
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 50, 50)  # imports make objects that live on: young collections freed nothing
    for name in [*_modules_to_warm(), *FIRST_USE]:
        with contextlib.suppress(Exception):  # optional extras, platform-specific modules
            importlib.import_module(name)
    from messaging.client import tls_context

    tls_context()  # the CA bundle, parsed once here instead of once per command
    _exercise()
    # What the zygote holds now is shared by every fork: frozen, the children's collections
    # neither walk it nor touch its pages (which would copy them, page by page, in each child).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)  # a command's garbage is young: collected soon, in few pages


def _exercise() -> None:
    """Open the two local stores once, here: SQLAlchemy fills caches on first use (memoized
    attributes of tables and columns, result processors, dialect set-up) that every fork would
    otherwise fill again; measured, a forked command's first store open drops from ~55 to ~30 ms."""
    from messaging.store import MessageStore
    from wallet.history import History

    with tempfile.TemporaryDirectory() as folder:
        store = MessageStore(Path(folder) / "messages.sqlite", bytes(32), "0x" + "00" * 20)
        try:
            store.contacts(), store.groups(), store.conversations(), store.pending_copies()
        finally:
            store.close()
        history = History(Path(folder) / "history.sqlite")
        try:
            history.pending(1, "0x" + "00" * 20), history.tokens(1), history.get_cursor(1, "warm")
        finally:
            history.close()


def _child(request: dict[str, Any], fds: list[int], keep_closed: Sequence[int]) -> None:
    """In the forked child: become the command. Never returns."""
    code = 1
    try:
        for fd in keep_closed:
            with contextlib.suppress(OSError):
                os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if request.get("setsid"):
            os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["hongbao", *request["argv"]]
        if os.environ.get("PYTHONUNBUFFERED"):
            for stream in (sys.stdout, sys.stderr):
                if isinstance(stream, io.TextIOWrapper):
                    stream.reconfigure(line_buffering=True, write_through=True)
        code = _run_command(request["argv"])
    finally:
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _run_command(argv: list[str]) -> int:
    from cli.main import main

    try:
        main(argv)
    except SystemExit as done:
        if done.code is None:
            return 0
        if isinstance(done.code, int):
            return done.code
        print(done.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # die of SIGINT, as an interpreter does on an uncaught ^C
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # noqa: BLE001  an uncaught exception, printed as the interpreter would
        import traceback

        traceback.print_exc()
        return 1
    return 0


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < 4:
        raise ConnectionError("short request")
    (size,) = struct.unpack("!I", data[:4])
    body = bytearray(data[4:])
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("truncated request")
        body += chunk
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ConnectionError("a request carries exactly three file descriptors")
    return json.loads(body), fds


def serve(path: str) -> None:
    """The zygote's loop: accept a request, fork its command, report its exit status."""
    warm()
    if threading.active_count() != 1:
        raise SystemExit("prefork: importing the modules started a thread; forking would not be safe")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".binding")
    os.chmod(path + ".binding", 0o600)
    listener.listen(64)
    os.rename(path + ".binding", path)  # the path appears listening (Zygote.attach waits for it)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    waiting: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":  # EOF: whoever started us is done
                return
            if key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(waiting)
                continue
            conn, _ = listener.accept()
            try:
                request, fds = _recv_request(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                keep_closed = [listener.fileno(), wake_r, wake_w, sys.stdin.fileno(), sys.stdout.fileno()]
                keep_closed += [c.fileno() for c in waiting.values()]
                conn.close()
                _child(request, fds, keep_closed)
            for fd in fds:
                os.close(fd)
            waiting[pid] = conn
            with contextlib.suppress(OSError):
                conn.sendall(_PID.pack(pid))
            _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(_STATUS.pack(pid, status))
            conn.close()


# -- the client side ----------------------------------------------------------------------


class Zygote:
    """A running zygote; `run` and `popen` mirror `subprocess.run` and `subprocess.Popen`."""

    def __init__(self, python: str = sys.executable) -> None:
        self._folder = tempfile.mkdtemp(prefix="hongbao-prefork-")
        self.path = os.path.join(self._folder, "zygote.sock")
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [python, "-m", "cli.prefork", self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")},
        )
        if self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("the zygote's pipes were not created")
        self._to_zygote, self._from_zygote = self._process.stdin, self._process.stdout
        self._ready = False  # it imports for a few seconds; the first command waits for it
        self._attach_deadline = 0.0

    @classmethod
    def attach(cls, path: str, timeout: float = 120.0) -> Zygote:
        """A zygote another process started and will stop (one per test session, shared by
        its workers): ready once its socket appears, which it does only when listening."""
        attached = cls.__new__(cls)
        attached.path, attached._process, attached._ready = path, None, False
        attached._attach_deadline = time.monotonic() + timeout
        return attached

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if self._process is None:
            self._wait_attached()
            return
        line = self._from_zygote.readline()
        if line != READY:
            self.close()
            raise RuntimeError(f"the prefork zygote did not start (it said {line!r})")
        self._ready = True

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_attached(self) -> None:
        delay = 0.01
        while not os.path.exists(self.path):  # polling a condition with a deadline, not a fixed wait
            if time.monotonic() > self._attach_deadline:
                raise RuntimeError(f"no prefork zygote appeared at {self.path}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        self._ready = True

    def close(self) -> None:
        if self._process is None:
            return  # attached: its owner stops it
        if self._process.poll() is None and not self._ready:
            self._process.kill()  # still importing, never used: nothing of its own to finish
        if self._process.poll() is None:
            self._to_zygote.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._from_zygote.close()
        for leftover in (self.path, self.path + ".binding"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        with contextlib.suppress(OSError):
            os.rmdir(self._folder)

    def popen(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None = None,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
        start_new_session: bool = False,
    ) -> Forked:
        self._wait_ready()
        request = {"argv": list(argv), "env": dict(env), "cwd": str(cwd or os.getcwd()), "setsid": start_new_session}
        return Forked(self.path, request, stdin, stdout, stderr, text)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None = None,
        input: str | bytes | None = None,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        capture_output: bool = False,
        text: bool = False,
        timeout: float | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[Any]:
        if capture_output:
            stdout = stderr = subprocess.PIPE
        if input is not None:
            stdin = subprocess.PIPE
        with self.popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr, text=text) as process:
            try:
                out, err = process.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
        done = subprocess.CompletedProcess(["hongbao", *argv], process.wait(), out, err)
        if check:
            done.check_returncode()
        return done


def _open_stream(spec: int | IO[Any] | None, reading: bool) -> tuple[int, int | None]:
    """(fd for the child, our end of a pipe or None)."""
    if spec == subprocess.PIPE:
        r, w = os.pipe()
        return (r, w) if reading else (w, r)
    if spec is None:
        return os.dup(0 if reading else 1), None  # inherit, as subprocess does
    if spec == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDONLY if reading else os.O_WRONLY), None
    if isinstance(spec, int):
        return os.dup(spec), None
    return os.dup(spec.fileno()), None


class Forked:
    """A command running in a child of the zygote: the parts of `subprocess.Popen` tests use."""

    def __init__(
        self,
        path: str,
        request: dict[str, Any],
        stdin: int | IO[Any] | None,
        stdout: int | IO[Any] | None,
        stderr: int | IO[Any] | None,
        text: bool,
    ) -> None:
        self.args = ["hongbao", *request["argv"]]
        self.returncode: int | None = None
        child_in, mine_in = _open_stream(stdin, reading=True)
        child_out, mine_out = _open_stream(stdout, reading=False)
        if stderr == subprocess.STDOUT:
            child_err, mine_err = os.dup(child_out), None
        else:
            child_err, mine_err = _open_stream(stderr, reading=False)
        self._control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._control.connect(path)
            body = json.dumps(request).encode()
            socket.send_fds(self._control, [struct.pack("!I", len(body)) + body], [child_in, child_out, child_err])
            self.pid = _PID.unpack(recv_exactly(self._control, _PID.size, PEER))[0]
        finally:
            for fd in (child_in, child_out, child_err):
                os.close(fd)
        self.stdin = _wrap(mine_in, "wb", text)
        self.stdout = _wrap(mine_out, "rb", text)
        self.stderr = _wrap(mine_err, "rb", text)

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.returncode is None:
            self.wait()
        self._control.close()

    def poll(self) -> int | None:
        if self.returncode is None:
            self._control.setblocking(False)
            try:
                self._read_status()
            except BlockingIOError:
                pass
            finally:
                self._control.setblocking(True)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._control.settimeout(timeout)
            try:
                self._read_status()
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            finally:
                self._control.settimeout(None)
        if self.returncode is None:
            raise RuntimeError("the zygote reported no exit status")
        return self.returncode

    def _read_status(self) -> None:
        _pid, status = _STATUS.unpack(recv_exactly(self._control, _STATUS.size, PEER))
        self.returncode = os.waitstatus_to_exitcode(status)

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, input: str | bytes | None = None, timeout: float | None = None) -> tuple[Any, Any]:
        """Feed stdin, read stdout and stderr to their ends, wait; as Popen.communicate."""
        results: dict[str, Any] = {}
        readers = []
        for name in ("stdout", "stderr"):
            stream = getattr(self, name)
            if stream is not None and not stream.closed:
                reader = threading.Thread(target=lambda n=name, s=stream: results.__setitem__(n, s.read()), daemon=True)
                reader.start()
                readers.append(reader)
        if self.stdin is not None and not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                if input:
                    self.stdin.write(input)
                self.stdin.close()
        self.wait(timeout)
        for reader in readers:
            reader.join()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        return results.get("stdout"), results.get("stderr")


def _wrap(fd: int | None, mode: str, text: bool) -> IO[Any] | None:
    if fd is None:
        return None
    raw = os.fdopen(fd, mode)
    if not text:
        return raw
    return io.TextIOWrapper(raw, encoding="utf-8", line_buffering="w" in mode, write_through="w" in mode)


if __name__ == "__main__":
    serve(sys.argv[1])
