"""At a prompt a mistyped password is asked again (three tries in all), and a new password
is checked before it is asked a second time. In-process (click's runner), as a terminal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import PASSWORD, quick_wallet

from cli import secrets
from cli.main import cli
from wallet import signing


@pytest.fixture
def terminal(monkeypatch):
    from cli import second_factor
    from wallet import transfers

    monkeypatch.setattr(secrets, "interactive", lambda: True)
    monkeypatch.setattr(transfers, "GUARDS", [])  # commands in this process arm them: not for other tests
    monkeypatch.setattr(second_factor, "CURRENT", [])
    return CliRunner()


def test_two_typos_then_the_right_password_signs(terminal, hongbao_home):
    address = quick_wallet(hongbao_home)
    done = terminal.invoke(cli, ["wallet", "sign-message", "hi"], input=f"typo\nagain\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert "wrong password; try again (2 left)" in done.output
    assert "wrong password; try again (1 left)" in done.output
    signature = done.output.strip().splitlines()[-1]
    assert signing.recover_message(b"hi", signing.parse_signature(signature)) == address


def test_three_wrong_passwords_stop(terminal, hongbao_home):
    quick_wallet(hongbao_home)
    done = terminal.invoke(cli, ["wallet", "sign-message", "hi"], input="a\nb\nc\nd\n")
    assert done.exit_code != 0
    assert "wrong password" in str(done.exception)
    assert done.output.count("Wallet password") == 3


def test_a_wrong_password_from_the_environment_is_not_asked_again(terminal, hongbao_home, monkeypatch):
    quick_wallet(hongbao_home)
    monkeypatch.setenv("HONGBAO_PASSWORD", "not it")
    done = terminal.invoke(cli, ["wallet", "sign-message", "hi"], input=f"{PASSWORD}\n")
    assert done.exit_code != 0 and "Wallet password" not in done.output


def test_a_short_new_password_is_refused_before_the_second_prompt(terminal, hongbao_home):
    done = terminal.invoke(cli, ["wallet", "create", "--kdf", "interactive"], input="short\nshort\n")
    assert done.exit_code != 0
    assert "too short" in str(done.exception)
    assert "(again)" not in done.output


def test_a_command_run_by_the_unlock_session_never_asks_for_a_secret(terminal, monkeypatch):
    import socket

    from cli import agent
    from wallet.errors import WalletError

    mine, theirs = socket.socketpair()
    with mine, theirs:
        monkeypatch.setattr(agent, "SESSION", agent.Session(None, 0, [], None, ledger=theirs))  # type: ignore[arg-type]
        with pytest.raises(WalletError, match="the unlock session cannot ask for it"):
            secrets.obtain(what="submitter password", env="NOT_SET_HERE", file=None, label="Password of wallet b")
