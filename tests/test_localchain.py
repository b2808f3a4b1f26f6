"""`hongbao chain up|down|status`: a real anvil in the background, its state kept across restarts."""

from __future__ import annotations

import socket
import subprocess

import pytest
from test_transfers import one_line_error

from wallet import config
from wallet.localchain import free_port

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def port(hongbao_home, cli):
    chosen = free_port()
    cfg = config.load(hongbao_home)
    cfg.port = chosen
    cfg.networks["local"] = config.local_network(chosen)
    config.save(hongbao_home, cfg)
    yield chosen
    cli("chain", "down", check=False)  # never leave a chain running


def test_up_status_down_and_state_survives(cli, port, hongbao_home):
    assert cli.json("chain", "status")["running"] is False
    up = cli.json("chain", "up")
    assert (up["running"], up["chain_id"], up["url"]) == (True, 31337, f"http://127.0.0.1:{port}")
    assert cli.json("chain", "up")["pid"] == up["pid"]  # idempotent: the same process
    fresh = "0x" + "5a" * 20
    cli("faucet", fresh, "3.5")
    status = cli.json("chain", "status")
    assert status["running"] and status["block"] >= 1
    assert cli.json("chain", "down") == {"stopped": True}
    assert cli.json("chain", "status")["running"] is False
    assert (hongbao_home / "chain" / "state.json").stat().st_size > 0
    cli("chain", "up")
    assert cli.json("balance", fresh)["balances"][0]["formatted"] == "3.5"
    assert cli.json("chain", "status")["block"] >= status["block"]


def test_stale_pid_file(cli, port, hongbao_home):
    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file = hongbao_home / "chain" / "anvil.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{gone.pid}\n")
    one_line_error(cli("chain", "up", check=False), "stale pid file", "hongbao chain down")
    assert cli.json("chain", "down") == {"stopped": False}
    assert not pid_file.exists()
    assert cli.json("chain", "up")["running"] is True


def test_port_in_use(cli, port):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        one_line_error(cli("chain", "up", check=False), f"port {port} is in use")


def test_missing_anvil_binary(cli, port, tmp_path):
    one_line_error(
        cli("chain", "up", env={"HONGBAO_ANVIL": str(tmp_path / "nowhere" / "anvil")}, check=False),
        "not an executable",
        "HONGBAO_ANVIL",
    )


def test_a_zombie_is_not_alive_so_stopping_does_not_wait_for_its_reaper():
    """A detached relay or anvil that exited is a zombie until init reaps it (seen here:
    1.3 s later); `node stop` and `chain down` must not wait for that."""
    import os
    import time
    from pathlib import Path

    from wallet import process

    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while b") Z" not in Path(f"/proc/{child.pid}/stat").read_bytes():  # exited, not yet reaped
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert not process.alive(child.pid)
        assert process.alive(os.getpid())
    finally:
        child.wait()
