"""Transfers to a local anvil: throughput and time from command to hash. Not a test.

    .venv/bin/python bench/transfers.py [--count 500] [--cli-runs 30]

Three figures, each against its own fresh anvil on a free port:
  * library path: what `hongbao send --yes --no-wait` does after start-up, `count` times
    back to back (fees from eth_feeHistory, eth_call simulation, gas estimate, nonce,
    sign, eth_sendRawTransaction, history row): transfers/s, p50/p99 per transfer;
  * the `hongbao send` command itself (a new process each time, wallet unlock included,
    Argon2id `interactive`), `cli-runs` times: p50/p99 wall time from command to hash;
  * raw signing + eth_sendRawTransaction only, for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wallet import address, config, localchain, signing, transfers
from wallet.amounts import Amount
from wallet.chain import Chain
from wallet.history import History

KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")  # anvil #1
TO = "0x" + "be" * 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def library_path(count: int) -> tuple[float, list[float]]:
    process, url = localchain.spawn_ephemeral()
    try:
        with tempfile.TemporaryDirectory() as home:
            chain = Chain.connect(config.Network("local", url, 31337))
            history = History(Path(home) / "history.sqlite")
            sender = address.from_private_key(KEY)
            to = address.to_checksum(TO)
            latencies = []
            start = time.perf_counter()
            for _ in range(count):
                t0 = time.perf_counter()
                prepared = transfers.prepare(chain, transfers.eth_transfer(sender, to, Amount(Decimal("0.001"), "ETH")))
                transfers.send(chain, prepared, KEY, history, lock_path=Path(home) / "nonce.lock")
                latencies.append(time.perf_counter() - t0)
            return count / (time.perf_counter() - start), latencies
    finally:
        localchain.terminate(process)


def raw_path(count: int) -> float:
    process, url = localchain.spawn_ephemeral()
    try:
        chain = Chain.connect(config.Network("local", url, 31337))
        start = time.perf_counter()
        for nonce in range(count):
            tx = {
                "chainId": 31337,
                "nonce": nonce,
                "to": address.to_checksum(TO),
                "value": 1,
                "gas": 21000,
                "maxFeePerGas": 3 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
            transfers.broadcast(chain, signing.sign_transaction(KEY, tx).raw)
        return count / (time.perf_counter() - start)
    finally:
        localchain.terminate(process)


def cli_path(runs: int) -> list[float]:
    process, url = localchain.spawn_ephemeral()
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "HONGBAO_HOME": home, "HONGBAO_PASSWORD": "bench password"}
            cfg = config.Config()
            cfg.networks["local"] = config.Network("local", url, 31337)
            config.save(Path(home), cfg)
            hongbao = [sys.executable, "-m", "cli.main"]
            subprocess.run(
                [*hongbao, "wallet", "import", "--private-key-file", "/dev/stdin", "--kdf", "interactive"],
                input=KEY.hex(),
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                subprocess.run(
                    [*hongbao, "send", TO, "0.001", "--yes", "--no-wait", "--json"],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                times.append(time.perf_counter() - t0)
            return times
    finally:
        localchain.terminate(process)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--cli-runs", type=int, default=30)
    args = parser.parse_args()

    rate, latencies = library_path(args.count)
    cli_times = cli_path(args.cli_runs)
    raw = raw_path(args.count)
    table = Table(title=f"bench/transfers.py: ETH transfers to anvil ({args.count} back to back)")
    for column in ("path", "transfers/s", "p50 to hash", "p99 to hash"):
        table.add_column(column)
    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    table.add_row(
        "library (checks, simulate, sign, send, record)",
        f"{rate:,.0f}",
        ms(statistics.median(latencies)),
        ms(percentile(latencies, 0.99)),
    )
    table.add_row(
        f"`hongbao send --yes --no-wait` ({args.cli_runs} processes)",
        f"{len(cli_times) / sum(cli_times):,.1f}",
        ms(statistics.median(cli_times)),
        ms(percentile(cli_times, 0.99)),
    )
    table.add_row("sign + eth_sendRawTransaction only", f"{raw:,.0f}", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
