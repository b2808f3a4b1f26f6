"""DeFi costs: `defi deploy` time, our swap's gas against calling the router directly, swap-to-receipt time.

    .venv/bin/python bench/defi.py

Starts its own anvil, then:
- deploy: `deploy_all` in process (best of 3, each on a fresh snapshot) and the whole
  `hongbao defi deploy` command in a new process (imports included). Target < 5 s.
- gas: `hongbao swap` (a wallet of its own, --yes --json) against the same router call sent
  directly with eth_sendTransaction from a dev account holding none of the output token,
  both from the same chain state (a snapshot), per route: ETH->TKN on v2 and on v3, TKN->ETH
  on v2 and v3 with an exact approval (a transaction of its own, counted apart), and TKN->ETH
  on v3 with an EIP-2612 permit in the router's multicall (the direct run signs the same
  permit with DIRECT's key). Target: ours <= direct + 2%. Then the permit path against
  approve + swap, in total gas.
- time: `hongbao swap 0.1 ETH TKN --yes --json` from the command's start to its exit, which
  is after the receipt (best of 3).
Exits 1 if a row misses its target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import print_table
from contracts.artifacts import load
from contracts.protocols import deploy, uniswap
from wallet import config, localchain
from wallet.rpc import Rpc, to_int

PASSWORD = "bench password, not a secret"  # noqa: S105  (a throw-away wallet on a throw-away chain)
DIRECT = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # anvil dev account 5
E18 = 10**18


def hongbao(home: Path, *args: str) -> tuple[dict, float]:
    env = {**os.environ, "HONGBAO_HOME": str(home), "HONGBAO_PASSWORD": PASSWORD}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--json"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"hongbao {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout), seconds


def wait(rpc: Rpc, tx_hash: str) -> dict:
    deadline = time.monotonic() + 30
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"{tx_hash} was not mined")
        time.sleep(0.005)
    return receipt


def forget_history(home: Path) -> None:
    """After a revert the chain has forgotten our transactions: the wallet's history must too
    (it picks nonces past the ones it recorded)."""
    from wallet.history import FILE

    for path in home.glob(FILE + "*"):
        path.unlink()


def make_wallet(home: Path) -> str:
    from wallet import bip39, keyring, vault

    vault.ARGON2ID_PRESETS["bench-minimum"] = (1, 8192)
    unlocked = keyring.WalletStore(home).create_from_mnemonic(
        "default", bip39.generate(12), PASSWORD, preset="bench-minimum", accounts=1
    )
    return unlocked.accounts[0].address


def main() -> int:
    process, url = localchain.spawn_ephemeral()
    rows: list[tuple[str, str, str]] = []
    failed = False
    try:
        rpc = Rpc(url)
        # -- deploy time ---------------------------------------------------------------------
        times = []
        out = None
        for _ in range(3):
            snapshot = rpc.call("evm_snapshot")
            d = deploy.Deployer(rpc, localchain.DEV_ADDRESS)
            tkn = d.create(load("TestToken"), "Hongbao Test Token", "TKN", 18, 10**24)
            d.finish()
            out = deploy.deploy_all(rpc, localchain.DEV_ADDRESS, tkn)
            times.append(out.seconds)
            rpc.call("evm_revert", snapshot)
        assert out is not None
        rows.append(("deploy_all (74 txs, in process)", f"{min(times):.2f} s ({out.gas / 1e6:.1f} M gas)", "< 5 s"))
        failed |= min(times) >= 5
        home = Path(tempfile.mkdtemp(prefix="hongbao-bench-defi-"))
        cfg = config.load(home)
        cfg.networks["local"] = config.Network("local", url, 31337)
        config.save(home, cfg)
        deployed, seconds = hongbao(home, "defi", "deploy")
        rows.append(("`hongbao defi deploy` (new process)", f"{seconds:.2f} s", "< 5 s"))
        failed |= seconds >= 5
        c, t = deployed["contracts"], deployed["tokens"]
        where = uniswap.Addresses(
            c["weth"],
            c["uniswap_v2_factory"],
            c["uniswap_v2_router"],
            c["uniswap_v3_factory"],
            c["uniswap_v3_router"],
            c["uniswap_v3_quoter"],
        )
        me = make_wallet(home)
        for who in (me, DIRECT):
            rpc.call("anvil_setBalance", who, hex(100 * E18))
        # TKN to sell, for both senders
        for who in (me, DIRECT):
            wait(
                rpc,
                rpc.call(
                    "eth_sendTransaction", {"from": localchain.DEV_ADDRESS, "to": t["TKN"], "data": "0x" + _mint(who)}
                ),
            )
        # -- gas: ours vs the router called directly ------------------------------------------
        # Every block 1 s after the one before, so both runs mine at the same timestamps (a pool
        # writes its price oracle once per new timestamp: that is not ours to count).
        rpc.call("anvil_setBlockTimestampInterval", 1)
        paths: dict[tuple[str, str], int] = {}
        for sell, buy, via, amount, how in (
            ("ETH", "TKN", "v2", 1, "eth"),
            ("ETH", "TKN", "v3", 1, "eth"),
            ("TKN", "ETH", "v2", 100, "approve"),  # v2's router takes no permit
            ("TKN", "ETH", "v3", 100, "approve"),  # --no-permit
            ("TKN", "ETH", "v3", 100, "permit"),  # selfPermit + swap in one multicall
        ):
            snapshot = rpc.call("evm_snapshot")
            extra = ("--no-permit",) if how == "approve" else ()
            ours, _ = hongbao(home, "swap", str(amount), sell, buy, "--via", via, "--yes", *extra)
            ours_gas = ours["swap"]["gas_used"]
            ours_approve = ours["approve"]["gas_used"] if ours["approve"] else 0
            rpc.call("evm_revert", snapshot)
            forget_history(home)
            snapshot = rpc.call("evm_snapshot")
            direct_gas, direct_approve, route = _direct_swap(rpc, where, t, sell, buy, via, amount, how)
            rpc.call("evm_revert", snapshot)
            over = (ours_gas - direct_gas) / direct_gas
            approvals = f"; approval {ours_approve:,} vs {direct_approve:,}" if how == "approve" else ""
            label = {"eth": "", "approve": ", exact approval", "permit": ", permit"}[how]
            rows.append(
                (
                    f"gas: swap {amount} {sell}->{buy} via {via} ({route}{label})",
                    f"{ours_gas:,} vs direct {direct_gas:,} ({over:+.2%}){approvals}",
                    "<= +2%",
                )
            )
            failed |= over > 0.02
            paths[how, via] = ours_gas + ours_approve
        permit, approve = paths["permit", "v3"], paths["approve", "v3"]
        rows.append(
            (
                "gas: 100 TKN->ETH on v3, permit (1 tx) vs approve + swap (2 txs)",
                f"{permit:,} vs {approve:,} ({(permit - approve) / approve:+.1%})",
                "-",
            )
        )
        # -- time from `hongbao swap` to receipt ------------------------------------------------
        best = min(hongbao(home, "swap", "0.1", "ETH", "TKN", "--yes")[1] for _ in range(3))
        rows.append(("`hongbao swap 0.1 ETH TKN --yes` start to receipt (new process)", f"{best:.2f} s", "-"))
        best = min(hongbao(home, "swap", "10", "TKN", "ETH", "--via", "v3", "--yes")[1] for _ in range(3))
        rows.append(("`hongbao swap 10 TKN ETH --via v3 --yes` (permit) start to receipt", f"{best:.2f} s", "-"))
    finally:
        localchain.terminate(process)
    print_table("DeFi on anvil 1.7.1", rows)
    return 1 if failed else 0


_HALF_PERCENT = __import__("decimal").Decimal("0.005")
DIRECT_KEY = bytes.fromhex("8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba")  # anvil account 5


def _direct_swap(
    rpc: Rpc, where, t: dict, sell: str, buy: str, via: str, amount: int, how: str
) -> tuple[int, int, str]:
    """The same swap sent straight to the router from DIRECT: (swap gas, approval gas, route)."""
    from contracts import token as binding
    from wallet import signing

    token_in = where.weth if sell == "ETH" else t["TKN"]
    token_out = where.weth if buy == "ETH" else t["TKN"]
    units = amount * E18
    quote = uniswap.quotes(rpc, where, token_in, token_out, units, via)[0]
    deadline = to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"]) + 1200
    router = where.v2_router if quote.venue == "v2" else where.v3_router
    permit = None
    if how == "permit":
        nonce = binding.nonces(rpc, token_in, DIRECT)
        typed = binding.permit_typed_data(
            token_in, 31337, binding.name(rpc, token_in), DIRECT, router, units, nonce, deadline
        )
        v, r, s = binding.split_signature(signing.sign_typed_data(DIRECT_KEY, typed))
        permit = uniswap.self_permit_data(token_in, units, deadline, v, r, s)
    to, data, value, _ = uniswap.swap_call(
        where,
        quote,
        token_in,
        token_out,
        uniswap.min_received(quote.amount_out, _HALF_PERCENT),
        DIRECT,
        deadline,
        eth_in=sell == "ETH",
        eth_out=buy == "ETH",
        permit=permit,
    )
    approve_gas = 0
    if how == "approve":
        approve = "0x095ea7b3" + to[2:].lower().rjust(64, "0") + hex(units)[2:].rjust(64, "0")
        sent = rpc.call("eth_sendTransaction", {"from": DIRECT, "to": t["TKN"], "data": approve})
        approve_gas = to_int(wait(rpc, sent)["gasUsed"])
    call = {"from": DIRECT, "to": to, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(1_000_000)}
    receipt = wait(rpc, rpc.call("eth_sendTransaction", call))
    if to_int(receipt["status"]) != 1:
        raise SystemExit(f"the direct {how} swap {sell}->{buy} via {via} reverted")
    return to_int(receipt["gasUsed"]), approve_gas, quote.route


def _mint(who: str) -> str:
    from wallet import abi

    return abi.call_data("mint(address,uint256)", who, 10_000 * E18).hex()


if __name__ == "__main__":
    sys.exit(main())
