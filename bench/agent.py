"""Wall time of everyday commands with and without the unlock session. A benchmark, not a test.

    .venv/bin/python bench/agent.py [--runs 5]

Runs the real `hongbao` console script (.venv/bin/hongbao: a fresh interpreter per
command, as a person's shell starts it) against a throwaway anvil and relay, for a wallet
sealed at the default Argon2id cost (`moderate`), first with HONGBAO_PASSWORD (every
command imports its stack and runs the KDF), then inside `hongbao unlock` (the command is
forked from the agent's warmed, unlocked process). Each figure is the best of --runs (the
least disturbed by the machine), with the median next to it.

Targets (issue 15): with the agent, `chat send`, `chat inbox`, `contacts list`, `balance`
< 0.35 s each, `send --yes --no-wait` < 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import RelayProcess
from timing import print_table

from wallet import bip39, config, keyring, localchain

HONGBAO = str(Path(sys.executable).with_name("hongbao"))
PASSWORD = "correct horse battery staple"  # noqa: S105  a throwaway wallet
BOB_PEER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TARGETS = {"chat send": 0.35, "chat inbox": 0.35, "contacts list": 0.35, "balance": 0.35, "send --yes --no-wait": 0.5}


def run(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([HONGBAO, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"hongbao {' '.join(args)} failed: {done.stderr.strip()}")
    return took


def person(root: Path, name: str, rpc: str) -> tuple[dict[str, str], str]:
    home = root / name
    unlocked = keyring.WalletStore(home).create_from_mnemonic("default", bip39.generate(12), PASSWORD)
    cfg = config.load(home)
    cfg.networks["local"] = config.Network("local", rpc, 31337)
    config.save(home, cfg)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
    env.update({"HONGBAO_HOME": str(home), "HONGBAO_PASSWORD": PASSWORD})
    return env, unlocked.accounts[0].address


def wait_until_warm(home: Path) -> None:
    """The agent imports the commands' modules a few at a time once it listens: measure after."""
    from cli.agent_cmd import status_of

    deadline = time.monotonic() + 120
    while not (status_of(home) or {}).get("warm"):
        if time.monotonic() > deadline:
            raise SystemExit("the agent did not finish its warm-up within 120 s")
        time.sleep(0.2)  # polling a condition, with a deadline


def measure(env: dict[str, str], me: str, bob: str, runs: int) -> dict[str, list[float]]:
    commands = {
        "chat send": ["chat", "send", "bob", "hello"],
        "chat inbox": ["chat", "inbox"],
        "contacts list": ["contacts", "list"],
        "balance": ["balance"],
        "send --yes --no-wait": ["send", bob, "0.001", "--yes", "--no-wait"],
    }
    return {what: [run(env, *argv) for _ in range(runs)] for what, argv in commands.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hongbao-bench-agent-") as folder:
        root = Path(folder)
        process, rpc = localchain.spawn_ephemeral()
        try:
            with RelayProcess(root / "relay", f"sqlite:///{root / 'relay.sqlite'}") as relay:
                alice, me = person(root, "alice", rpc)
                bob_env, bob = person(root, "bob", rpc)
                run(bob_env, "relay", "use", relay.url)
                run(alice, "relay", "use", relay.url)
                run(alice, "contacts", "add", bob, "--name", "bob")
                run(alice, "faucet", me, "10")
                with_password = measure(alice, me, bob, args.runs)
                run(alice, "unlock", "--for", "15m")
                try:
                    wait_until_warm(Path(alice["HONGBAO_HOME"]))
                    no_password = {k: v for k, v in alice.items() if k != "HONGBAO_PASSWORD"}
                    with_agent = measure(no_password, me, bob, args.runs)
                finally:
                    run(alice, "lock")
        finally:
            localchain.terminate(process)
    rows = []
    for what, target in TARGETS.items():
        slow, fast = with_password[what], with_agent[what]
        rows.append(
            (
                what,
                f"{min(fast):.3f} s (median {statistics.median(fast):.3f}); password: {min(slow):.3f} s "
                f"(median {statistics.median(slow):.3f})",
                f"< {target} s with the agent",
            )
        )
    print_table(
        "Commands with the unlock session (real console script, fresh process each)",
        rows,
        caption=f"best of {args.runs}; {os.cpu_count()} CPUs; wallet sealed with Argon2id 'moderate'",
    )


if __name__ == "__main__":
    main()
