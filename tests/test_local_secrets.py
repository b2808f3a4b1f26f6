"""Local secrets (issue 13, finding 8): a detached relay's argv holds no database URL, no
HONGBAO_* secret reaches the relay or anvil, and every file under HONGBAO_HOME is 0600 in
0700 folders (pid, log and state files included)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import quick_wallet

from wallet.localchain import free_port

pytestmark = pytest.mark.slow
SECRET = "hunter2-never-in-a-child"  # the password we pretend the user set


def proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def loose_files(home: Path) -> list[str]:
    """What under `home` (made by the test, not by us) others may read or enter."""
    loose = []
    for path in home.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if mode & 0o077:
            loose.append(f"{path.relative_to(home)} {oct(mode)}")
    return loose


def test_a_detached_relay_gets_no_secret_and_its_files_are_private(cli, hongbao_home):
    quick_wallet(hongbao_home)
    port = free_port()
    db = hongbao_home / "elsewhere" / "relay.sqlite"
    env = {"HONGBAO_PASSWORD": SECRET, "HONGBAO_RELAY_DB_URL": f"sqlite:///{db}"}
    try:
        pid = cli.json("node", "start", "--detach", "--port", str(port), env=env)["pid"]
        argv = proc(pid, "cmdline")
        assert b"--db" not in argv and str(db).encode() not in argv  # before: the URL (and its password) in `ps`
        environ = proc(pid, "environ").split(b"\0")
        assert not [v for v in environ if SECRET.encode() in v]  # before: HONGBAO_PASSWORD inherited
        assert f"HONGBAO_RELAY_DB_URL=sqlite:///{db}".encode() in environ
        assert db.exists()
    finally:
        cli("node", "stop", check=False)
    assert loose_files(hongbao_home) == []  # before: relay.pid and the folders were world-readable


def test_anvil_gets_no_secret_and_its_state_is_private(cli, hongbao_home):
    quick_wallet(hongbao_home)
    port = free_port()
    try:
        up = cli.json("chain", "up", "--port", str(port), env={"HONGBAO_PASSWORD": SECRET})
        assert not [v for v in proc(up["pid"], "environ").split(b"\0") if v.startswith(b"HONGBAO_PASSWORD")]
    finally:
        cli("chain", "down", "--port", str(port), check=False)
    assert loose_files(hongbao_home) == []  # anvil.pid, anvil.log, state.json


def test_a_password_in_the_database_url_is_refused_on_the_command_line(cli):
    result = cli("node", "start", "--db", "postgresql://relay:s3cret@127.0.0.1:1/relay", check=False)
    assert result.returncode == 1 and "HONGBAO_RELAY_DB_URL" in result.stderr and "s3cret" not in result.stderr
