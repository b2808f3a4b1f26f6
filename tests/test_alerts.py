"""Alerts in `chat watch` (and `security check`): an outgoing transaction this device did not
sign, a new approval it did not make, incoming ETH above a threshold, the balance below one.
Real anvil, real relay, the real entry point."""

from __future__ import annotations

import json

import pytest
from conftest import PASSWORD
from test_packet_cli import person, relay  # noqa: F401  (relay: the module's relay fixture)

from wallet import abi, keyring, signing
from wallet.rpc import to_int

pytestmark = pytest.mark.slow


def watched(someone) -> list[dict]:
    lines = someone("chat", "watch", "--once", "--json").stdout.splitlines()
    return [event for event in map(json.loads, lines) if event["kind"] == "alert"]


def sign_elsewhere(anvil, home, to: str, value: int = 0, data: bytes = b"") -> str:
    """A transaction from the account signed outside this device's history (a stolen key)."""
    unlocked = keyring.WalletStore(home).open("default").unlock(PASSWORD)
    key = unlocked.private_key(0)
    rpc = anvil.rpc()
    me = unlocked.accounts[0].address
    tx = {
        "chainId": 31337,
        "nonce": to_int(rpc.call("eth_getTransactionCount", me, "pending")),
        "gas": 100_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "to": to,
        "value": value,
        "data": data,
    }
    return rpc.call("eth_sendRawTransaction", "0x" + signing.sign_transaction(key, tx).raw.hex())


def test_watch_tells_unsigned_sends_foreign_approvals_and_thresholds(cli, tmp_path, anvil, relay):  # noqa: F811
    alice = person(cli, tmp_path, anvil, "alice", relay)
    alice("security", "alerts", "--incoming-above", "1", "--balance-below", "0.5")
    first = watched(alice)
    assert [a["alert"] for a in first] == ["low-balance"]  # 0 ETH: told once
    alice("faucet", alice.address, "5")
    alice("send", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0.1", "--yes")  # signed here: no alert
    stolen = sign_elsewhere(anvil, alice.home, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 10**18)
    token = alice.json("contracts", "deploy")["token"]["address"]
    approve = (
        abi.selector("approve(address,uint256)")
        + bytes(12)
        + bytes.fromhex("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
        + (2**256 - 1).to_bytes(32, "big")
    )
    approval = sign_elsewhere(anvil, alice.home, token, 0, approve)
    told = watched(alice)
    kinds = sorted(a["alert"] for a in told)
    assert kinds == ["approval", "incoming", "unsigned-outgoing", "unsigned-outgoing"], told
    assert {a["hash"] for a in told if a["alert"] == "unsigned-outgoing"} == {stolen, approval}
    assert "UNLIMITED" in next(a["text"] for a in told if a["alert"] == "approval")
    assert watched(alice) == []  # each told once


def test_the_unlock_session_looks_for_alerts_and_the_next_command_shows_them(cli, hongbao_home, anvil):
    import time

    from conftest import quick_wallet
    from test_agent import hongbao, unlock
    from test_transfers import point_local_at

    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home)
    cli("faucet", me, "2")
    unlock(hongbao_home, "--alerts-every", "1s")
    try:
        cursors = hongbao_home / "alerts.json"
        deadline = time.monotonic() + 60
        while f"31337:{me}:agent" not in (cursors.read_text() if cursors.exists() else ""):
            assert time.monotonic() < deadline, "the session never looked for alerts"
            time.sleep(0.1)  # polling for the agent's first look (its cursor), with a deadline
        stolen = sign_elsewhere(anvil, hongbao_home, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 10**17)
        log = hongbao_home / "agent" / "alerts.log"
        while stolen not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the session did not tell the unsigned transaction"
            time.sleep(0.1)
        shown = hongbao(hongbao_home, "wallet", "list")
        assert f"[unlock session] ALERT: {me} sent a transaction this device did not sign ({stolen}" in shown.stderr
        assert "[unlock session]" not in hongbao(hongbao_home, "wallet", "list").stderr  # told once
    finally:
        hongbao(hongbao_home, "lock")
