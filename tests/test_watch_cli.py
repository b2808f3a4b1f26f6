"""`hongbao chat watch` tells the sender about their packets, from the chain: each claim once
(also across `--once` runs), a packet about to expire with shares left, an expired one with
something to refund. Real anvil, real relay, the real entry point (helpers of test_packet_cli)."""

from __future__ import annotations

import json
import select
import signal

import pytest
from test_packet_cli import person, relay, warp  # noqa: F401  (relay: the module's relay fixture)

from wallet import config

pytestmark = pytest.mark.slow


def watched(someone) -> list[dict]:
    return [json.loads(line) for line in someone("chat", "watch", "--once", "--json").stdout.splitlines()]


def test_watch_tells_claims_once_and_deadlines(cli, tmp_path, anvil, relay):  # noqa: F811
    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("faucet", alice.address, "5")
    alice.json("contracts", "deploy")
    bob = person(cli, tmp_path, anvil, "bob", relay, config.load(alice.home).networks["local"])
    bob("faucet", bob.address, "1")
    alice.json("contacts", "add", bob.address, "--name", "bob")

    assert watched(alice) == []  # no packets yet: nothing from the chain (and no error)
    created = alice.json(
        "packet",
        "create",
        "--to",
        "bob",
        "--amount",
        "0.6 ETH",
        "--shares",
        "2",
        "--open",  # an open packet sent to Bob's chat: one share stays for the deadlines
        "--fixed",
        "--expires",
        "2h",
        "--greeting",
        "新年快乐",
        "--yes",
    )
    pid = created["packet_id"]
    got = bob.json("packet", "claim", pid[:12], "--yes")
    assert got["amount"] == str(3 * 10**17)

    (claim,) = [e for e in watched(alice) if e["kind"] != "message"]
    assert claim["kind"] == "claim" and claim["packet_id"] == pid and claim["recipient"] == bob.address
    assert (
        claim["recipient_name"] == "bob"
        and claim["amount"] == str(3 * 10**17)
        and (claim["claimed"], claim["shares"]) == (1, 2)
    )
    assert claim["text"] == "🧧 bob claimed 0.3 ETH from your packet “新年快乐” (1 of 2 claimed)"
    assert claim["tx"] == got["tx"]
    assert watched(alice) == []  # told once
    seen = alice.home / "packets-watch.json"
    assert seen.stat().st_mode & 0o777 == 0o600

    # the live view polls the chain too: a claim made while Alice watches shows up, and is
    # not told again by a later `--once`; an exhausted packet has no deadline to tell
    other = alice.json(
        "packet", "create", "--to", "bob", "--amount", "0.1 ETH", "--shares", "1", "--expires", "2h", "--yes"
    )["packet_id"]
    watcher = alice.popen("chat", "watch", "--json")
    try:
        bob.json("packet", "claim", other[:12], "--yes")
        ready, _, _ = select.select([watcher.stdout], [], [], 30)
        assert ready, "chat watch printed nothing within 30 s"
        live = json.loads(watcher.stdout.readline())
        assert live["kind"] == "claim" and live["packet_id"] == other and (live["claimed"], live["shares"]) == (1, 1)
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=20) == 0, watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watched(alice) == []

    # within the hour before expiry, one share left
    warp(anvil, 90 * 60)
    (expiring,) = watched(alice)
    assert expiring["kind"] == "expiring" and expiring["packet_id"] == pid and expiring["shares_left"] == 1
    assert 0 < expiring["seconds_left"] <= 30 * 60
    assert "expires in" in expiring["text"] and f"hongbao packet refund {pid[:10]}" in expiring["text"]
    assert "⏳" in alice("chat", "watch", "--once").stdout  # the human view too

    warp(anvil, 31 * 60)
    (expired,) = watched(alice)
    assert (
        expired["kind"] == "expired" and expired["remaining"] == str(3 * 10**17) and "refund it now" in expired["text"]
    )

    alice.json("packet", "refund", pid[:10], "--yes")
    assert watched(alice) == []  # refunded: nothing left to tell
    assert json.loads(seen.read_text())["packets"][pid]["done"] is True
    assert watched(bob) == []  # Bob created nothing (his packet messages were fetched by his claims)
