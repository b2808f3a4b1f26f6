"""Sync throughput: blocks scanned per second against a local anvil. A benchmark, not a test.

    .venv/bin/python bench/sync.py [--blocks 10000] [--batch 200] [--profile]

Starts its own anvil on a free port, sends a few ETH and ERC-20 transfers to a test
address, mines `--blocks` empty blocks on top, then times `wallet.sync.sync` over the
whole chain into a throw-away history database. `--profile` prints the top of a cProfile
run instead of the table.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wallet import address, erc20, localchain
from wallet.history import History
from wallet.rpc import Rpc, to_int
from wallet.sync import sync

DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TARGET = address.to_checksum("0x" + "be" * 20)
MINE_CHUNK = 100  # anvil_mine slows down more than linearly: 1,000 blocks at once take ~1.2 s, 100 ~8 ms
# anvil 1.7's mining under its default hardfork (Prague) gets slower with every block (10,000
# take ~90 s, Cancun ~3 s); the blocks the sync reads differ only by Prague's requestsHash.
HARDFORK = "cancun"


def start_anvil() -> tuple[subprocess.Popen, str]:
    return localchain.spawn_ephemeral("--hardfork", HARDFORK)


stop_anvil = localchain.terminate


def send(rpc: Rpc, **tx: str) -> dict:
    tx_hash = rpc.call("eth_sendTransaction", {"from": DEV, **tx})
    rpc.call("evm_mine")  # automine is off: mining here makes the receipt exist on return
    return rpc.call("eth_getTransactionReceipt", tx_hash)


def prepare(rpc: Rpc, blocks: int) -> int:
    """A token, 3 ETH and 3 token transfers to TARGET, then `blocks` empty blocks; the head."""
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx

    rpc.call("evm_setAutomine", False)
    token = send(rpc, data="0x" + deployment_tx(load("TestToken"), "Bench", "BNCH", 18, 10**27).hex())[
        "contractAddress"
    ]
    for i in range(3):
        send(rpc, to=TARGET, value=hex(10**18 + i))
        send(rpc, to=token, data="0x" + erc20.transfer_data(TARGET, 10**18 + i).hex())
    for chunk in range(0, blocks, MINE_CHUNK):
        rpc.call("anvil_mine", hex(min(MINE_CHUNK, blocks - chunk)))
    return to_int(rpc.call("eth_blockNumber"))


def timed_sync(url: str, batch: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as folder, Rpc(url) as rpc:
        history = History(Path(folder) / "history.sqlite")
        start = time.perf_counter()
        result = sync(rpc, history, 31337, [TARGET], batch=batch)
        seconds = time.perf_counter() - start
        history.close()
    return seconds, result.blocks, len(result.found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    process, url = start_anvil()
    try:
        with Rpc(url) as rpc:
            head = prepare(rpc, args.blocks)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(timed_sync, url, args.batch)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            return
        runs = [timed_sync(url, args.batch) for _ in range(3)]
    finally:
        stop_anvil(process)

    seconds, blocks, found = min(runs)
    table = Table(title="bench/sync.py")
    for column in ("what", "measured"):
        table.add_column(column)
    table.add_row("blocks scanned (ETH via full blocks + ERC-20 via eth_getLogs)", f"{blocks:,} (head {head:,})")
    table.add_row("transfers found", f"{found} (expected 6)")
    table.add_row(f"sync time (best of 3, batch {args.batch})", f"{seconds:.2f} s")
    table.add_row("throughput", f"{blocks / seconds:,.0f} blocks/s")
    Console().print(table)


if __name__ == "__main__":
    main()
