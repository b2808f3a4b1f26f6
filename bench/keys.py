"""Key and signing throughput, and CLI start-up time. A benchmark, not a test.

    make bench            # or: .venv/bin/python bench/keys.py

Targets (issue #2, on the 2-core reference machine): 1,000 accounts < 1 s; >= 2,000
EIP-1559 signatures/s; >= 8,000 EIP-191 recoveries/s; `hongbao --help` < 0.25 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import best_of, print_table, rate
from wallet import address, bip39, hd, keystore, signing, vault

MNEMONIC = "test test test test test test test test test test test junk"


def derive_1000() -> None:
    deriver = hd.Deriver(bip39.to_seed(MNEMONIC))
    for i in range(1000):
        address.from_private_key(deriver.private_key(hd.scheme_path("bip44", i)))


def cli_help_seconds(runs: int = 15) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli.main", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    key = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    tx = {
        "chainId": 31337,
        "nonce": 0,
        "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "value": 10**18,
        "gas": 21000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signing.sign_transaction(key, tx)  # import eth-account outside the timing
    message = b"hongbao benchmark message"
    signature = signing.sign_message(key, message)

    rows = []
    seconds = best_of(3, derive_1000)
    rows.append(("1,000 accounts from one mnemonic (incl. seed)", f"{seconds:.3f} s", "< 1 s"))
    rows.append(
        (
            "EIP-1559 signatures",
            f"{rate(2000, lambda i: signing.sign_transaction(key, {**tx, 'nonce': i})):,.0f} /s",
            ">= 2,000 /s",
        )
    )
    rows.append(("EIP-191 signatures", f"{rate(5000, lambda i: signing.sign_message(key, message)):,.0f} /s", ""))
    rows.append(
        (
            "EIP-191 recoveries",
            f"{rate(5000, lambda i: signing.recover_message(message, signature)):,.0f} /s",
            ">= 8,000 /s",
        )
    )
    median, worst = cli_help_seconds()
    rows.append(
        ("`hongbao --help` wall time (median / max of 15)", f"{median * 1000:.0f} / {worst * 1000:.0f} ms", "< 250 ms")
    )
    for preset in ("interactive", "moderate"):
        kdf = vault.Kdf.new(preset)
        rows.append(
            (f"vault unlock, Argon2id {preset}", f"{best_of(2, lambda kdf=kdf: kdf.stretch('pw')) * 1000:.0f} ms", "")
        )
    rows.append(
        (
            "keystore export, scrypt n=2^18 r=8 p=1",
            f"{best_of(1, lambda: keystore.encrypt(key, 'pw')) * 1000:.0f} ms",
            "",
        )
    )

    print_table("bench/keys.py", rows)


if __name__ == "__main__":
    main()
