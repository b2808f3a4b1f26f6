"""`make demo` (`python -m cli.demo`) from nothing, in a subprocess: it exits 0, tells the
whole story (a group packet of 3 shares claimed by Bob and Carol, Alice's refund of the
rest, a payment with its notice, a vault deposit) with figures that add up, and leaves no
anvil or relay running. A second run breaks a step on purpose: the demo names the failing
command, exits 1 and still stops everything it started."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import _get_zygote

from cli import prefork
from cli.demo import gone
from wallet.localchain import port_free

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
COMMAND = re.compile(r"^(\w+)\$ hongbao (.*)$", re.MULTILINE)
ANVIL = re.compile(r"local chain running at http://127\.0\.0\.1:(\d+) .*pid (\d+)\)")
RELAY = re.compile(r"relay running at http://127\.0\.0\.1:(\d+) \(pid (\d+)\)")


def run_demo(*python_args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    """The demo in a process of its own, its commands forked from the suite's zygote (the
    demo's own would import and warm up for ~4 s of CPU: how it starts is the zygote's tests')."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
    zygote = _get_zygote()
    if zygote is not None:
        env[prefork.SOCKET_ENV] = zygote.path
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *python_args],
        check=False,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return result, time.monotonic() - started


def blocks(output: str) -> list[tuple[str, str, str]]:
    """(who, command after `hongbao `, what it printed) for each command, in order."""
    found = list(COMMAND.finditer(output))
    return [
        (m.group(1), m.group(2), output[m.end() : found[i + 1].start() if i + 1 < len(found) else len(output)])
        for i, m in enumerate(found)
    ]


def only(found: list[tuple[str, str, str]], who: str, command: str) -> str:
    texts = [text for w, c, text in found if w == who and c.startswith(command)]
    assert len(texts) == 1, (who, command, len(texts))
    return texts[0]


def assert_all_stopped(output: str) -> None:
    """Every anvil and relay the demo reported starting is gone, and its port is free."""
    started = [(int(port), int(pid)) for pattern in (ANVIL, RELAY) for port, pid in pattern.findall(output)]
    assert len(started) == 2, started
    for port, pid in started:
        assert gone(pid), f"pid {pid} (port {port}) is still running"
        assert port_free(port), f"port {port} is still in use"


def test_demo_tells_the_whole_story_and_stops_everything():
    result, elapsed = run_demo("-m", "cli.demo")
    out = result.stdout
    assert result.returncode == 0, f"exit {result.returncode}\n{out[-4000:]}\n{result.stderr[-4000:]}"
    assert "DEMO FAILED" not in result.stderr and re.search(r"Done in [0-9.]+ s\.", out)
    print(f"demo ran in {elapsed:.1f} s")
    found = blocks(out)
    assert {who for who, _, _ in found} == {"alice", "bob", "carol", "operator"}
    names = dict(re.findall(r"(alice|bob|carol) (0x[0-9a-fA-F]{40})", out.split("== 5.")[0].split("== 4.")[1]))
    assert set(names) == {"alice", "bob", "carol"}

    # the group packet: 1 ETH in 2 random shares with a gas deposit, sent to Bob and Carol in the chat
    created = only(found, "alice", "packet create --to family --amount '1 ETH' --random")
    assert (
        "1 ETH in 2 random share(s)" in created
        and "2 recipient(s) of family" in created
        and "sent to family: 2 recipient(s)" in created
    )
    packet_id = re.search(r"^(0x[0-9a-f]{64})$", created, re.MULTILINE).group(1)
    assert f"hongbao packet claim {packet_id}" in only(found, "bob", "chat show family")

    # Bob claims (he has ETH); Carol has none: her claim goes to Alice, whose watch submits it
    shares = {}
    claimed = re.search(
        r"^claimed ([0-9.]+) ETH \(tx 0x[0-9a-f]{64}\)$",
        only(found, "bob", f"packet claim {packet_id[:10]}"),
        re.MULTILINE,
    )
    shares["bob"] = Decimal(claimed.group(1))
    requested = only(found, "carol", f"packet claim {packet_id[:10]}")
    assert "claim sent; you will be paid when it is submitted" in requested
    shares["carol"] = Decimal(re.search(r"you receive\s+([0-9.]+) ETH", requested).group(1))
    assert shares["bob"] > 0 and shares["carol"] > 0 and shares["bob"] + shares["carol"] == 1
    assert f"submitted carol's claim of packet {packet_id[:10]}" in " ".join(
        only(found, "alice", "chat watch --once").split()
    )
    assert (
        f"claimed by me ({shares['carol']} ETH)" in [t for w, c, t in found if w == "carol" and c == "packet list"][-1]
    )
    info = [text for who, command, text in found if who == "alice" and command.startswith("packet info")]
    assert len(info) == 2
    assert "2 claim(s), 0 share(s) left" in info[0] and "status                exhausted" in info[0]
    assert "手气最佳" in info[0]
    for who, amount in shares.items():
        assert re.search(rf"{names[who]}\s+amount\s+{amount} ETH", " ".join(info[0].split())) or (
            names[who] in info[0] and f"{amount} ETH" in info[0]
        ), (who, amount)
    assert f"claimed by me ({shares['bob']} ETH)" in only(found, "bob", "packet list --no-fetch")

    # past the expiry (anvil's clock), Alice takes back the deposit left
    assert "evm_increaseTime(3601) then evm_mine" in out
    refunded = only(found, "alice", "packet refund")
    assert re.search(r"^refunded 0 ETH \+ [0-9.]+ ETH deposit \(tx", refunded, re.MULTILINE)
    assert "refunded; expired" in info[1]

    # the payment, its notice in Bob's chat, checked against the chain
    paid = only(found, "alice", f"send {names['bob']} 0.25 --notify")
    assert "payment notice sent to the recipient's chat" in paid
    shown = [t for w, c, t in found if w == "bob" and c == "chat show alice"][-1]
    assert "payment of 0.25 ETH “for the dumplings 🥟”" in shown and "[✓ ETH transfer confirmed on chain]" in shown

    # the vault: approve exactly 60, deposit, 60 shares
    deposited = only(found, "alice", "vault deposit 60 --approve")
    assert "amount=60000000000000000000" in deposited and "deposit(assets=60 TKN" in deposited
    assert re.search(r"shares\s+│ 60 vTKN", only(found, "alice", "vault position"))
    # (the last balance comes after the trade: 100 minted - 60 in the vault - 20 to Bob)
    assert re.search(r"TKN\s+│ 20\b", [t for w, c, t in found if w == "alice" and c == "balance"][-1])
    # DeFi: Bob's swap pays out; Alice's borrow leaves a health factor; positions value both sides
    assert re.search(r"received [0-9.]+ TKN", only(found, "bob", "swap 0.1 ETH TKN --yes"))
    assert "health factor now" in only(found, "alice", "lend borrow USDX 1000 --yes")
    held = only(found, "alice", "positions")
    # the trade in the chat: Alice's offer, filled by Bob, seen filled on her side
    assert "✓ filled" in [t for w, c, t in found if w == "bob" and c.startswith("trade accept")][-1]
    assert "filled" in only(found, "alice", "trade list")
    assert "aave supplied" in held and "aave debt" in held

    # everything it started is stopped
    assert only(found, "operator", "node stop").strip() == "relay stopped"
    assert only(found, "alice", "chain down").strip().startswith("local chain stopped")
    assert_all_stopped(out)


BROKEN = """
import cli.demo as demo
run = demo.Person.__call__
def broken(self, *args, **kwargs):
    if self.name == "bob" and args[:2] == ("wallet", "create"):
        args = ("wallet", "create", "--kdf", "no-such-kdf")
    return run(self, *args, **kwargs)
demo.Person.__call__ = broken
demo.main()
"""


def test_a_failing_step_is_named_exits_1_and_stops_everything():
    result, _elapsed = run_demo("-c", BROKEN, timeout=120)
    assert result.returncode == 1, (result.stdout[-3000:], result.stderr[-3000:])
    assert "DEMO FAILED: `bob$ hongbao wallet create --kdf no-such-kdf` exited with status 1" in result.stderr
    out = result.stdout
    assert "error:" in out.split("bob$ hongbao wallet create --kdf no-such-kdf")[1]  # its one-line error is shown
    assert "carol$ hongbao wallet create" not in out and "Done in" not in out  # nothing after it ran
    assert "operator$ hongbao node stop" in out and "alice$ hongbao chain down" in out
    assert_all_stopped(out)
