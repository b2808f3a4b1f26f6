"""The unlock session: `hongbao unlock` starts an agent that signs and chats without the
password, never hands out a key, counts its spend limit, and ends with `hongbao lock` or
its clock. Run through the real console entry (cli.entry), in processes of their own."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest
from conftest import PASSWORD, quick_wallet
from test_transfers import one_line_error, point_local_at

from cli import agent, agent_client
from cli.agent_cmd import parse_duration
from wallet import signing
from wallet.errors import WalletError
from wallet.outflow import ETH, Limit, Tally, outflow, parse_limit

TOKEN = "0x" + "ab" * 20


def hongbao(home, *args: str, password: bool = False, input: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
    env["HONGBAO_HOME"] = str(home)
    if password:
        env["HONGBAO_PASSWORD"] = PASSWORD
    return subprocess.run(
        [sys.executable, "-m", "cli.entry", *args], input=input, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def session(hongbao_home):
    """A wallet and an unlock session on it (locked again after the test)."""
    address = quick_wallet(hongbao_home)
    yield address
    hongbao(hongbao_home, "lock")


def unlock(home, *extra: str) -> None:
    done = hongbao(home, "unlock", *extra, password=True)
    assert done.returncode == 0, done.stderr


# -- pure parts ---------------------------------------------------------------------------


def test_only_signing_chat_and_reading_commands_run_in_the_agent():
    for argv in (["chat", "send", "bob", "hi"], ["contacts", "list"], ["balance"], ["send", "0x1", "1", "--yes"]):
        assert agent.allowed(argv), argv
    for argv in (
        ["wallet", "reveal", "--yes"],
        ["wallet", "reveal", "--private-key"],
        ["wallet", "export-keystore", "--out", "k.json"],
        ["wallet", "change-password"],
        ["--wallet", "x", "wallet", "reveal"],
        ["security", "totp", "enable"],
        ["node", "start"],
        [],
    ):
        assert not agent.allowed(argv), argv


def test_outflow_counts_eth_value_token_transfers_and_approvals():
    from wallet import erc20

    transfer = erc20.transfer_data("0x" + "11" * 20, 5)
    approve = bytes.fromhex("095ea7b3") + bytes(12) + bytes.fromhex("22" * 20) + (2**256 - 1).to_bytes(32, "big")
    assert outflow("0x" + "11" * 20, 7, b"") == {ETH: 7}
    assert outflow(TOKEN, 0, transfer) == {TOKEN: 5}
    assert outflow(TOKEN, 0, approve) == {TOKEN: 2**256 - 1}
    assert outflow(None, 0, transfer) == {}  # a deployment


def test_limits_and_the_daily_tally():
    tokens = {"TKN": (TOKEN.upper().replace("0X", "0x"), 6)}
    assert parse_limit("0.5 ETH/day", {}) == Limit(ETH, 5 * 10**17, "0.5 ETH/day")
    assert parse_limit("100 tkn / day", tokens).units == 100 * 10**6
    for bad in ("0.5 ETH", "max/day", "1 XYZ/day", "0,5 ETH/day"):
        with pytest.raises(WalletError):
            parse_limit(bad, tokens)
    limit = parse_limit("1 ETH/day", {})
    tally = Tally(day=0)
    assert tally.exceeded([limit], {ETH: 6 * 10**17}) == []
    tally.add({ETH: 6 * 10**17})
    assert tally.exceeded([limit], {ETH: 6 * 10**17}) == [limit]
    assert tally.exceeded([limit], {TOKEN: 10**30}) == []  # no limit on that asset
    tally.roll(86_400 * 1.5)  # the next UTC day starts from zero
    assert tally.exceeded([limit], {ETH: 10**18}) == []


def test_durations():
    assert parse_duration("15m") == 900
    assert parse_duration("1h30m") == 5400
    assert parse_duration("45s") == 45
    for bad in ("", "15", "0m", "25h", "soon"):
        with pytest.raises(WalletError):
            parse_duration(bad)


def test_peer_uid_is_read_from_the_kernel():
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with mine, theirs:
        assert agent.peer_uid(mine) == os.getuid()


# -- the agent process ----------------------------------------------------------------------


@pytest.mark.slow
def test_unlock_signs_without_the_password_never_reveals_and_lock_ends_it(hongbao_home, session):
    unlock(hongbao_home, "--for", "10m")
    path = agent_client.socket_path(hongbao_home)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    again = hongbao(hongbao_home, "unlock", password=True)
    one_line_error(again, "already running")
    status = json.loads(hongbao(hongbao_home, "unlock", "--status", "--json").stdout)
    assert status["running"] and status["wallet"] == "default" and status["expires_at"] > time.time() + 500

    signed = hongbao(hongbao_home, "wallet", "sign-message", "hello")  # no password anywhere
    assert signed.returncode == 0, signed.stderr
    assert signing.recover_message(b"hello", signing.parse_signature(signed.stdout.strip())) == session

    for secret in (["wallet", "reveal", "--yes"], ["wallet", "reveal", "--private-key", "--yes"]):
        refused = hongbao(hongbao_home, *secret)  # not run by the agent: it needs the password
        one_line_error(refused, "no password given")

    assert hongbao(hongbao_home, "lock").returncode == 0
    assert not os.path.exists(path)
    assert json.loads(hongbao(hongbao_home, "unlock", "--status", "--json").stdout) == {"running": False}
    one_line_error(hongbao(hongbao_home, "wallet", "sign-message", "hello"), "no password given")


@pytest.mark.slow
def test_the_session_ends_on_its_own_and_a_wrong_password_starts_nothing(hongbao_home, session):
    env_bad = hongbao_home / "bad"
    env_bad.write_text("not the password\n")
    one_line_error(hongbao(hongbao_home, "unlock", "--password-file", str(env_bad)), "wrong password")
    assert agent_client.connect(hongbao_home) is None
    unlock(hongbao_home, "--for", "2s")
    deadline = time.monotonic() + 30
    while os.path.exists(agent_client.socket_path(hongbao_home)) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling for the agent's exit, not a synchronisation by sleep
    assert not os.path.exists(agent_client.socket_path(hongbao_home))


@pytest.mark.slow
def test_the_session_spend_limit_is_enforced_by_the_agent(hongbao_home, anvil, cli):
    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home)
    cli("faucet", me, "5")
    unlock(hongbao_home, "--spend-limit", "1 ETH/day")
    try:
        to = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        first = hongbao(hongbao_home, "send", to, "0.6", "--yes", "--no-wait")
        assert first.returncode == 0, first.stderr
        second = hongbao(hongbao_home, "send", to, "0.6", "--yes", "--no-wait")
        one_line_error(second, "spend limit", "1 ETH/day", after_preview=True)
        status = hongbao(hongbao_home, "send", to, "0.3", "--yes", "--no-wait")
        assert status.returncode == 0, status.stderr
        shown, code = at_a_terminal(hongbao_home, ["send", to, "0.1"], answer="n")
        assert "Sign and send? [y/N]" in shown and "sends" in shown and "0.1 ETH" in shown, shown
        assert code == 1 and "not confirmed; nothing was sent" in shown
    finally:
        hongbao(hongbao_home, "lock")


def at_a_terminal(home, argv: list[str], answer: str) -> tuple[str, int]:
    """Run `hongbao ARGV` on a pseudo-terminal; answer the first question; (what it showed, exit code)."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
    env.update({"HONGBAO_HOME": str(home), "COLUMNS": "120"})
    main, side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.entry", *argv], stdin=side, stdout=side, stderr=side, env=env
    )
    os.close(side)
    shown, answered, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the other side is closed: the command is done
                break
            if not chunk:
                break
            shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(main, answer.encode() + b"\n")
                answered = True
        elif process.poll() is not None:
            break
    os.close(main)
    return shown.decode(errors="replace").replace("\r", ""), process.wait(timeout=30)


def _by_password_file(wallet, _password):
    from cli.wallets import unlock_wallet

    return unlock_wallet(wallet, None)


def _by_app(wallet, password):
    from cli.services.frontend import unlock_with

    return unlock_with(wallet, lambda: password)


@pytest.mark.parametrize("unlock", [_by_password_file, _by_app], ids=["cli", "app and services"])
def test_a_wallet_changed_since_unlock_is_not_used_from_the_session(hongbao_home, monkeypatch, unlock):
    """The CLI's and the other front ends' unlock keep the same session rules."""
    from cli import second_factor
    from wallet import keyring, transfers
    from wallet.outflow import Tally

    monkeypatch.setattr(transfers, "GUARDS", [])  # unlocking arms them: not for the other tests here
    monkeypatch.setattr(second_factor, "CURRENT", [])
    quick_wallet(hongbao_home)
    quick_wallet(hongbao_home, name="other")
    store = keyring.WalletStore(hongbao_home)
    held = store.open("default").unlock(PASSWORD)
    mine, theirs = socket.socketpair()
    with mine, theirs:
        monkeypatch.setattr(agent, "SESSION", agent.Session(held, time.time() + 60, [], Tally(0), ledger=theirs))
        assert unlock(store.open("default"), "never asked") is held
        with pytest.raises(WalletError, match="the unlock session holds wallet 'default', not 'other'"):
            unlock(store.open("other"), PASSWORD)
        store.open("default").unlock(PASSWORD).derive(1)  # another process adds an account
        with pytest.raises(WalletError, match="changed since `hongbao unlock`"):
            unlock(store.open("default"), PASSWORD)
