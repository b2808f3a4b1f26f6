"""`hongbao node migrate | start --detach | status | stop`, through the real command, and
the relay's settings (config.toml [relay], then HONGBAO_RELAY_* variables)."""

from __future__ import annotations

import socket
import subprocess

import pytest
from test_node_support import one_line_error

from node.settings import Settings, SettingsError
from wallet.localchain import free_port


@pytest.fixture
def port(cli):
    chosen = free_port()
    yield chosen
    cli("node", "stop", check=False)  # never leave a relay running


def test_migrate(cli, hongbao_home):
    done = cli.json("node", "migrate")
    assert done == {"db": f"sqlite:///{hongbao_home / 'relay' / 'relay.sqlite'}", "revision": "0003"}
    assert (hongbao_home / "relay" / "relay.sqlite").stat().st_mode & 0o077 == 0
    assert cli.json("node", "migrate")["revision"] == "0003"  # again: nothing to do
    unreachable = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    one_line_error(cli("node", "migrate", env={"HONGBAO_RELAY_DB_URL": unreachable}, check=False), "failed", "***")
    refused = one_line_error(cli("node", "migrate", "--db", unreachable, check=False), "HONGBAO_RELAY_DB_URL")
    assert "secret" not in refused  # a password is never taken from argv, nor echoed


def test_start_detached_status_stop(cli, port, hongbao_home):
    assert cli.json("node", "status", "--port", str(port))["running"] is False
    started = cli.json("node", "start", "--detach", "--port", str(port))
    assert started["running"] and started["url"] == f"http://127.0.0.1:{port}" and started["db"] == "ok"
    assert cli.json("node", "start", "--detach", "--port", str(port))["pid"] == started["pid"]  # idempotent
    status = cli.json("node", "status")  # the pid file knows the port
    assert (status["running"], status["pid"], status["url"]) == (True, started["pid"], started["url"])
    assert "running at" in cli("node", "status").stdout
    assert cli.json("node", "stop") == {"stopped": True}
    assert cli.json("node", "status", "--port", str(port))["running"] is False
    assert cli.json("node", "stop") == {"stopped": False}
    log = (hongbao_home / "relay" / "relay.log").read_text()
    assert '"event": "relay started"' in log and '"event": "relay stopped"' in log


def test_stale_pid_file_and_port_in_use(cli, port, hongbao_home):
    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file = hongbao_home / "relay" / "relay.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{gone.pid}\nhttp://127.0.0.1:{port}\n")
    one_line_error(
        cli("node", "start", "--detach", "--port", str(port), check=False), "stale pid file", "hongbao node stop"
    )
    assert cli.json("node", "stop") == {"stopped": False}
    assert not pid_file.exists()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        one_line_error(cli("node", "start", "--detach", "--port", str(port), check=False), f"port {port} is in use")


def test_settings_from_config_then_environment(tmp_path):
    assert Settings.load(tmp_path, {}) == Settings(db_url=f"sqlite:///{tmp_path / 'relay' / 'relay.sqlite'}")
    (tmp_path / "config.toml").write_text('[relay]\nport = 9000\nrate = 5\ndb_url = "postgresql://relay@db/relay"\n')
    loaded = Settings.load(tmp_path, {"HONGBAO_RELAY_PORT": "9100", "HONGBAO_RELAY_MAILBOX_QUOTA_MESSAGES": "7"})
    assert (loaded.port, loaded.rate, loaded.db_url, loaded.mailbox_quota_messages) == (
        9100,
        5.0,
        "postgresql://relay@db/relay",
        7,
    )
    assert (loaded.max_envelope, loaded.max_batch, loaded.max_ttl, loaded.token_ttl, loaded.challenge_ttl) == (
        65536,
        500,
        30 * 86400,
        900,
        120,
    )
    with pytest.raises(SettingsError, match="must be a number"):
        Settings.load(tmp_path, {"HONGBAO_RELAY_PORT": "eighty"})
    (tmp_path / "config.toml").write_text("[relay]\nprot = 1\n")
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load(tmp_path, {})


@pytest.mark.slow
def test_committed_envelopes_survive_kill_9(hongbao_home, tmp_path):
    """synchronous=NORMAL in WAL mode: a commit is in the WAL before the answer, so killing
    the relay process loses nothing it acknowledged."""
    import os
    import signal

    import httpx
    from test_node_support import Person, envelope_json

    from node import db
    from node.daemon import RelayDaemon
    from node.store import RelayStore

    settings = Settings.load(hongbao_home, {}).replace(port=free_port(), sweep_interval=0.0)
    daemon = RelayDaemon(hongbao_home, settings)
    pid = daemon.start().pid
    try:
        bob = Person.make(1).address
        sent = [envelope_json(bob) for _ in range(50)]
        answer = httpx.post(f"{daemon.url}/v1/messages", json={"envelopes": sent})
        assert answer.status_code == 200
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert daemon.stop() is False  # a stale pid file: cleaned up
    engine = db.make_engine(settings.db_url)
    try:
        stored = RelayStore(engine, lambda: 0).fetch(bob, 0, 100, 0)
    finally:
        engine.dispose()
    assert [s.envelope.id.hex() for s in stored] == [e["id"] for e in sent]
