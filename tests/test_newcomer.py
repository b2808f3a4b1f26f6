"""What a newcomer meets at a terminal: the recovery phrase cleared and asked back, ^C ending
with a newline, empty cells that say what they mean, `token add` asking before it replaces."""

from __future__ import annotations

import fcntl
import os
import pty
import random
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import PASSWORD

from cli.services import recovery

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_positions_and_answers():
    rng = random.Random(7)
    chosen = recovery.positions(12, rng=rng)
    assert len(set(chosen)) == 3 and chosen == sorted(chosen) and all(1 <= n <= 12 for n in chosen)
    words = [
        "abandon",
        "ability",
        "able",
        "about",
        "above",
        "absent",
        "absorb",
        "abstract",
        "absurd",
        "abuse",
        "access",
        "accident",
    ]
    assert recovery.wrong(words, {1: " Abandon ", 3: "able"}) == []
    assert recovery.wrong(words, {2: "able", 12: "accident"}) == [2]


def _own_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as at a shell's prompt (pytest may ignore it)
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`hongbao ...` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
            preexec_fn=_own_terminal,  # a session whose terminal is the pty: ^C works
        )
        os.close(slave)
        self.seen = ""

    def read_until(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in ANSI.sub("", self.seen):
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no {text!r} within {timeout} s; the screen so far: {self.seen!r}"
            try:
                self.seen += os.read(self.master, 65536).decode(errors="replace")
            except OSError:  # the program exited
                assert text in ANSI.sub("", self.seen), f"exited without {text!r}: {self.seen!r}"
        return ANSI.sub("", self.seen)

    def wait_reading(self, timeout: float = 10) -> None:
        """Until the program is blocked reading its terminal (fd 0): a signal sent earlier, in
        the instant between the prompt and the read, would be taken before the read starts."""
        deadline = time.monotonic() + timeout
        while not Path(f"/proc/{self.process.pid}/syscall").read_text().startswith("0 0x0 "):
            assert time.monotonic() < deadline, "the program never waited for input"
            time.sleep(0.005)  # polling a condition with a deadline, not a fixed wait

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code


@pytest.fixture
def terminal_env(hongbao_home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
    env.update(HONGBAO_HOME=str(hongbao_home), HONGBAO_PASSWORD=PASSWORD, TERM="xterm", COLUMNS="100")
    return env


@pytest.mark.slow
def test_create_clears_the_phrase_and_asks_three_words_back(terminal_env):
    term = Terminal("wallet", "create", "--kdf", "interactive", env=terminal_env)
    screen = term.read_until("Press Enter once the phrase is written down")
    words = dict(re.findall(r"(\d+)\. ([a-z]+)", screen))
    assert len(words) == 12
    term.type("\r")
    screen = term.read_until("word #")
    assert recovery.CLEAR_SCREEN in term.seen  # the phrase is cleared from the screen (and scrollback)
    asked = [int(n) for n in re.findall(r"#(\d+)", screen.split("To check your copy")[-1].split("\n")[0])]
    assert len(asked) == 3
    term.type("wrong\r")  # the first answer is wrong: the phrase is shown again
    for n in asked[1:]:
        term.read_until(f"word #{n}")
        term.type(words[str(n)] + "\r")
    term.read_until("here is the phrase again")
    term.read_until("Press Enter once the phrase is written down")
    term.seen = ""
    term.type("\r")
    screen = term.read_until("word #")
    asked = [int(n) for n in re.findall(r"#(\d+)", screen.split("To check your copy")[-1].split("\n")[0])]
    for n in asked:
        term.read_until(f"word #{n}")
        term.type(words[str(n)] + "\r")
    assert "Your copy matches" in term.read_until("Your copy matches")
    assert term.close() == 0


@pytest.mark.slow
def test_ctrl_c_at_a_prompt_ends_the_line(terminal_env):
    term = Terminal("wallet", "create", "--kdf", "interactive", env=terminal_env)
    term.read_until("Press Enter once the phrase is written down")
    term.wait_reading()
    term.type("\x03")
    screen = term.read_until("error:")
    assert term.close() == 1
    assert re.search(r"written down: ?(\^C)?\r?\n\r?error: ", screen), screen


def test_empty_cells_say_what_they_mean(cli, hongbao_home):
    import secrets as random_bytes

    from conftest import quick_wallet

    from messaging import payloads
    from messaging.chat import Messenger
    from wallet import keyring

    quick_wallet(hongbao_home)
    key = keyring.WalletStore(hongbao_home).open("default").unlock(PASSWORD).private_key(0)
    bob, carol = "0x" + "b0" * 20, "0x" + "c0" * 20
    with Messenger.open(hongbao_home, key) as m:
        m.store.add_contact(bob)
        m.store.add_contact(carol, "carol")
        m.store.add_outgoing(bob, random_bytes.token_bytes(16), payloads.Text("hi"), 1_700_000_000_000, copies={})
    listed = " ".join(cli("contacts", "list").stdout.split())
    assert "(no name)" in listed and listed.count("not verified") == 2
    inbox = cli("chat", "inbox", "--no-fetch").stdout
    assert re.search(r"unread +0 *\n", inbox), inbox  # no unread: 0, not an empty cell


def test_token_add_asks_before_replacing_a_symbol(cli, anvil, hongbao_home):
    from test_transfers import one_line_error, point_local_at

    point_local_at(hongbao_home, anvil)
    first = cli.json("token", "deploy-test", "--symbol", "TKN")["address"]
    second = cli.json("token", "deploy-test", "--symbol", "TKN")["address"]  # TKN now means the second
    error = one_line_error(cli("token", "add", first, check=False), "pass --yes")
    assert second in error
    assert cli.json("token", "list") == [{"symbol": "TKN", "address": second, "decimals": 18}]
    cli("token", "add", first, "--yes")
    assert cli.json("token", "list") == [{"symbol": "TKN", "address": first, "decimals": 18}]
    cli("token", "add", first)  # the same token again: nothing to ask
