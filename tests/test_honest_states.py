"""Honest states: a message the relay did not take is kept and said to be pending (exit 0),
and the relay starts again at once after a stop while `chat watch` was connected."""

from __future__ import annotations

import json
import select

import pytest
from test_chat_cli import people
from test_payment_notice import point_at
from test_relay_e2e import RELAY_ENV

from wallet.localchain import free_port

pytestmark = pytest.mark.slow


def next_line(process, what: str) -> dict:
    ready, _, _ = select.select([process.stdout], [], [], 30)
    assert ready, f"chat watch printed nothing within 30 s (waiting for {what})"
    return json.loads(process.stdout.readline())


class Daemon:
    """`hongbao node start --detach` / `node stop` in a home of its own."""

    def __init__(self, cli, home) -> None:
        self.cli, self.env, self.port = cli, {"HONGBAO_HOME": str(home), **RELAY_ENV}, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.cli("node", "start", "--detach", "--port", str(self.port), env=self.env)

    def stop(self) -> None:
        self.cli("node", "stop", env=self.env, check=False)


def test_pending_message_and_restart_after_a_stop_with_a_watcher(cli, tmp_path, anvil):
    own = Daemon(cli, tmp_path / "relay")
    own.start()
    watcher = None
    try:
        alice, bob = people(cli, tmp_path, own, "alice", "bob")
        for person in (alice, bob):
            point_at(person.home, anvil)
        alice.json("contacts", "add", bob.address, "--name", "bob")
        watcher = bob.popen("chat", "watch", "--json")
        alice.json("chat", "send", "bob", "one")
        assert next_line(watcher, "one")["payload"]["body"] == "one"
        alice.json("chat", "send", "bob", "two")  # arrives through the live stream
        assert next_line(watcher, "two")["payload"]["body"] == "two"

        alice("faucet", alice.address, "1")
        own.stop()  # with the watcher's stream connected: the relay's side closes first
        kept = alice.json("chat", "send", "bob", "sent while the relay was down")
        assert kept["state"] == "pending" and kept["to"] == bob.address and kept["relay_error"]
        said = alice("chat", "send", "bob", "and this one")  # exit 0, and says what happens next
        assert "kept; will be sent when the relay answers (hongbao chat inbox retries)" in " ".join(said.stdout.split())

        paid = alice.json("send", "bob", "0.1", "--yes", "--notify")  # the money moves; the notice waits
        assert (paid["status"], paid["notified"], paid["notice"]) == ("confirmed", False, "pending")

        own.start()  # at once (`node start` probes the port): the old connections linger, harmless
        alice.json("chat", "inbox")  # retries the pending messages
        shown = bob.json("chat", "show", alice.address)["messages"]
        assert [m["payload"].get("body") for m in shown[-3:-1]] == ["sent while the relay was down", "and this one"]
        assert shown[-1]["payload"]["type"] == "payment" and shown[-1]["payment_check"].startswith("✓")
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.wait()
        own.stop()
